// Runs jobs on worker threads (bench/nab/worker.ts), one file at a time per worker, longest first: both CPUs for the NAB bench.

import { Worker } from 'node:worker_threads';
import type { DetectJob, DetectJobResult } from './worker.js';

/**
 * A worker thread that runs TypeScript: it registers tsx's loader, then imports
 * bench/nab/worker.ts (Node 20 cannot start a worker on a .ts file directly).
 */
function startWorker(): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true });
}

/**
 * Runs every job on `workers` threads and resolves with the results in the
 * jobs' order. Jobs go out largest first (`size`), each to the next free worker.
 * `onDone` hears of each result as it comes.
 */
export async function runJobs(jobs: readonly DetectJob[], workers: number, onDone?: (result: DetectJobResult, done: number) => void): Promise<DetectJobResult[]> {
  const order = jobs.map((job, index) => ({ job, index })).sort((a, b) => b.job.size - a.job.size);
  const results: DetectJobResult[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  const threads = Array.from({ length: Math.max(1, Math.min(workers, jobs.length)) }, startWorker);
  try {
    await Promise.all(
      threads.map(
        (thread) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              if (next >= order.length) return resolve();
              thread.postMessage(order[next++]);
            };
            thread.on('message', ({ index, result }: { index: number; result: DetectJobResult }) => {
              results[index] = result;
              onDone?.(result, ++done);
              send();
            });
            thread.on('error', reject);
            thread.on('exit', (code) => (next < order.length || done < order.length ? reject(new Error(`a NAB worker exited (code ${code}) before its jobs were done`)) : resolve()));
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(threads.map((thread) => thread.terminate()));
  }
  return results;
}
