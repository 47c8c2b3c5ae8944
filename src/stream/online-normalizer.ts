// OnlineNormalizer: one stream's running input statistics in the pipeline (the stream table holds one per stream).

import { RunningStats, STREAM_RULES, type Scale } from '../model/running-stats.js';

/** Serializable state of an OnlineNormalizer (f64 numbers, exact through JSON); checkpoints store it as is. */
export interface OnlineNormalizerState {
  count: number;
  mean: number[];
  m2: number[];
}

/**
 * Per-channel running mean and variance (Welford's algorithm, float64; the
 * pipeline's rules, STREAM_RULES) of one stream's frames. The scale for a frame
 * includes that frame: the first frame of a stream normalizes to 0, and
 * channels with no variance yet are scaled by 1.
 */
export class OnlineNormalizer extends RunningStats {
  constructor(width: number) {
    super(width, STREAM_RULES);
  }

  /** Adds a frame to the statistics and returns the scale to normalize it (and its prediction) with. */
  update(values: ArrayLike<number>): Scale {
    this.add(values);
    const std = new Float64Array(this.width);
    for (let i = 0; i < this.width; i++) std[i] = this.std(i);
    return { mean: this.mean.slice(), std };
  }

  /** The statistics as checkpoints store them. */
  toJSON(): OnlineNormalizerState {
    return { count: this.count, mean: Array.from(this.mean), m2: Array.from(this.m2) };
  }

  /** A normalizer continuing from toJSON() state. */
  static fromJSON(state: OnlineNormalizerState): OnlineNormalizer {
    const normalizer = new OnlineNormalizer(state.mean.length);
    normalizer.load(state.count, state.mean, state.m2);
    return normalizer;
  }
}
