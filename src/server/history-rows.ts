// A growable ring of history rows: aligned typed-array columns (time, seq, scores, channels) that grow by doubling up
// to a fixed capacity, then overwrite their oldest row; and the min/max bucket that folds rows into fewer. What
// history.ts keeps each tier of a stream's past in.

/** Rows a ring starts with; it doubles when full until it reaches its capacity. */
const FIRST_ROWS = 256;

/** Numbers per row with `channels` channels: t, seq, error, rmse, anomaly, then each channel's actual, then each channel's predicted. */
export function rowWidth(channels: number): number {
  return 5 + 2 * channels;
}

/** Bytes one row takes with `channels` channels: every number a float64, so values come back exactly as sent and as predicted. */
export function bytesPerRow(channels: number): number {
  return 8 * rowWidth(channels);
}

/** The values of one row (NaN for a missing error or rmse). */
export interface HistoryRow {
  /** The frame's t (the producer's, or the server's receive time, ms since the epoch). */
  t: number;
  seq: number;
  error: number;
  rmse: number;
  anomaly: number;
  /** (channels) actual values, producer's units. */
  actual: ArrayLike<number>;
  /** (channels) the prediction of the next frame made after this one. */
  predicted: ArrayLike<number>;
}

// offsets within a row
const T = 0;
const SEQ = 1;
/** Where the values (valueCount of them, in HistoryRows.value's order) start. */
const VALUES = 2;
const ACTUAL = 5;

/**
 * Rows of one tier, row-major in one Float64Array (a frame's row is one or two cache lines, whichever of a thousand
 * streams it belongs to). Row i (0 the oldest kept) is at storage index (head + i) % allocated. Nothing allocates
 * while pushing except the (at most log2(capacity / 256)) doublings.
 */
export class HistoryRows {
  /** (allocated, rowWidth(channels)) */
  private data: Float64Array;
  private readonly width: number;
  private head = 0;
  private count = 0;

  constructor(
    /** Most rows kept. */
    readonly capacity: number,
    readonly channels: number,
    /** Rows allocated at first. */
    initialRows = FIRST_ROWS,
  ) {
    this.width = rowWidth(channels);
    this.data = new Float64Array(Math.min(capacity, initialRows) * this.width);
  }

  /** Rows held. */
  get length(): number {
    return this.count;
  }

  /** Rows there is storage for now. */
  get allocated(): number {
    return this.data.length / this.width;
  }

  /** Bytes the storage takes now. */
  get bytes(): number {
    return this.data.byteLength;
  }

  /** Whether the next push overwrites the oldest row (the ring is full and may not, or will not, grow). */
  get full(): boolean {
    return this.count === this.allocated;
  }

  /** Storage index of row `i` (0 the oldest). */
  index(i: number): number {
    return (this.head + i) % this.allocated;
  }

  /** The frame time of the row at storage index `at`. */
  t(at: number): number {
    return this.data[at * this.width + T];
  }

  seq(at: number): number {
    return this.data[at * this.width + SEQ];
  }

  error(at: number): number {
    return this.data[at * this.width + VALUES];
  }

  rmse(at: number): number {
    return this.data[at * this.width + VALUES + 1];
  }

  anomaly(at: number): number {
    return this.data[at * this.width + VALUES + 2];
  }

  /** Channel `c`'s actual value in the row at storage index `at`. */
  actual(at: number, c: number): number {
    return this.data[at * this.width + ACTUAL + c];
  }

  /** Channel `c`'s prediction (of the next frame) in the row at storage index `at`. */
  predicted(at: number, c: number): number {
    return this.data[at * this.width + ACTUAL + this.channels + c];
  }

  /** Values per row besides t and seq: error, rmse, anomaly, then each channel's actual, then each channel's predicted. */
  get valueCount(): number {
    return this.width - VALUES;
  }

  /** Value `j` (in valueCount's order) of the row at storage index `at`: what the min/max folding reads generically. */
  value(at: number, j: number): number {
    return this.data[at * this.width + VALUES + j];
  }

  /** Doubles the storage (up to capacity), keeping the rows, oldest first; false when it is at capacity already. */
  grow(): boolean {
    const rows = Math.min(this.capacity, this.allocated * 2);
    if (rows === this.allocated) return false;
    const data = new Float64Array(rows * this.width);
    // the ring in two runs: from head to the end of storage, then from its start
    const firstRun = Math.min(this.count, this.allocated - this.head);
    data.set(this.data.subarray(this.head * this.width, (this.head + firstRun) * this.width), 0);
    data.set(this.data.subarray(0, (this.count - firstRun) * this.width), firstRun * this.width);
    this.data = data;
    this.head = 0;
    return true;
  }

