// Online learning, as the library exports it: LearningStream (learning-stream.ts), its state format
// (learner-state.ts) and the optimizer checkpoint format (optimizer-state.ts). Kept so that old imports work.

export { LearningStream } from './learning-stream.js';
export type { LearningOptions, LearningReport } from './learning-options.js';
export type { LearningStats } from './learner-state.js';
export { exportOptimizerState, importOptimizerState } from './optimizer-state.js';
