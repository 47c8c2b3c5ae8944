// The one atomic file writer: bytes go to a temporary file beside the target, are fsynced, renamed over it, and the folder is fsynced.

import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temporary files end so (".out.csv.4242-9f3a1c0b.tmp"), hidden beside their target, so a cleanup can find a crash's leftovers. */
const TEMP_SUFFIX = '.tmp';

/** True for the name (not path) of a temporary file an AtomicFile left behind, e.g. after a crash. */
export function isAtomicTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(TEMP_SUFFIX);
}

/**
 * A file being replaced atomically. Until `commit` the target is untouched
 * (readers see the old file or none); after it, a crash cannot leave the
 * target half written: the data and the rename are both on the disk.
 * Exactly one of `commit` and `abort` ends it. File system errors are thrown
 * as they come (the caller words them for its users).
 */
export class AtomicFile {
  private constructor(
    /** The target's path. */
    readonly path: string,
    /** The temporary file's path, in the target's folder so the rename stays on one file system. */
    readonly tempPath: string,
    private handle: FileHandle | undefined,
  ) {}

  /** Creates the temporary file beside `path` (never replacing one); throws when the folder cannot take it. */
  static async create(path: string): Promise<AtomicFile> {
    const tempPath = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
    return new AtomicFile(path, tempPath, await open(tempPath, 'wx'));
  }

  /** Appends `bytes` to the temporary file, all of them. */
  async write(bytes: Uint8Array): Promise<void> {
    const handle = this.openHandle();
    for (let offset = 0; offset < bytes.length; ) {
      offset += (await handle.write(bytes, offset, bytes.length - offset)).bytesWritten;
    }
  }

  /** Fsyncs the data, renames it over the target and fsyncs the folder. On failure the temporary file is removed and the error thrown. */
  async commit(): Promise<void> {
    try {
      const handle = this.openHandle();
      await handle.sync();
      this.handle = undefined;
      await handle.close();
      await rename(this.tempPath, this.path);
    } catch (err) {
      await this.abort();
      throw err;
    }
    await syncFolder(dirname(this.path));
  }

  /** Gives up: closes and removes the temporary file. Never throws. */
  async abort(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => {});
    await unlink(this.tempPath).catch(() => {});
  }

  private openHandle(): FileHandle {
    if (!this.handle) throw new Error(`${this.path} was already committed or aborted`);
    return this.handle;
  }
}

/**
 * Replaces the file at `path` with `data` (a string is written as UTF-8)
 * atomically and durably: temporary file, fsync, rename, fsync of the folder.
 * The folder must exist. Throws the file system's error, leaving no temporary file.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const file = await AtomicFile.create(path);
  try {
    await file.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  } catch (err) {
    await file.abort();
    throw err;
  }
  await file.commit();
}

/** Fsyncs a folder so a rename in it survives a crash. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
