// Per-channel running mean and variance (Welford's algorithm, float64): the one implementation behind the
// pipeline's online normalizer (src/stream/online-normalizer.ts) and a learning stream's statistics; and the
// way back from model units to original units.

/**
 * How a RunningStats turns its sums into a scale. Two users, two rule sets,
 * kept apart because their outputs (and checkpoints) must not change:
 *
 * - {@link STREAM_RULES}: the pipeline's normalize. Population variance
 *   (Σd²/n); a channel whose variance is at most 1e-12 is scaled by 1.
 * - {@link LEARNER_RULES}: a LearningStream. Sample variance (Σd²/(n−1)); a
 *   channel with variance 0 (or fewer than 2 values) is scaled by 1; after 30
 *   values each new value is clamped to mean ± 6σ before it counts, so a burst
 *   cannot drag the statistics.
 */
export interface RunningStatsRules {
  /** 'population' divides the squared deviations by n, 'sample' by n − 1. */
  readonly variance: 'population' | 'sample';
  /** A variance at or below this gives std 1: the channel is treated as constant. */
  readonly minVariance: number;
  /**
   * Winsorizing: once `after` values have been added, a new value is clamped to
   * mean ± sigmas·σ before it updates the statistics. σ is std() with the count
   * already including the new value and the sums not yet: for 'sample' rules,
   * √(Σd²/n) over the n values before it.
   */
  readonly winsorize?: { readonly after: number; readonly sigmas: number };
}

/** The pipeline's rules (OnlineNormalizer): population variance, std 1 at or below variance 1e-12, no winsorizing. */
export const STREAM_RULES: RunningStatsRules = { variance: 'population', minVariance: 1e-12 };

/** A learning stream's rules: sample variance, std 1 at variance 0, values winsorized to ±6σ after 30 frames. */
export const LEARNER_RULES: RunningStatsRules = { variance: 'sample', minVariance: 0, winsorize: { after: 30, sigmas: 6 } };

/** Per-channel running mean and squared deviations of a stream of frames, float64. */
export class RunningStats {
  /** Values added per channel. */
  count = 0;
  /** Running mean per channel. */
  readonly mean: Float64Array;
  /** Sum of squared deviations from the mean per channel (Welford's M2). */
  readonly m2: Float64Array;

  constructor(readonly width: number, readonly rules: RunningStatsRules) {
    this.mean = new Float64Array(width);
    this.m2 = new Float64Array(width);
  }

  /** Adds one frame (width values) to the statistics, winsorized when the rules say so. */
  add(values: ArrayLike<number>): void {
    const winsorize = this.rules.winsorize;
    const clamp = winsorize !== undefined && this.count >= winsorize.after;
    this.count++;
    const mean = this.mean, m2 = this.m2;
    for (let j = 0; j < this.width; j++) {
      let v = values[j];
      if (clamp) {
        const bound = winsorize.sigmas * this.std(j);
        v = Math.min(Math.max(v, mean[j] - bound), mean[j] + bound);
      }
      const d = v - mean[j];
      mean[j] += d / this.count;
      m2[j] += d * (v - mean[j]);
    }
  }

  /** Channel j's standard deviation under the rules (1 for a constant channel or too few values). */
  std(j: number): number {
    const n = this.rules.variance === 'sample' ? this.count - 1 : this.count;
    if (n < 1) return 1;
    const variance = this.m2[j] / n;
    return variance > this.rules.minVariance ? Math.sqrt(variance) : 1;
  }

  /** Forgets every value. */
  reset(): void {
    this.count = 0;
    this.mean.fill(0);
    this.m2.fill(0);
  }

  /** Takes saved sums (count, mean and m2 as RunningStats keeps them). */
  load(count: number, mean: ArrayLike<number>, m2: ArrayLike<number>): void {
    this.count = count;
    this.mean.set(mean);
    this.m2.set(m2);
  }
}

/** Per-channel scale a frame was normalized with: model units = (x − mean) / std. */
export interface Scale {
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * y · std + mean: a model-unit value back in original units, saturated to the float32 range. Predictions are
 * float32; a stream of values near ±3.4e38 has a std of that size, and beyond the range its predictions would
 * be ±Infinity (and every error, score and statistic after them).
 */
export function unscaled(y: number, mean: number, std: number): number {
  const x = y * std + mean;
  return x > FLOAT32_MAX ? FLOAT32_MAX : x < -FLOAT32_MAX ? -FLOAT32_MAX : x;
}
