// What a LearningStream is configured with (its options, checked and with defaults filled in) and what it reports per frame.

import { InputError } from '../errors.js';

export interface LearningOptions {
  /** Name used in error messages. */
  name?: string;
  /** Train every K observed frames; default 8. */
  every?: number;
  /** Truncated-BPTT window N, in frames; default 32. */
  window?: number;
  /** Adam learning rate (used when the model has no optimizer yet); default 3e-3. */
  lr?: number;
  /** Global-norm clip; default 1. */
  clipNorm?: number;
  /**
   * 'delta' (default): the model predicts the change x[t+1] − x[t], added back to x[t];
   * 'value': it predicts x[t+1] itself.
   */
  predict?: 'delta' | 'value';
  /** Refuse an update whose window loss exceeds this many times the running loss; default 8. */
  spikeFactor?: number;
  /** Roll back to the last good weights when the running loss exceeds this many times its best; default 4. */
  rollbackFactor?: number;
  /** Learn at all (false: predict only); default true. */
  learn?: boolean;
}

/** What one observed frame produced. */
export interface LearningReport {
  /** The prediction of the next frame, in original units. */
  predicted: Float32Array;
  /** Mean squared error (original units, over channels) of the previous prediction against this frame. */
  error?: number;
  /** The same for persistence (predicting the previous frame). */
  persistenceError?: number;
  /** The training loss of the window, when this frame triggered training. */
  loss?: number;
  /** 'trained', 'skipped-spike' (update refused), 'rolled-back' or 'refused' (non-finite). */
  event?: 'trained' | 'skipped-spike' | 'rolled-back' | 'refused';
}

/** The options a learner runs with, defaults filled in (LearningStream.options). */
export type ResolvedLearningOptions = Required<Pick<LearningOptions, 'every' | 'window' | 'predict' | 'spikeFactor' | 'rollbackFactor' | 'lr' | 'clipNorm' | 'learn'>>;

/** Checks `options` and fills in the defaults; InputError names the first bad option. */
export function resolveLearningOptions(options: LearningOptions): ResolvedLearningOptions {
  const positive = (name: string, value: number | undefined, fallback: number, integer: boolean) => {
    const v = value ?? fallback;
    if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new InputError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
    return v;
  };
  const every = positive('every', options.every, 8, true);
  const window = positive('window', options.window, 32, true);
  const spikeFactor = positive('spikeFactor', options.spikeFactor, 8, false);
  const rollbackFactor = positive('rollbackFactor', options.rollbackFactor, 4, false);
  const lr = positive('lr', options.lr, 3e-3, false);
  const clipNorm = options.clipNorm ?? 1;
  if (options.predict !== undefined && options.predict !== 'delta' && options.predict !== 'value') {
    throw new InputError(`predict must be "delta" or "value", got ${JSON.stringify(options.predict)}`);
  }
  return { every, window, predict: options.predict ?? 'delta', spikeFactor, rollbackFactor, lr, clipNorm, learn: options.learn ?? true };
}
