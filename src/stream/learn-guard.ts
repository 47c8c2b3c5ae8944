// The guard on a shared model's online learning: one learning stream may not train the model into serving the others
// worse than persistence.

import type { ServedModel, StreamEntry } from './types.js';

/** Weight of a frame in a stream's running error and persistence error: a memory of about 100 frames. */
const DECAY = 0.01;
/** Frames a stream's errors are gathered over before the guard judges it. */
const WARMUP = 100;
/** A stream the model serves well: its running error below this share of persistence's. */
const SERVED_WELL = 0.95;
/** A stream silent for this many of its model's learning frames no longer counts (parked, or gone). */
const STALE_FRAMES = 5000;
/** Frames a stream served well and then no more counts as harmed (after that, as a misfit: its data changed for good). */
const HARM_PATIENCE = 1000;

/** What the guard knows of one learning stream. */
interface StreamRecord {
  /** Running mean squared error of its predictions and of persistence's (the producer's units). */
  error: number;
  persistence: number;
  frames: number;
  /** It has been served well at some point. */
  wasServedWell: boolean;
  /** Its `frames` when it last stopped being served well; undefined while it is. */
  worseSince: number | undefined;
  /** Its model's learning-frame count when it last reported. */
  seenAt: number;
}

/**
 * Decides, frame by frame, whether a learning stream may train its model, which every stream on it shares. A
 * model with one learning stream is not guarded. With several, each stream's running error is compared with
 * persistence's on its own frames:
 * - while some other stream that the model served well (error under 0.95 × persistence) is served well no more
 *   (for up to 1,000 of its frames; then its data has changed for good), only such harmed streams train: whoever
 *   pushed it there stops, and it pulls the model back;
 * - otherwise, while the model serves some other stream well, a stream it does not serve well (a misfit: noise,
 *   another regime, a hostile producer) does not train it;
 * - otherwise every stream trains.
 * So one stream cannot push the others above persistence, and a stream whose data the model cannot use leaves it
 * alone. Skipped frames train nothing (the learner's count of frames towards its next update waits).
 * Touches only its own records, keyed by model and stream entry.
 */
export class SharedModelGuard {
  private readonly models = new Map<ServedModel, { frames: number; streams: Map<StreamEntry, StreamRecord> }>();

  /** Whether `entry`'s learner may train its model at the frame being finished now. */
  mayTrain(entry: StreamEntry): boolean {
    const model = this.models.get(entry.served);
    if (!model || model.streams.size < 2) return true;
    let otherServedWell = false;
    let otherHarmed = false;
    for (const [other, record] of model.streams) {
      if (other === entry) continue;
      if (other.closed || !other.learning || model.frames - record.seenAt > STALE_FRAMES) {
        model.streams.delete(other);
        continue;
      }
      if (record.frames < WARMUP) continue;
      if (servedWell(record)) otherServedWell = true;
      else if (harmed(record)) otherHarmed = true;
    }
    const own = model.streams.get(entry);
    const judged = own !== undefined && own.frames >= WARMUP;
    if (judged && harmed(own)) return true;
    if (otherHarmed) return false;
    if (otherServedWell) return judged && servedWell(own);
    return true;
  }

  /** Takes the errors of the frame `entry` just finished (squared, the producer's units; undefined for its first). */
  observe(entry: StreamEntry, error: number | undefined, persistenceError: number | undefined): void {
    let model = this.models.get(entry.served);
    if (!model) this.models.set(entry.served, (model = { frames: 0, streams: new Map() }));
    model.frames++;
    let record = model.streams.get(entry);
    if (!record) model.streams.set(entry, (record = { error: 0, persistence: 0, frames: 0, wasServedWell: false, worseSince: undefined, seenAt: 0 }));
    record.seenAt = model.frames;
    if (error === undefined || persistenceError === undefined || !Number.isFinite(error) || !Number.isFinite(persistenceError)) return;
    record.frames++;
    // a plain mean until the decay's memory is reached, then the running mean
    const weight = Math.max(DECAY, 1 / record.frames);
    record.error += weight * (error - record.error);
    record.persistence += weight * (persistenceError - record.persistence);
    if (record.frames < WARMUP) return;
    if (servedWell(record)) {
      record.wasServedWell = true;
      record.worseSince = undefined;
    } else {
      record.worseSince ??= record.frames;
    }
  }
}

function servedWell(record: StreamRecord): boolean {
  return record.error < SERVED_WELL * record.persistence;
}

/** Served well once, and no more for less than HARM_PATIENCE frames. */
function harmed(record: StreamRecord): boolean {
  return record.wasServedWell && record.worseSince !== undefined && record.frames - record.worseSince < HARM_PATIENCE;
}
