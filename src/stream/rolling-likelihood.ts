// RollingLikelihood: how unusual a signal's recent mean is against its own long history (HTM's anomaly likelihood, as a z-score).

/**
 * A ring of f64 numbers, oldest first, that keeps the last `capacity` pushed.
 * Values are addressed by absolute index (their push number): storage is a
 * power of two that grows as needed, and index i lives at i & (size − 1).
 */
export class Ring {
  private data: Float64Array;
  private mask: number;
  /** Values pushed since creation. */
  pushed = 0;

  constructor(readonly capacity: number) {
    this.data = new Float64Array(Math.min(powerOfTwo(capacity), 256));
    this.mask = this.data.length - 1;
  }

  /** Values kept. */
  get length(): number {
    return Math.min(this.pushed, this.capacity);
  }

  /** Absolute index of the oldest value kept. */
  get oldest(): number {
    return this.pushed - this.length;
  }

  /** Appends `value`, dropping the oldest when full; returns the value dropped, or undefined. */
  push(value: number): number | undefined {
    const full = this.pushed >= this.capacity;
    const dropped = full ? this.data[(this.pushed - this.capacity) & this.mask] : undefined;
    if (!full && this.pushed >= this.data.length) this.grow();
    this.data[this.pushed & this.mask] = value;
    this.pushed++;
    return dropped;
  }

  /** The value at absolute index `index` (oldest ≤ index < pushed). */
  at(index: number): number {
    return this.data[index & this.mask];
  }

  /** Sum of the values kept. */
  sum(): number {
    let total = 0;
    for (let i = this.oldest; i < this.pushed; i++) total += this.data[i & this.mask];
    return total;
  }

  /** Sum of (value − centre)² over the values kept. */
  squaredDeviations(centre: number): number {
    let total = 0;
    for (let i = this.oldest; i < this.pushed; i++) total += (this.data[i & this.mask] - centre) ** 2;
    return total;
  }

  toArray(): number[] {
    const out: number[] = [];
    for (let i = this.oldest; i < this.pushed; i++) out.push(this.data[i & this.mask]);
    return out;
  }

  /** A ring holding `values` as its last values, `pushed` having been pushed in all. */
  static from(values: readonly number[], capacity: number, pushed: number): Ring {
    const ring = new Ring(capacity);
    const kept = values.slice(-capacity);
    ring.pushed = pushed - kept.length;
    while (ring.data.length < Math.min(powerOfTwo(capacity), Math.max(pushed, 1))) ring.grow();
    for (const value of kept) ring.push(value);
    return ring;
  }

  private grow(): void {
    const bigger = new Float64Array(this.data.length * 2);
    const mask = bigger.length - 1;
    for (let i = this.oldest; i < this.pushed; i++) bigger[i & mask] = this.data[i & this.mask];
    this.data = bigger;
    this.mask = mask;
  }
}

function powerOfTwo(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

/** Serializable state of a RollingLikelihood. */
export interface RollingLikelihoodState {
  recent: number[];
  recentPushed: number;
  recentSum: number;
  history: number[];
  mean: number;
  std: number;
  sinceEstimate: number;
  estimated: boolean;
}

/**
 * HTM's anomaly likelihood (Ahmad et al. 2017, nupic's anomaly_likelihood.py),
 * for any non-negative signal such as a prediction error: the mean of the last
 * `shortWindow` values is judged against the distribution of such means over
 * the last `longWindow` rows, a Gaussian whose mean and standard deviation are
 * re-estimated every `reestimateEvery` judged rows (so an anomaly in progress
 * is judged against the history before it). step() returns the z-score.
 */
export class RollingLikelihood {
  private recent: Ring;
  private recentSum = 0;
  private history: Ring;
  private mean = 0;
  private std = 1;
  private sinceEstimate = 0;
  private estimated = false;

  constructor(
    readonly shortWindow: number,
    readonly longWindow: number,
    readonly reestimateEvery = 100,
  ) {
    this.recent = new Ring(shortWindow);
    this.history = new Ring(longWindow);
  }

  /**
   * Takes the next value. Its short-window mean joins the history when
   * `record` (not while the model is still learning its first rows); when
   * `judge`, returns how many standard deviations that mean lies above the
   * history's, else NaN (also NaN with fewer than 2 means recorded).
   */
  step(value: number, record: boolean, judge: boolean): number {
    const dropped = this.recent.push(value);
    this.recentSum += value - (dropped ?? 0);
    if (this.recent.pushed % this.shortWindow === 0) this.recentSum = this.recent.sum(); // no drift
    const recentMean = this.recentSum / this.recent.length;
    if (record) this.history.push(recentMean);
    if (!judge || this.history.length < 2) return Number.NaN;
    if (!this.estimated || ++this.sinceEstimate >= this.reestimateEvery) this.estimate();
    return (recentMean - this.mean) / this.std;
  }

  /** Mean and standard deviation of the history, in two passes (exact; every reestimateEvery rows, so cheap). */
  private estimate(): void {
    const n = this.history.length;
    this.mean = this.history.sum() / n;
    this.std = Math.max(Math.sqrt(this.history.squaredDeviations(this.mean) / n), 1e-12);
    this.sinceEstimate = 0;
    this.estimated = true;
  }

  toJSON(): RollingLikelihoodState {
    return {
      recent: this.recent.toArray(),
      recentPushed: this.recent.pushed,
      recentSum: this.recentSum,
      history: this.history.toArray(),
      mean: this.mean,
      std: this.std,
      sinceEstimate: this.sinceEstimate,
      estimated: this.estimated,
    };
  }

  static fromJSON(state: RollingLikelihoodState, shortWindow: number, longWindow: number, reestimateEvery?: number): RollingLikelihood {
    const likelihood = new RollingLikelihood(shortWindow, longWindow, reestimateEvery);
    likelihood.recent = Ring.from(state.recent, shortWindow, state.recentPushed);
    likelihood.recentSum = state.recentSum;
    likelihood.history = Ring.from(state.history, longWindow, state.history.length);
    likelihood.mean = state.mean;
    likelihood.std = state.std;
    likelihood.sinceEstimate = state.sinceEstimate;
    likelihood.estimated = state.estimated;
    return likelihood;
  }
}
