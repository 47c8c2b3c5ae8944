// One time axis for every chart: frame times mapped to seconds on the server's clock, and "now" on that clock.

/** A frame time within this much of the page's clock is taken as milliseconds since the epoch ("live"). */
const LIVE_TOLERANCE_MS = 24 * 3600 * 1000;
/** How fast the estimate of the page-to-server clock offset follows new frames (per batch). */
const OFFSET_SMOOTHING = 0.05;

/**
 * Maps frames onto a shared x axis in seconds. Frames whose `t` is live
 * (epoch milliseconds close to now) are placed at t; others (no t, or t in
 * another unit, like a replayed CSV's dates) at the moment they arrived. The
 * page keeps a smoothed offset to the server's clock so "now" sits where the
 * newest frames are, and the axis scrolls smoothly between batches.
 */
export class SharedClock {
  /** Page clock minus server clock, ms, smoothed; includes the delivery delay. */
  private offsetMs: number | undefined;

  constructor(private readonly pageNow: () => number = () => Date.now()) {}

  /** Notes the newest live frame time of a batch that arrived at `arrivalMs` (page clock). */
  observe(latestT: number, arrivalMs: number): void {
    const lag = arrivalMs - latestT;
    this.offsetMs = this.offsetMs === undefined ? lag : this.offsetMs + OFFSET_SMOOTHING * (lag - this.offsetMs);
  }

  /** Whether `t` is a live time in ms since the epoch. */
  isLive(t: number | null | undefined, arrivalMs: number): t is number {
    return typeof t === 'number' && Number.isFinite(t) && Math.abs(arrivalMs - t) < LIVE_TOLERANCE_MS;
  }

  /** x (seconds, server clock) of a frame with time `t` that arrived at `arrivalMs`. */
  frameX(t: number | null | undefined, arrivalMs: number): number {
    if (this.isLive(t, arrivalMs)) return t / 1000;
    return (arrivalMs - (this.offsetMs ?? 0)) / 1000;
  }

  /** Now, in seconds on the server's clock. */
  now(): number {
    return (this.pageNow() - (this.offsetMs ?? 0)) / 1000;
  }
}
