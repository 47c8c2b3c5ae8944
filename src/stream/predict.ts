// predict and forecast: the pipeline's calls into the model.

import { map, type OperatorFunction } from 'rxjs';
import type { StepInput } from '../api/host.js';
import { stepStreams, type Stream } from '../api/stream.js';
import { ErrorCode } from '../protocol/codes.js';
import { activeLearner, activeStream } from './slots.js';
import type { FrameBatch, Mutable, Rejection, SteppedFrame } from './types.js';

/** A batch after the model stepped it. */
export interface SteppedBatch {
  readonly served: FrameBatch['served'];
  readonly frames: SteppedFrame[];
}

/**
 * Steps each batch in one kernel call per batchCapacity streams (parked streams
 * are brought back into the kernel first; it touches their kernel slots) and
 * attaches each frame's output, the call's duration and its size. Frames of
 * learning streams are stepped in the same call: their learner prepares the
 * frame first (LearningStream.prepareStep: scores, statistics, history), the
 * frame goes in model units, and its `predicted` is the raw output until
 * learnOnline hands it back to the learner. The inputs are not checked again:
 * validateFrames checked each value once, splitIntoBatches put each stream in
 * a batch at most once, and the kernel's own check is the last guard. Should
 * the kernel refuse the batch, which validateFrames makes impossible for a good
 * model, the frames are stepped one by one (Stream.step, which checks) so a
 * single bad frame cannot take the others down; the ones that still fail go to
 * `reject` with code `internal`. Each stepped stream's `lastActive` is stamped with `now()` (the server's clock).
 *
 * @example
 * batches$.pipe(predict(reject)) // [{a: 1}, {b: 7}] → [{a, predicted: […]}, {b, predicted: […]}]
 */
export function predict(reject: (rejection: Rejection) => void, now: () => number = Date.now): OperatorFunction<FrameBatch, SteppedBatch> {
  return map(({ served, frames }) => {
    const count = frames.length;
    const streams: Stream[] = new Array(count);
    const inputs: StepInput[] = new Array(count);
    // set (per frame) once the batch holds a learning stream's frame
    let modelUnits: boolean[] | undefined;
    const started = performance.now();
    let outputs: (Float32Array | undefined)[];
    try {
      for (let b = 0; b < count; b++) {
        const frame = frames[b];
        if (frame.entry.learning) {
          const learner = activeLearner(frame.entry);
          streams[b] = learner.stream;
          inputs[b] = learner.prepareStep(frame.actual as Float64Array);
          (modelUnits ??= new Array<boolean>(count).fill(false))[b] = true;
        } else {
          streams[b] = activeStream(frame.entry);
          inputs[b] = frame.input;
        }
      }
      outputs = stepStreams(streams, inputs, { modelUnits });
    } catch {
      outputs = frames.map((frame) => stepAlone(frame, reject));
    }
    const stepMicros = (performance.now() - started) * 1000;
    const steppedAt = now();
    let failed = false;
    for (let b = 0; b < count; b++) {
      const predicted = outputs[b];
      const out = frames[b] as Mutable<SteppedFrame>;
      if (!predicted) {
        failed = true;
        out.predicted = REFUSED;
        continue;
      }
      out.entry.lastActive = steppedAt;
      out.predicted = predicted;
      out.forecast = undefined;
      out.stepMicros = stepMicros;
      out.batchSize = count;
    }
    const stepped = frames as SteppedFrame[];
    return { served, frames: failed ? stepped.filter((frame) => frame.predicted !== REFUSED) : stepped };
  });
}

/** One frame stepped on its own, after the kernel refused its batch: its output, or undefined once rejected. */
function stepAlone(frame: FrameBatch['frames'][number], reject: (rejection: Rejection) => void): Float32Array | undefined {
  const { source, entry, seq } = frame;
  try {
    if (!entry.learning) return activeStream(entry).step(frame.input);
    const learner = activeLearner(entry);
    if (!learner.hasPreparedStep) learner.prepareStep(frame.actual as Float64Array);
    return learner.stepPrepared();
  } catch (err) {
    reject({ source, streamLabel: entry.name, seq, code: ErrorCode.internal, message: `stepping ${entry.learning ? 'learning ' : ''}stream "${entry.name}" failed: ${(err as Error).message}` });
    return undefined;
  }
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
