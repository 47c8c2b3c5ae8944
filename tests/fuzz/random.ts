// A seeded random source for the fuzz cases (mulberry32): the same seed gives the same cases on every machine.

/** Seeded pseudo-random numbers and the choices fuzz cases are made of. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

/** What one fuzz case did: its input was accepted, refused with a typed error (a SeqcastError), or anything else. */
export type Outcome = 'accepted' | 'refused' | 'crashed';

/** Counts of outcomes, and the first few crashes with the case that caused them. */
export class Tally {
  readonly counts: Record<Outcome, number> = { accepted: 0, refused: 0, crashed: 0 };
  readonly crashes: { index: number; error: string }[] = [];
  /** Refusal messages by their first words, to see which checks the cases reach. */
  readonly refusals = new Map<string, number>();

  add(index: number, outcome: Outcome, error?: unknown): void {
    this.counts[outcome]++;
    if (outcome === 'crashed' && this.crashes.length < 5) this.crashes.push({ index, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    if (outcome === 'refused') {
      // "<file>: tensor "x" has ..." → "tensor has": the message without its names and numbers
      const key = String((error as { message?: unknown } | undefined)?.message ?? 'refused').replace(/^[^:]*: /, '').replace(/"[^"]*"/g, '').replace(/[-+]?\d[\d.eE+-]*/g, '#').split(/[;(]/)[0].slice(0, 60).trim();
      this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
    }
  }

  get total(): number {
    return this.counts.accepted + this.counts.refused + this.counts.crashed;
  }
}
