// The kernel's state, llama2.c-style: every size and every region pointer is a named field with its shape, in one
// place. Regions are byte offsets into linear memory, 16-byte aligned, made by the arena (arena.ts) and laid out
// once by configure (configure.ts), trainConfigure (train/buffers.ts) and optimizerConfigure; only the slot table
// moves, when it grows (slots.ts). Nothing here allocates.
//
// Sizes: B = Shape.batchCapacity, L = layers, X = inputSize (E for token input), V = vocabSize, H = hiddenSize,
// G = gates (1 RNN, 4 LSTM, 3 GRU), O = outputWidth(), D = width (H for hybrids), FF = mlpWidth, W = window,
// S = sinks, Hp/Dp/FFp = padTo4(H/D/FF). Training: T = Train.maxSteps, N = Train.maxWindows, TB = T·N rows,
// time-major (row n = t·N + b).

import { CELL_GRU, CELL_LSTM, KIND_RECURRENT, KIND_TRANSFORMER, POSITIONAL_ALIBI } from "./codes";
import { padTo4 } from "./simd";

/** The model's shape, set once by configure*. */
export class Shape {
  static configured: bool = false;
  static kind: i32 = KIND_RECURRENT; // KIND_*
  static cell: i32 = -1;             // CELL_* (recurrent and hybrid), -1 for transformers
  static layers: i32 = 0;            // L recurrent layers; 0 for transformers
  static inputSize: i32 = 0;         // X, frame width; or E, the embedding width, for token input
  static vocabSize: i32 = 0;         // V; 0 = frame input
  static hiddenSize: i32 = 0;        // H
  static headSize: i32 = 0;          // O; 0 = no head: the output is the top h (or ln_f's row)
  static gates: i32 = 0;             // G
  static batchCapacity: i32 = 0;     // B
  static width: i32 = 0;             // D, the residual width of attention blocks
  static heads: i32 = 0;
  static mlpWidth: i32 = 0;          // FF
  static blocks: i32 = 0;
  static window: i32 = 0;            // W: positions attended besides the sinks, this one included
  static sinks: i32 = 0;             // S: the stream's first positions, never evicted
  static positional: i32 = 0;        // POSITIONAL_*: sinusoidal (transformers) or none (hybrids) unless configurePositional
}

/**
 * One recurrent layer l: its tensors in the parameter block and its packed panels (simd.ts packPanel).
 * in_l = X for l = 0, else H.
 */
@unmanaged export class Layer {
  weightIh: usize;     // (G·H, in_l)
  weightHh: usize;     // (G·H, H)
  biasIh: usize;       // (G·H)
  biasHh: usize;       // (G·H)
  panel: usize;        // [W_ih | W_hh] side by side (RNN, LSTM); W_ih alone (GRU, whose n gate needs them apart)
  hiddenPanel: usize;  // GRU: W_hh; else 0
  panelT: usize;       // training: the transpose of `panel`'s matrix, (in_l + H or in_l) rows over G·H
  hiddenPanelT: usize; // training, GRU: W_hhᵀ, H rows over G·H; else 0
}

/** One pre-LN attention block i: its twelve tensors (PyTorch order), their panels, and (training) transposed panels. */
@unmanaged export class Block {
  ln1Weight: usize;     // (D)
  ln1Bias: usize;       // (D)
  inProjWeight: usize;  // (3D, D) q, k, v rows
  inProjBias: usize;    // (3D)
  outProjWeight: usize; // (D, D)
  outProjBias: usize;   // (D)
  ln2Weight: usize;     // (D)
  ln2Bias: usize;       // (D)
  fc1Weight: usize;     // (FF, D)
  fc1Bias: usize;       // (FF)
  fc2Weight: usize;     // (D, FF)
  fc2Bias: usize;       // (D)
  inProjPanel: usize;
  outProjPanel: usize;
  fc1Panel: usize;
  fc2Panel: usize;
  inProjPanelT: usize;  // training: D rows over 3D
  outProjPanelT: usize; // D rows over D
  fc1PanelT: usize;     // D rows over FF
  fc2PanelT: usize;     // FF rows over D
}

/**
 * The parameter block (PyTorch state_dict order, configure.ts PARAMETER ORDER), named pointers into it, and the
 * packed panels the step reads (commitParams rebuilds them).
 */
