// A NAB bench worker thread: runs `seqcast detect` in-process on each file it is sent, and, when asked, the detector's variants.

import { parentPort } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { runDetect } from '../../src/cli/detect.js';
import { runVariants, type VariantScores } from './variants.js';

/** One file to score: `seqcast detect --input input --output output`. */
export interface DetectJob {
  input: string;
  output: string;
  /** Rows (or bytes): jobs go out largest first. */
  size: number;
  /** Also score the file with every ablation variant (bench/nab/variants.ts). */
  variants: boolean;
}

export interface DetectJobResult {
  /** Seconds the detect run took (reading, learning, scoring, writing). */
  seconds: number;
  /** Per variant name, its anomaly scores; absent unless asked. */
  variants?: VariantScores;
}

/** Discards what it is given: detect's stderr (no TTY, so no bar) and stdout (unused with --output). */
class Discard extends Writable {
  override _write(_chunk: unknown, _encoding: BufferEncoding, done: () => void): void {
    done();
  }
}

parentPort!.on('message', async ({ index, job }: { index: number; job: DetectJob }) => {
  const started = performance.now();
  const code = await runDetect({ input: job.input, output: job.output, io: { stdout: new Discard(), stderr: new Discard() } });
  if (code !== 0) throw new Error(`seqcast detect failed on ${job.input} (exit ${code})`);
  const seconds = (performance.now() - started) / 1000;
  const result: DetectJobResult = { seconds, variants: job.variants ? await runVariants(job.input) : undefined };
  parentPort!.postMessage({ index, result });
});
