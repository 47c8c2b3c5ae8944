// LearningStream: a stream that predicts each next frame and, every K frames, trains the shared model by
// truncated BPTT over its last N frames, guarded against bursts that would ruin a good model.

import { InputError, StateError } from '../errors.js';
import { LEARNER_RULES, RunningStats, unscaled } from '../model/running-stats.js';
import type { ModelHost } from './host.js';
import { decodeLearnerState, encodeLearnerState, type LearnerShape, type LearningStats } from './learner-state.js';
import { openStream, type Stream } from './stream.js';
import { TrainingError, type Trainer } from './train.js';

import { resolveLearningOptions, type LearningOptions, type LearningReport, type ResolvedLearningOptions } from './learning-options.js';

export type { LearningStats } from './learner-state.js';
export type { LearningOptions, LearningReport } from './learning-options.js';

/** Normalized inputs are clamped to ±this: a wild value saturates instead of blowing up the state. */
const INPUT_LIMIT = 20;
const SHRINK_DECAY = 0.99;
const SHRINK_WARMUP = 50;
/** Window losses (normalized units²) below this are never treated as spikes. */
const SPIKE_FLOOR = 0.05;
const MAX_CONSECUTIVE_SKIPS = 4;

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
  /** Running input statistics (LEARNER_RULES), for models without stored statistics. */
  private readonly running?: RunningStats;
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
  /** Between prepareStep and finishStep: the frame's report so far, its normalized frame and its copy in original units. */
  private prepared?: { report: LearningReport; frame: Float32Array; previousFrame: Float32Array };

  /** @internal Use model.openLearningStream(). */
  constructor(
    private readonly host: ModelHost,
    private readonly trainer: Trainer,
    options: LearningOptions = {},
  ) {
    if (host.isTokenModel) throw new StateError('online learning of token models is not supported; it learns frame models');
    if (host.outputSize !== host.inputSize) {
      throw new StateError(`online learning predicts the next frame: the model must output ${host.inputSize} values, it outputs ${host.outputSize}`);
    }
    const resolved = resolveLearningOptions(options);
    this.every = resolved.every;
    this.windowSize = resolved.window;
    this.spikeFactor = resolved.spikeFactor;
    this.rollbackFactor = resolved.rollbackFactor;
    this.lr = resolved.lr;
    this.clipNorm = resolved.clipNorm;
    this.delta = resolved.predict === 'delta';
    this.learning = resolved.learn;
    if (!host.normalizer) this.running = new RunningStats(host.inputSize, LEARNER_RULES);
    this.stream = openStream(host, { name: options.name });
    this.shrinkXY = new Float64Array(host.inputSize);
    this.shrinkXX = new Float64Array(host.inputSize);
    if (this.learning) this.ensureOptimizer();
  }

  /** The learner's optimizer: the model's own if one exists, else Adam with the learner's lr and clip. */
  private ensureOptimizer(): void {
    this.trainer.ensureOptimizer({ kind: 'adam', lr: this.lr, clipNorm: this.clipNorm });
  }

  /** Turns learning on or off (predictions continue either way). */
  setLearning(on: boolean): void {
    if (on) this.ensureOptimizer();
    this.learning = on;
  }

  get isLearning(): boolean {
    return this.learning;
  }

  private mean(j: number): number {
    return this.host.normalizer ? this.host.normalizer.mean[j] : this.running!.mean[j];
  }

  private std(j: number): number {
    return this.host.normalizer ? this.host.normalizer.std[j] : this.running!.std(j);
  }

  /**
   * Takes the frame that just arrived (original units): scores the previous
   * prediction against it, steps the model, maybe trains, and predicts the next frame.
   * A bad frame throws InputError and changes nothing.
   */
  observe(actual: ArrayLike<number>): LearningReport {
    this.host.checkInput(actual, this.stream.label);
    this.stream.assertOpen();
    return this.observeChecked(actual);
  }

  /** @internal observe for a frame already checked (the pipeline's validateFrames); steps it without checking again. */
  observeChecked(actual: ArrayLike<number>): LearningReport {
    return this.finishStep(this.stream.stepModelUnitsUnchecked(this.prepareStep(actual)));
  }

  /** @internal Whether prepareStep() has run and finishStep() has not. */
  get hasPreparedStep(): boolean {
    return this.prepared !== undefined;
  }

  /**
   * @internal The first half of observe (for a checked frame): scores the previous prediction, updates the
   * statistics and history, and returns the normalized frame [X] (model units, clamped) to step in this
   * learner's slot. The caller steps it (alone or in a batch with other streams) and hands the raw output
   * to finishStep.
   */
  prepareStep(actual: ArrayLike<number>): Float32Array {
    const X = this.host.inputSize;
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
    this.running?.add(actual);
    const frame = new Float32Array(X);
    for (let j = 0; j < X; j++) frame[j] = clampInput((actual[j] - this.mean(j)) / this.std(j));
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
    this.prepared = { report, frame, previousFrame: Float32Array.from(actual) };
    // frame is finite (clamped to ±INPUT_LIMIT) and X wide: it is stepped without a second check
    return frame;
  }

  /** @internal Steps the prepared frame alone in this learner's slot and returns the raw output (for finishStep). */
  stepPrepared(): Float32Array {
    if (!this.prepared) throw new StateError(`${this.stream.label}: no prepared frame to step`);
    return this.stream.stepModelUnitsUnchecked(this.prepared.frame);
  }

  /**
   * @internal The second half of observe: takes the raw output [X] (model units) of the prepared frame's step,
   * predicts the next frame and trains every K frames (which changes the model's weights).
   */
  finishStep(out: Float32Array): LearningReport {
    const prepared = this.prepared;
    if (!prepared) throw new StateError(`${this.stream.label}: finishStep without prepareStep`);
    this.prepared = undefined;
    const { report, frame } = prepared;
    const X = this.host.inputSize;
    this.lastOutput = out;
    for (let j = 0; j < X; j++) {
      const next = this.delta ? frame[j] + this.shrink(j) * out[j] : out[j];
      report.predicted[j] = unscaled(next, this.mean(j), this.std(j));
    }
    this.previousFrame = prepared.previousFrame;
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
    return this.host.kernel.slotState(this.stream.slot).slice();
  }

  /** Truncated BPTT over the last N frames, from the state before the first of them. */
  private train(report: LearningReport): void {
    const host = this.host;
    const N = this.windowSize;
    const frames = this.history.map((h) => h.frame);
    const inputs = frames.slice(0, N);
    const targets = frames.slice(1).map((next, i) => (this.delta ? next.map((v, j) => v - inputs[i][j]) : next));
    const state = this.history[0].stateBefore;
    const n = host.arch.layers * host.arch.hiddenSize;
    const h0 = state.subarray(0, n);
    const c0 = host.arch.cell === 'lstm' ? state.subarray(n, 2 * n) : undefined;
    // A window far worse than usual is a burst: skip it. Losses below SPIKE_FLOOR never count as
    // spikes, and after MAX_CONSECUTIVE_SKIPS the data has changed regime: learn it (clipping still bounds the step).
    const limit = Number.isFinite(this.stats.runningLoss) && this.stats.updates >= 10 && this.consecutiveSkips < MAX_CONSECUTIVE_SKIPS
      ? Math.max(this.spikeFactor * this.stats.runningLoss, SPIKE_FLOOR)
      : Infinity;
    let outcome;
    try {
      outcome = this.trainer.guardedTrainWindow({ inputs, targets, h0, c0 }, limit);
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
        if (this.stats.updates % 20 === 0) this.goodWeights = host.parameterBlock();
      } else if (this.stats.runningLoss > this.rollbackFactor * this.bestLoss && this.goodWeights) {
        host.restoreParameterBlock(this.goodWeights);
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
  get options(): ResolvedLearningOptions {
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
    const host = this.host;
    const kernel = host.kernel;
    const X = host.inputSize;
    const rows: Float32Array[] = [this.previousPrediction.slice()];
    if (k === 1) return rows;
    const fork = host.acquireForkSlot();
    kernel.copySlot(fork, this.stream.slot);
    // the normalized frame the model is predicted to see next
    const next = new Float32Array(X);
    for (let j = 0; j < X; j++) next[j] = clampInput(this.delta ? last.frame[j] + this.shrink(j) * this.lastOutput[j] : this.lastOutput[j]);
    const outAt = kernel.outputOffset(0);
    for (let i = 1; i < k; i++) {
      kernel.f32.set(next, kernel.inputOffset(0));
      kernel.setSlot(0, fork);
      kernel.step(1);
      const f32 = kernel.f32; // read in place: each value is used once, before the next step
      const row = new Float32Array(X);
      for (let j = 0; j < X; j++) {
        const out = f32[outAt + j];
        const value = this.delta ? next[j] + this.shrink(j) * out : out;
        row[j] = unscaled(value, this.mean(j), this.std(j));
        next[j] = clampInput(value);
      }
      rows.push(row);
    }
    return rows;
  }

  private shape(): LearnerShape {
    const host = this.host;
    return {
      inputs: host.inputSize,
      state: host.kernel.stateLength,
      parameters: host.kernel.params().length,
      outputs: host.outputSize,
      running: this.running !== undefined,
      description: host.describe(),
    };
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
    const running = this.running;
    return encodeLearnerState(
      {
        every: this.every, window: this.windowSize, delta: this.delta, learning: this.learning,
        sinceTraining: this.sinceTraining, consecutiveSkips: this.consecutiveSkips,
        errorCount: this.errorCount, spikeFactor: this.spikeFactor, rollbackFactor: this.rollbackFactor, bestLoss: this.bestLoss,
        stats: this.stats,
        running: running ? { count: running.count, mean: running.mean, m2: running.m2 } : undefined,
        previousFrame: this.previousFrame, previousPrediction: this.previousPrediction, lastOutput: this.lastOutput,
        history: this.history, goodWeights: this.goodWeights,
        shrinkCount: this.shrinkCount, shrinkXY: this.shrinkXY, shrinkXX: this.shrinkXX,
      },
      this.shape(),
    );
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
    const saved = decodeLearnerState(bytes, this.shape());
    // all checked: apply
    this.every = saved.every;
    this.windowSize = saved.window;
    this.delta = saved.delta;
    this.spikeFactor = saved.spikeFactor;
    this.rollbackFactor = saved.rollbackFactor;
    this.sinceTraining = saved.sinceTraining;
    this.consecutiveSkips = saved.consecutiveSkips;
    this.bestLoss = saved.bestLoss;
    this.errorCount = saved.errorCount;
    Object.assign(this.stats, saved.stats);
    if (saved.running) this.running!.load(saved.running.count, saved.running.mean, saved.running.m2);
    this.previousFrame = saved.previousFrame;
    this.previousPrediction = saved.previousPrediction;
    this.lastOutput = saved.lastOutput;
    this.history.length = 0;
    this.history.push(...saved.history);
    this.goodWeights = saved.goodWeights;
    this.shrinkCount = saved.shrinkCount;
    this.shrinkXY.set(saved.shrinkXY);
    this.shrinkXX.set(saved.shrinkXX);
  }
}

function clampInput(v: number): number {
  return Math.min(Math.max(v, -INPUT_LIMIT), INPUT_LIMIT);
}
