// Fixed-capacity rings for streaming chart data: the newest values overwrite the oldest, so memory stays flat however long a stream runs.

/** The typed array a ring keeps its values in: Float64Array for times and seqs, Float32Array for measured values. */
export type RingStorage = Float64ArrayConstructor | Float32ArrayConstructor;

/**
 * A ring of numbers with a fixed capacity. Index 0 is the oldest value kept,
 * `length - 1` the newest; pushing onto a full ring drops the oldest.
 *
 * @example
 * const ring = new RingBuffer(3);
 * [1, 2, 3, 4].forEach((v) => ring.push(v));
 * ring.toArray(); // [2, 3, 4]
 */
export class RingBuffer {
  readonly capacity: number;
  private readonly values: Float64Array | Float32Array;
  /** Storage index of the oldest value. */
  private head = 0;
  private count = 0;

  constructor(capacity: number, storage: RingStorage = Float64Array) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a ring buffer needs a capacity of at least 1, got ${capacity}`);
    this.capacity = capacity;
    this.values = new storage(capacity);
  }

  /** How many values the ring holds (at most `capacity`). */
  get length(): number {
    return this.count;
  }

  /** Appends `value`, dropping the oldest value when the ring is full. */
  push(value: number): void {
    if (this.count < this.capacity) {
      this.values[(this.head + this.count) % this.capacity] = value;
      this.count++;
    } else {
      this.values[this.head] = value;
      this.head = (this.head + 1) % this.capacity;
    }
  }

  /** The value `index` places after the oldest (negative: before the end, -1 is the newest); NaN outside. */
  at(index: number): number {
    const i = index < 0 ? this.count + index : index;
    if (i < 0 || i >= this.count) return NaN;
    return this.values[(this.head + i) % this.capacity];
  }

  /** The newest value, or NaN when empty. */
  last(): number {
    return this.at(-1);
  }

  /** Forgets every value (the storage is kept). */
  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Keeps the oldest `length` values and forgets the newer ones (a backfill replaces them). */
  truncate(length: number): void {
    this.count = Math.max(0, Math.min(this.count, Math.floor(length)));
    if (this.count === 0) this.head = 0;
  }

  /** Copies the values at indices [from, to), oldest first, into `target` from `offset` on. */
  copyTo(target: { [index: number]: number }, from = 0, to = this.count, offset = 0): void {
    const start = Math.max(0, from);
    const end = Math.min(this.count, to);
    for (let i = start; i < end; i++) target[offset + i - start] = this.values[(this.head + i) % this.capacity];
  }

  /** The values, oldest first, as a new array. */
  toArray(): number[] {
    const out = new Array<number>(this.count);
    this.copyTo(out);
    return out;
  }

  /**
   * The first index whose value is ≥ `value`, or `length` if none; for a ring
   * whose values ascend (a time column), by binary search.
   */
  lowerBound(value: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.values[(this.head + mid) % this.capacity] < value) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/**
 * Rows of several columns that are pushed together, so the columns stay
 * aligned: row i of every column is the same moment. Column 0 is usually time.
 */
export class RingTable {
  readonly columns: RingBuffer[];

  /** `storage[c]` is column c's typed array; columns without one use Float64Array. */
  constructor(
    readonly capacity: number,
    columnCount: number,
    storage: RingStorage[] = [],
  ) {
    this.columns = Array.from({ length: columnCount }, (_, c) => new RingBuffer(capacity, storage[c] ?? Float64Array));
  }

  /** Rows held. */
  get length(): number {
    return this.columns[0]?.length ?? 0;
  }

  /** Appends one row: `row[c]` goes to column c; missing cells become NaN. */
  push(row: ArrayLike<number>): void {
    for (let c = 0; c < this.columns.length; c++) this.columns[c].push(c < row.length ? row[c] : NaN);
  }

  /** Forgets every row. */
  clear(): void {
    for (const column of this.columns) column.clear();
  }

  /** Keeps the oldest `length` rows and forgets the newer ones. */
  truncate(length: number): void {
    for (const column of this.columns) column.truncate(length);
  }
}
