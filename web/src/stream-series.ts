// What the dashboard keeps of each stream: aligned rings of its recent frames at full rate, and of the last hour as per-second extremes.

import type { HistoryMessage, PredictionMessage } from './protocol';
import { RingTable, type RingStorage } from './ring-buffer';

/** Channels charted per stream; more are summarised (a note says so). */
export const MAX_CHART_CHANNELS = 8;
/** Rows kept at full rate: 10 minutes at 10 Hz, 1 minute at 100 Hz. */
export const FINE_ROWS = 6000;
/** Width of a coarse bucket, seconds. */
export const COARSE_BUCKET_SECONDS = 1;
/** Rows kept of the coarse tier: two per bucket, a little over an hour. */
export const COARSE_ROWS = 2 * 3700;

// Column layout, the same in both tiers. Channel c: actual at FIRST_CHANNEL + 2c, predicted at FIRST_CHANNEL + 2c + 1.
/** x, seconds on the shared clock. */
export const T = 0;
export const SEQ = 1;
export const ERROR = 2;
export const RMSE = 3;
export const ANOMALY = 4;
export const FIRST_CHANNEL = 5;

/** Column of channel `c`'s actual values. */
export const actualColumn = (c: number) => FIRST_CHANNEL + 2 * c;
/** Column of channel `c`'s predictions, aligned with the frame they predicted. */
export const predictedColumn = (c: number) => FIRST_CHANNEL + 2 * c + 1;

/** Rows of a time range, merged from both tiers, oldest first: columns[c][row]. */
export interface WindowRows {
  length: number;
  columns: Float64Array[];
}

/** A frame's time jumping back further than this (seconds) means the producer restarted: older rows are dropped. */
const RESTART_JUMP_SECONDS = 1;
/** Frames missing for longer than this (seconds, and GAP_STEPS steps) break the lines. */
const GAP_SECONDS = 0.5;
const GAP_STEPS = 5;
/** Span (seconds) over which the frame rate is measured. */
const RATE_SPAN_SECONDS = 5;

/**
 * The rows of one stream. `ingest` appends a prediction; `window` reads a
 * range back, oldest first, for a chart. Memory is fixed at construction.
 */
export class StreamSeries {
  readonly fine: RingTable;
  readonly coarse: RingTable;
  /** Channels kept as columns (0 for image and token streams). */
  readonly channelCount: number;
  /** The newest prediction message as received. */
  latest: PredictionMessage | undefined;
  /** Predictions received since the page opened. */
  received = 0;
  /** Bumped whenever rows change, so views know to rebuild. */
  version = 0;
  /** Seconds between consecutive seqs, smoothed: the spacing of forecast rows. */
  secondsPerStep = NaN;
  private readonly bucket: BucketReducer;
  private readonly row: Float64Array;
  private readonly gapRow: Float64Array;
  /** Drawn on its frames' own t (a replay's dates), not on the shared clock. */
  ownTime = false;
  /** The previous frame's prediction of the next frame, and that frame's seq. */
  private pending: { seq: number; predicted: number[] } | undefined;
  private lastX = -Infinity;
  private lastSeq = -Infinity;
  /** x of the first row since seq last started over: rates are measured within one run. */
  private runStartX = NaN;

  constructor(channelCount: number) {
    this.channelCount = Math.min(channelCount, MAX_CHART_CHANNELS);
    const columnCount = FIRST_CHANNEL + 2 * this.channelCount;
    const storage: RingStorage[] = [Float64Array, Float64Array, ...new Array<RingStorage>(columnCount - 2).fill(Float32Array)];
    this.fine = new RingTable(FINE_ROWS, columnCount, storage);
    this.coarse = new RingTable(COARSE_ROWS, columnCount, storage);
    this.bucket = new BucketReducer(columnCount, COARSE_BUCKET_SECONDS, this.coarse);
    this.row = new Float64Array(columnCount);
    this.gapRow = new Float64Array(columnCount);
  }

  /** x of the newest row, or -Infinity. */
  get newestX(): number {
    return this.lastX;
  }

  /**
   * "Now" for this stream's charts, seconds: the shared clock's `clockNow`, or, for a stream drawn on its own times
   * (its frames carry a `t` far from now, such as a replayed file's 2013 dates), its newest frame's time.
   */
  now(clockNow: number): number {
    return this.ownTime && Number.isFinite(this.lastX) ? this.lastX : clockNow;
  }

