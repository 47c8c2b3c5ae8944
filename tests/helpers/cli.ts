// Runs the built `seqcast` command as a child process, from the repository root.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/seqcast.js <args…>`, waited for; `timeout` in ms. */
export function runSeqcast(args: string[], timeout?: number): Run {
  const result = spawnSync(process.execPath, ['bin/seqcast.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
