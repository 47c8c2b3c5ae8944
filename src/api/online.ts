// Online learning: a stream that predicts each next frame and, every K frames,
// trains the shared model by truncated BPTT over its last N frames, guarded
// against bursts that would ruin a good model.

import { InputError, StateError } from '../errors.js';
import { TrainingError } from './train.js';
import type { Model } from './model.js';
import type { Stream } from './stream.js';

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

/** Running totals of a learning stream. */
export interface LearningStats {
  frames: number;
  updates: number;
  skipped: number;
  rollbacks: number;
  /** Mean squared error of the predictions so far (original units). */
  mse: number;
  persistenceMse: number;
  /** Exponential moving average of the training loss. */
  runningLoss: number;
}

/** Normalized inputs are clamped to ±this: a wild value saturates instead of blowing up the state. */
const INPUT_LIMIT = 20;
/** Once warmed up, a value moves the running statistics as if it were at most this many deviations out. */
const OUTLIER_SIGMAS = 6;
const WARMUP_COUNT = 30;
/** Window losses (normalized units²) below this are never treated as spikes. */
const SPIKE_FLOOR = 0.05;
const MAX_CONSECUTIVE_SKIPS = 4;

/**
 * Per-channel running mean and variance (Welford), for models without stored
 * statistics. Robust to bursts: after warm-up each value is winsorized to
 * mean ± 6σ before it updates the statistics.
 */
class RunningNormalizer {
  private count = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(width: number) {
    this.mean = new Float64Array(width);
    this.m2 = new Float64Array(width);
  }

  update(x: ArrayLike<number>): void {
    const warm = this.count >= WARMUP_COUNT;
    this.count++;
    for (let j = 0; j < this.mean.length; j++) {
      let v = x[j];
      if (warm) {
        const bound = OUTLIER_SIGMAS * this.stdOf(j);
        v = Math.min(Math.max(v, this.mean[j] - bound), this.mean[j] + bound);
      }
      const d = v - this.mean[j];
      this.mean[j] += d / this.count;
      this.m2[j] += d * (v - this.mean[j]);
    }
  }

  meanOf(j: number): number {
    return this.mean[j];
  }

  stdOf(j: number): number {
    return this.count < 2 ? 1 : Math.sqrt(this.m2[j] / (this.count - 1)) || 1;
  }
}

/**
 * A stream that learns as it predicts. Create it with model.openLearningStream().
 * Several learning streams may share one model: they train the same weights.
 */
export class LearningStream {
  readonly stream: Stream;
  private readonly every: number;
  private readonly windowSize: number;
  private readonly delta: boolean;
  private readonly spikeFactor: number;
  private readonly rollbackFactor: number;
  private readonly running?: RunningNormalizer;
  /** Last N+1 normalized frames and the state before each, oldest first. */
  private readonly history: { frame: Float32Array; stateBefore: Float32Array }[] = [];
  private previousFrame?: Float32Array;
  private previousPrediction?: Float32Array;
  private sinceTraining = 0;
  private consecutiveSkips = 0;
  private bestLoss = Infinity;
  private goodWeights?: Float32Array;
  private learning: boolean;
  readonly stats: LearningStats = { frames: 0, updates: 0, skipped: 0, rollbacks: 0, mse: 0, persistenceMse: 0, runningLoss: NaN };
  private errorCount = 0;

  /** @internal Use model.openLearningStream(). */
  constructor(readonly model: Model, options: LearningOptions = {}) {
    if (model.isTokenModel) throw new StateError('online learning of token models is not supported; it learns frame models');
    if (model.outputSize !== model.inputSize) {
      throw new StateError(`online learning predicts the next frame: the model must output ${model.inputSize} values, it outputs ${model.outputSize}`);
    }
    const positive = (name: string, value: number | undefined, fallback: number, integer: boolean) => {
      const v = value ?? fallback;
      if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new InputError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
      return v;
    };
    this.every = positive('every', options.every, 8, true);
    this.windowSize = positive('window', options.window, 32, true);
    this.spikeFactor = positive('spikeFactor', options.spikeFactor, 8, false);
    this.rollbackFactor = positive('rollbackFactor', options.rollbackFactor, 4, false);
    const lr = positive('lr', options.lr, 3e-3, false);
    const clipNorm = options.clipNorm ?? 1;
    if (options.predict !== undefined && options.predict !== 'delta' && options.predict !== 'value') {
      throw new InputError(`predict must be "delta" or "value", got ${JSON.stringify(options.predict)}`);
    }
    this.delta = (options.predict ?? 'delta') === 'delta';
    this.learning = options.learn ?? true;
    if (!model.normalizer) this.running = new RunningNormalizer(model.inputSize);
    this.stream = model.openStream({ name: options.name });
    if (this.learning) model.ensureOptimizer({ kind: 'adam', lr, clipNorm });
  }

  /** Turns learning on or off (predictions continue either way). */
  setLearning(on: boolean): void {
    if (on) this.model.ensureOptimizer({ kind: 'adam', lr: 3e-3, clipNorm: 1 });
    this.learning = on;
  }