  /**
   * Appends `message`, placed at `x` seconds on the shared clock; with `ownTime` (the clock found its t is not live:
   * the producer's own times) at its own t instead, and the stream is drawn on its own times from then on.
   */
  ingest(message: PredictionMessage, x: number, ownTime = false): void {
    if (ownTime && typeof message.t === 'number') {
      this.ownTime = true;
      x = message.t / 1000;
    }
    // a prediction is drawn at the frame it predicted; after a gap in seq (dropped, or a restart) there is none
    const predictedNow = this.pending && this.pending.seq + 1 === message.seq ? this.pending.predicted : undefined;
    const actual = typeof message.actual === 'number' ? [message.actual] : message.actual;
    const row = this.row;
    row[T] = x;
    row[SEQ] = message.seq;
    row[ERROR] = message.error ?? NaN;
    row[RMSE] = message.rmse ?? NaN;
    row[ANOMALY] = message.anomaly;
    for (let c = 0; c < this.channelCount; c++) {
      row[actualColumn(c)] = actual[c] ?? NaN;
      row[predictedColumn(c)] = predictedNow?.[c] ?? NaN;
    }
    this.append(row);
    this.pending = { seq: message.seq, predicted: message.predicted };
    this.latest = message;
    this.received++;
  }

  /**
   * Merges a `history` answer (the server's record of this stream) with what arrived live: rows the page holds that
   * are older than the answer are kept, the answer's rows replace the page's over its range (the server's record
   * is complete, a paused or conflated page's is not), and live rows newer than the answer's last seq follow. So a
   * backfill fills a paused view's gap and a reload's empty past, and adds no row twice. A decimated answer goes to
   * the coarse tier as it is. Answers for an hour then for the last minutes (BACKFILL_REQUESTS) stack up.
   */
  backfill(answer: HistoryMessage, isLive: (t: number) => boolean): void {
    const rows = answer.t.length;
    if (rows === 0) return;
    const firstX = answer.t[0] / 1000;
    const lastSeq = answer.seq[rows - 1];
    if (!isLive(answer.t[rows - 1])) this.ownTime = true;
    // what arrived live after the answer was made: kept, already aligned
    const tail = this.rowsAfterSeq(lastSeq);
    const pending = this.pending;
    this.fine.truncate(this.fine.columns[T].lowerBound(firstX));
    if (this.fine.length === 0) {
      this.coarse.truncate(this.coarse.columns[T].lowerBound(firstX));
      this.bucket.clear();
    }
    this.lastX = this.fine.length > 0 ? this.fine.columns[T].last() : this.coarse.length > 0 ? this.coarse.columns[T].last() : -Infinity;
    const seqs = this.fine.length > 0 ? this.fine.columns[SEQ] : this.coarse.columns[SEQ];
    this.lastSeq = seqs.length > 0 ? seqs.last() : -Infinity;
    const row = this.row;
    for (let i = 0; i < rows; i++) {
      row[T] = answer.t[i] / 1000;
      row[SEQ] = answer.seq[i];
      row[ERROR] = answer.error[i] ?? NaN;
      row[RMSE] = answer.rmse[i] ?? NaN;
      row[ANOMALY] = answer.anomaly[i];
      const alignedPrediction = !answer.decimated && i > 0 && answer.seq[i - 1] + 1 === answer.seq[i];
      for (let c = 0; c < this.channelCount; c++) {
        row[actualColumn(c)] = answer.actual[c]?.[i] ?? NaN;
        row[predictedColumn(c)] = alignedPrediction ? (answer.predicted[c]?.[i - 1] ?? NaN) : NaN;
      }
      if (answer.decimated) {
        // min/max pairs already: into the coarse tier as they are
        this.bucket.clear();
        this.coarse.push(row);
        this.lastX = Math.max(this.lastX, row[T]);
        this.lastSeq = row[SEQ];
      } else this.append(row);
    }
    const last = rows - 1;
    this.pending = tail.length > 0 ? pending : { seq: lastSeq, predicted: answer.predicted.map((channel) => channel[last] ?? NaN) };
    for (const kept of tail) {
      // the first live row after the answer predicted from its last row
      if (kept[SEQ] === lastSeq + 1 && !answer.decimated) for (let c = 0; c < this.channelCount; c++) kept[predictedColumn(c)] = answer.predicted[c]?.[last] ?? NaN;
      this.append(kept);
    }
    this.version++;
  }

