// ErrorScorer: one stream's prediction error, rolling RMSE and anomaly score (the stream table holds one per stream; `seqcast
// detect` runs the same, and bench/nab.ts scores it on the Numenta Anomaly Benchmark).

import { RollingLikelihood, type RollingLikelihoodState } from './rolling-likelihood.js';
import { SEASONAL_DEFAULTS, SeasonalMemory, type SeasonalMemoryState } from './seasonal-memory.js';
import { exp, log } from './portable-math.js';

export interface ScorerOptions {
  /** Errors in the rolling RMSE. Default 100. */
  rmseWindow?: number;
  /** Values averaged into the recent mean each likelihood judges. Default 10. */
  shortWindow?: number;
  /** Recent means that make up each likelihood's history (a sliding window). Default 4000. */
  longWindow?: number;
  /** Frames scored 0.5 before the score says anything: too little history to judge. Default 750 (NAB's longest probationary period). */
  probation?: number;
  /** First frames whose errors are left out of the history (the model is still learning them). Default ¾ of probation. */
  warmup?: number;
  /** Frames after a detection during which the likelihoods cannot raise another. Default 300. */
  suppress?: number;
  /** …unless the new one is this many times stronger (its z against the last detection's); 0: never. Default 1.5. */
  strongerBy?: number;
  /** Days the seasonal memory looks back (frames with timestamps in ms only); 0 turns it off. Default 14. */
  seasonDays?: number;
  /** Frames either side of the nearest one each day back that the seasonal memory compares too. Default 4. */
  seasonNeighbours?: number;
  /** A frame beyond the range seen so far by this fraction of it scores 1. 0 turns it off. Default 0.05. */
  rangeTolerance?: number;
}

const DEFAULTS: Required<Omit<ScorerOptions, 'warmup'>> = {
  rmseWindow: 100,
  shortWindow: 10,
  longWindow: 4000,
  probation: 750,
  suppress: 300,
  strongerBy: 1.5,
  seasonDays: SEASONAL_DEFAULTS.days,
  seasonNeighbours: SEASONAL_DEFAULTS.neighbours,
  rangeTolerance: 0.05,
};

/** A likelihood this many standard deviations out (tail 1e-5, HTM's "red zone") is a detection: anomaly 0.5 and above. */
export const DETECTION_Z = 4.264890793922602;
/** What a likelihood above DETECTION_Z scores when it cannot detect (right after a detection, or held high): tail 1e-3, anomaly 0.3. */
export const HELD_Z = 3.090232306167813;

/**
 * NAB's probationary period for a series of `rows` rows: min(floor(0.15 · rows),
 * 750) (nab/util.py getProbationPeriod; may be fractional, 0.15 · 5000). NAB does
 * not score these rows, and a detector may spend them learning.
 */
export function nabProbation(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 0.15 * 5000);
}

/** Serializable state of an ErrorScorer (f64 numbers, exact through JSON). */
export interface ErrorScorerState {
  options: Required<ScorerOptions>;
  previous: number[] | null;
  scored: number;
  squaredErrors: number[];
  /** Running sum of squaredErrors (absent in checkpoints before it existed: recomputed). */
  squaredSum?: number;
  /** The anomaly detector's state (absent in checkpoints before it existed: it starts afresh). */
  detector?: DetectorState;
}

interface DetectorState {
  prediction: RollingLikelihoodState;
  seasonal: RollingLikelihoodState;
  memory: SeasonalMemoryState | null;
  low: number[] | null;
  high: number[] | null;
  previousZ: number;
  lastDetection: number;
  lastDetectionZ?: number;
}

/**
 * One stream's scoring state. Each step it compares the new actual with the
 * prediction made one step earlier:
 *
 * - error: RMS over channels of actual − predicted (frame models, producer's
 *   units), or the cross-entropy −log p(actual token) in nats (token models);
 * - rmse: root mean square of the last `rmseWindow` errors;
 * - anomaly: in [0, 1], HTM's log-likelihood scale (0.5: a tail probability of
 *   1e-5; 0.5 also while under probation). Three signals, each judged against
 *   the stream's own history, with no look-ahead:
 *   1. the prediction error's anomaly likelihood (RollingLikelihood);
 *   2. with timestamps (ms), the seasonal deviation's likelihood: how far the
 *      frame is from every frame near the same time on each of the last 14
 *      days (SeasonalMemory), so a recurring pattern is not news but a break in
 *      it is;
 *   3. a frame outside the range seen so far (by 5% of it) scores 1.
 *   A likelihood detects when it first crosses DETECTION_Z; it cannot detect
 *   again until it has fallen below and `suppress` frames have passed, unless
 *   it is `strongerBy` times the last detection's z (it scores HELD_Z
 *   meanwhile): one detection per event, as NAB rewards.
 */