export class Weights {
  static params: usize = 0;       // f32 (paramsLength)
  static paramsLength: i32 = 0;
  static table: usize = 0;        // i32 (paramCount, 2): each tensor's offset (floats from params) and length
  static paramCount: i32 = 0;
  static layers: usize = 0;       // Layer (L)
  static blocks: usize = 0;       // Block (blocks)
  static embed: usize = 0;        // embed.weight (V, E); 0 for frame models
  static projInWeight: usize = 0; // proj_in.weight (D, X): frame transformers; else 0
  static projInBias: usize = 0;   // (D)
  static lnFinalWeight: usize = 0; // ln_f (D): attention models
  static lnFinalBias: usize = 0;
  static headWeight: usize = 0;   // head.weight (O, H or D); 0 without a head
  static headBias: usize = 0;     // (O)
  static projInPanel: usize = 0;
  static headPanel: usize = 0;
  static projInPanelT: usize = 0; // training: X rows over D
  static headPanelT: usize = 0;   // training: H (or D) rows over O
  /**
   * Token models whose embedding width is a multiple of 8: layer 0's input is a row of the embedding E, so
   * W_ih x + b_ih is a row of P = E·W_ihᵀ + b_ih, f32 (V, G·H), rebuilt with the panels (token-table.ts).
   */
  static tokenTable: usize = 0;
  /** Only the diagnostics build turns it off (debugTokenShortcut), to compare with the plain products. */
  static tokenTableOn: bool = true;
}

/** The step's io and scratch (step.ts), all sized for B streams. */
export class Step {
  static slots: usize = 0;      // i32 (B): the slots to step
  static tokens: usize = 0;     // i32 (B): token ids (token models)
  static input: usize = 0;      // f32 (B, X): frames (frame models)
  static output: usize = 0;     // f32 (B, O)
  static rows: usize = 0;       // f32 (B, widest row): each stream's [x | h | 0-pad], or a normalized residual row
  static hiddenRows: usize = 0; // f32 (B, Hp): GRU and token-table layers' h rows
  static gates: usize = 0;      // f32 (B, max(G·H, D)): pre-activations; a block's out_proj and fc2 outputs
  static hiddenGates: usize = 0; // f32 (B, G·H): GRU W_hh h + b_hh
  static residual: usize = 0;   // f32 (B, Dp): attention models' residual stream
  static qkv: usize = 0;        // f32 (B, 3D)
  static headsOut: usize = 0;   // f32 (B, Dp): the heads' concatenated outputs
  static mlp: usize = 0;        // f32 (B, FFp)
  static scores: usize = 0;     // f32 (padTo4(S + W))
  static rowOffsets: usize = 0; // i32 (padTo4(S + W))
  static errorIndex: i32 = -1;  // the batch entry the last stepBatch refused, or -1
}

/** The stream slots (slots.ts): one table of each, `capacity` long; moved as a whole when it grows. */
export class Slots {
  static capacity: i32 = 0;
  static states: usize = 0;       // f32 (capacity, stateLength()): h (L, H), c (L, H) for LSTM, then per block K, V (S + W, D) each
  static openFlags: usize = 0;    // u8 (capacity)
  static marks: usize = 0;        // i32 (capacity): duplicate detection in a batch
  static positions: usize = 0;    // f64 (capacity): the next position of each slot
  static weights: usize = 0;      // f32 (capacity, blocks, heads, S + W): the latest attention weights
  static weightCounts: usize = 0; // i32 (capacity): keys the latest position attended
  static markStamp: i32 = 0;
}

/** What a recurrent layer's training forward keeps for backward (train/bptt.ts); width_l = rowWidth(l) below. */
@unmanaged export class LayerTrace {
  rows: usize; // f32 (TB, width_l): the product's input rows [x | h_prev | 0] (GRU: [x | 0], its hidden rows being hs)
  pre: usize;  // f32 (TB, G·H): gate pre-activations (GRU: W_ih x + b_ih)
  preH: usize; // f32 (TB, G·H): GRU W_hh h + b_hh; else unused
  hs: usize;   // f32 (T + 1, N, Hp): h_t, t = 0 (initial) .. T, zero padded
  cs: usize;   // f32 (T + 1, N, H): LSTM c_t; else unused
}

