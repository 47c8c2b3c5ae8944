// Who holds which partition (docs/cluster.md "Ownership"): one KV key per partition in seqcast-leases, taken with
// create (free) or update at the revision read (stale or released), renewed with update at our own revision. That
// compare-and-set is JetStream's; nothing here decides by itself who wins.

import type { KV } from 'nats';

/** A lease's value. */
interface LeaseValue {
  worker: string;
  at: number;
}

const encoder = new TextEncoder();

/** This worker's leases. */
export class Leases {
  /** Partition → the revision of our last put of its lease. */
  private readonly held = new Map<number, number>();
  /** Lease operations one at a time: two updates at one revision (a renewal and a checkpoint's) would fail each other. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kv: KV,
    /** This worker's id (letters and digits). */
    readonly worker: string,
    /** A lease not renewed for this long is stale and may be taken, ms. */
    readonly leaseMs: number,
  ) {}

  /** The partitions held, ascending. */
  partitions(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  holds(partition: number): boolean {
    return this.held.has(partition);
  }

  /** Says this worker is alive (key w.<id>), for the others' fair share. */
  async heartbeat(): Promise<void> {
    await this.kv.put(`w.${this.worker}`, encoder.encode(String(Date.now())));
  }

  /** How many workers said they were alive within the lease time (this one included). */
  async liveWorkers(): Promise<number> {
    let live = 0;
    const now = Date.now();
    // the keys first, then their entries: a get inside the keys' iteration ends it early
    const keys: string[] = [];
    for await (const key of await this.kv.keys('w.*')) keys.push(key);
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry && entry.operation === 'PUT' && now - entry.created.getTime() <= this.leaseMs) live++;
    }
    return Math.max(live, 1);
  }

  /** Takes partition `p` if its lease is free, released or stale; whether it is ours now. */
  take(partition: number): Promise<boolean> {
    return this.serial(() => this.takeNow(partition));
  }

  private async takeNow(partition: number): Promise<boolean> {
    const key = leaseKey(partition);
    const value = this.value();
    try {
      const entry = await this.kv.get(key);
      let revision: number;
      if (!entry) revision = await this.kv.create(key, value);
      else if (entry.operation !== 'PUT' || Date.now() - entry.created.getTime() > this.leaseMs) revision = await this.kv.update(key, value, entry.revision);
      else return false;
      this.held.set(partition, revision);
      return true;
    } catch {
      // another worker's create or update came first
      return false;
    }
  }

  /** Renews partition `p`'s lease at our revision; false (and forgotten) if someone else's put came in between. */
  renew(partition: number): Promise<boolean> {
    return this.serial(() => this.renewNow(partition));
  }

  private async renewNow(partition: number): Promise<boolean> {
    const revision = this.held.get(partition);
    if (revision === undefined) return false;
    try {
      this.held.set(partition, await this.kv.update(leaseKey(partition), this.value(), revision));
      return true;
    } catch {
      this.held.delete(partition);
      return false;
    }
  }

  /** Gives partition `p` up (after its last checkpoint): a delete at our revision, so the next taker need not wait. */
  release(partition: number): Promise<void> {
    return this.serial(() => this.releaseNow(partition));
  }

  private async releaseNow(partition: number): Promise<void> {
    const revision = this.held.get(partition);
    this.held.delete(partition);
    if (revision !== undefined) await this.kv.delete(leaseKey(partition), { previousSeq: revision }).catch(() => undefined);
  }

  /** Who holds each partition now (for list): partition → worker id, leaving out stale and released leases. */
  async holders(partitions: number): Promise<Map<number, string>> {
    const holders = new Map<number, string>();
    for (let p = 0; p < partitions; p++) {
      const entry = await this.kv.get(leaseKey(p));
      if (entry && entry.operation === 'PUT' && Date.now() - entry.created.getTime() <= this.leaseMs) holders.set(p, (entry.json() as LeaseValue).worker);
    }
    return holders;
  }

  /** Forgets partition `p` without a put (it was lost, or this worker stops without handing over). */
  forget(partition: number): void {
    this.held.delete(partition);
  }

  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.chain.then(operation, operation);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private value(): Uint8Array {
    return encoder.encode(JSON.stringify({ worker: this.worker, at: Date.now() } satisfies LeaseValue));
  }
}

export function leaseKey(partition: number): string {
  return `p${partition}`;
}
