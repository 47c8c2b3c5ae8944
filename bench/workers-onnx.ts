// The library's worker pool (seqcast/cluster's StepPool, 2 workers) against onnxruntime-node with 2 intra-op
// threads, same weights (bench/models/lstm_hH.safetensors and its ONNX export bench/onnx/lstm_hH.onnx, X=8, O=8),
// same inputs, same run: W2 (64 streams, H=128) and 1,024 streams at H=32 (the demo's hidden size). Also one seqcast
// thread (model.stepBatch) and onnxruntime-node on 1 thread, for scale. Stream-steps/s and GFLOP/s; rounds
// interleaved (every implementation once per round), medians and spread, the load average beside them.
// Writes its section of bench/RESULTS.md (between <!-- workers-onnx:start --> and <!-- workers-onnx:end -->).
//
// Run: npm run build --silent && npx tsx bench/workers-onnx.ts   (the pool runs dist/cluster/step-worker.js)

import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { StepPool } from '../src/cluster/step-pool.js';
import { loadModel, type Model } from '../src/index.js';
import { lstmFlopsPerStreamStep, maxDiff, randomFrames } from './common.js';
import { loadBenchModel, O, X } from './peers/setup.js';
import { writeResultsSection } from './report.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 700);
const CASES = [
  { name: 'W2', hidden: 128, streams: 64 },
  { name: '1,024 streams', hidden: 32, streams: 1024 },
];
const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);

interface Runner {
  id: string;
  /** One step of every stream; the first stream's first output (kept, so nothing is optimized away). */
  step(inputs: Float32Array[], flat: Float32Array): Promise<number> | number;
  /** The outputs of the last step, stream by stream. */
  last(): Float32Array[];
  close(): Promise<void> | void;
}

async function seqcastThread(path: string, streams: number): Promise<Runner> {
  const model = await loadModel(path, { batchCapacity: streams });
  const opened = Array.from({ length: streams }, () => model.openStream());
  let out: Float32Array[] = [];
  return {
    id: 'seqcast, one thread (model.stepBatch)',
    step: (inputs) => (out = model.stepBatch(opened, inputs))[0][0],
    last: () => out,
    close: () => model.close(),
  };
}

async function seqcastPool(path: string, streams: number, workers: number): Promise<{ runner: Runner; model: Model }> {
  const model = await loadModel(path, { batchCapacity: Math.ceil(streams / workers) });
  const pool = await StepPool.start(model, { workers });
  const opened = pool.open(streams);
  let out: Float32Array[] = [];
  return {
    model,
    runner: {
      id: `seqcast StepPool, ${workers} workers (seqcast/cluster)`,
      step: async (inputs) => (out = await pool.stepBatch(opened, inputs))[0][0],
      last: () => out,
      close: async () => {
        await pool.close();
        model.close();
      },
    },
  };
}

async function onnx(path: string, hidden: number, streams: number, threads: number): Promise<Runner> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const zeros = new ort.Tensor('float32', new Float32Array(streams * hidden), [1, streams, hidden]);
  let h: ort.Tensor = zeros;
  let c: ort.Tensor = zeros;
  let y: Float32Array = new Float32Array(0);
  return {
    id: `onnxruntime-node ${ort.env.versions?.common ?? ''}, ${threads} intra-op thread${threads === 1 ? '' : 's'}`.replace('  ', ' '),
    step: async (_inputs, flat) => {
      const out = await session.run({ x: new ort.Tensor('float32', flat, [1, streams, X]), h0: h, c0: c });
      h = out.hn as ort.Tensor;
      c = out.cn as ort.Tensor;
      y = out.y.data as Float32Array;
      return y[0];
    },
    last: () => Array.from({ length: streams }, (_, b) => y.subarray(b * O, (b + 1) * O)),
    close: () => session.release(),
  };
}

