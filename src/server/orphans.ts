// The streams nobody holds (their producer left, or they came back from a checkpoint), oldest first, by client address.

import type { StreamEntry } from '../stream/types.js';

/**
 * Orphaned streams in the order they were orphaned (oldest first), and per client address the ones its
 * connections left: what the stream table bounds and evicts from. Touches only its own sets, not the entries.
 */
export class Orphans {
  private readonly all = new Set<StreamEntry>();
  private readonly byAddress = new Map<string, Set<StreamEntry>>();
  private readonly addressOf = new Map<StreamEntry, string>();

  /** `entry` lost its producer (from `address`; none for a stream restored from a checkpoint). */
  add(entry: StreamEntry, address?: string): void {
    this.all.add(entry);
    if (address === undefined) return;
    let entries = this.byAddress.get(address);
    if (!entries) this.byAddress.set(address, (entries = new Set()));
    entries.add(entry);
    this.addressOf.set(entry, address);
  }

  /** `entry` is held again, or closed. */
  delete(entry: StreamEntry): void {
    if (!this.all.delete(entry)) return;
    const address = this.addressOf.get(entry);
    if (address === undefined) return;
    this.addressOf.delete(entry);
    const entries = this.byAddress.get(address)!;
    entries.delete(entry);
    if (entries.size === 0) this.byAddress.delete(address);
  }

  /** How many orphans `address`'s connections left. */
  countOf(address: string): number {
    return this.byAddress.get(address)?.size ?? 0;
  }

  /** The orphan longest without a producer: of `address`'s, or of all. */
  oldest(address?: string): StreamEntry | undefined {
    const entries = address === undefined ? this.all : this.byAddress.get(address);
    return entries?.values().next().value;
  }

  get size(): number {
    return this.all.size;
  }
}
