// The cost of frames crossing between the socket thread and a worker thread: a batch of frames per event-loop turn,
// one message each way, as src/cluster/ does it. Measures the socket thread's busy time per frame
// (performance.eventLoopUtilization: the time its loop was not idle) for transferable ArrayBuffers and for
// structured-clone copies, at a few batch sizes. The worker only echoes (no model), so this is the crossing alone.
//
// Run: npx tsx bench/workers-crossing.ts  (prints a table; the numbers feed docs/workers.md and bench/RESULTS.md)

import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { loadavg } from 'node:os';

/** f64 slots per frame record: connection, stream, seq, t, receivedAt, flags, count, one value (see src/cluster/frames.ts). */
const FRAME_SLOTS = 8;
const TURNS = Number(process.env.CROSSING_TURNS ?? 2000);
const ROUNDS = Number(process.env.CROSSING_ROUNDS ?? 5);

const ECHO = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  if (m.transfer) parentPort.postMessage(m, [m.buffer]);
  else parentPort.postMessage(m);
});`;

async function run(worker: Worker, batch: number, transfer: boolean): Promise<number> {
  let done = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const onMessage = (m: { buffer: ArrayBuffer }) => {
      // read back what a socket thread reads: every record's header
      const view = new Float64Array(m.buffer);
      let sum = 0;
      for (let i = 0; i < view.length; i += FRAME_SLOTS) sum += view[i + 2];
      if (sum < 0) throw new Error('unreachable');
      if (++done === TURNS) {
        worker.off('message', onMessage);
        resolve();
        return;
      }
      send();
    };
    const send = () => {
      const view = new Float64Array(batch * FRAME_SLOTS);
      for (let f = 0; f < batch; f++) {
        const at = f * FRAME_SLOTS;
        view[at] = 1;
        view[at + 1] = f;
        view[at + 2] = done;
        view[at + 3] = NaN;
        view[at + 4] = t0;
        view[at + 6] = 1;
        view[at + 7] = Math.sin(f);
      }
      if (transfer) worker.postMessage({ buffer: view.buffer, transfer: true }, [view.buffer]);
      else worker.postMessage({ buffer: view.buffer, transfer: false });
    };
    worker.on('message', onMessage);
    send();
  });
  const elu = performance.eventLoopUtilization(elu0);
  return (elu.active * 1000) / (TURNS * batch);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const worker = new Worker(ECHO, { eval: true });
const rows: string[] = [];
const load = loadavg()[0].toFixed(1);
for (const batch of [1, 16, 256]) {
  const results: Record<string, number[]> = { transfer: [], copy: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // interleaved, so a noisy spell costs both alike
    results.transfer.push(await run(worker, batch, true));
    results.copy.push(await run(worker, batch, false));
  }
  for (const [how, xs] of Object.entries(results)) {
    rows.push(`| ${batch} | ${how} | ${median(xs).toFixed(3)} | ${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)} |`);
  }
}
await worker.terminate();
console.log(`load average at start ${load} (${TURNS} turns × ${ROUNDS} rounds each)`);
console.log('| frames per turn | how | socket-thread µs per frame (median) | spread |');
console.log('| ---: | --- | ---: | --- |');
for (const row of rows) console.log(row);