/** Training buffers (train/buffers.ts), sized for T steps of N windows; the host reads and writes the first group. */
export class Train {
  static maxSteps: i32 = 0;   // T
  static maxWindows: i32 = 0; // N
  static input: usize = 0;    // f32 (T, N, X) frames
  static tokens: usize = 0;   // i32 (T, N)
  static target: usize = 0;   // f32 (T, N, O) MSE targets
  static targetTokens: usize = 0; // i32 (T, N) cross-entropy target ids
  static mask: usize = 0;     // f32 (T, N): 1 where the step counts in the loss
  static h0: usize = 0;       // f32 (L, N, H) initial state;  c0 likewise (LSTM)
  static c0: usize = 0;
  static hN: usize = 0;       // f32 (L, N, H) final state, written by the forward;  cN likewise
  static cN: usize = 0;
  static dH0: usize = 0;      // f32 (L, N, H) dLoss/dh0;  dC0 likewise
  static dC0: usize = 0;
  static dX: usize = 0;       // f32 (T, N, X) dLoss/dx (frame models)
  static output: usize = 0;   // f32 (T, N, O) the head's outputs (logits for tokens)
  static dOutput: usize = 0;  // f32 (TB, padTo4(O)) the loss gradient w.r.t. the outputs, zero padded
  static dTop: usize = 0;     // f32 (TB, Hp) gradient flowing into the current layer's h from above
  static dIn: usize = 0;      // f32 (TB, widest row) gradient w.r.t. the current layer's rows
  static dPre: usize = 0;     // f32 (TB, padTo4(G·H)) gate pre-activation gradients
  static dPreH: usize = 0;    // f32 (TB, padTo4(G·H)) GRU hidden-side gradients
  static dH: usize = 0;       // f32 (N, Hp) running dL/dh_t through time
  static dC: usize = 0;       // f32 (N, H) running dL/dc_t
  static zeros: usize = 0;    // zeros, as wide as any product's bias
  static traces: usize = 0;   // LayerTrace (L)
  static grads: usize = 0;    // f32 (paramsLength): the gradient block, the parameter block's layout
  static outerLeft: usize = 0;    // f32 (rows, padTo4(count)) a weight gradient's dZᵀ (train/gradients.ts)
  static outerPanel: usize = 0;   // the columns of its right-hand side, packed
  static outerProduct: usize = 0; // f32 (rows, k) before it is added to the gradient
  static outerZeros: usize = 0;   // f32 (k) zero bias
  static tokenAgg: usize = 0;     // f32 (V, padTo4(G·H)) layer 0's gate gradients summed per token
  static tokenGrad: usize = 0;    // f32 (V, E) dE from them
  static transposed: bool = false; // the transposed panels and the gradient block exist (the first trainConfigure)
  static loss: f64 = 0;       // the last pass's loss...
  static lossCount: f64 = 0;  // ...and the elements (MSE) or steps (cross-entropy) it averaged over
}

/** The optimizer (train/optimizers.ts). */
export class Optimizer {
  static kind: i32 = -1; // OPTIMIZER_*; -1 before optimizerConfigure
  static learningRate: f64 = 0;
  static beta1: f64 = 0.9;
  static beta2: f64 = 0.999;
  static epsilon: f64 = 1e-8;
  static momentum: f64 = 0;
  static clipNorm: f64 = 0;  // 0 = off
  static clipValue: f64 = 0; // 0 = off
  static steps: i32 = 0;
  static moment1: usize = 0; // f32 (paramsLength): Adam's m, SGD's momentum buffer
  static moment2: usize = 0; // f32 (paramsLength): Adam's v
  static totalNorm: f64 = 0; // the last step's gradient norm before clipping...
  static clipCoef: f64 = 1;  // ...and the factor it was scaled by
}

/** What an attention block's training forward keeps for backward (attention-block.ts). */
@unmanaged export class BlockTrace {
  xhat1: usize;   // f32 (TB, D) LN1's normalized rows, before weight and bias
  rstd1: usize;   // f32 (TB) its 1 / sqrt(var + eps)
  ln1: usize;     // f32 (TB, Dp) LN1's output: in_proj's input
  qkv: usize;     // f32 (TB, 3D)
  weights: usize; // f32 (TB, heads, S + W) attention weights
  counts: usize;  // i32 (TB) keys attended
  concat: usize;  // f32 (TB, Dp) the heads' outputs: out_proj's input
  xhat2: usize;   // f32 (TB, D)
  rstd2: usize;   // f32 (TB)
  ln2: usize;     // f32 (TB, Dp) fc1's input
  fc1: usize;     // f32 (TB, FF) pre-activations
  gelu: usize;    // f32 (TB, FFp) fc2's input
}

