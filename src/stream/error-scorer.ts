// ErrorScorer: one stream's prediction error, rolling RMSE and anomaly likelihood (the stream table holds one per stream).

export interface ScorerOptions {
  /** Errors in the rolling RMSE. Default 100. */
  rmseWindow?: number;
  /** Errors averaged into the recent mean the anomaly likelihood judges. Default 10. */
  shortWindow?: number;
  /** Recent means that make up the history (an exponential window of about this many). Default 1000. */
  longWindow?: number;
  /** Scored frames before the likelihood leaves 0.5: too little history to judge. Default 100. */
  probation?: number;
}

const DEFAULTS: Required<ScorerOptions> = { rmseWindow: 100, shortWindow: 10, longWindow: 1000, probation: 100 };

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
  recentErrors: number[];
  historyCount: number;
  historyMean: number;
  historyVariance: number;
  /** Running sum of squaredErrors (absent in checkpoints before it existed: recomputed). */
  squaredSum?: number;
}

/**
 * One stream's scoring state. Each step it compares the new actual with the
 * prediction made one step earlier:
 *
 * - error: RMS over channels of actual − predicted (frame models, producer's
 *   units), or the cross-entropy −log p(actual token) in nats (token models);
 * - rmse: root mean square of the last `rmseWindow` errors;
 * - anomaly: the anomaly likelihood of Numenta's HTM, written from its
 *   description: the mean of the last `shortWindow` errors is judged against
 *   the distribution of such means over a longer history (running mean and
 *   variance, exponentially weighted over about `longWindow` steps, a Gaussian
 *   fit); the likelihood is 1 − Q(z), Q the Gaussian tail probability and z how
 *   many standard deviations the recent mean lies above the history's. Near 1:
 *   errors are unusually large for this stream; 0.5 while under probation.
 */
export class ErrorScorer {
  readonly options: Required<ScorerOptions>;
  /** The prediction of the coming frame (original units, or logits). */
  private previous: Float64Array | undefined;
  /** Frames scored so far (frames that had a prediction before them). */
  private scored = 0;
  private readonly squaredErrors: Float64Array;
  /** Sum of squaredErrors, kept as they change (recomputed exactly once per rmseWindow errors, so rounding cannot drift). */
  private squaredSum = 0;
  private readonly recentErrors: Float64Array;
  private historyCount = 0;
  private historyMean = 0;
  private historyVariance = 0;

  constructor(options: ScorerOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.squaredErrors = new Float64Array(this.options.rmseWindow);
    this.recentErrors = new Float64Array(this.options.shortWindow);
  }

  /** Scores `actual` (values or a token id) against the previous prediction, then remembers `predicted` for the next frame. */
  score(actual: ArrayLike<number> | number, predicted: ArrayLike<number>): { error: number | undefined; rmse: number | undefined; anomaly: number } {
    const previous = this.previous;
    if (!previous) {
      this.previous = Float64Array.from(predicted);
      return { error: undefined, rmse: undefined, anomaly: 0.5 };
    }
    const error = typeof actual === 'number' ? crossEntropy(previous, actual) : rmsError(actual, previous);
    if (previous.length === predicted.length) {
      // a loop, not set(): copying float32 into float64 element by element is cheaper than set()'s conversion
      for (let i = 0; i < predicted.length; i++) previous[i] = predicted[i];
    } else {
      this.previous = Float64Array.from(predicted);
    }
    const { rmseWindow, shortWindow, longWindow, probation } = this.options;
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
    this.recentErrors[at % shortWindow] = error;
    const rmse = Math.sqrt(Math.max(0, this.squaredSum) / Math.min(this.scored, rmseWindow));
    const recentMean = sum(this.recentErrors, Math.min(this.scored, shortWindow)) / Math.min(this.scored, shortWindow);
    const anomaly = this.scored > probation ? anomalyLikelihood(recentMean, this.historyMean, this.historyVariance) : 0.5;
    // the history is updated after judging, so a jump is judged against what came before it
    this.historyCount++;
    const weight = 1 / Math.min(this.historyCount, longWindow);
    const delta = recentMean - this.historyMean;
    this.historyMean += weight * delta;
    this.historyVariance = (1 - weight) * (this.historyVariance + weight * delta * delta);
    return { error, rmse, anomaly };
  }

  reset(): void {
    this.previous = undefined;
    this.scored = 0;
    this.squaredErrors.fill(0);
    this.squaredSum = 0;
    this.recentErrors.fill(0);
    this.historyCount = 0;
    this.historyMean = 0;
    this.historyVariance = 0;
  }

  toJSON(): ErrorScorerState {
    return {
      options: this.options,
      previous: this.previous ? Array.from(this.previous) : null,
      scored: this.scored,
      squaredErrors: Array.from(this.squaredErrors),
      recentErrors: Array.from(this.recentErrors),
      historyCount: this.historyCount,
      historyMean: this.historyMean,
      historyVariance: this.historyVariance,
      squaredSum: this.squaredSum,
    };
  }

  static fromJSON(state: ErrorScorerState): ErrorScorer {
    const scorer = new ErrorScorer(state.options);
    scorer.previous = state.previous ? Float64Array.from(state.previous) : undefined;
    scorer.scored = state.scored;
    scorer.squaredErrors.set(state.squaredErrors);
    scorer.recentErrors.set(state.recentErrors);
    scorer.historyCount = state.historyCount;
    scorer.historyMean = state.historyMean;
    scorer.historyVariance = state.historyVariance;
    scorer.squaredSum = state.squaredSum ?? sum(scorer.squaredErrors, scorer.options.rmseWindow);
    return scorer;
  }
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
    Math.exp(
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
  for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i] - max);
  return Math.log(total) + max - logits[token];
}

function sum(values: Float64Array, count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += values[i];
  return total;
}
