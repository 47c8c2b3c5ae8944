// SeasonalMemory: how far a frame lies from every frame seen at the same time of day on each of the last days (a daily or
// weekly pattern, a spike that recurs every other day, are not news; a day that breaks the pattern is).

import { Ring } from './rolling-likelihood.js';

/** ms in a day: the season's unit. */
const DAY_MS = 86_400_000;

export interface SeasonalOptions {
  /** Days looked back: the frame is compared with the frames near t − 1 day, t − 2 days, …, t − days. Default 14. */
  days: number;
  /** Frames either side of the one nearest each t − k days that are compared too (a pattern's small shifts in time). Default 4. */
  neighbours: number;
  /** Frames remembered at most (a season longer than this many frames is not looked at). Default 8192. */
  capacity: number;
}

export const SEASONAL_DEFAULTS: SeasonalOptions = { days: 14, neighbours: 4, capacity: 8192 };

/** Serializable state of a SeasonalMemory. */
export interface SeasonalMemoryState {
  times: number[];
  values: number[][];
  pushed: number;
  /** Per day looked back, the absolute index of the first frame at or after t − k days (the search resumes there). */
  cursors: number[];
}

/**
 * The frames of one stream by time (ms since the epoch), for the seasonal
 * deviation: the smallest RMS distance between a frame and the frames at about
 * the same time on each of the previous `days` days. It touches nothing else.
 */
export class SeasonalMemory {
  private times: Ring;
  /** (channels) each channel's values, in step with `times`. */
  private values: Ring[] = [];
  private cursors: number[];

  constructor(readonly options: SeasonalOptions = SEASONAL_DEFAULTS) {
    this.times = new Ring(options.capacity);
    this.cursors = new Array<number>(options.days).fill(0);
  }

  /**
   * The smallest RMS distance (over channels) between `frame` and the frames
   * recorded within `neighbours` frames of the one nearest t − k days, for
   * k = 1 … days; NaN when no day has a frame within half a day of t − k days.
   * Then records the frame.
   */
  deviation(t: number, frame: ArrayLike<number>): number {
    if (this.values.length !== frame.length) this.values = Array.from({ length: frame.length }, () => new Ring(this.options.capacity));
    let best = Infinity;
    const newest = this.times.pushed; // the frame being judged will get this index
    for (let k = 1; k <= this.options.days; k++) {
      const nearest = this.nearest(k - 1, t - k * DAY_MS, k * DAY_MS);
      if (nearest < 0) continue;
      const from = Math.max(this.times.oldest, nearest - this.options.neighbours);
      const to = Math.min(newest - 1, nearest + this.options.neighbours);
      for (let r = from; r <= to; r++) best = Math.min(best, this.distance(frame, r));
    }
    this.times.push(t);
    for (let c = 0; c < frame.length; c++) this.values[c].push(frame[c]);
    return best === Infinity ? Number.NaN : best;
  }

  /** The absolute index of the recorded frame nearest `target`, or −1 (none within period / 2, or the target is before the memory). */
  private nearest(lag: number, target: number, period: number): number {
    const times = this.times;
    const end = times.pushed;
    let j = Math.max(this.cursors[lag], times.oldest);
    while (j < end && times.at(j) < target) j++;
    this.cursors[lag] = j;
    if (j >= end || times.at(j) - target > period / 2) return -1;
    if (j === times.oldest) return times.at(j) > target ? -1 : j;
    return target - times.at(j - 1) < times.at(j) - target ? j - 1 : j;
  }

  private distance(frame: ArrayLike<number>, index: number): number {
    if (frame.length === 1) return Math.abs(frame[0] - this.values[0].at(index));
    let total = 0;
    for (let c = 0; c < frame.length; c++) total += (frame[c] - this.values[c].at(index)) ** 2;
    return Math.sqrt(total / frame.length);
  }

  toJSON(): SeasonalMemoryState {
    return { times: this.times.toArray(), values: this.values.map((ring) => ring.toArray()), pushed: this.times.pushed, cursors: [...this.cursors] };
  }

  static fromJSON(state: SeasonalMemoryState, options: SeasonalOptions = SEASONAL_DEFAULTS): SeasonalMemory {
    const memory = new SeasonalMemory(options);
    memory.times = Ring.from(state.times, options.capacity, state.pushed);
    memory.values = state.values.map((values) => Ring.from(values, options.capacity, state.pushed));
    memory.cursors = Array.from({ length: options.days }, (_, k) => state.cursors[k] ?? 0);
    return memory;
  }
}
