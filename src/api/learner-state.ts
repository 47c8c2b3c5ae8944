// The learner state format: everything a LearningStream keeps on the host, as versioned bytes (parking, checkpoints).

import { InputError } from '../errors.js';
import { ByteReader, ByteWriter } from '../model/bytes.js';

const LEARNER_MAGIC = 0x534c4353; // "SCLS" little-endian: SeqCast Learner State
const LEARNER_VERSION = 2;

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

/** A learner's host-side state, field by field (LearningStream holds the same fields). */
export interface LearnerRecord {
  every: number;
  window: number;
  /** Predicts changes (true) or values. */
  delta: boolean;
  learning: boolean;
  sinceTraining: number;
  consecutiveSkips: number;
  errorCount: number;
  spikeFactor: number;
  rollbackFactor: number;
  bestLoss: number;
  stats: LearningStats;
  /** Running input statistics (models without their own normalizer): RunningStats' count, mean [X], m2 [X]. */
  running: { count: number; mean: ArrayLike<number>; m2: ArrayLike<number> } | undefined;
  previousFrame: Float32Array | undefined;
  previousPrediction: Float32Array | undefined;
  /** The model's raw output after the last frame, [O]. */
  lastOutput: Float32Array | undefined;
  /** Last N+1 normalized frames [X] and the state [S] before each, oldest first. */
  history: { frame: Float32Array; stateBefore: Float32Array }[];
  /** Parameters [P] to roll back to. */
  goodWeights: Float32Array | undefined;
  shrinkCount: number;
  shrinkXY: Float64Array;
  shrinkXX: Float64Array;
}

/** The sizes a learner's state must match: inputs X, state S, parameters P, outputs O; and whether it keeps running statistics. */
export interface LearnerShape {
  inputs: number;
  state: number;
  parameters: number;
  outputs: number;
  running: boolean;
  /** The model, for messages. */
  description: string;
}

/**
 * The record as bytes (little-endian): u32 magic, version, X, S, P, every, window,
 * flags, sinceTraining, consecutiveSkips, history length; f64 errorCount,
 * spikeFactor, rollbackFactor, bestLoss and the 7 stats; then each part the flags
 * say is present; then the shrinkage (f64 count, XY [X], XX [X]).
 */
export function encodeLearnerState(record: LearnerRecord, shape: LearnerShape): Uint8Array {
  const w = new ByteWriter();
  const flags =
    (record.delta ? 1 : 0) | (record.learning ? 2 : 0) | (record.running ? 4 : 0) | (record.previousFrame ? 8 : 0) |
    (record.previousPrediction ? 16 : 0) | (record.lastOutput ? 32 : 0) | (record.goodWeights ? 64 : 0);
  w.u32(LEARNER_MAGIC, LEARNER_VERSION, shape.inputs, shape.state, shape.parameters, record.every, record.window, flags, record.sinceTraining, record.consecutiveSkips, record.history.length);
  const s = record.stats;
  w.f64(record.errorCount, record.spikeFactor, record.rollbackFactor, record.bestLoss, s.frames, s.updates, s.skipped, s.rollbacks, s.mse, s.persistenceMse, s.runningLoss);
  if (record.running) {
    w.f64(record.running.count);
    w.f64s(record.running.mean);
    w.f64s(record.running.m2);
  }
  if (record.previousFrame) w.f32s(record.previousFrame);
  if (record.previousPrediction) w.f32s(record.previousPrediction);
  if (record.lastOutput) w.f32s(record.lastOutput);
  for (const { frame, stateBefore } of record.history) {
    w.f32s(frame);
    w.f32s(stateBefore);
  }
  if (record.goodWeights) w.f32s(record.goodWeights);
  w.f64(record.shrinkCount);
  w.f64s(record.shrinkXY);
  w.f64s(record.shrinkXX);
  return w.bytes();
}

/** Reads encodeLearnerState() bytes, checking magic, version, sizes and finiteness; InputError for anything else. */
export function decodeLearnerState(bytes: Uint8Array, shape: LearnerShape): LearnerRecord {
  return readLearnerState(bytes, shape);
}