export class ErrorScorer {
  readonly options: Required<ScorerOptions>;
  /** The prediction of the coming frame (original units, or logits). */
  private previous: Float64Array | undefined;
  /** Frames scored so far (frames that had a prediction before them): the row index of the frame being scored. */
  private scored = 0;
  private readonly squaredErrors: Float64Array;
  /** Sum of squaredErrors, kept as they change (recomputed exactly once per rmseWindow errors, so rounding cannot drift). */
  private squaredSum = 0;
  private prediction!: RollingLikelihood;
  private seasonal!: RollingLikelihood;
  private memory: SeasonalMemory | undefined;
  /** (channels) the lowest and highest value seen. */
  private low: Float64Array | undefined;
  private high: Float64Array | undefined;
  /** The larger likelihood z of the previous frame (−∞ before any). */
  private previousZ = 0;
  /** Row of the last detection by a likelihood, and its z. */
  private lastDetection = -Infinity;
  private lastDetectionZ = 0;

  constructor(options: ScorerOptions = {}) {
    const merged = { ...DEFAULTS, ...options };
    this.options = { ...merged, warmup: options.warmup ?? Math.floor(0.75 * merged.probation) };
    this.squaredErrors = new Float64Array(this.options.rmseWindow);
    this.resetDetector();
  }

  /**
   * Scores `actual` (values or a token id) against the previous prediction, then
   * remembers `predicted` for the next frame. `t` (ms since the epoch), when
   * given, lets the seasonal memory compare the frame with past days.
   */
  score(actual: ArrayLike<number> | number, predicted: ArrayLike<number>, t?: number): { error: number | undefined; rmse: number | undefined; anomaly: number } {
    const previous = this.previous;
    if (!previous) {
      this.previous = Float64Array.from(predicted);
      if (typeof actual !== 'number') this.observeFrame(actual, t);
      return { error: undefined, rmse: undefined, anomaly: 0.5 };
    }
    const error = typeof actual === 'number' ? crossEntropy(previous, actual) : rmsError(actual, previous);
    if (previous.length === predicted.length) {
      // a loop, not set(): copying float32 into float64 element by element is cheaper than set()'s conversion
      for (let i = 0; i < predicted.length; i++) previous[i] = predicted[i];
    } else {
      this.previous = Float64Array.from(predicted);
    }
    const { rmseWindow } = this.options;
    const at = this.scored;
    this.scored++;
    const slot = at % rmseWindow;
    const squared = error * error;
    if (slot === rmseWindow - 1) {
      this.squaredErrors[slot] = squared;
      this.squaredSum = sum(this.squaredErrors, rmseWindow);
    } else {
      this.squaredSum += squared - this.squaredErrors[slot];
      this.squaredErrors[slot] = squared;
    }
    const rmse = Math.sqrt(Math.max(0, this.squaredSum) / Math.min(this.scored, rmseWindow));
    return { error, rmse, anomaly: this.detect(error, actual, t) };
  }

  /** The anomaly score of the frame at row `this.scored` (see the class comment). */
  private detect(error: number, actual: ArrayLike<number> | number, t: number | undefined): number {
    const { probation, warmup, suppress, strongerBy } = this.options;
    const row = this.scored;
    const judge = row >= probation;
    const record = row > warmup;
    let z = this.prediction.step(error, record, judge);
    let outside = false;
    if (typeof actual !== 'number') {
      const deviation = this.memory && t !== undefined ? this.memory.deviation(t, actual) : Number.NaN;
      if (!Number.isNaN(deviation)) z = larger(z, this.seasonal.step(deviation, record, judge));
      outside = this.outsideRange(actual);
    }
    if (Number.isNaN(z)) z = 0;
    let level = z;
    if (z >= DETECTION_Z) {
      const held = row - this.lastDetection <= suppress && !(strongerBy > 0 && z > strongerBy * this.lastDetectionZ);
      if (this.previousZ >= DETECTION_Z || held) level = HELD_Z;
      else {
        this.lastDetection = row;
        this.lastDetectionZ = z;
      }
    }
    this.previousZ = z;
    if (!judge) return 0.5;
    return outside ? 1 : logLikelihood(level);
  }

  /** Records a frame that has no error to score (the stream's first): the seasonal memory and the range start from it. */
  private observeFrame(actual: ArrayLike<number>, t: number | undefined): void {
    if (this.memory && t !== undefined) this.memory.deviation(t, actual);
    this.outsideRange(actual);
  }

  /** Whether some channel of `actual` lies beyond the range seen so far by rangeTolerance of it; then widens the range. */
  private outsideRange(actual: ArrayLike<number>): boolean {
    const tolerance = this.options.rangeTolerance;
    if (!this.low || !this.high || this.low.length !== actual.length) {
      this.low = Float64Array.from(actual);
      this.high = Float64Array.from(actual);
      return false;
    }
    let outside = false;
    for (let c = 0; c < actual.length; c++) {
      const low = this.low[c];
      const high = this.high[c];
      const margin = (high - low) * tolerance;
      if (tolerance > 0 && low < high && (actual[c] > high + margin || actual[c] < low - margin)) outside = true;
      if (actual[c] < low) this.low[c] = actual[c];
      if (actual[c] > high) this.high[c] = actual[c];
    }
    return outside;
  }

