// predict and forecast: the pipeline's calls into the model.

import { map, type OperatorFunction } from 'rxjs';
import type { Stream } from '../api/stream.js';
import { ErrorCode } from './codes.js';
import { activeStream } from './slots.js';
import type { FrameBatch, Mutable, Rejection, SteppedFrame } from './types.js';

/** A batch after the model stepped it. */
export interface SteppedBatch {
  readonly served: FrameBatch['served'];
  readonly frames: SteppedFrame[];
}

/**
 * Steps each batch with one `model.stepBatch` call (parked streams are brought
 * back into the kernel first) and attaches each frame's output, the call's
 * duration and its size. Should the call refuse the batch, which validateFrames
 * makes impossible for a good model, the frames are stepped one by one so a
 * single bad frame cannot take the others down; the ones that still fail go to
 * `reject` with code `internal`.
 *
 * @example
 * batches$.pipe(predict(reject)) // [{a: 1}, {b: 7}] → [{a, predicted: […]}, {b, predicted: […]}]
 */
export function predict(reject: (rejection: Rejection) => void): OperatorFunction<FrameBatch, SteppedBatch> {
  return map(({ served, frames }) => {
    const started = performance.now();
    let outputs: (Float32Array | undefined)[];
    let streams: Stream[] = [];
    try {
      streams = frames.map((frame) => activeStream(frame.entry));
      outputs = served.model.stepBatch(
        streams,
        frames.map((frame) => frame.input),
      );
    } catch {
      outputs = frames.map((frame) => {
        try {
          return activeStream(frame.entry).step(frame.input);
        } catch (err) {
          const { source, entry, seq } = frame;
          reject({ source, streamLabel: entry.name, seq, code: ErrorCode.internal, message: `stepping stream "${entry.name}" failed: ${(err as Error).message}` });
          return undefined;
        }
      });
    }
    const stepMicros = (performance.now() - started) * 1000;
    const stepped: SteppedFrame[] = [];
    const now = Date.now();
    frames.forEach((frame, b) => {
      const predicted = outputs[b];
      if (!predicted) return;
      frame.entry.lastActive = now;
      const out = frame as Mutable<SteppedFrame>;
      out.predicted = predicted;
      out.forecast = undefined;
      out.stepMicros = stepMicros;
      out.batchSize = frames.length;
      stepped.push(out);
    });
    return { served, frames: stepped };
  });
}

/**
 * Adds `entry.horizon` rows ahead to each frame of a stream that asked for a
 * horizon, with Stream.forecast: a forked copy of the state is stepped, feeding
 * outputs back, so the live state does not move. It runs right after predict,
 * before the stream can step again.
 *
 * @example
 * stepped$.pipe(forecast()) // horizon 3 → frame.forecast = [row t+1, row t+2, row t+3]
 */
export function forecast(): OperatorFunction<SteppedBatch, SteppedBatch> {
  return map((batch) => {
    for (const frame of batch.frames) {
      const { entry } = frame;
      if (entry.horizon > 0 && entry.stream) frame.forecast = entry.stream.forecast(entry.horizon);
    }
    return batch;
  });
}
