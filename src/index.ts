// seqcast: predict live streams as they arrive. The public library API.

export { loadModel, createModel, modelFromSafetensors, argmax, Model } from './api/model.js';
export type { ModelSpec, ModelOptions, StepInput } from './api/model.js';
export { Stream } from './api/stream.js';
export { Optimizer, TrainingError } from './api/train.js';
export { LearningStream } from './api/learning-stream.js';
export type { LearningOptions, LearningReport, LearningStats } from './api/learning-stream.js';
export type { BackwardOptions, BackwardResult, LossKind, OptimizerOptions, StepReport, TrainingWindow } from './api/train.js';
export type { StreamOptions, StreamState } from './api/stream.js';
export type { OutputTarget } from './api/outputs.js';
export { SeqcastError, ModelFormatError, InputError, StateError, KernelError } from './errors.js';
export type { ModelArch, TensorSpec } from './model/layout.js';
export type { SeqcastMetadata, Normalizer } from './model/metadata.js';
export { readSafetensors, writeSafetensors } from './model/safetensors.js';
export type { CellKind, KernelVariant, Nonlinearity } from './kernel/kernel.js';
export { kernelVariant, supportsRelaxedSimd } from './kernel/kernel.js';
