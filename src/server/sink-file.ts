// A prediction sink that appends one JSON line per prediction to a file, writing in the background and fsyncing on sync.

import { open, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { describeFileError } from '../io/files.js';
import type { PredictionSink, SinkCounters } from './sink-counters.js';

/** Text waiting to be written, in characters, beyond which new predictions are dropped (the disk has stalled). */
export const MAX_PENDING_CHARS = 16 * 1024 * 1024;

/**
 * Appends to `path` (created if missing; never truncated, so restarts add to it and an outside log rotation with
 * copy-and-truncate works). One write in flight at a time, of everything gathered meanwhile.
 */
export class FileSink implements PredictionSink {
  readonly label: string;
  private pending: string[] = [];
  private pendingChars = 0;
  private writing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly counters: SinkCounters,
    private readonly log: (line: string) => void,
  ) {
    this.label = `file:${path}`;
    counters.declare(this.label);
  }

  /** Opens `path` for appending; throws InputError naming it when that fails. */
  static async open(path: string, counters: SinkCounters, log: (line: string) => void): Promise<FileSink> {
    try {
      return new FileSink(await open(path, 'a'), path, counters, log);
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
      try {
        await this.handle.write(lines.join(''));
        this.counters.delivered.inc({ sink: this.label }, lines.length);
      } catch (err) {
        this.counters.dropped.inc({ sink: this.label, reason: 'write_failed' }, lines.length);
        this.log(`${this.label}: writing ${lines.length} predictions failed: ${describeFileError(err)}`);
      }
    }
    this.writing = undefined;
  }
}
