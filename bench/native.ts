// The native C reference of issue 16 (bench/native/matmul.c): compiles it with gcc -O3 -march=native -ffast-math
// into a temporary directory and times its single-stream and register-tiled 64-stream gate products, one repeat per
// call, so a bench can interleave them with its own cases. The C program times itself (clock_gettime around its
// loop), so the process start is not in the numbers.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The C kernel's two products: `single` B = 1, `tiled` B = 64. */
export type NativeMode = 'single' | 'tiled';

/** A compiled matmul.c. */
export interface NativeProduct {
  /** The compiler and its flags, for the report. */
  compiler: string;
  /** Nanoseconds per call of one repeat of `calls` calls (after `calls` warm-up calls in the same process). */
  nsPerCall(mode: NativeMode, hidden: number, input: number, calls: number): number;
}

const SOURCE = fileURLToPath(new URL('native/matmul.c', import.meta.url));
const FLAGS = ['-O3', '-march=native', '-ffast-math'];

/** Compiles bench/native/matmul.c with gcc; throws with gcc's output if that fails. */
export function compileNative(): NativeProduct {
  const binary = join(mkdtempSync(join(tmpdir(), 'seqcast-native-')), 'matmul');
  execFileSync('gcc', [...FLAGS, '-o', binary, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  const version = execFileSync('gcc', ['-dumpfullversion'], { encoding: 'utf8' }).trim();
  return {
    compiler: `gcc ${version} ${FLAGS.join(' ')}`,
    nsPerCall(mode, hidden, input, calls) {
      const run = spawnSync(binary, [mode, String(hidden), String(input), String(calls), '1'], { encoding: 'utf8' });
      const ns = Number.parseFloat(run.stdout);
      if (run.status !== 0 || !Number.isFinite(ns)) throw new Error(`bench/native: ${binary} ${mode} failed (status ${run.status}): ${run.stderr}`);
      return ns;
    },
  };
}