  /** The full-rate rows' seqs in brief, for tests: rows (gap rows apart), first and last seq, seqs not above the one before, and line breaks. */
  seqSummary(): { rows: number; first: number; last: number; repeats: number; breaks: number } {
    const seqs = this.fine.columns[SEQ];
    let rows = 0;
    let repeats = 0;
    let breaks = 0;
    let previous = -Infinity;
    let first = NaN;
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs.at(i);
      if (Number.isNaN(seq)) {
        breaks++;
        continue;
      }
      if (rows === 0) first = seq;
      if (seq <= previous) repeats++;
      previous = seq;
      rows++;
    }
    return { rows, first, last: previous, repeats, breaks };
  }

  /** Copies of the fine rows with seq above `seq` (gap rows after them included), oldest first. */
  private rowsAfterSeq(seq: number): Float64Array[] {
    const seqs = this.fine.columns[SEQ];
    let from = this.fine.length;
    while (from > 0 && !(seqs.at(from - 1) <= seq)) from--;
    const out: Float64Array[] = [];
    for (let i = from; i < this.fine.length; i++) {
      if (Number.isNaN(seqs.at(i))) continue;
      const row = new Float64Array(this.row.length);
      for (let c = 0; c < row.length; c++) row[c] = this.fine.columns[c].at(i);
      out.push(row);
    }
    return out;
  }

  /** Appends one aligned row at row[T]: breaks the lines after a restart or a gap, spreads equal times, keeps the rate. */
  private append(row: Float64Array): void {
    const x = row[T];
    const seq = row[SEQ];
    if (x < this.lastX - RESTART_JUMP_SECONDS) this.clear();
    const restarted = seq <= this.lastSeq;
    const gapSeconds = Math.max(GAP_SECONDS, GAP_STEPS * (this.secondsPerStep || 0));
    const missed = seq > this.lastSeq + 1 && x - this.lastX > gapSeconds;
    if ((restarted || missed) && Number.isFinite(this.lastX)) {
      // seq starting over (the producer or server restarted), or frames missing for a while (a paused view):
      // a row of NaN breaks the lines there instead of joining the two sides with a straight line
      this.gapRow.fill(NaN);
      this.gapRow[T] = this.lastX + 1e-6;
      this.fine.push(this.gapRow);
      this.lastX += 1e-6;
      if (restarted) this.runStartX = x;
    }
    // a frame never goes left of the one before: equal times are spread by a microsecond
    const placed = Math.max(x, this.lastX + 1e-6);
    if (!Number.isFinite(this.runStartX)) this.runStartX = placed;
    if (seq > this.lastSeq && Number.isFinite(this.lastX)) {
      const step = (placed - this.lastX) / (seq - this.lastSeq);
      this.secondsPerStep = Number.isNaN(this.secondsPerStep) ? step : this.secondsPerStep + 0.1 * (step - this.secondsPerStep);
    }
    row[T] = placed;
    this.fine.push(row);
    this.bucket.add(row);
    this.lastX = placed;
    this.lastSeq = seq;
    this.version++;
  }

  /** Forgets every row (a producer restart); `received` keeps counting. */
  clear(): void {
    this.fine.clear();
    this.coarse.clear();
    this.bucket.clear();
    this.pending = undefined;
    this.lastX = -Infinity;
    this.lastSeq = -Infinity;
    this.runStartX = NaN;
    this.version++;
  }

  /** Frames per second over the last few seconds before `now` (seconds), from the seqs: dropped deliveries still count. */
  rate(now: number): number {
    const t = this.fine.columns[T];
    const seq = this.fine.columns[SEQ];
    if (t.length < 2 || now - this.lastX > RATE_SPAN_SECONDS) return 0;
    const from = Math.min(t.lowerBound(Math.max(this.lastX - RATE_SPAN_SECONDS, this.runStartX)), t.length - 2);
    const span = this.lastX - t.at(from);
    return span > 0 ? (seq.last() - seq.at(from)) / span : 0;
  }

  /** One column of the full-rate rows from `xMin` on, with their x: a sparkline's data, without copying the other columns. */
  recent(column: number, xMin: number): { x: Float64Array; y: Float64Array } {
    const t = this.fine.columns[T];
    const from = t.lowerBound(xMin);
    const x = new Float64Array(t.length - from);
    const y = new Float64Array(t.length - from);
    t.copyTo(x, from);
    this.fine.columns[column].copyTo(y, from);
    return { x, y };
  }

  /**
   * The rows from `xMin` on (and the one row before it, so lines enter from
   * the left edge), merged: coarse rows older than the fine tier, then fine rows.
   */
  window(xMin: number): WindowRows {
    const fineT = this.fine.columns[T];
    const coarseT = this.coarse.columns[T];
    const fineFrom = Math.max(0, fineT.lowerBound(xMin) - 1);
    const fineStartX = fineT.length > 0 ? fineT.at(0) : Infinity;
    let coarseFrom = 0;
    let coarseTo = 0;
    if (fineFrom === 0 && xMin < fineStartX) {
      coarseFrom = Math.max(0, coarseT.lowerBound(xMin) - 1);
      coarseTo = coarseT.lowerBound(fineStartX);
    }
    const coarseCount = Math.max(0, coarseTo - coarseFrom);
    const length = coarseCount + fineT.length - fineFrom;
    const columns = this.fine.columns.map((fineColumn, c) => {
      const out = new Float64Array(length);
      this.coarse.columns[c].copyTo(out, coarseFrom, coarseTo, 0);
      fineColumn.copyTo(out, fineFrom, fineColumn.length, coarseCount);
      return out;
    });
    return { length, columns };
  }
}

