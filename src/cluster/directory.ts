// The socket thread's directory of streams that live on workers: name and binary id → worker, who holds each, and
// where a new name goes (a hash of it).

import type { FrameSource, ServedModel, StreamEntry } from '../stream/types.js';
import type { PlacedStream } from './messages.js';

/**
 * A stream as the socket thread knows it. It stands in for the worker's StreamEntry where the server's types need
 * one (dispatch's lookups, a connection's `owned`, a prediction's `entry`): only name, id and served are real.
 */
export interface DirectoryEntry extends Pick<StreamEntry, 'name' | 'id' | 'served'> {
  readonly worker: number;
  /** Its rank in the order streams were placed here (opened, or restored): `list` pages in this order, as one thread does. */
  readonly rank: number;
  /** The connection holding it, as far as its answers said, and that connection's set of held streams. */
  holder: { source: FrameSource; owned: Set<StreamEntry> | undefined } | undefined;
}

/** FNV-1a over the name's UTF-16 code units, mod `workers`: where a stream nobody has placed yet goes. */
export function placeByName(name: string, workers: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % workers;
}

/** Open streams by name and id, each with its worker. */
export class Directory {
  readonly byName = new Map<string, StreamEntry>();
  private readonly byId = new Map<number, DirectoryEntry>();
  private placed = 0;

  constructor(
    private readonly models: ReadonlyMap<string, ServedModel>,
    private readonly workers: number,
  ) {}

  /** The entry of binary id `id`. */
  withId(id: number): DirectoryEntry | undefined {
    return this.byId.get(id);
  }

  /** The entry named `name`. */
  withName(name: string): DirectoryEntry | undefined {
    return this.byName.get(name) as DirectoryEntry | undefined;
  }

  /** The worker `name` lives on, or would go to. */
  workerOf(name: string): number {
    return this.withName(name)?.worker ?? placeByName(name, this.workers);
  }

  /** Records a stream a worker opened or restored (again: the same entry comes back). */
  place(stream: PlacedStream, worker: number): DirectoryEntry {
    const known = this.byId.get(stream.id);
    if (known && known.name === stream.name) return known;
    const served = this.models.get(stream.model)!;
    const entry: DirectoryEntry = { name: stream.name, id: stream.id, served, worker, rank: this.placed++, holder: undefined };
    this.byId.set(entry.id, entry);
    this.byName.set(entry.name, entry as unknown as StreamEntry);
    return entry;
  }

  /** Drops a stream (closed, expired, or its worker died), and from its holder's set. */
  forget(entry: DirectoryEntry): void {
    if (this.byId.get(entry.id) !== entry) return;
    this.byId.delete(entry.id);
    this.byName.delete(entry.name);
    entry.holder?.owned?.delete(entry as unknown as StreamEntry);
    entry.holder = undefined;
  }

  /** Drops the stream of id `id`, if the directory has it. */
  forgetId(id: number): void {
    const entry = this.byId.get(id);
    if (entry) this.forget(entry);
  }

  /** Every entry on `worker`. */
  onWorker(worker: number): DirectoryEntry[] {
    return [...this.byId.values()].filter((entry) => entry.worker === worker);
  }

  /** Marks every stream `source` held as unheld (it disconnected). */
  released(owned: Iterable<StreamEntry>): void {
    for (const entry of owned) (entry as unknown as DirectoryEntry).holder = undefined;
  }
}
