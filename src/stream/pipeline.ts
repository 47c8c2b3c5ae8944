// The stream pipeline, assembled in one place: frames in, scored predictions out (../shared/DESIGN.md, "The stream pipeline").

import { type Observable, type OperatorFunction, pipe, type SchedulerLike } from 'rxjs';
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
 *   validate → normalize → micro-batch → predict → forecast → denormalize → score
 *
 * Online learning joins after predict, when the library can train:
 * `learnOnline(...)` will pair each stream's prediction with the actual that
 * follows and train on recent windows, on streams opened with learn: true.
 * Until then the server refuses learn: true (learning_unavailable).
 */
export function streamPipeline(options: PipelineOptions): OperatorFunction<IncomingFrame, ScoredBatch> {
  return pipe(
    validateFrames(options.reject),
    normalize(),
    microBatch(options.scheduler, options.flushes),
    predict(options.reject),
    forecast(),
    denormalize(),
    scoreErrors(),
  );
}
