// learnOnline: the frames of learning streams, stepped and learned from one by one (LearningStream.observe).

import { map, type OperatorFunction } from 'rxjs';
import { ErrorCode } from './codes.js';
import type { SteppedBatch } from './predict.js';
import { activeLearner } from './slots.js';
import type { Mutable, Rejection, SteppedFrame } from './types.js';

/**
 * Steps each frame of a learning stream (`entry.learning` set) through its
 * LearningStream: `observe(actual)` pairs the stream's previous prediction with
 * this frame, steps the model, trains it every K frames when the stream's
 * `learn` is on, and predicts the next frame in the producer's units (the
 * learner scales its inputs itself, so these frames skip normalize and
 * denormalize). The frame gets its prediction, the training step's loss and
 * event when one ran, and the duration of its observe as its step time
 * (training included; batch size 1). Frames of other streams, which predict
 * stepped in one batch, pass through untouched.
 *
 * Only frames validateFrames accepted reach it, so a refused frame never trains
 * the model, and their values are not checked again (observeChecked; the
 * kernel's own check is the last guard). Should observe still throw (a bug),
 * the frame goes to `reject` with code `internal` and leaves the batch.
 *
 * @example
 * stepped$.pipe(learnOnline(reject)) // learning stream "a", every 2: a0 → {predicted}, a1 → {predicted, loss: 0.31, learnEvent: 'trained'}
 */
export function learnOnline(reject: (rejection: Rejection) => void): OperatorFunction<SteppedBatch, SteppedBatch> {
  return map((batch) => {
    let failed: Set<SteppedFrame> | undefined;
    for (const frame of batch.frames) {
      const entry = frame.entry;
      if (!entry.learning) continue;
      const out = frame as Mutable<SteppedFrame>;
      const started = performance.now();
      try {
        const report = activeLearner(entry).observeChecked(frame.actual as Float64Array);
        out.predicted = report.predicted;
        out.loss = report.loss;
        out.learnEvent = report.event;
      } catch (err) {
        (failed ??= new Set()).add(frame);
        reject({ source: frame.source, streamLabel: entry.name, seq: frame.seq, code: ErrorCode.internal, message: `stepping learning stream "${entry.name}" failed: ${(err as Error).message}` });
        continue;
      }
      out.forecast = undefined;
      out.stepMicros = (performance.now() - started) * 1000;
      out.batchSize = 1;
      entry.lastActive = Date.now();
    }
    return failed ? { served: batch.served, frames: batch.frames.filter((frame) => !failed!.has(frame)) } : batch;
  });
}
