// The stream pipeline, assembled in one place: frames in, scored predictions out (../shared/DESIGN.md, "The stream pipeline").

import { type Observable, type OperatorFunction, pipe, type SchedulerLike } from 'rxjs';
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
 */
export function streamPipeline(options: PipelineOptions): OperatorFunction<IncomingFrame, ScoredBatch> {
  return pipe(
    validateFrames(options.reject),
    normalize(),
    microBatch(options.scheduler, options.flushes),
    predict(options.reject),
    learnOnline(options.reject),
    forecast(),
    denormalize(),
    scoreErrors(),
  );
}
