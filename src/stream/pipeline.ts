// The stream pipeline, assembled in one place: frames in, scored predictions out (../shared/DESIGN.md, "The stream pipeline").

import { type Observable, type OperatorFunction, pipe, type SchedulerLike } from 'rxjs';
import { ErrorCode } from '../protocol/codes.js';
import { isolate } from './isolate.js';
import { SharedModelGuard } from './learn-guard.js';
import { learnOnline } from './learn.js';
import { microBatch } from './micro-batch.js';
import { denormalize, normalize } from './normalize.js';
import { forecast, predict } from './predict.js';
import { scoreErrors } from './score.js';
import type { IncomingFrame, Rejection, ScoredBatch } from './types.js';
import { validateFrames } from './validate.js';

export interface PipelineOptions {
  /** Receives every refused frame (with its protocol error code); a refused frame changes nothing. */
  reject: (rejection: Rejection) => void;
  /** Ends the current micro-batch at once, e.g. before a reset or close, so it applies after the frames sent before it. */
  flushes?: Observable<unknown>;
  /** Replaces setImmediate as the end of a turn (tests). */
  scheduler?: SchedulerLike;
  /** The time (ms since the epoch) a stepped stream's `lastActive` is stamped with: the server's clock; Date.now by default. */
  now?: () => number;
}

/**
 * Frames as received → scored predictions, a batch per kernel call:
 *
 *   validate → normalize → micro-batch → predict → learn online → forecast → denormalize → score
 *
 * predict steps every frame of a batch in one kernel call per batchCapacity
 * streams, learning streams' frames included (their LearningStream prepares
 * them first); learnOnline then hands each learning frame's output back to its
 * learner, which pairs the stream's previous prediction with the frame that
 * follows, predicts the next one, and trains the model on its recent window
 * every K frames (when the stream's learning is on), in the batch's order.
 * Learning streams scale their inputs themselves, so normalize and denormalize
 * pass their frames through.
 *
 * Bad input is refused as values (`reject`), never thrown. Should a stage still throw (a bug), `isolate` answers
 * the one frame (before the micro-batch) or the one batch it failed on with `internal`, and every other frame,
 * of this stream or any other, goes on: none is lost or left unanswered.
 */
export function streamPipeline(options: PipelineOptions): OperatorFunction<IncomingFrame, ScoredBatch> {
  const reject = guardedReject(options.reject);
  // one per pipeline: it follows every learning stream of the server's models
  const guard = new SharedModelGuard();
  return pipe(
    isolate(pipe(validateFrames(reject), normalize()), (frame, error) => reject(failure(frame, frame.streamLabel, error))),
    microBatch(options.scheduler, options.flushes),
    isolate(pipe(predict(reject, options.now), learnOnline(reject, guard, options.now), forecast(), denormalize(), scoreErrors()), (batch, error) => {
      for (const frame of batch.frames) reject(failure(frame, frame.entry.name, error));
    }),
  );
}

/**
 * `reject` that cannot throw into the pipeline: a rejection that fails to go out (a closed socket, a bug) is
 * dropped, and the frames around it go on.
 */
function guardedReject(reject: (rejection: Rejection) => void): (rejection: Rejection) => void {
  return (rejection) => {
    try {
      reject(rejection);
    } catch {
      // nothing more can be said to that producer about that frame
    }
  };
}

/** The rejection of a frame a stage failed on (a bug, not bad input): code `internal`, the frame's seq consumed. */
function failure(frame: { source: Rejection['source']; seq: unknown }, streamLabel: string, error: unknown): Rejection {
  return { source: frame.source, streamLabel, seq: frame.seq, code: ErrorCode.internal, message: `the server failed on this frame of stream ${JSON.stringify(streamLabel)}: ${(error as Error)?.message ?? String(error)}` };
}
