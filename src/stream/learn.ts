// learnOnline: the frames of learning streams, predicted and learned from by their LearningStream.

import { map, type OperatorFunction } from 'rxjs';
import { ErrorCode } from '../protocol/codes.js';
import type { SteppedBatch } from './predict.js';
import type { SharedModelGuard } from './learn-guard.js';
import { activeLearner } from './slots.js';
import type { Mutable, Rejection, SteppedFrame } from './types.js';

/**
 * Finishes each frame of a learning stream (`entry.learning` set): predict
 * stepped it in the batch with the model's other streams and left the raw
 * output in `predicted`; the learner (LearningStream.finishStep) turns it into
 * its prediction of the next frame in the producer's units, and trains the model
 * every K frames when the stream's `learn` is on, in the batch's order, after
 * every stream of the batch has stepped (the learner scales its inputs itself,
 * so these frames skip normalize and denormalize). The frame gets its
 * prediction, the training step's loss and event when one ran, and as its step
 * time the batch's plus its own training's. A learning frame that reaches it
 * unstepped is observed on its own (LearningStream.observe; batch size 1).
 * Frames of other streams pass through untouched.
 *
 * Only frames validateFrames accepted reach it, so a refused frame never trains
 * the model, and their values are not checked again (the kernel's own check is
 * the last guard). Should the learner still throw (a bug), the frame goes to
 * `reject` with code `internal` and leaves the batch. It touches the learners'
 * kernel slots and the model's weights. With a `guard`, a learning stream trains a model shared with other
 * learning streams only when the guard lets it (SharedModelGuard: one stream may not push the others above
 * persistence). Each learning stream's `lastActive` is stamped with `now()` (the server's clock).
 *
 * @example
 * stepped$.pipe(learnOnline(reject)) // learning stream "a", every 2: a0 → {predicted}, a1 → {predicted, loss: 0.31, learnEvent: 'trained'}
 */
export function learnOnline(reject: (rejection: Rejection) => void, guard?: SharedModelGuard, now: () => number = Date.now): OperatorFunction<SteppedBatch, SteppedBatch> {
  return map((batch) => {
    let failed: Set<SteppedFrame> | undefined;
    for (const frame of batch.frames) {
      const entry = frame.entry;
      if (!entry.learning) continue;
      const out = frame as Mutable<SteppedFrame>;
      const started = performance.now();
      try {
        const learner = activeLearner(entry);
        const stepped = learner.hasPreparedStep;
        // the guard may hold this frame's training back (a shared model; learn-guard.ts): learning pauses for it alone
        const held = entry.learn && guard !== undefined && !guard.mayTrain(entry);
        if (held) learner.setLearning(false);
        let report;
        try {
          report = stepped ? learner.finishStep(frame.predicted) : learner.observeChecked(frame.actual as Float64Array);
        } finally {
          if (held) learner.setLearning(true);
        }
        guard?.observe(entry, report.error, report.persistenceError);
        out.predicted = report.predicted;
        out.loss = report.loss;
        out.learnEvent = report.event;
        const micros = (performance.now() - started) * 1000;
        out.stepMicros = stepped ? frame.stepMicros + micros : micros;
        if (!stepped) out.batchSize = 1;
      } catch (err) {
        (failed ??= new Set()).add(frame);
        reject({ source: frame.source, streamLabel: entry.name, seq: frame.seq, code: ErrorCode.internal, message: `stepping learning stream "${entry.name}" failed: ${(err as Error).message}` });
        continue;
      }
      out.forecast = undefined;
      entry.lastActive = now();
    }
    return failed ? { served: batch.served, frames: batch.frames.filter((frame) => !failed!.has(frame)) } : batch;
  });
}
