// Where a stream's state lives: in a kernel slot while it is active, parked as snapshot bytes while it is idle.
// A learning stream's slot belongs to its LearningStream, which parks with its host-side state (history, statistics).
// Every transition of a stream entry's slot is here: activate, park, release, reset, become a learning stream.

import type { LearningStream } from '../api/learning-stream.js';
import type { Stream } from '../api/stream.js';
import type { LearningConfig, StreamEntry } from './types.js';

/** The stream's kernel slot, taking it back from its parked snapshot if it was idle. For a learning stream, its learner's. */
export function activeStream(entry: StreamEntry): Stream {
  if (entry.learning) return activeLearner(entry).stream;
  if (entry.stream) return entry.stream;
  const stream = entry.served.model.openStream({ name: entry.name });
  if (entry.parked) {
    try {
      stream.restore(entry.parked);
    } catch (err) {
      stream.close();
      throw err;
    }
  }
  entry.parked = undefined;
  entry.stream = stream;
  return stream;
}

/**
 * A learning stream's LearningStream, made on its first frame or brought back
 * from its parked state: the learner's host-side state (exportState bytes) and
 * its kernel slot (a Stream snapshot; for a stream that has just become a
 * learning stream, the snapshot of the plain stream it was).
 */
export function activeLearner(entry: StreamEntry): LearningStream {
  if (entry.learner) return entry.learner;
  const config = entry.learning;
  if (!config) throw new Error(`stream "${entry.name}" is not a learning stream`);
  const learner = entry.served.model.openLearningStream({ name: entry.name, every: config.every, window: config.window, predict: config.target, learn: entry.learn });
  try {
    if (entry.parkedLearner) learner.importState(entry.parkedLearner);
    if (entry.parked) learner.stream.restore(entry.parked);
  } catch (err) {
    learner.close();
    throw err;
  }
  entry.parked = undefined;
  entry.parkedLearner = undefined;
  entry.learner = learner;
  entry.stream = learner.stream;
  return learner;
}

/** Snapshots the stream (and its learner) out of the kernel and frees its slot; the next frame brings it back bit for bit. */
export function parkStream(entry: StreamEntry): void {
  if (!entry.stream) return;
  entry.parked = entry.stream.snapshot();
  if (entry.learner) {
    entry.parkedLearner = entry.learner.exportState();
    entry.learner.close();
    entry.learner = undefined;
  } else {
    entry.stream.close();
  }
  entry.stream = undefined;
}

/** The stream's state as Stream.snapshot() bytes, whether it is active or parked; undefined for one never stepped nor restored. */
export function streamSnapshot(entry: StreamEntry): Uint8Array | undefined {
  return entry.stream ? entry.stream.snapshot() : entry.parked;
}

/** A learning stream's learner state as LearningStream.exportState() bytes, active or parked; undefined before its first frame. */
export function learnerSnapshot(entry: StreamEntry): Uint8Array | undefined {
  return entry.learner ? entry.learner.exportState() : entry.parkedLearner;
}

/** Frees the kernel slot and forgets the parked state (a learning stream's learner too: it starts afresh on its next frame). */
export function releaseStream(entry: StreamEntry): void {
  if (entry.learner) entry.learner.close();
  else entry.stream?.close();
  entry.learner = undefined;
  entry.stream = undefined;
  entry.parked = undefined;
  entry.parkedLearner = undefined;
}

/**
 * Zeroes a stream's state, statistics and scores, as if it had just been opened (its seq is not the slot's: it stays).
 * A learning stream's learner starts afresh on its next frame (history, running statistics); what the model has
 * learned stays. Touches the entry's kernel slot.
 */
export function resetEntry(entry: StreamEntry): void {
  if (entry.learner) {
    entry.learner.close();
    entry.learner = undefined;
    entry.stream = undefined;
  } else {
    entry.stream?.reset();
  }
  entry.parked = undefined;
  entry.parkedLearner = undefined;
  entry.normalizer?.reset();
  entry.scorer.reset();
}

/**
 * Turns a stream's training on or off. A stream that is not yet a learning stream
 * becomes one when `on` (`config` must then be given): its kernel state carries
 * over (the plain stream is parked, and activeLearner restores the snapshot into
 * the learner's slot on the next frame), its learner starts with fresh statistics
 * (the online normalizer is dropped: a learner scales its inputs itself), and it
 * stays a learning stream from then on. Touches the entry's kernel slot.
 */
export function setEntryLearning(entry: StreamEntry, on: boolean, config: LearningConfig | undefined): void {
  if (on && !entry.learning) {
    if (!config) throw new Error('setEntryLearning: a stream becoming a learning stream needs its configuration');
    if (entry.stream) {
      entry.parked = entry.stream.snapshot();
      entry.stream.close();
      entry.stream = undefined;
    }
    entry.learning = config;
    entry.normalizer = undefined;
  }
  entry.learn = on && entry.learning !== undefined;
  entry.learner?.setLearning(entry.learn);
}
