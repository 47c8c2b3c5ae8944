// The server's bounded history of every stream: the last HISTORY_RAW_ROWS frames at full resolution, older ones
// folded into min/max pairs, and the detections; bounded per stream and in total. Recorded where predictions come
// back (the socket thread, for one worker or many); read by `history` requests (history-query.ts).

import type { ScoredFrame, StreamEntry } from '../stream/types.js';
import { bytesPerRow, HistoryRows, MinMaxBucket, type HistoryRow } from './history-rows.js';

/** Frames kept at full resolution per stream: an hour at 10 frames a second. */
export const HISTORY_RAW_ROWS = 36_000;
/** Frames folded into each min/max pair of the decimated tier. */
export const HISTORY_BUCKET_FRAMES = 30;
/** Rows of the decimated tier (two per bucket): 24 hours at 10 frames a second, before the raw hour. */
export const HISTORY_DECIMATED_ROWS = 57_600;
/** Channels kept per stream (as many as the dashboard charts); a wider stream's further channels are not kept. */
export const HISTORY_CHANNELS = 8;
/** Detections (rises of the anomaly score to the threshold or above) kept per stream. */
export const HISTORY_DETECTIONS = 1024;
/** Bytes all streams' histories may take together by default; past it streams stop growing, and a new stream's takes the least recently stepped one's place. */
export const HISTORY_TOTAL_BYTES = 256 * 1024 * 1024;

/** Frames a stream refused growth (the total budget is spent) records before it asks again (a closed stream's history may have gone meanwhile). */
const GROWTH_RETRY_FRAMES = 10_000;

/** Most bytes one stream's history takes: both tiers full at HISTORY_CHANNELS channels, and its detections. */
export function maxHistoryBytes(channels = HISTORY_CHANNELS): number {
  return (HISTORY_RAW_ROWS + HISTORY_DECIMATED_ROWS) * bytesPerRow(Math.min(channels, HISTORY_CHANNELS)) + HISTORY_DETECTIONS * (8 + 8 + 4);
}

/** The rises of one stream's anomaly score to the threshold: a ring of (t, seq, anomaly). */
export class Detections {
  /** (HISTORY_DETECTIONS) */
  readonly t = new Float64Array(HISTORY_DETECTIONS);
  /** (HISTORY_DETECTIONS) */
  readonly seq = new Float64Array(HISTORY_DETECTIONS);
  /** (HISTORY_DETECTIONS) */
  readonly anomaly = new Float32Array(HISTORY_DETECTIONS);
  private head = 0;
  /** Rows held. */
  length = 0;

  /** Appends a detection, overwriting the oldest when full. */
  push(t: number, seq: number, anomaly: number): void {
    let at = this.head;
    if (this.length < HISTORY_DETECTIONS) at = this.index(this.length++);
    else this.head = (this.head + 1) % HISTORY_DETECTIONS;
    this.t[at] = t;
    this.seq[at] = seq;
    this.anomaly[at] = anomaly;
  }

  /** Storage index of detection `i` (0 the oldest). */
  index(i: number): number {
    return (this.head + i) % HISTORY_DETECTIONS;
  }
}

/** One stream's past: the raw tier, the decimated tier its oldest rows fold into, and its detections. */
export class StreamHistory {
  readonly raw: HistoryRows;
  readonly decimated: HistoryRows;
  readonly detections = new Detections();
  /** The order of its last frame among every stream's (the store drops the least recent first). */
  lastRecorded = 0;
  private readonly bucket: MinMaxBucket;
  private readonly row: HistoryRow & { actual: Float64Array; predicted: Float64Array };
  private previousAnomaly = 0;
  /** Frames recorded, and the count from which a tier may ask to grow again after a refusal. */
  private frames = 0;
  private retryGrowthAt = 0;

  constructor(
    /** The stream entry recorded (a stream closed and opened again under its name starts a new history). */
    readonly entry: StreamEntry,
    readonly channels: number,
  ) {
    this.raw = new HistoryRows(HISTORY_RAW_ROWS, channels);
    this.decimated = new HistoryRows(HISTORY_DECIMATED_ROWS, channels);
    this.bucket = new MinMaxBucket(channels);
    this.row = { t: 0, seq: 0, error: 0, rmse: 0, anomaly: 0, actual: new Float64Array(channels), predicted: new Float64Array(channels) };
  }

  /** Bytes its storage takes now. */
  get bytes(): number {
    return this.raw.bytes + this.decimated.bytes + HISTORY_DETECTIONS * 20;
  }

