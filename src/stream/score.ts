// scoreErrors: how wrong the last prediction was, the rolling RMSE, and how unusual that is (an anomaly likelihood).

import { map, type OperatorFunction } from 'rxjs';
import type { Mutable, ScoredBatch, ScoredFrame, SteppedFrame } from './types.js';

/**
 * Scores every frame with its stream's ErrorScorer (error, rolling RMSE, anomaly
 * score), in original units: it runs after denormalize. The frame's t goes with
 * it, for the scorer's seasonal memory (t in ms since the epoch: the server's
 * receive time, or a producer's own).
 *
 * @example
 * denormalized$.pipe(scoreErrors()) // actual 5, previous prediction 4 → error 1
 */
export function scoreErrors(): OperatorFunction<{ served: ScoredBatch['served']; frames: SteppedFrame[] }, ScoredBatch> {
  return map(({ served, frames }) => {
    for (const frame of frames) {
      const out = frame as Mutable<ScoredFrame>;
      const { error, rmse, anomaly } = frame.entry.scorer.score(frame.actual, frame.predicted, frame.t);
      out.error = error;
      out.rmse = rmse;
      out.anomaly = anomaly;
    }
    return { served, frames: frames as ScoredFrame[] };
  });
}
