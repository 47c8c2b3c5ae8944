// seqcast kernel: the production module's exports, its ABI. docs/abi.md documents each; tests/kernel-abi.test.ts
// checks that this list and the page name the same exports. Diagnostics are a separate build (diagnostics.ts).

export {
  OK, ERR_NOT_CONFIGURED, ERR_ALREADY_CONFIGURED, ERR_BAD_CONFIG, ERR_OUT_OF_MEMORY,
  ERR_BAD_SLOT, ERR_BAD_BATCH_SIZE, ERR_DUPLICATE_SLOT, ERR_BAD_TOKEN, ERR_NONFINITE_INPUT,
  ERR_NOT_TRAINABLE, ERR_NONFINITE_LOSS, ERR_NONFINITE_GRADIENT, ERR_NO_OPTIMIZER,
  KIND_RECURRENT, KIND_TRANSFORMER, KIND_HYBRID, CELL_RNN_TANH, CELL_LSTM, CELL_GRU, CELL_RNN_RELU,
  LOSS_MSE, LOSS_CROSS_ENTROPY, OPTIMIZER_ADAM, OPTIMIZER_SGD,
  POSITIONAL_SINUSOIDAL, POSITIONAL_NONE, POSITIONAL_ALIBI,
} from "./codes";
export {
  abiVersion, configure, configureTransformer, configureHybrid, configurePositional, getKind, getPositional,
  getParamCount, getParamPtr, getParamLength, getParamsPtr, getParamsLength,
  getOutputSize, getInputSize, getBatchCapacity, commitParams,
} from "./configure";
export {
  slotOpen, slotClose, slotReset, slotCopy, slotIsOpen, slotStatePtr, slotStateLength, getSlotCapacity,
  slotPosition, slotSetPosition, slotAttentionPtr, slotAttentionCount,
} from "./slots";
export { getIoSlotsPtr, getIoTokensPtr, getIoInputPtr, getIoOutputPtr, getErrorIndex, stepBatch } from "./step";
export {
  trainConfigure, trainCommitParams,
  trainInputPtr, trainTokensPtr, trainTargetPtr, trainTargetTokensPtr, trainMaskPtr,
  trainH0Ptr, trainC0Ptr, trainHNPtr, trainCNPtr, trainDH0Ptr, trainDC0Ptr, trainDXPtr, trainOutputPtr, gradsPtr,
} from "./train/buffers";
export { trainForwardBackward, trainStep, trainLoss, trainLossCount } from "./train/pass";
export {
  optimizerConfigure, optimizerStep, getOptimizerSteps, optimizerMomentPtr, optimizerSetSteps, trainTotalNorm, trainClipCoef,
} from "./train/optimizers";