  /** Appends a row (overwriting the oldest when full). */
  push(row: HistoryRow): void {
    let at: number;
    if (this.count < this.allocated) {
      at = this.index(this.count);
      this.count++;
    } else {
      at = this.head;
      this.head = (this.head + 1) % this.allocated;
    }
    const data = this.data;
    const o = at * this.width;
    data[o + T] = row.t;
    data[o + SEQ] = row.seq;
    data[o + VALUES] = row.error;
    data[o + VALUES + 1] = row.rmse;
    data[o + VALUES + 2] = row.anomaly;
    const c = this.channels;
    for (let k = 0; k < c; k++) {
      data[o + ACTUAL + k] = k < row.actual.length ? row.actual[k] : NaN;
      data[o + ACTUAL + c + k] = k < row.predicted.length ? row.predicted[k] : NaN;
    }
  }

  /** Forgets every row (the storage is kept). */
  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}

/**
 * Folds consecutive rows into two: at the first row's t and seq and at the last one's, each value column holding its
 * minimum and its maximum in the order they occurred (NaN ignored), as web/src/stream-series.ts's BucketReducer does.
 * A line through them keeps the bucket's envelope, so a spike survives any decimation. Allocates only when made.
 */
export class MinMaxBucket {
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly minAt: Int32Array;
  private readonly maxAt: Int32Array;
  private count = 0;
  private firstT = 0;
  private firstSeq = 0;
  private lastT = 0;
  private lastSeq = 0;
  private readonly row: HistoryRow & { actual: Float64Array; predicted: Float64Array };

  constructor(private readonly channels: number) {
    const n = 3 + 2 * channels;
    this.min = new Float64Array(n);
    this.max = new Float64Array(n);
    this.minAt = new Int32Array(n);
    this.maxAt = new Int32Array(n);
    this.row = { t: 0, seq: 0, error: 0, rmse: 0, anomaly: 0, actual: new Float64Array(channels), predicted: new Float64Array(channels) };
  }

  /** Rows in the bucket. */
  get length(): number {
    return this.count;
  }

  /** Adds the row at storage index `at` of `rows` (rows must have this bucket's channel count). */
  add(rows: HistoryRows, at: number): void {
    const n = this.count++;
    if (n === 0) {
      this.firstT = rows.t(at);
      this.firstSeq = rows.seq(at);
    }
    this.lastT = rows.t(at);
    this.lastSeq = rows.seq(at);
    for (let j = 0; j < this.min.length; j++) {
      const v = rows.value(at, j);
      if (n === 0) {
        this.min[j] = this.max[j] = v;
        this.minAt[j] = this.maxAt[j] = 0;
        continue;
      }
      if (Number.isNaN(v)) continue;
      if (Number.isNaN(this.min[j]) || v < this.min[j]) {
        this.min[j] = v;
        this.minAt[j] = n;
      }
      if (Number.isNaN(this.max[j]) || v > this.max[j]) {
        this.max[j] = v;
        this.maxAt[j] = n;
      }
    }
  }

  /** Writes the bucket to `target` (one row if it holds one, else two) and empties it. */
  flushTo(target: HistoryRows): void {
    if (this.count === 0) return;
    if (this.count === 1) this.write(target, this.firstT, this.firstSeq, true);
    else {
      this.write(target, this.firstT, this.firstSeq, true);
      this.write(target, this.lastT, this.lastSeq, false);
    }
    this.count = 0;
  }

  /** Drops the open bucket. */
  clear(): void {
    this.count = 0;
  }

  private write(target: HistoryRows, t: number, seq: number, earlier: boolean): void {
    const row = this.row;
    const pick = (j: number) => (earlier === this.minAt[j] <= this.maxAt[j] ? this.min[j] : this.max[j]);
    row.t = t;
    row.seq = seq;
    row.error = pick(0);
    row.rmse = pick(1);
    row.anomaly = pick(2);
    for (let k = 0; k < this.channels; k++) {
      row.actual[k] = pick(3 + k);
      row.predicted[k] = pick(3 + this.channels + k);
    }
    target.push(row);
  }
}
