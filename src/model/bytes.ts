// Little-endian byte writer and reader for seqcast's binary state formats (stream snapshots, learner and optimizer state).

import { InputError } from '../errors.js';

/** Appends u32, f64 and f32 values (little-endian) and joins them into one Uint8Array. */
export class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.size += chunk.byteLength;
  }

  /** Appends each value as a u32. */
  u32(...values: number[]): void {
    const chunk = new Uint8Array(values.length * 4);
    const view = new DataView(chunk.buffer);
    values.forEach((v, i) => view.setUint32(i * 4, v, true));
    this.push(chunk);
  }

  /** Appends each value as an f64. */
  f64(...values: number[]): void {
    this.f64s(values);
  }

  /** Appends an array of f64. */
  f64s(values: ArrayLike<number>): void {
    const chunk = new Uint8Array(values.length * 8);
    const view = new DataView(chunk.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
    this.push(chunk);
  }

  /** Appends an array of f32 (values rounded to float32). */
  f32s(values: ArrayLike<number>): void {
    const chunk = new Uint8Array(values.length * 4);
    const view = new DataView(chunk.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    this.push(chunk);
  }

  /** Everything written, in order. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }
}

/** Reads u32, f64 and f32 values in order; running past the end, or stopping short of it, is an InputError naming `what`. */
export class ByteReader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly data: Uint8Array, private readonly what: string) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private take(bytes: number): number {
    if (this.at + bytes > this.data.byteLength) throw new InputError(`${this.what} is cut short: ${this.data.byteLength} bytes, more expected`);
    const at = this.at;
    this.at += bytes;
    return at;
  }

  /** The next `count` u32 values. */
  u32(count: number): number[] {
    const at = this.take(count * 4);
    return Array.from({ length: count }, (_, i) => this.view.getUint32(at + i * 4, true));
  }

  /** The next `count` f64 values. */
  f64(count: number): Float64Array {
    const at = this.take(count * 8);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat64(at + i * 8, true);
    return out;
  }

  /** The next `count` f32 values. */
  f32(count: number): Float32Array {
    const at = this.take(count * 4);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat32(at + i * 4, true);
    return out;
  }

  /** Throws unless every byte has been read. */
  end(): void {
    if (this.at !== this.data.byteLength) throw new InputError(`${this.what} has ${this.data.byteLength - this.at} bytes too many`);
  }
}