  /**
   * Appends one scored frame. A full tier asks `grow` (the store, which keeps the budget) to double it; a full raw
   * tier that may not grow folds its oldest row into the decimated tier first.
   */
  record(frame: ScoredFrame, threshold: number, grow: (tier: HistoryRows) => boolean): void {
    const raw = this.raw;
    this.frames++;
    if (raw.full && !(raw.allocated < raw.capacity && this.tryGrowing(raw, grow))) {
      const decimated = this.decimated;
      this.bucket.add(raw, raw.index(0));
      if (this.bucket.length === HISTORY_BUCKET_FRAMES) {
        if (decimated.full && decimated.allocated < decimated.capacity) this.tryGrowing(decimated, grow);
        this.bucket.flushTo(decimated);
      }
    }
    const row = this.row;
    row.t = frame.t;
    row.seq = frame.seq;
    row.error = frame.error ?? NaN;
    row.rmse = frame.rmse ?? NaN;
    row.anomaly = frame.anomaly;
    const actual = frame.actual;
    const predicted = frame.predicted;
    if (typeof actual === 'number') {
      // a token stream: the token, and the most likely next one
      row.actual[0] = actual;
      row.predicted[0] = argmax(predicted);
    } else {
      for (let c = 0; c < this.channels; c++) {
        row.actual[c] = c < actual.length ? actual[c] : NaN;
        row.predicted[c] = c < predicted.length ? predicted[c] : NaN;
      }
    }
    raw.push(row);
    if (frame.anomaly >= threshold && !(this.previousAnomaly >= threshold)) this.detections.push(frame.t, frame.seq, frame.anomaly);
    this.previousAnomaly = frame.anomaly;
  }

  /** Asks the store to grow `tier`; after a refusal (the budget is spent) it asks again only GROWTH_RETRY_FRAMES frames later, so a refused stream costs no scan per frame. */
  private tryGrowing(tier: HistoryRows, grow: (tier: HistoryRows) => boolean): boolean {
    if (this.frames < this.retryGrowthAt) return false;
    if (grow(tier)) return true;
    this.retryGrowthAt = this.frames + GROWTH_RETRY_FRAMES;
    return false;
  }
}

/**
 * Every stream's history, by name. `record` is the hot path (one map lookup and a row of typed-array stores per
 * frame); a stream's storage grows by doubling up to maxHistoryBytes, and all of them together stay under
 * `totalBytes`: closed streams' histories go first, then growth stops (each stream keeps what it has), and a new
 * stream's first rows take the place of the history of the stream stepped least recently.
 */
export class History {
  private readonly byName = new Map<string, StreamHistory>();
  private bytes = 0;
  private recorded = 0;

  constructor(
    /** A frame whose anomaly score reaches it (from below) is a detection (the server's detection profile). */
    readonly threshold: number,
    readonly totalBytes = HISTORY_TOTAL_BYTES,
  ) {}

  /** Records a scored frame into its stream's history. Touches this store only. */
  record(frame: ScoredFrame): void {
    const entry = frame.entry;
    let history = this.byName.get(entry.name);
    if (history === undefined || history.entry !== entry) history = this.start(entry.name, entry, typeof frame.actual === 'number' ? 1 : frame.actual.length);
    history.lastRecorded = ++this.recorded;
    history.record(frame, this.threshold, (tier) => this.grow(tier, history));
  }

  /** The history of stream `name`, if one is kept. */
  get(name: string): StreamHistory | undefined {
    return this.byName.get(name);
  }

  /** Bytes every history takes now. */
  get totalTaken(): number {
    return this.bytes;
  }

  /** Streams with a history. */
  get size(): number {
    return this.byName.size;
  }

  private start(name: string, entry: StreamEntry, channelCount: number): StreamHistory {
    const old = this.byName.get(name);
    if (old) this.drop(name, old);
    const history = new StreamHistory(entry, Math.max(1, Math.min(channelCount, HISTORY_CHANNELS)));
    this.makeRoom(history.bytes, history, true);
    this.byName.set(name, history);
    this.bytes += history.bytes;
    return history;
  }

  /** Doubles `tier` of `history` if the budget allows it (after dropping closed streams' histories); whether it grew. */
  private grow(tier: HistoryRows, history: StreamHistory): boolean {
    const before = tier.bytes;
    if (!this.makeRoom(before, history, false) || !tier.grow()) return false;
    this.bytes += tier.bytes - before;
    return true;
  }

  /**
   * Makes room for `bytes` more by dropping closed streams' histories, then (with `evictLive`, for a new stream's
   * first rows) the least recently stepped stream's; whether there is room. A stream refused growth keeps the
   * storage it has, its rings overwriting their oldest rows: past the budget, streams keep a shorter past rather
   * than take turns losing all of it.
   */
  private makeRoom(bytes: number, keep: StreamHistory, evictLive: boolean): boolean {
    while (this.bytes + bytes > this.totalBytes) {
      let victim: [string, StreamHistory] | undefined;
      for (const pair of this.byName) {
        const h = pair[1];
        if (h === keep || (!h.entry.closed && !evictLive)) continue;
        const best = victim?.[1];
        if (!best || (h.entry.closed && !best.entry.closed) || (h.entry.closed === best.entry.closed && h.lastRecorded < best.lastRecorded)) victim = pair;
      }
      if (!victim) return false;
      this.drop(...victim);
    }
    return true;
  }

  private drop(name: string, history: StreamHistory): void {
    this.byName.delete(name);
    this.bytes -= history.bytes;
  }
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
