// seqcast kernel: the WebAssembly module's exports. docs/abi.md documents each.

export {
  OK, ERR_NOT_CONFIGURED, ERR_ALREADY_CONFIGURED, ERR_BAD_CONFIG, ERR_OUT_OF_MEMORY,
  ERR_BAD_SLOT, ERR_BAD_BATCH_SIZE, ERR_DUPLICATE_SLOT, ERR_BAD_TOKEN, ERR_NONFINITE_INPUT,
  KIND_RECURRENT, KIND_TRANSFORMER, KIND_HYBRID,
  abiVersion, isConfigured, configure, configureTransformer, configureHybrid, getKind,
  getParamCount, getParamPtr, getParamLength, getParamsPtr, getParamsLength,
  getOutputSize, getInputSize, getBatchCapacity,
  getIoSlotsPtr, getIoTokensPtr, getIoInputPtr, getIoOutputPtr, getErrorIndex,
  slotOpen, slotClose, slotReset, slotCopy, slotIsOpen, slotStatePtr, slotStateLength, getSlotCapacity,
  slotPosition, slotSetPosition, slotAttentionPtr, slotAttentionCount,
  stepBatch, commitParams,
} from "./model";
export { CELL_RNN_TANH, CELL_LSTM, CELL_GRU } from "./recurrent";
export {
  ERR_NOT_TRAINABLE, ERR_NONFINITE_LOSS, ERR_NONFINITE_GRADIENT, ERR_NO_OPTIMIZER,
  LOSS_MSE, LOSS_CROSS_ENTROPY, OPTIMIZER_ADAM, OPTIMIZER_SGD,
  trainConfigure, trainCommitParams,
  trainInputPtr, trainTokensPtr, trainTargetPtr, trainTargetTokensPtr, trainMaskPtr,
  trainH0Ptr, trainC0Ptr, trainHNPtr, trainCNPtr, trainDH0Ptr, trainDC0Ptr, trainDXPtr, trainOutputPtr, gradsPtr,
  trainLoss, trainTotalNorm, trainClipCoef, trainLossCount,
  trainForwardBackward, optimizerConfigure, optimizerStep, trainStep, getOptimizerSteps,
} from "./train";
export { arenaUsed } from "./arena";

import { expScalar, sigmoidScalar, tanhScalar } from "./simd";
import { arenaAlloc } from "./arena";
import { addPositionalEncoding, attendPosition, geluInPlace, layerNormRows, rowMean, rowVariance } from "./attention";

// ── diagnostics: single ops on host-provided memory, for tests against the golden vectors ──

/** The kernel's tanh (0), sigmoid (1) or exp (2) of one value. */
export function activation(kind: i32, x: f32): f32 {
  return kind == 0 ? tanhScalar(x) : kind == 1 ? sigmoidScalar(x) : expScalar(x);
}

/** Zeroed scratch bytes for diagnostics (never freed). May grow memory. */
export function debugAlloc(bytes: i32): usize {
  return arenaAlloc(<usize>bytes);
}

/** LayerNorm of `rows` rows of width d at x into y; writes each row's mean and variance. */
export function debugLayerNorm(x: usize, y: usize, rows: i32, d: i32, weight: usize, bias: usize, means: usize, variances: usize): void {
  layerNormRows(x, y, rows, d, d, weight, bias);
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>(r * d) << 2);
    const mean = rowMean(row, d);
    store<f32>(means + (<usize>r << 2), mean);
    store<f32>(variances + (<usize>r << 2), rowVariance(row, d, mean));
  }
}

/** GELU (tanh form) in place over n floats. */
export function debugGelu(x: usize, n: i32): void {
  geluInPlace(x, n);
}

/** Writes the positional encoding of `position` (d floats) to x. */
export function debugPositionalEncoding(x: usize, d: i32, position: f64): void {
  memory.fill(x, 0, <usize>d << 2);
  addPositionalEncoding(x, d, position);
}

/**
 * One incremental attention position on host-provided buffers (see attention.ts
 * attendPosition): appends k, v of qkv (3d) to the cache and writes the heads'
 * concatenated outputs and weights. Returns the number of keys attended.
 */
export function debugAttend(
  qkv: usize, keys: usize, values: usize, out: usize, weights: usize, scores: usize, rowOffsets: usize,
  position: f64, d: i32, heads: i32, window: i32, sinks: i32,
): i32 {
  return attendPosition(qkv, keys, values, out, weights, scores, rowOffsets, position, d, heads, window, sinks);
}