/**
 * Folds full-rate rows into buckets of `seconds` and writes each closed bucket
 * to `target` as two rows: at the bucket's first and last time, each column
 * holding its minimum and maximum in the order they occurred. A line through
 * them keeps the bucket's envelope, so spikes stay visible over an hour.
 */
export class BucketReducer {
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly minAt: Int32Array;
  private readonly maxAt: Int32Array;
  private readonly first: Float64Array;
  private readonly last: Float64Array;
  private count = 0;
  private bucketIndex = NaN;
  private readonly out: Float64Array;

  constructor(
    private readonly columnCount: number,
    private readonly seconds: number,
    private readonly target: RingTable,
  ) {
    this.min = new Float64Array(columnCount);
    this.max = new Float64Array(columnCount);
    this.minAt = new Int32Array(columnCount);
    this.maxAt = new Int32Array(columnCount);
    this.first = new Float64Array(columnCount);
    this.last = new Float64Array(columnCount);
    this.out = new Float64Array(columnCount);
  }

  /** Adds one row (row[T] ascending); closes the current bucket first when the row starts a new one. */
  add(row: ArrayLike<number>): void {
    const bucket = Math.floor(row[T] / this.seconds);
    if (bucket !== this.bucketIndex) {
      this.flush();
      this.bucketIndex = bucket;
    }
    const n = this.count++;
    for (let c = 0; c < this.columnCount; c++) {
      const v = row[c];
      if (n === 0) this.first[c] = v;
      this.last[c] = v;
      if (c <= SEQ) continue;
      if (n === 0) {
        this.min[c] = this.max[c] = v;
        this.minAt[c] = this.maxAt[c] = 0;
        continue;
      }
      if (Number.isNaN(v)) continue;
      if (Number.isNaN(this.min[c]) || v < this.min[c]) {
        this.min[c] = v;
        this.minAt[c] = n;
      }
      if (Number.isNaN(this.max[c]) || v > this.max[c]) {
        this.max[c] = v;
        this.maxAt[c] = n;
      }
    }
  }

  /** Writes the open bucket (if any) to the target. */
  flush(): void {
    if (this.count === 0) return;
    const out = this.out;
    if (this.count === 1) {
      this.target.push(this.first);
    } else {
      for (const [rowTime, earlier] of [
        [this.first, true],
        [this.last, false],
      ] as const) {
        out[T] = rowTime[T];
        out[SEQ] = rowTime[SEQ];
        for (let c = SEQ + 1; c < this.columnCount; c++) {
          const minFirst = this.minAt[c] <= this.maxAt[c];
          out[c] = earlier === minFirst ? this.min[c] : this.max[c];
        }
        this.target.push(out);
      }
    }
    this.count = 0;
  }

  /** Drops the open bucket. */
  clear(): void {
    this.count = 0;
    this.bucketIndex = NaN;
  }
}