/** Attention models' training buffers (train/buffers.ts, train/attention.ts). */
export class AttentionTrain {
  static residual: usize = 0;  // f32 (TB, Dp) the residual stream
  static xhatF: usize = 0;     // f32 (TB, D) ln_f's normalized rows
  static rstdF: usize = 0;     // f32 (TB)
  static lnF: usize = 0;       // f32 (TB, Dp) ln_f's output: the head's input
  static inputRows: usize = 0; // f32 (TB, Xp) a frame transformer's proj_in input rows
  static dRes: usize = 0;      // f32 (TB, Dp) dL/d(residual)
  static dTmp: usize = 0;      // f32 (TB, max(Dp, Xp)) scratch
  static dQkv: usize = 0;      // f32 (TB, padTo4(3D))
  static dConcat: usize = 0;   // f32 (TB, Dp)
  static dMlp: usize = 0;      // f32 (TB, FFp)
  static keys: usize = 0;      // f32 (S + W, D) one window's cache
  static values: usize = 0;    // f32 (S + W, D)
  static scores: usize = 0;    // f32 (padTo4(S + W))
  static rowOffsets: usize = 0; // i32 (padTo4(S + W))
  static zeros: usize = 0;     // zeros, as wide as any product's bias
  static traces: usize = 0;    // BlockTrace (blocks)
}

// ── records and derived sizes ──

// @ts-ignore: decorator
@inline export function layer(l: i32): Layer {
  return changetype<Layer>(Weights.layers + <usize>l * offsetof<Layer>());
}

// @ts-ignore: decorator
@inline export function block(i: i32): Block {
  return changetype<Block>(Weights.blocks + <usize>i * offsetof<Block>());
}

// @ts-ignore: decorator
@inline export function layerTrace(l: i32): LayerTrace {
  return changetype<LayerTrace>(Train.traces + <usize>l * offsetof<LayerTrace>());
}

// @ts-ignore: decorator
@inline export function blockTrace(i: i32): BlockTrace {
  return changetype<BlockTrace>(AttentionTrain.traces + <usize>i * offsetof<BlockTrace>());
}

/** O: the head's outputs, or without a head the top h (H) or ln_f's row (D). */
// @ts-ignore: decorator
@inline export function outputWidth(): i32 {
  return Shape.headSize > 0 ? Shape.headSize : Shape.kind == KIND_RECURRENT ? Shape.hiddenSize : Shape.width;
}

/** Floats of a recurrent layer's product input row: padTo4(in_l + H) for RNN and LSTM; GRU keeps [x] and [h] apart. */
// @ts-ignore: decorator
@inline export function rowWidth(l: i32): i32 {
  const inWidth = l == 0 ? Shape.inputSize : Shape.hiddenSize;
  return Shape.cell == CELL_GRU ? padTo4(inWidth) : padTo4(inWidth + Shape.hiddenSize);
}

/** Whether attention scores get ALiBi's bias (attention.ts). */
// @ts-ignore: decorator
@inline export function usesAlibi(): bool {
  return Shape.positional == POSITIONAL_ALIBI;
}

/** Floats of recurrent state per slot: h (L, H), then c (L, H) for LSTM. */
// @ts-ignore: decorator
@inline export function recurrentStateLength(): i32 {
  return Shape.kind == KIND_TRANSFORMER ? 0 : Shape.layers * Shape.hiddenSize * (Shape.cell == CELL_LSTM ? 2 : 1);
}

/** Floats of one block's KV cache per slot: keys then values, (S + W, D) each. */
// @ts-ignore: decorator
@inline export function cacheLength(): i32 {
  return 2 * (Shape.sinks + Shape.window) * Shape.width;
}

/** Floats of state per slot. */
// @ts-ignore: decorator
@inline export function stateLength(): i32 {
  return recurrentStateLength() + Shape.blocks * cacheLength();
}

/** Floats of attention weights kept per slot: (blocks, heads, S + W). */
// @ts-ignore: decorator
@inline export function weightsLength(): i32 {
  return Shape.blocks * Shape.heads * (Shape.sinks + Shape.window);
}

/** Byte offset of a slot's state. */
// @ts-ignore: decorator
@inline export function slotState(slot: i32): usize {
  return Slots.states + <usize>slot * <usize>stateLength() * 4;
}

/** The gradient of the tensor at `tensor` (a pointer into the parameter block): the same offset in the gradient block. */
// @ts-ignore: decorator
@inline export function gradOf(tensor: usize): usize {
  return Train.grads + (tensor - Weights.params);
}
