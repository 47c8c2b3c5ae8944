// normalize and denormalize: raw sensor units in, model units through the kernel, raw units back out.

import { map, type OperatorFunction } from 'rxjs';
import type { Frame, Mutable, NormalizedFrame, Scale, SteppedFrame } from './types.js';

/** Below this variance a channel is treated as constant and scaled by 1, not by a tiny std. */
const MIN_VARIANCE = 1e-12;

/** Serializable state of an OnlineNormalizer (f64 numbers, exact through JSON). */
export interface OnlineNormalizerState {
  count: number;
  mean: number[];
  m2: number[];
}

/**
 * Per-channel running mean and variance (Welford's algorithm, float64) of one
 * stream's frames. The scale for a frame includes that frame: the first frame
 * of a stream normalizes to 0, and channels with no variance yet are scaled by 1.
 */
export class OnlineNormalizer {
  count = 0;
  readonly mean: Float64Array;
  /** Sum of squared deviations from the mean, per channel. */
  readonly m2: Float64Array;

  constructor(readonly width: number) {
    this.mean = new Float64Array(width);
    this.m2 = new Float64Array(width);
  }

  /** Adds a frame to the statistics and returns the scale to normalize it (and its prediction) with. */
  update(values: ArrayLike<number>): Scale {
    this.count++;
    const std = new Float64Array(this.width);
    for (let i = 0; i < this.width; i++) {
      const delta = values[i] - this.mean[i];
      this.mean[i] += delta / this.count;
      this.m2[i] += delta * (values[i] - this.mean[i]);
      const variance = this.m2[i] / this.count;
      std[i] = variance > MIN_VARIANCE ? Math.sqrt(variance) : 1;
    }
    return { mean: this.mean.slice(), std };
  }

  reset(): void {
    this.count = 0;
    this.mean.fill(0);
    this.m2.fill(0);
  }

  toJSON(): OnlineNormalizerState {
    return { count: this.count, mean: Array.from(this.mean), m2: Array.from(this.m2) };
  }

  static fromJSON(state: OnlineNormalizerState): OnlineNormalizer {
    const normalizer = new OnlineNormalizer(state.mean.length);
    normalizer.count = state.count;
    normalizer.mean.set(state.mean);
    normalizer.m2.set(state.m2);
    return normalizer;
  }
}

/**
 * Scales each frame into model units. A stream with an OnlineNormalizer gets
 * (x − mean) / std from its own running statistics; any other frame goes to the
 * model as it is, because the library already applies a model's own
 * statistics (metadata.normalizer) inside Stream.step and stepBatch, and doing it
 * here too would normalize twice. Token ids pass through.
 *
 * @example
 * frames$.pipe(normalize()) // a stream of temperatures around 70 → inputs around 0
 */
export function normalize(): OperatorFunction<Frame, NormalizedFrame> {
  return map((frame) => {
    const { actual, entry } = frame;
    const out = frame as Mutable<NormalizedFrame>;
    // inputs stay float64 here: the library rounds to float32 when it writes them into the kernel, after its own normalizer
    if (typeof actual === 'number' || !entry.normalizer) {
      out.input = actual;
      out.scale = undefined;
      return out;
    }
    const scale = entry.normalizer.update(actual);
    const input = new Float64Array(actual.length);
    for (let i = 0; i < actual.length; i++) input[i] = (actual[i] - scale.mean[i]) / scale.std[i];
    out.input = input;
    out.scale = scale;
    return out;
  });
}

/**
 * Maps predictions and forecast rows of online-normalized frames back to the
 * producer's units with the very scale their input was normalized with
 * (x = y · std + mean). Models with their own statistics were mapped back by the
 * library already; token logits are left alone.
 *
 * @example
 * stepped$.pipe(denormalize())
 */
export function denormalize<B extends { frames: SteppedFrame[] }>(): OperatorFunction<B, B> {
  return map((batch) => {
    for (const frame of batch.frames) {
      const scale = frame.scale;
      if (!scale || frame.predicted.length !== scale.mean.length) continue;
      unscale(frame.predicted, scale);
      if (frame.forecast) for (const row of frame.forecast) unscale(row, scale);
    }
    return batch;
  });
}

function unscale(row: Float32Array, { mean, std }: Scale): void {
  for (let i = 0; i < row.length; i++) row[i] = row[i] * std[i] + mean[i];
}