/**
 * Why encodeLearnerState() bytes could not be read back by any learner, or undefined when they could: bad magic,
 * version, counters, length or a non-finite value. The bytes say their own sizes; only a learner of a model of
 * those sizes takes them (decodeLearnerState checks that too). Checkpoints call it before they write a learner.
 */
export function learnerStateProblem(bytes: Uint8Array): string | undefined {
  try {
    readLearnerState(bytes, undefined);
    return undefined;
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
}

/** decodeLearnerState, against `shape` when given (else the sizes the bytes state; a learner's outputs are its inputs). */
function readLearnerState(bytes: Uint8Array, shape: LearnerShape | undefined): LearnerRecord {
  const r = new ByteReader(bytes, 'learner state');
  const [magic, version, x, stateLength, params, every, windowSize, flags, sinceTraining, consecutiveSkips, historyLength] = r.u32(11);
  if (magic !== LEARNER_MAGIC) throw new InputError('not a seqcast learner state (bad magic)');
  if (version !== LEARNER_VERSION) throw new InputError(`learner state version ${version} is not supported (this version reads ${LEARNER_VERSION})`);
  if (shape && (x !== shape.inputs || stateLength !== shape.state || params !== shape.parameters)) {
    throw new InputError(`learner state is of a model with ${x} inputs, ${stateLength} state values and ${params} parameters; this one has ${shape.inputs}, ${shape.state} and ${shape.parameters}: ${shape.description}`);
  }
  const X = x, S = stateLength, P = params;
  if (every < 1 || windowSize < 1 || historyLength > windowSize + 1) throw new InputError(`learner state has inconsistent counters (every ${every}, window ${windowSize}, history ${historyLength})`);
  if (shape && ((flags & 4) !== 0) !== shape.running) {
    throw new InputError(`learner state ${flags & 4 ? 'has' : 'lacks'} running statistics, but this model ${shape.running ? 'does not carry' : 'carries'} a normalizer`);
  }
  // every length below is the header's: refuse a header whose sizes the bytes cannot hold before allocating for them
  const floats = (flags & 8 ? X : 0) + (flags & 16 ? X : 0) + (flags & 32 ? (shape?.outputs ?? X) : 0) + historyLength * (X + S) + (flags & 64 ? P : 0);
  const doubles = 11 + (flags & 4 ? 1 + 2 * X : 0) + 1 + 2 * X;
  const implied = 11 * 4 + doubles * 8 + floats * 4;
  if (implied > bytes.byteLength) throw new InputError(`learner state is cut short: ${bytes.byteLength} bytes, its header implies ${implied}`);
  if (implied < bytes.byteLength) throw new InputError(`learner state has ${bytes.byteLength - implied} bytes too many: its header implies ${implied}`);
  const [errorCount, spikeFactor, rollbackFactor, bestLoss, frames, updates, skipped, rollbacks, mse, persistenceMse, runningLoss] = r.f64(11);
  const running = flags & 4 ? { count: r.f64(1)[0], mean: r.f64(X), m2: r.f64(X) } : undefined;
  const previousFrame = flags & 8 ? r.f32(X) : undefined;
  const previousPrediction = flags & 16 ? r.f32(X) : undefined;
  const lastOutput = flags & 32 ? r.f32(shape?.outputs ?? X) : undefined;
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
  // the two values with a meaning before the first update: no best loss yet (+Infinity), no running loss yet (NaN)
  if (!(Number.isFinite(bestLoss) || bestLoss === Infinity)) throw new InputError(`learner state: best loss is ${bestLoss}; expected a finite number (or Infinity before the first update)`);
  if (!(Number.isFinite(runningLoss) || Number.isNaN(runningLoss))) throw new InputError(`learner state: running loss is ${runningLoss}; expected a finite number (or NaN before the first update)`);
  if (running) {
    finite('running count', [running.count]);
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
  return {
    every, window: windowSize, delta: (flags & 1) !== 0, learning: (flags & 2) !== 0, sinceTraining, consecutiveSkips,
    errorCount, spikeFactor, rollbackFactor, bestLoss,
    stats: { frames, updates, skipped, rollbacks, mse, persistenceMse, runningLoss },
    running, previousFrame, previousPrediction, lastOutput, history, goodWeights, shrinkCount, shrinkXY, shrinkXX,
  };
}
