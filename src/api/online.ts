// Online learning: a stream that predicts each next frame and, every K frames,
// trains the shared model by truncated BPTT over its last N frames, guarded
// against bursts that would ruin a good model.

import { InputError, KernelError, StateError } from '../errors.js';
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
const SHRINK_DECAY = 0.99;
const SHRINK_WARMUP = 50;
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

  export(): { count: number; mean: Float64Array; m2: Float64Array } {
    return { count: this.count, mean: this.mean.slice(), m2: this.m2.slice() };
  }

  import(count: number, mean: ArrayLike<number>, m2: ArrayLike<number>): void {
    this.count = count;
    this.mean.set(mean);
    this.m2.set(m2);
  }
}

/**
 * A stream that learns as it predicts. Create it with model.openLearningStream().
 * Several learning streams may share one model: they train the same weights.
 */
export class LearningStream {
  readonly stream: Stream;
  // not readonly: importState() takes them from the saved learner
  private every: number;
  private windowSize: number;
  private delta: boolean;
  private spikeFactor: number;
  private rollbackFactor: number;
  private readonly lr: number;
  private readonly clipNorm: number;
  private readonly running?: RunningNormalizer;
  /** The model's raw output after the last frame (the delta or the value, normalized), for forecast(). */
  private lastOutput?: Float32Array;
  /**
   * Delta mode: running (decay SHRINK_DECAY) sums of actual change × predicted change and of
   * predicted change², per channel. The predicted change is scaled by their ratio, clamped to
   * [0, 1]: the least-squares shrinkage, which falls back towards persistence while the
   * model's changes are noise and trusts them fully when they are right.
   */
  private readonly shrinkXY: Float64Array;
  private readonly shrinkXX: Float64Array;
  private shrinkCount = 0;
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
    this.lr = lr;
    this.clipNorm = clipNorm;
    if (options.predict !== undefined && options.predict !== 'delta' && options.predict !== 'value') {
      throw new InputError(`predict must be "delta" or "value", got ${JSON.stringify(options.predict)}`);
    }
    this.delta = (options.predict ?? 'delta') === 'delta';
    this.learning = options.learn ?? true;
    if (!model.normalizer) this.running = new RunningNormalizer(model.inputSize);
    this.stream = model.openStream({ name: options.name });
    this.shrinkXY = new Float64Array(model.inputSize);
    this.shrinkXX = new Float64Array(model.inputSize);
    if (this.learning) ensureLearnerOptimizer(model, lr, clipNorm);
  }

  /** Turns learning on or off (predictions continue either way). */
  setLearning(on: boolean): void {
    if (on) ensureLearnerOptimizer(this.model, this.lr, this.clipNorm);
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
    const before = this.history[this.history.length - 1];
    if (this.delta && before && this.lastOutput) {
      for (let j = 0; j < X; j++) {
        const predicted = this.lastOutput[j];
        this.shrinkXY[j] = SHRINK_DECAY * this.shrinkXY[j] + (frame[j] - before.frame[j]) * predicted;
        this.shrinkXX[j] = SHRINK_DECAY * this.shrinkXX[j] + predicted * predicted;
      }
      this.shrinkCount++;
    }
    this.history.push({ frame, stateBefore: this.stateCopy() });
    if (this.history.length > this.windowSize + 1) this.history.shift();
    const out = this.stream.stepModelUnits(frame);
    this.lastOutput = out;
    for (let j = 0; j < X; j++) {
      const next = this.delta ? frame[j] + this.shrink(j) * out[j] : out[j];
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

  /** The factor on channel j's predicted change (delta mode): 1 until warmed up. */
  private shrink(j: number): number {
    if (this.shrinkCount < SHRINK_WARMUP || !(this.shrinkXX[j] > 0)) return 1;
    return Math.min(Math.max(this.shrinkXY[j] / this.shrinkXX[j], 0), 1);
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

  /** The options this learner runs with (after defaults), as openLearningStream takes them. */
  get options(): Required<Pick<LearningOptions, 'every' | 'window' | 'predict' | 'spikeFactor' | 'rollbackFactor' | 'lr' | 'clipNorm' | 'learn'>> {
    return {
      every: this.every,
      window: this.windowSize,
      predict: this.delta ? 'delta' : 'value',
      spikeFactor: this.spikeFactor,
      rollbackFactor: this.rollbackFactor,
      lr: this.lr,
      clipNorm: this.clipNorm,
      learn: this.learning,
    };
  }

  /**
   * The next k predicted frames (original units), feeding each prediction back
   * as the next input from a forked copy of the state: row 0 is the prediction
   * the last observe() returned. The stream's own state does not move.
   */
  forecast(k: number): Float32Array[] {
    this.stream.assertOpen();
    if (!Number.isInteger(k) || k < 1) throw new InputError(`forecast horizon must be a positive integer, got ${k}`);
    const last = this.history[this.history.length - 1];
    if (!this.previousPrediction || !this.lastOutput || !last) throw new StateError(`${this.stream.label} has observed no frame yet; forecast starts from its last prediction`);
    const model = this.model;
    const kernel = model.kernel;
    const X = model.inputSize;
    const rows: Float32Array[] = [this.previousPrediction.slice()];
    if (k === 1) return rows;
    const fork = model.acquireForkSlot();
    kernel.copySlot(fork, this.stream.slot);
    // the normalized frame the model is predicted to see next
    const next = new Float32Array(X);
    for (let j = 0; j < X; j++) next[j] = clampInput(this.delta ? last.frame[j] + this.shrink(j) * this.lastOutput[j] : this.lastOutput[j]);
    for (let i = 1; i < k; i++) {
      kernel.f32.set(next, kernel.inputOffset(0));
      kernel.setSlot(0, fork);
      kernel.step(1);
      const out = model.readOutput(0);
      const row = new Float32Array(X);
      for (let j = 0; j < X; j++) {
        const value = this.delta ? next[j] + this.shrink(j) * out[j] : out[j];
        row[j] = value * this.std(j) + this.mean(j);
        next[j] = clampInput(value);
      }
      rows.push(row);
    }
    return rows;
  }

  /**
   * Everything this learner keeps on the host, as bytes: its options, counters
   * and statistics, running normalizer, last frame and prediction, the last N+1
   * normalized frames with the state before each, and its last good weights.
   * Not included: the stream's kernel state (`learner.stream.snapshot()`) and
   * the model's weights and optimizer (`model.toSafetensors()`,
   * `exportOptimizerState(model)`). Restore with importState() on a learner of
   * a model of the same shape, then `learner.stream.restore(snapshot)`.
   */
  exportState(): Uint8Array {
    const model = this.model;
    const X = model.inputSize;
    const S = model.kernel.stateLength;
    const P = model.kernel.params().length;
    const w = new ByteWriter();
    const flags =
      (this.delta ? 1 : 0) | (this.learning ? 2 : 0) | (this.running ? 4 : 0) | (this.previousFrame ? 8 : 0) |
      (this.previousPrediction ? 16 : 0) | (this.lastOutput ? 32 : 0) | (this.goodWeights ? 64 : 0);
    w.u32(LEARNER_MAGIC, LEARNER_VERSION, X, S, P, this.every, this.windowSize, flags, this.sinceTraining, this.consecutiveSkips, this.history.length);
    const s = this.stats;
    w.f64(this.errorCount, this.spikeFactor, this.rollbackFactor, this.bestLoss, s.frames, s.updates, s.skipped, s.rollbacks, s.mse, s.persistenceMse, s.runningLoss);
    if (this.running) {
      const r = this.running.export();
      w.f64(r.count);
      w.f64s(r.mean);
      w.f64s(r.m2);
    }
    if (this.previousFrame) w.f32s(this.previousFrame);
    if (this.previousPrediction) w.f32s(this.previousPrediction);
    if (this.lastOutput) w.f32s(this.lastOutput);
    for (const { frame, stateBefore } of this.history) {
      w.f32s(frame);
      w.f32s(stateBefore);
    }
    if (this.goodWeights) w.f32s(this.goodWeights);
    w.f64(this.shrinkCount);
    w.f64s(this.shrinkXY);
    w.f64s(this.shrinkXX);
    return w.bytes();
  }

  /**
   * Continues from exportState() bytes: this learner takes the saved options,
   * counters, statistics, history and good weights (its own are replaced). The
   * bytes are checked (magic, version, sizes, finiteness) before anything
   * changes; a learner of a model of another shape is refused with InputError.
   * Whether it learns stays as set on this learner (setLearning).
   */
  importState(bytes: Uint8Array): void {
    this.stream.assertOpen();
    const model = this.model;
    const X = model.inputSize;
    const S = model.kernel.stateLength;
    const P = model.kernel.params().length;
    const r = new ByteReader(bytes, 'learner state');
    const [magic, version, x, stateLength, params, every, windowSize, flags, sinceTraining, consecutiveSkips, historyLength] = r.u32(11);
    if (magic !== LEARNER_MAGIC) throw new InputError('not a seqcast learner state (bad magic)');
    if (version !== LEARNER_VERSION) throw new InputError(`learner state version ${version} is not supported (this version reads ${LEARNER_VERSION})`);
    if (x !== X || stateLength !== S || params !== P) {
      throw new InputError(`learner state is of a model with ${x} inputs, ${stateLength} state values and ${params} parameters; this one has ${X}, ${S} and ${P}: ${model.describe()}`);
    }
    if (every < 1 || windowSize < 1 || historyLength > windowSize + 1) throw new InputError(`learner state has inconsistent counters (every ${every}, window ${windowSize}, history ${historyLength})`);
    if (((flags & 4) !== 0) !== (this.running !== undefined)) {
      throw new InputError(`learner state ${flags & 4 ? 'has' : 'lacks'} running statistics, but this model ${model.normalizer ? 'carries' : 'does not carry'} a normalizer`);
    }
    const [errorCount, spikeFactor, rollbackFactor, bestLoss, frames, updates, skipped, rollbacks, mse, persistenceMse, runningLoss] = r.f64(11);
    const running = flags & 4 ? { count: r.f64(1)[0], mean: r.f64(X), m2: r.f64(X) } : undefined;
    const previousFrame = flags & 8 ? r.f32(X) : undefined;
    const previousPrediction = flags & 16 ? r.f32(X) : undefined;
    const lastOutput = flags & 32 ? r.f32(model.outputSize) : undefined;
    const history = Array.from({ length: historyLength }, () => ({ frame: r.f32(X), stateBefore: r.f32(S) }));
    const goodWeights = flags & 64 ? r.f32(P) : undefined;
    const [shrinkCount] = r.f64(1);
    const shrinkXY = r.f64(X), shrinkXX = r.f64(X);
    r.end();
    const finite = (what: string, values: ArrayLike<number> | undefined) => {
      if (!values) return;
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new InputError(`learner state: ${what} value ${i} is ${values[i]}; expected a finite number`);
    };
    finite('statistics', [errorCount, spikeFactor, rollbackFactor, frames, updates, skipped, rollbacks, mse, persistenceMse]);
    if (running) {
      finite('running mean', running.mean);
      finite('running m2', running.m2);
    }
    finite('previous frame', previousFrame);
    finite('previous prediction', previousPrediction);
    finite('last output', lastOutput);
    history.forEach((h, i) => {
      finite(`history ${i} frame`, h.frame);
      finite(`history ${i} state`, h.stateBefore);
    });
    finite('good weights', goodWeights);
    finite('shrinkage', [shrinkCount, ...shrinkXY, ...shrinkXX]);
    // all checked: apply
    this.every = every;
    this.windowSize = windowSize;
    this.delta = (flags & 1) !== 0;
    this.spikeFactor = spikeFactor;
    this.rollbackFactor = rollbackFactor;
    this.sinceTraining = sinceTraining;
    this.consecutiveSkips = consecutiveSkips;
    this.bestLoss = bestLoss;
    this.errorCount = errorCount;
    Object.assign(this.stats, { frames, updates, skipped, rollbacks, mse, persistenceMse, runningLoss });
    if (running) this.running!.import(running.count, running.mean, running.m2);
    this.previousFrame = previousFrame;
    this.previousPrediction = previousPrediction;
    this.lastOutput = lastOutput;
    this.history.length = 0;
    this.history.push(...history);
    this.goodWeights = goodWeights;
    this.shrinkCount = shrinkCount;
    this.shrinkXY.set(shrinkXY);
    this.shrinkXX.set(shrinkXX);
  }
}

function clampInput(v: number): number {
  return Math.min(Math.max(v, -INPUT_LIMIT), INPUT_LIMIT);
}

// ---- the model's optimizer state, for checkpoints ------------------------------------------------------------------

const LEARNER_MAGIC = 0x534c4353; // "SCLS" little-endian: SeqCast Learner State
const LEARNER_VERSION = 2;
const OPTIMIZER_MAGIC = 0x534f4353; // "SCOS": SeqCast Optimizer State
const OPTIMIZER_VERSION = 1;
/** Adam's betas as learners configure them (the library's defaults). */
const ADAM_BETAS: [number, number] = [0.9, 0.999];

/** The learner's optimizer: the model's own if one exists, else Adam with the learner's lr and clip. */
function ensureLearnerOptimizer(model: Model, lr: number, clipNorm: number): void {
  model.ensureOptimizer({ kind: 'adam', lr, clipNorm });
}

/**
 * The model's optimizer state as bytes (Adam's step count, hyperparameters and
 * both moments), for a checkpoint that continues learning bit for bit; or
 * undefined when the model has no Adam optimizer.
 */
export function exportOptimizerState(model: Model): Uint8Array | undefined {
  const settings = model.optimizerSettings();
  if (!settings || settings.kind !== 'adam') return undefined;
  const kernel = model.kernel;
  const e = kernel.exports;
  const length = e.getParamsLength();
  const f32 = kernel.f32;
  const m = e.optimizerMomentPtr(0) >>> 2, v = e.optimizerMomentPtr(1) >>> 2;
  const w = new ByteWriter();
  w.u32(OPTIMIZER_MAGIC, OPTIMIZER_VERSION, length, e.getOptimizerSteps());
  w.f64(settings.lr, settings.clipNorm, settings.betas[0], settings.betas[1]);
  w.f32s(f32.subarray(m, m + length));
  w.f32s(f32.subarray(v, v + length));
  return w.bytes();
}

/**
 * Restores exportOptimizerState() bytes into the model's optimizer: Adam with the
 * saved hyperparameters, moments and step count. Call it after the weights are
 * restored and before any learner of the model trains.
 */
export function importOptimizerState(model: Model, bytes: Uint8Array): void {
  const r = new ByteReader(bytes, 'optimizer state');
  const [magic, version, length, steps] = r.u32(4);
  if (magic !== OPTIMIZER_MAGIC) throw new InputError('not a seqcast optimizer state (bad magic)');
  if (version !== OPTIMIZER_VERSION) throw new InputError(`optimizer state version ${version} is not supported (this version reads ${OPTIMIZER_VERSION})`);
  const kernel = model.kernel;
  const e = kernel.exports;
  if (length !== e.getParamsLength()) throw new InputError(`optimizer state is for ${length} parameters; ${model.describe()} has ${e.getParamsLength()}`);
  const [lr, clipNorm, b1, b2] = r.f64(4);
  if (b1 !== ADAM_BETAS[0] || b2 !== ADAM_BETAS[1]) throw new InputError(`optimizer state has betas ${b1}, ${b2}; learners use ${ADAM_BETAS.join(', ')}`);
  const m = r.f32(length);
  const v = r.f32(length);
  r.end();
  for (const [name, values] of [['m', m], ['v', v]] as const) {
    for (let i = 0; i < length; i++) if (!Number.isFinite(values[i])) throw new InputError(`optimizer state: moment ${name}[${i}] is ${values[i]}`);
  }
  // a fresh Adam with these hyperparameters, then its moments and step count as they were
  model.optimizer({ kind: 'adam', lr, clipNorm, betas: [b1, b2] });
  const code = e.optimizerSetSteps(steps);
  if (code < 0) throw new KernelError(code, `cannot restore the optimizer's step count (kernel error ${code})`);
  const f32 = kernel.f32;
  f32.set(m, e.optimizerMomentPtr(0) >>> 2);
  f32.set(v, e.optimizerMomentPtr(1) >>> 2);
}

// ---- little-endian bytes ----------------------------------------------------------------------------------------------

class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.size += chunk.byteLength;
  }

  u32(...values: number[]): void {
    const chunk = new Uint8Array(values.length * 4);
    const view = new DataView(chunk.buffer);
    values.forEach((v, i) => view.setUint32(i * 4, v, true));
    this.push(chunk);
  }

  f64(...values: number[]): void {
    this.f64s(values);
  }

  f64s(values: ArrayLike<number>): void {
    const chunk = new Uint8Array(values.length * 8);
    const view = new DataView(chunk.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
    this.push(chunk);
  }

  f32s(values: ArrayLike<number>): void {
    const chunk = new Uint8Array(values.length * 4);
    const view = new DataView(chunk.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    this.push(chunk);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }
}

class ByteReader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array, private readonly what: string) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private take(bytes: number): number {
    if (this.at + bytes > this.data.byteLength) throw new InputError(`${this.what} is cut short: ${this.data.byteLength} bytes, more expected`);
    const at = this.at;
    this.at += bytes;
    return at;
  }

  u32(count: number): number[] {
    const at = this.take(count * 4);
    return Array.from({ length: count }, (_, i) => this.view.getUint32(at + i * 4, true));
  }

  f64(count: number): Float64Array {
    const at = this.take(count * 8);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat64(at + i * 8, true);
    return out;
  }

  f32(count: number): Float32Array {
    const at = this.take(count * 4);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat32(at + i * 4, true);
    return out;
  }

  end(): void {
    if (this.at !== this.data.byteLength) throw new InputError(`${this.what} has ${this.data.byteLength - this.at} bytes too many`);
  }
}
