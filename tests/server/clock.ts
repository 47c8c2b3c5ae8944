// A clock a test drives (the server's `clock` option): time moves only when the test advances it, and the server's timers fire then.

import type { Clock } from '../../src/server/clock.js';

interface Timer {
  readonly ms: number;
  due: number;
  readonly work: () => void;
  cancelled: boolean;
}

/** Starts at `start` (ms since the epoch; default now, so it reads like the stream layer's Date.now()). */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers: Timer[] = [];

  constructor(start = Date.now()) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  every(ms: number, work: () => void): () => void {
    const timer: Timer = { ms, due: this.time + ms, work, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves time on by `ms`, firing each timer as often as it falls due, in time order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.timers.filter((t) => !t.cancelled && t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.time = next.due;
      next.due += next.ms;
      next.work();
    }
    this.time = end;
  }
}