/** Steps per second of `runner` over about ROUND_MS, stepping frame after frame of `frames`. */
async function timed(runner: Runner, frames: { rows: Float32Array[]; flat: Float32Array }[]): Promise<number> {
  let steps = 0;
  let sink = 0;
  const started = performance.now();
  while (performance.now() - started < ROUND_MS) {
    const f = frames[steps % frames.length];
    sink += await runner.step(f.rows, f.flat);
    steps++;
  }
  if (Number.isNaN(sink)) process.stdout.write(''); // keeps sink alive
  return (steps * 1000) / (performance.now() - started);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const loadBefore = loadavg();
const sections: string[] = [];
for (const { name, hidden, streams } of CASES) {
  const bench = await loadBenchModel(hidden);
  // a few distinct frames of every stream, cycled
  const frames = Array.from({ length: 8 }, (_, k) => {
    const rows = randomFrames(streams, 100 + k, X);
    const flat = new Float32Array(streams * X);
    rows.forEach((r, b) => flat.set(r, b * X));
    return { rows, flat };
  });
  const pooled = await seqcastPool(bench.safetensorsPath, streams, 2);
  const runners = [pooled.runner, await onnx(bench.onnxPath, hidden, streams, 2), await seqcastThread(bench.safetensorsPath, streams), await onnx(bench.onnxPath, hidden, streams, 1)];
  // agreement first: one step from zero state on the same inputs, every stream's outputs
  const outputs: Float32Array[][] = [];
  for (const r of runners) {
    await r.step(frames[0].rows, frames[0].flat);
    outputs.push(r.last().map((row) => Float32Array.from(row)));
  }
  const agree = outputs.map((o) => Math.max(...o.map((row, b) => maxDiff(row, outputs[0][b]).diff)));
  const rates: number[][] = runners.map(() => []);
  const loads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // every implementation once per round, the order turned each round: all meet the same spells of the machine
    for (let k = 0; k < runners.length; k++) {
      const i = (k + round) % runners.length;
      rates[i].push(await timed(runners[i], frames));
    }
    loads.push(loadavg()[0]);
  }
  const flopsPerStep = lstmFlopsPerStreamStep(hidden, X, O) * streams;
  const rows = runners.map((r, i) => {
    const m = median(rates[i]);
    return `| ${r.id} | ${fmt(m * streams)} (${fmt(Math.min(...rates[i]) * streams)}–${fmt(Math.max(...rates[i]) * streams)}) | ${((m * flopsPerStep) / 1e9).toFixed(1)} | ${(m / median(rates[1])).toFixed(2)}× | ${agree[i].toExponential(1)} |`;
  });
  for (const [i, r] of runners.entries()) process.stdout.write(`${name}: ${r.id}: ${fmt(median(rates[i]) * streams)} stream-steps/s, agreement ${agree[i].toExponential(1)}\n`);
  sections.push(`**${name}** (H=${hidden}, X=${X}, O=${O}, ${fmt(streams)} streams stepped together per call; load average over the rounds ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}):

| implementation | stream-steps/s, median (min–max) | GFLOP/s | vs onnxruntime-node, 2 threads | max abs diff from the pool |
|---|---:|---:|---:|---:|
${rows.join('\n')}

The pool at ${(median(rates[0]) / median(rates[3])).toFixed(2)}× onnxruntime-node's one thread; onnxruntime-node on 2 threads at ${(median(rates[1]) / median(rates[3])).toFixed(2)}× its own one thread${median(rates[1]) < median(rates[3]) ? ' (below 1: in this run a second core was not there to be had, for either library)' : ''}; the pool at ${(median(rates[0]) / median(rates[2])).toFixed(2)}× seqcast's one thread.`);
  for (const r of runners) await r.close();
}
const loadAfter = loadavg();

const text = `<!-- workers-onnx:start -->
## Workers: the library's pool against onnxruntime-node on 2 threads

Written by \`npx tsx bench/workers-onnx.ts\` (after \`npm run build\`): \`StepPool\` from \`seqcast/cluster\` with 2 workers (each with its own copy of the weights and half the streams, stepping its half at once) against onnxruntime-node with \`intraOpNumThreads: 2\`, on the same weights (bench/models/lstm_hH.safetensors and its ONNX export bench/onnx/lstm_hH.onnx) and the same inputs, state carried (ONNX: \`hn\`/\`cn\` fed back). One seqcast thread and onnxruntime-node on one thread are beside them for scale. The 1,024-stream case takes the demo's hidden size (H=32) on the bench model's X=8, O=8 (the demo's own models are X=1 and X=4). ${ROUNDS} rounds of ~${ROUND_MS} ms per implementation, interleaved; medians, (min–max).

Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString()}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} at the start and ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} at the end: other sessions' work shared the 2 cores, so two threads of either library rarely had two cores to themselves. Read the ratios of one round, not the digits.

${sections.join('\n\n')}
<!-- workers-onnx:end -->`;
await writeResultsSection(RESULTS_MD, '<!-- workers-onnx:start -->', '<!-- workers-onnx:end -->', text);
process.stdout.write('\nwrote the workers-onnx section of bench/RESULTS.md\n');
process.exit(0);
