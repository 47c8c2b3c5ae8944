// microBatch: every frame that arrives within one event-loop turn becomes one stepBatch call per model.

import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { FrameBatch, NormalizedFrame, ServedModel } from './types.js';

/**
 * Collects frames until the current event-loop turn ends (setImmediate runs
 * after every socket read of this poll phase), then emits them as batches: one
 * per model, each stream at most once. A stream with several frames in one turn
 * is split across consecutive batches, in order, since one kernel call steps a
 * stream once. Frames of other models never wait for each other's batches to fill.
 *
 * `scheduler` replaces setImmediate (tests pass a TestScheduler: frames in one
 * marble frame form one turn). Each emission of `flushes` ends the turn at once:
 * the server sends one before a reset or close so those apply after the frames
 * that came before them.
 *
 * A turn that brings more than `maxFrames` frames (a producer far ahead, a
 * backlog after a stall) is emitted every `maxFrames` frames as they arrive,
 * without waiting for the turn to end: the kernel batches are just as full, the
 * first frames are answered sooner, and frames do not pile up in memory while
 * the rest of the turn is read. (With 16,000 binary frames in flight, every
 * young-generation collection copied thousands of live frames: the server spent
 * 8–10 µs of CPU per frame instead of 5–7, bench/server.ts's flat-out case.)
 *
 * @example
 * hot('-a-(bc)-|') → '-x-y-|' where x = [a], y = [b, c] (b, c of two streams)
 */
export function microBatch(scheduler?: SchedulerLike, flushes?: Observable<unknown>, maxFrames = MAX_FRAMES_PER_BATCH): OperatorFunction<NormalizedFrame, FrameBatch> {
  return (source) =>
    new Observable<FrameBatch>((subscriber) => {
      let pending: NormalizedFrame[] = [];
      let scheduled = false;
      let completed = false;
      // emits what is pending now; a flush scheduled for the end of the turn then finds less, or nothing
      const flushPending = () => {
        const frames = pending;
        pending = [];
        for (const batch of splitIntoBatches(frames)) subscriber.next(batch);
      };
      // the end of the turn (a scheduled flush that finds nothing pending, flushed early, emits nothing)
      const flush = () => {
        scheduled = false;
        if (pending.length > 0) flushPending();
        if (completed) subscriber.complete();
      };
      const schedule = () => {
        scheduled = true;
        if (scheduler) scheduler.schedule(flush);
        else setImmediate(flush);
      };
      const subscription = source.subscribe({
        next(frame) {
          pending.push(frame);
          if (pending.length >= maxFrames) flushPending();
          else if (!scheduled) schedule();
        },
        error(err) {
          subscriber.error(err);
        },
        complete() {
          if (scheduled) completed = true;
          else subscriber.complete();
        },
      });
      const flushSubscription = flushes?.subscribe(() => {
        if (pending.length > 0) flushPending();
      });
      return () => {
        pending = [];
        subscription.unsubscribe();
        flushSubscription?.unsubscribe();
      };
    });
}

/** Frames after which a turn's batch is emitted at once (four kernel calls of the default 256; see microBatch). */
export const MAX_FRAMES_PER_BATCH = 1024;

/** Frames of one turn, in arrival order → batches, each of one model with distinct streams; a stream's frames stay in order. */
export function splitIntoBatches(frames: NormalizedFrame[]): FrameBatch[] {
  // rounds[r] holds, per model, the r-th frame of every stream that sent at least r+1 frames this turn
  const rounds: Map<ServedModel, NormalizedFrame[]>[] = [];
  const framesSeen = new Map<object, number>();
  for (const frame of frames) {
    const round = framesSeen.get(frame.entry) ?? 0;
    framesSeen.set(frame.entry, round + 1);
    const byModel = (rounds[round] ??= new Map());
    let list = byModel.get(frame.entry.served);
    if (!list) byModel.set(frame.entry.served, (list = []));
    list.push(frame);
  }
  const batches: FrameBatch[] = [];
  for (const byModel of rounds) for (const [served, list] of byModel) batches.push({ served, frames: list });
  return batches;
}