  get isLearning(): boolean {
    return this.learning;
  }

  private mean(j: number): number {
    return this.model.normalizer ? this.model.normalizer.mean[j] : this.running!.meanOf(j);
  }

  private std(j: number): number {
    return this.model.normalizer ? this.model.normalizer.std[j] : this.running!.stdOf(j);
  }

  /**
   * Takes the frame that just arrived (original units): scores the previous
   * prediction against it, steps the model, maybe trains, and predicts the next frame.
   * A bad frame throws InputError and changes nothing.
   */
  observe(actual: ArrayLike<number>): LearningReport {
    const model = this.model;
    const X = model.inputSize;
    model.checkInput(actual, this.stream.label);
    const report: LearningReport = { predicted: new Float32Array(X) };
    if (this.previousPrediction && this.previousFrame) {
      let error = 0, persistence = 0;
      for (let j = 0; j < X; j++) {
        error += (this.previousPrediction[j] - actual[j]) ** 2;
        persistence += (this.previousFrame[j] - actual[j]) ** 2;
      }
      report.error = error / X;
      report.persistenceError = persistence / X;
      this.errorCount++;
      this.stats.mse += (report.error - this.stats.mse) / this.errorCount;
      this.stats.persistenceMse += (report.persistenceError - this.stats.persistenceMse) / this.errorCount;
    }
    this.running?.update(actual);
    const frame = new Float32Array(X);
    for (let j = 0; j < X; j++) frame[j] = Math.min(Math.max((actual[j] - this.mean(j)) / this.std(j), -INPUT_LIMIT), INPUT_LIMIT);
    this.history.push({ frame, stateBefore: this.stateCopy() });
    if (this.history.length > this.windowSize + 1) this.history.shift();
    const out = this.stream.stepModelUnits(frame);
    for (let j = 0; j < X; j++) {
      const next = this.delta ? frame[j] + out[j] : out[j];
      report.predicted[j] = next * this.std(j) + this.mean(j);
    }
    this.previousFrame = Float32Array.from(actual);
    this.previousPrediction = report.predicted;
    this.stats.frames++;
    if (this.learning && ++this.sinceTraining >= this.every && this.history.length === this.windowSize + 1) {
      this.sinceTraining = 0;
      this.train(report);
    }
    return report;
  }

  private stateCopy(): Float32Array {
    return this.model.kernel.slotState(this.stream.slot).slice();
  }

  /** Truncated BPTT over the last N frames, from the state before the first of them. */
  private train(report: LearningReport): void {
    const model = this.model;
    const N = this.windowSize;
    const frames = this.history.map((h) => h.frame);
    const inputs = frames.slice(0, N);
    const targets = frames.slice(1).map((next, i) => (this.delta ? next.map((v, j) => v - inputs[i][j]) : next));
    const state = this.history[0].stateBefore;
    const n = model.arch.layers * model.arch.hiddenSize;
    const h0 = state.subarray(0, n);
    const c0 = model.arch.cell === 'lstm' ? state.subarray(n, 2 * n) : undefined;
    // A window far worse than usual is a burst: skip it. Losses below SPIKE_FLOOR never count as
    // spikes, and after MAX_CONSECUTIVE_SKIPS the data has changed regime: learn it (clipping still bounds the step).
    const limit = Number.isFinite(this.stats.runningLoss) && this.stats.updates >= 10 && this.consecutiveSkips < MAX_CONSECUTIVE_SKIPS
      ? Math.max(this.spikeFactor * this.stats.runningLoss, SPIKE_FLOOR)
      : Infinity;
    let outcome;
    try {
      outcome = model.guardedTrainWindow({ inputs, targets, h0, c0 }, limit);
    } catch (err) {
      if (err instanceof TrainingError) {
        report.event = 'refused';
        this.stats.skipped++;
        return;
      }
      throw err;
    }
    report.loss = outcome.loss;
    if (!outcome.applied) {
      report.event = 'skipped-spike';
      this.stats.skipped++;
      this.consecutiveSkips++;
      return;
    }
    this.consecutiveSkips = 0;
    report.event = 'trained';
    this.stats.updates++;
    const r = this.stats.runningLoss;
    this.stats.runningLoss = Number.isFinite(r) ? 0.95 * r + 0.05 * outcome.loss : outcome.loss;
    if (this.stats.updates >= 20) {
      if (this.stats.runningLoss <= 1.2 * this.bestLoss || !this.goodWeights) {
        this.bestLoss = Math.min(this.bestLoss, this.stats.runningLoss);
        if (this.stats.updates % 20 === 0) this.goodWeights = model.parameterBlock();
      } else if (this.stats.runningLoss > this.rollbackFactor * this.bestLoss && this.goodWeights) {
        model.restoreParameterBlock(this.goodWeights);
        this.stats.rollbacks++;
        this.stats.runningLoss = this.bestLoss;
        report.event = 'rolled-back';
      }
    }
  }

  /** Frees the stream. */
  close(): void {
    this.stream.close();
  }
}
