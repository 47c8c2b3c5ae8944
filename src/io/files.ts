// Text output shared by the command line and training: text to stdout, or to a file replaced atomically; file system errors in words.

import { SeqcastError } from '../errors.js';
import { AtomicFile } from './atomic-file.js';

/** Writing the output failed: the directory is missing, the disk is full, standard output broke. */
export class OutputError extends SeqcastError {
  constructor(message: string) {
    super('OUTPUT', message);
  }
}

/** Text is gathered into chunks of this many characters before a write. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Where a command's text goes. Writes are buffered; `commit` makes them final
 * and `abort` gives up. Exactly one of the two ends a sink.
 */
export abstract class TextSink {
  private pending: string[] = [];
  private pendingChars = 0;

  /** True once the reader has gone away (a closed pipe): further text is dropped and the command may stop. */
  get readerGone(): boolean {
    return false;
  }

  /** Adds text, writing a chunk out (and waiting for it) when enough has gathered. */
  async write(text: string): Promise<void> {
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= CHUNK_CHARS) await this.flush();
  }

  /** Writes out everything gathered and makes it final. */
  abstract commit(): Promise<void>;

  /** Ends the sink after a failure. Never throws. */
  abstract abort(): Promise<void>;

  protected abstract writeChunk(chunk: string): Promise<void>;

  protected async flush(): Promise<void> {
    if (this.pendingChars === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    await this.writeChunk(chunk);
  }
}

/**
 * Text to a stream such as process.stdout. What was written cannot be taken
 * back, so `abort` writes out the rows gathered so far: the output always
 * ends on the last good row. A closed pipe (`seqcast … | head`) is not an
 * error: the sink reports `readerGone` and drops the rest.
 */
export class StreamSink extends TextSink {
  private gone = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    /** "standard output", for messages. */
    private readonly label = 'standard output',
  ) {
    super();
    // a failed write also emits 'error'; without a listener it would crash the process
    stream.on('error', () => {});
  }

  override get readerGone(): boolean {
    return this.gone;
  }

  async commit(): Promise<void> {
    await this.flush();
  }

  async abort(): Promise<void> {
    try {
      await this.flush();
    } catch {
      // the command is failing already; its error is the one to report
    }
  }

  protected writeChunk(chunk: string): Promise<void> {
    if (this.gone) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.stream.write(chunk, (err) => {
        if (!err) return resolve();
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
          this.gone = true;
          return resolve();
        }
        reject(new OutputError(`cannot write to ${this.label}: ${describeFileError(err)}`));
      });
    });
  }
}

/**
 * Text to a file, replaced atomically (an AtomicFile): it is written to a
 * temporary file beside the target, fsynced, and renamed over the target by
 * `commit`. Until then (and after `abort`) the target is untouched.
 */
export class AtomicFileSink extends TextSink {
  private constructor(private readonly file: AtomicFile) {
    super();
  }

  /** The target's path. */
  get path(): string {
    return this.file.path;
  }

  /** Creates the temporary file; throws OutputError when the target's directory cannot take it. */
  static async create(path: string): Promise<AtomicFileSink> {
    try {
      return new AtomicFileSink(await AtomicFile.create(path));
    } catch (err) {
      throw new OutputError(`cannot write ${path}: ${describeFileError(err)}`);
    }
  }

  async commit(): Promise<void> {
    try {
      await this.flush();
      await this.file.commit();
    } catch (err) {
      await this.abort();
      throw err instanceof OutputError ? err : new OutputError(`cannot write ${this.path}: ${describeFileError(err)}`);
    }
  }

  async abort(): Promise<void> {
    await this.file.abort();
  }

  protected async writeChunk(chunk: string): Promise<void> {
    try {
      await this.file.write(Buffer.from(chunk, 'utf8'));
    } catch (err) {
      throw new OutputError(`cannot write ${this.path}: ${describeFileError(err)}`);
    }
  }
}

/**
 * A command's text output, start to end: to the file `path` (replaced atomically, untouched on failure) or, without
 * one, to `stdout`. `write` fills the sink; it is committed when `write` returns and aborted when it throws.
 */
export async function writeTextOutput(path: string | undefined, stdout: NodeJS.WritableStream, write: (sink: TextSink) => Promise<void>): Promise<void> {
  const sink: TextSink = path === undefined ? new StreamSink(stdout) : await AtomicFileSink.create(path);
  try {
    await write(sink);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

/** True for errors from the file system (they carry a syscall). */
export function isFileError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  EPIPE: 'the reader closed the pipe',
};

/** A file system error in words a user can act on: "no such file or directory (ENOENT)". */
export function describeFileError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && FILE_ERRORS[code]) return `${FILE_ERRORS[code]} (${code})`;
  return err instanceof Error ? err.message : String(err);
}
