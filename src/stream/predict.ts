// predict and forecast: the pipeline's calls into the model.

import { map, type OperatorFunction } from 'rxjs';
import type { StepInput } from '../api/host.js';
import { stepStreams, type Stream } from '../api/stream.js';
import { ErrorCode } from './codes.js';
import { activeStream } from './slots.js';
import type { FrameBatch, Mutable, Rejection, SteppedFrame } from './types.js';

/** A batch after the model stepped it. */
export interface SteppedBatch {
  readonly served: FrameBatch['served'];
  readonly frames: SteppedFrame[];
}

/**
 * Steps each batch in one kernel call per batchCapacity streams (parked streams
 * are brought back into the kernel first; it touches their kernel slots) and attaches each frame's output, the call's
 * duration and its size. Frames of learning streams are not stepped here: they
 * pass through untouched, in their place, for learnOnline (which steps and
 * trains them one by one). The inputs are not checked again: validateFrames
 * checked each value once, and the kernel's own check is the last guard. Should
 * the kernel refuse the batch, which validateFrames makes impossible for a good
 * model, the frames are stepped one by one (Stream.step, which checks) so a single bad frame cannot take the others down; the ones that still
 * fail go to `reject` with code `internal`.
 *
 * @example
 * batches$.pipe(predict(reject)) // [{a: 1}, {b: 7}] → [{a, predicted: […]}, {b, predicted: […]}]
 */
export function predict(reject: (rejection: Rejection) => void): OperatorFunction<FrameBatch, SteppedBatch> {
  return map(({ served, frames }) => {
    // the frames this call steps: all of them unless some are of learning streams
    let plain = frames;
    for (let b = 0; b < frames.length; b++) {
      if (frames[b].entry.learning) {
        plain = frames.filter((frame) => !frame.entry.learning);
        break;
      }
    }
    const count = plain.length;
    const streams: Stream[] = new Array(count);
    const inputs: StepInput[] = new Array(count);
    const started = performance.now();
    let outputs: (Float32Array | undefined)[];
    try {
      for (let b = 0; b < count; b++) {
        streams[b] = activeStream(plain[b].entry);
        inputs[b] = plain[b].input;
      }
      // validateFrames checked every input and splitIntoBatches made the streams distinct: stepped without a second check
      outputs = stepStreams(streams, inputs);
    } catch {
      outputs = plain.map((frame) => {
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
    const now = Date.now();
    let failed = false;
    for (let b = 0; b < count; b++) {
      const predicted = outputs[b];
      const out = plain[b] as Mutable<SteppedFrame>;
      if (!predicted) {
        failed = true;
        out.predicted = REFUSED;
        continue;
      }
      out.entry.lastActive = now;
      out.predicted = predicted;
      out.forecast = undefined;
      out.stepMicros = stepMicros;
      out.batchSize = count;
    }
    const stepped = frames as SteppedFrame[];
    return { served, frames: failed ? stepped.filter((frame) => frame.predicted !== REFUSED) : stepped };
  });
}

/** Marks a frame whose step failed (and was rejected) until it is dropped from its batch. */
const REFUSED = new Float32Array(0);

/**
 * Adds `entry.horizon` rows ahead to each frame of a stream that asked for a
 * horizon, with Stream.forecast: a forked copy of the state is stepped, feeding
 * outputs back, so the live state does not move. It runs right after predict,
 * before the stream can step again. Learning streams' rows come from
 * LearningStream.forecast, already in the producer's units. For attention
 * models it also reads the position's attention weights (last block), which the
 * next step would overwrite.
 *
 * @example
 * stepped$.pipe(forecast()) // horizon 3 → frame.forecast = [row t+1, row t+2, row t+3]
 */
export function forecast(): OperatorFunction<SteppedBatch, SteppedBatch> {
  return map((batch) => {
    const attention = batch.served.model.arch.attention;
    for (const frame of batch.frames) {
      const { entry } = frame;
      if (attention) {
        // read now, before the stream steps again: the weights of this position in the last block
        const stream = entry.learner ? entry.learner.stream : entry.stream;
        (frame as Mutable<SteppedFrame>).attention = stream ? stream.attention(attention.blocks - 1).heads : undefined;
      }
      if (entry.horizon === 0) continue;
      // a learning stream forecasts through its learner, which knows its scaling and whether the model predicts changes
      if (entry.learner) frame.forecast = entry.learner.forecast(entry.horizon);
      else if (entry.stream) frame.forecast = entry.stream.forecast(entry.horizon);
    }
    return batch;
  });
}
