// A growable ring of history rows: aligned typed-array columns (time, seq, scores, channels) that grow by doubling up
// to a fixed capacity, then overwrite their oldest row; and the min/max bucket that folds rows into fewer. What
// history.ts keeps each tier of a stream's past in.

/** Rows a ring starts with; it doubles when full until it reaches its capacity. */
const FIRST_ROWS = 256;

/** Bytes one row takes with `channels` channels: t, seq and each channel's actual as f64 (values as sent), error, rmse, anomaly and each channel's predicted as f32 (as the kernel made them). */
export function bytesPerRow(channels: number): number {
  return 2 * 8 + 3 * 4 + channels * (8 + 4);
}

/** The values of one row, as the ring's columns hold them (NaN for a missing error or rmse). */
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

/**
 * Rows of one tier. Row i (0 the oldest kept) is at storage index (head + i) % allocated. Channel c of row i's actual
 * is `actual[index * channels + c]`. Nothing allocates while pushing except the (at most log2(capacity / 256)) doublings.
 */
export class HistoryRows {
  /** (allocated) frame times. */
  t: Float64Array;
  /** (allocated) seqs. */
  seq: Float64Array;
  /** (allocated) RMS error of the prediction made one frame earlier; NaN for a stream's first frame. */
  error: Float32Array;
  /** (allocated) */
  rmse: Float32Array;
  /** (allocated) anomaly likelihood in [0, 1]. */
  anomaly: Float32Array;
  /** (allocated, channels) the frame's values as the producer sent them. */
  actual: Float64Array;
  /** (allocated, channels) the prediction of the next frame. */
  predicted: Float32Array;
  private head = 0;
  private count = 0;

  constructor(
    /** Most rows kept. */
    readonly capacity: number,
    readonly channels: number,
    /** Rows allocated at first. */
    initialRows = FIRST_ROWS,
  ) {
    const rows = Math.min(capacity, initialRows);
    this.t = new Float64Array(rows);
    this.seq = new Float64Array(rows);
    this.error = new Float32Array(rows);
    this.rmse = new Float32Array(rows);
    this.anomaly = new Float32Array(rows);
    this.actual = new Float64Array(rows * channels);
    this.predicted = new Float32Array(rows * channels);
  }

  /** Rows held. */
  get length(): number {
    return this.count;
  }

  /** Rows there is storage for now. */
  get allocated(): number {
    return this.t.length;
  }

  /** Bytes the columns take now. */
  get bytes(): number {
    return this.allocated * bytesPerRow(this.channels);
  }

  /** Whether the next push overwrites the oldest row (the ring is full and may not, or will not, grow). */
  get full(): boolean {
    return this.count === this.allocated;
  }

  /** Storage index of row `i` (0 the oldest). */
  index(i: number): number {
    return (this.head + i) % this.allocated;
  }

  /** Doubles the storage (up to capacity), keeping the rows; false when it is at capacity already. */
  grow(): boolean {
    const rows = Math.min(this.capacity, this.allocated * 2);
    if (rows === this.allocated) return false;
    const c = this.channels;
    const t = new Float64Array(rows);
    const seq = new Float64Array(rows);
    const error = new Float32Array(rows);
    const rmse = new Float32Array(rows);
    const anomaly = new Float32Array(rows);
    const actual = new Float64Array(rows * c);
    const predicted = new Float32Array(rows * c);
    for (let i = 0; i < this.count; i++) {
      const from = this.index(i);
      t[i] = this.t[from];
      seq[i] = this.seq[from];
      error[i] = this.error[from];
      rmse[i] = this.rmse[from];
      anomaly[i] = this.anomaly[from];
      actual.set(this.actual.subarray(from * c, from * c + c), i * c);
      predicted.set(this.predicted.subarray(from * c, from * c + c), i * c);
    }
    Object.assign(this, { t, seq, error, rmse, anomaly, actual, predicted, head: 0 });
    return true;
  }

  /** Appends a row (overwriting the oldest when full): its storage index, for the caller to write any column directly. */
  push(row: HistoryRow): number {
    let at: number;
    if (this.count < this.allocated) {
      at = this.index(this.count);
      this.count++;
    } else {
      at = this.head;
      this.head = (this.head + 1) % this.allocated;
    }
    this.t[at] = row.t;
    this.seq[at] = row.seq;
    this.error[at] = row.error;
    this.rmse[at] = row.rmse;
    this.anomaly[at] = row.anomaly;
    const c = this.channels;
    for (let k = 0; k < c; k++) {
      this.actual[at * c + k] = k < row.actual.length ? row.actual[k] : NaN;
      this.predicted[at * c + k] = k < row.predicted.length ? row.predicted[k] : NaN;
    }
    return at;
  }

  /** Values per row besides t and seq: error, rmse, anomaly, then each channel's actual, then each channel's predicted. */
  get valueCount(): number {
    return 3 + 2 * this.channels;
  }

  /** Value `j` (in valueCount's order) of the row at storage index `at`: what the min/max folding reads generically. */
  value(at: number, j: number): number {
    if (j === 0) return this.error[at];
    if (j === 1) return this.rmse[at];
    if (j === 2) return this.anomaly[at];
    const k = j - 3;
    const c = this.channels;
    return k < c ? this.actual[at * c + k] : this.predicted[at * c + k - c];
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
      this.firstT = rows.t[at];
      this.firstSeq = rows.seq[at];
    }
    this.lastT = rows.t[at];
    this.lastSeq = rows.seq[at];
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
