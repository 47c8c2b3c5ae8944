// Runs the `seqcast` command: in-process through src/cli/main.ts with collected output (most tests),
// or as the built command in a child process (the few tests of the real bin: its exit status, signals, pipes).

import { spawnSync, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A writable that keeps everything written to it, like a pipe to a reader that never stops reading. */
export class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** `seqcast <args…>` run in this process (main(argv, io)), its output collected; resolves when the command has finished. */
export async function runCli(args: string[]): Promise<Run> {
  const stdout = new Collector();
  const stderr = new Collector();
  const status = await main(args, { stdout, stderr });
  return { status, stdout: stdout.text, stderr: stderr.text };
}

/** `node bin/seqcast.js <args…>` (the built command, dist/), waited for; `timeout` in ms. */
export function runSeqcast(args: string[], timeout?: number): Run {
  const result = spawnSync(process.execPath, ['bin/seqcast.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Stops a child process that may still run (SIGTERM) and waits for it to exit; for afterAll hooks. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
