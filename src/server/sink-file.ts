// A prediction sink that appends one JSON line per prediction to a file, writing in the background and fsyncing on
// sync; with a size limit it rotates the file (FILE → FILE.1 → … → FILE.K) at line boundaries.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { describeFileError } from '../io/files.js';
import type { PredictionSink, SinkCounters } from './sink-counters.js';

/** Text waiting to be written, in characters, beyond which new predictions are dropped (the disk has stalled). */
export const MAX_PENDING_CHARS = 16 * 1024 * 1024;
/** Rotated files kept by default (FILE.1 … FILE.5). */
export const DEFAULT_ROTATED_FILES = 5;

/** Size-based rotation: past `bytes` the file becomes FILE.1 (FILE.1 becomes FILE.2, …), and `keep` rotated files are kept. */
export interface FileRotation {
  bytes: number;
  keep: number;
}

/**
 * Appends to `path` (created if missing; never truncated, so restarts add to it and an outside log rotation with
 * copy-and-truncate works). One write in flight at a time, of everything gathered meanwhile. With `rotation`, a line
 * that would take the file past `rotation.bytes` goes to a fresh file instead (a line longer than that alone is
 * written whole); the full file is fsync'd before it is renamed, so a rotated file is complete.
 */
export class FileSink implements PredictionSink {
  readonly label: string;
  private pending: string[] = [];
  private pendingChars = 0;
  private writing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private handle: FileHandle,
    /** Bytes in the file now (what rotation measures). */
    private size: number,
    private readonly path: string,
    private readonly rotation: FileRotation | undefined,
    private readonly counters: SinkCounters,
    private readonly log: (line: string) => void,
  ) {
    this.label = `file:${path}`;
    counters.declare(this.label);
  }

  /** Opens `path` for appending; throws InputError naming it when that fails. */
  static async open(path: string, counters: SinkCounters, log: (line: string) => void, rotation?: FileRotation): Promise<FileSink> {
    try {
      const handle = await open(path, 'a');
      return new FileSink(handle, (await handle.stat()).size, path, rotation, counters, log);
    } catch (err) {
      throw new InputError(`cannot open the sink file ${path}: ${describeFileError(err)}`);
    }
  }

  publish(line: string): void {
    if (this.closed || this.pendingChars + line.length + 1 > MAX_PENDING_CHARS) {
      this.counters.dropped.inc({ sink: this.label, reason: this.closed ? 'shutdown' : 'queue_full' });
      return;
    }
    this.pending.push(`${line}\n`);
    this.pendingChars += line.length + 1;
    this.counters.queued.set({ sink: this.label }, this.pending.length);
    this.writing ??= this.drain();
  }

  async sync(): Promise<void> {
    while (this.writing) await this.writing;
    try {
      await this.handle.sync();
    } catch (err) {
      this.log(`${this.label}: fsync failed: ${describeFileError(err)}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    await this.handle.close().catch(() => undefined);
  }

  /** Writes what is pending, chunk after chunk, until nothing is. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const lines = this.pending;
      this.pending = [];
      this.pendingChars = 0;
      this.counters.queued.set({ sink: this.label }, 0);
      if (this.rotation) await this.writeRotating(lines, this.rotation);
      else await this.write(lines);
    }
    this.writing = undefined;
  }

  /** Writes `lines` (each ending in a line break) to the file as it is. */
  private async write(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const text = lines.join('');
    try {
      await this.handle.write(text);
      this.size += Buffer.byteLength(text);
      this.counters.delivered.inc({ sink: this.label }, lines.length);
    } catch (err) {
      this.counters.dropped.inc({ sink: this.label, reason: 'write_failed' }, lines.length);
      this.log(`${this.label}: writing ${lines.length} predictions failed: ${describeFileError(err)}`);
    }
  }

  /** Writes `lines`, rotating before any line that would take the file past `rotation.bytes`. */
  private async writeRotating(lines: string[], rotation: FileRotation): Promise<void> {
    let from = 0;
    let bytes = this.size;
    for (let i = 0; i < lines.length; i++) {
      const lineBytes = Buffer.byteLength(lines[i]);
      if (bytes > 0 && bytes + lineBytes > rotation.bytes) {
        await this.write(lines.slice(from, i));
        await this.rotate(rotation.keep);
        from = i;
        bytes = 0;
      }
      bytes += lineBytes;
    }
    await this.write(from === 0 ? lines : lines.slice(from));
  }

  /** Makes the file durable, shifts FILE.k to FILE.k+1 (dropping FILE.keep), FILE to FILE.1, and opens a fresh FILE. */
  private async rotate(keep: number): Promise<void> {
    await this.handle.sync().catch((err) => this.log(`${this.label}: fsync before rotating failed: ${describeFileError(err)}`));
    await this.handle.close().catch(() => undefined);
    try {
      await rm(`${this.path}.${keep}`, { force: true });
      for (let k = keep - 1; k >= 1; k--) {
        await rename(`${this.path}.${k}`, `${this.path}.${k + 1}`).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      }
      await rename(this.path, `${this.path}.1`);
    } catch (err) {
      this.log(`${this.label}: rotating failed, appending on to ${this.path}: ${describeFileError(err)}`);
    }
    try {
      this.handle = await open(this.path, 'a');
      this.size = (await this.handle.stat()).size;
    } catch (err) {
      // nothing to write to: what comes is counted as write_failed
      this.log(`${this.label}: reopening after rotation failed: ${describeFileError(err)}`);
    }
  }
}
