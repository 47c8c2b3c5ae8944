// seqcast kernel: the WebAssembly module's exports. docs/abi.md documents each.

export {
  OK, ERR_NOT_CONFIGURED, ERR_ALREADY_CONFIGURED, ERR_BAD_CONFIG, ERR_OUT_OF_MEMORY,
  ERR_BAD_SLOT, ERR_BAD_BATCH_SIZE, ERR_DUPLICATE_SLOT, ERR_BAD_TOKEN, ERR_NONFINITE_INPUT,
  abiVersion, isConfigured, configure,
  getParamCount, getParamPtr, getParamLength, getParamsPtr, getParamsLength,
  getOutputSize, getInputSize, getBatchCapacity,
  getIoSlotsPtr, getIoTokensPtr, getIoInputPtr, getIoOutputPtr, getErrorIndex,
  slotOpen, slotClose, slotReset, slotCopy, slotIsOpen, slotStatePtr, slotStateLength, getSlotCapacity,
  stepBatch, commitParams,
} from "./model";
export { CELL_RNN_TANH, CELL_LSTM, CELL_GRU } from "./recurrent";
export { arenaUsed } from "./arena";

import { expScalar, sigmoidScalar, tanhScalar } from "./simd";

/** Diagnostics: the kernel's activation functions on one value (for accuracy tests). */
export function activation(kind: i32, x: f32): f32 {
  return kind == 0 ? tanhScalar(x) : kind == 1 ? sigmoidScalar(x) : expScalar(x);
}
