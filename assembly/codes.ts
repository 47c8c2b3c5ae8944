// The ABI's numbers (docs/abi.md): error codes, model and cell kinds, positional schemes, losses, optimizers.
// Every list only grows at its end; a number's meaning never changes.

// ── error codes: negative, the ABI's only error channel; they only grow downwards ──
export const OK: i32 = 0;
export const ERR_NOT_CONFIGURED: i32 = -1;
export const ERR_ALREADY_CONFIGURED: i32 = -2;
export const ERR_BAD_CONFIG: i32 = -3;
export const ERR_OUT_OF_MEMORY: i32 = -4;
export const ERR_BAD_SLOT: i32 = -5;
export const ERR_BAD_BATCH_SIZE: i32 = -6;
export const ERR_DUPLICATE_SLOT: i32 = -7;
export const ERR_BAD_TOKEN: i32 = -8;
export const ERR_NONFINITE_INPUT: i32 = -9;
export const ERR_NOT_TRAINABLE: i32 = -10;
export const ERR_NONFINITE_LOSS: i32 = -11;
export const ERR_NONFINITE_GRADIENT: i32 = -12;
export const ERR_NO_OPTIMIZER: i32 = -13;

// ── model kinds ──
export const KIND_RECURRENT: i32 = 0;
export const KIND_TRANSFORMER: i32 = 1;
export const KIND_HYBRID: i32 = 2;

// ── recurrent cells ──
export const CELL_RNN_TANH: i32 = 0;
export const CELL_LSTM: i32 = 1;
export const CELL_GRU: i32 = 2;
export const CELL_RNN_RELU: i32 = 3; // nn.RNN(nonlinearity="relu"): CELL_RNN_TANH's layout and state, h = max(z, 0)

// ── positional schemes of attention models (configurePositional) ──
/** Sinusoidal encoding of the absolute position added to the input: a transformer's default, as before. */
export const POSITIONAL_SINUSOIDAL: i32 = 0;
/** No positional information: a hybrid's default (its recurrent state carries order). */
export const POSITIONAL_NONE: i32 = 1;
/** ALiBi: each head's scores get −m_h · (offset of the key inside the cache); no encoding on the input. */
export const POSITIONAL_ALIBI: i32 = 2;

/** Gate blocks per cell kind: rows of weight_ih are gateCount(kind) · H (LSTM i, f, g, o; GRU r, z, n). */
export function gateCount(kind: i32): i32 {
  return kind == CELL_LSTM ? 4 : kind == CELL_GRU ? 3 : 1;
}

// ── training ──
export const LOSS_MSE: i32 = 0;
export const LOSS_CROSS_ENTROPY: i32 = 1;
export const OPTIMIZER_ADAM: i32 = 0;
export const OPTIMIZER_SGD: i32 = 1;
