// Where a stream's state lives: in a kernel slot while it is active, parked as snapshot bytes while it is idle.

import type { Stream } from '../api/stream.js';
import type { StreamEntry } from './types.js';

/** The stream's kernel slot, taking it back from its parked snapshot if it was idle. */
export function activeStream(entry: StreamEntry): Stream {
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

/** Snapshots the stream out of the kernel and frees its slot; the next frame brings it back bit for bit. */
export function parkStream(entry: StreamEntry): void {
  if (!entry.stream) return;
  entry.parked = entry.stream.snapshot();
  entry.stream.close();
  entry.stream = undefined;
}

/** The stream's state as Stream.snapshot() bytes, whether it is active or parked; undefined for one never stepped nor restored. */
export function streamSnapshot(entry: StreamEntry): Uint8Array | undefined {
  return entry.stream ? entry.stream.snapshot() : entry.parked;
}

/** Frees the kernel slot and forgets the parked state. */
export function releaseStream(entry: StreamEntry): void {
  entry.stream?.close();
  entry.stream = undefined;
  entry.parked = undefined;
}
