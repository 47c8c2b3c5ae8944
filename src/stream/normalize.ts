// normalize and denormalize: raw sensor units in, model units through the kernel, raw units back out.

import { map, type OperatorFunction } from 'rxjs';
import { unscaled } from '../model/running-stats.js';
import type { Frame, Mutable, NormalizedFrame, Scale, SteppedFrame } from './types.js';

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
  for (let i = 0; i < row.length; i++) row[i] = unscaled(row[i], mean[i], std[i]);
}