  private seasonalOptions() {
    return { ...SEASONAL_DEFAULTS, days: this.options.seasonDays, neighbours: this.options.seasonNeighbours };
  }

  private resetDetector(): void {
    const { shortWindow, longWindow, seasonDays } = this.options;
    this.prediction = new RollingLikelihood(shortWindow, longWindow);
    this.seasonal = new RollingLikelihood(shortWindow, longWindow);
    this.memory = seasonDays > 0 ? new SeasonalMemory(this.seasonalOptions()) : undefined;
    this.low = undefined;
    this.high = undefined;
    this.previousZ = 0;
    this.lastDetection = -Infinity;
    this.lastDetectionZ = 0;
  }

  reset(): void {
    this.previous = undefined;
    this.scored = 0;
    this.squaredErrors.fill(0);
    this.squaredSum = 0;
    this.resetDetector();
  }

  toJSON(): ErrorScorerState {
    return {
      options: this.options,
      previous: this.previous ? Array.from(this.previous) : null,
      scored: this.scored,
      squaredErrors: Array.from(this.squaredErrors),
      squaredSum: this.squaredSum,
      detector: {
        prediction: this.prediction.toJSON(),
        seasonal: this.seasonal.toJSON(),
        memory: this.memory ? this.memory.toJSON() : null,
        low: this.low ? Array.from(this.low) : null,
        high: this.high ? Array.from(this.high) : null,
        previousZ: this.previousZ,
        lastDetection: Number.isFinite(this.lastDetection) ? this.lastDetection : -1e300,
        lastDetectionZ: this.lastDetectionZ,
      },
    };
  }

  static fromJSON(state: ErrorScorerState): ErrorScorer {
    // checkpoints before the detector carried the older likelihood's options: only those still meant keep
    const { rmseWindow, shortWindow, longWindow, probation, warmup, suppress, strongerBy, seasonDays, seasonNeighbours, rangeTolerance } = state.options;
    const scorer = new ErrorScorer(state.detector ? { rmseWindow, shortWindow, longWindow, probation, warmup, suppress, strongerBy, seasonDays, seasonNeighbours, rangeTolerance } : { rmseWindow });
    scorer.previous = state.previous ? Float64Array.from(state.previous) : undefined;
    scorer.scored = state.scored;
    scorer.squaredErrors.set(state.squaredErrors);
    scorer.squaredSum = state.squaredSum ?? sum(scorer.squaredErrors, scorer.options.rmseWindow);
    const detector = state.detector;
    if (detector) {
      const o = scorer.options;
      scorer.prediction = RollingLikelihood.fromJSON(detector.prediction, o.shortWindow, o.longWindow);
      scorer.seasonal = RollingLikelihood.fromJSON(detector.seasonal, o.shortWindow, o.longWindow);
      scorer.memory = detector.memory ? SeasonalMemory.fromJSON(detector.memory, scorer.seasonalOptions()) : undefined;
      scorer.low = detector.low ? Float64Array.from(detector.low) : undefined;
      scorer.high = detector.high ? Float64Array.from(detector.high) : undefined;
      scorer.previousZ = detector.previousZ;
      scorer.lastDetection = detector.lastDetection;
      scorer.lastDetectionZ = detector.lastDetectionZ ?? 0;
    }
    return scorer;
  }
}

/** The larger of two z-scores, either of which may be NaN (not judged). */
function larger(a: number, b: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  return Math.max(a, b);
}

const LOG_1E_10 = log(1e-10);

/** HTM's log scale of a likelihood z: log(Q(z) + 1e-10) / log(1e-10), in [0, 1]; a tail of 1e-5 is 0.5, of 1e-3 is 0.3. */
export function logLikelihood(z: number): number {
  return log(gaussianTail(z) + 1e-10) / LOG_1E_10;
}

/** 1 − Q(z) for z = (recentMean − historyMean) / historyStd; the std is floored so a perfectly steady history does not divide by 0. */
export function anomalyLikelihood(recentMean: number, historyMean: number, historyVariance: number): number {
  const std = Math.max(Math.sqrt(historyVariance), 1e-4 * Math.abs(historyMean), 1e-12);
  return 1 - gaussianTail((recentMean - historyMean) / std);
}

/** Q(z) = P(Z > z) for a standard normal Z: 0.5 · erfc(z / √2). */
export function gaussianTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Complementary error function, fractional error below 1.2e-7 everywhere (Chebyshev fit, Numerical Recipes' erfcc). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** √(mean over channels of (actual − predicted)²). */
function rmsError(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < actual.length; i++) total += (actual[i] - predicted[i]) ** 2;
  return Math.sqrt(total / actual.length);
}

/** −log softmax(logits)[token], computed stably. */
function crossEntropy(logits: ArrayLike<number>, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += exp(logits[i] - max);
  return log(total) + max - logits[token];
}

function sum(values: Float64Array, count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += values[i];
  return total;
}
