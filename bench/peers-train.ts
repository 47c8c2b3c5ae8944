// W4: BPTT training throughput of the char-level LSTM of the training issue
// (embedding 64, LSTM H=256, head to the vocabulary, sequence 64, batch 32,
// Adam 2e-3), seqcast's fused trainBatch against TensorFlow.js `fit` (cpu and
// wasm backends), in one process. Run: `npx tsx bench/peers-train.ts` (part of
// `npm run bench`). Writes the w4 section of bench/RESULTS.md.
//
// Tokens per second = batch · sequence / seconds per optimizer step (median).
// tfjs has no gradient-norm clipping in its optimizers, so it trains without;
// seqcast clips at 1.0 as the recipe says (a negligible cost).

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createModel } from '../src/index.js';
import { machineInfo, nowNs } from './common.js';
import { writeResultsSection } from './report.js';
import { spread } from './timing.js';

const V = 65, E = 64, H = 256, T = 64, B = 32;
const SECONDS_PER_LIBRARY = Number(process.env.W4_SECONDS ?? 10);

function batch(seed: number): { inputs: number[][]; targets: number[][] } {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) % V;
  const inputs = Array.from({ length: B }, () => Array.from({ length: T + 1 }, next));
  return { inputs: inputs.map((r) => r.slice(0, T)), targets: inputs.map((r) => r.slice(1)) };
}

/** Median seconds per step over steps run for about `budget` seconds (at least 3). */
async function timeSteps(step: () => Promise<number> | number, budget: number): Promise<{ seconds: number; steps: number; loss: number }> {
  await step(); // warm-up / compile
  const samples: number[] = [];
  let loss = NaN;
  const start = nowNs();
  while (samples.length < 3 || (Number(nowNs() - start) / 1e9 < budget && samples.length < 50)) {
    const t0 = nowNs();
    loss = await step();
    samples.push(Number(nowNs() - t0) / 1e9);
  }
  return { seconds: spread(samples).median, steps: samples.length, loss };
}

async function seqcast() {
  const model = await createModel({ cell: 'lstm', vocabSize: V, embedSize: E, hiddenSize: H, seed: 1337 });
  model.optimizer({ kind: 'adam', lr: 2e-3, clipNorm: 1 });
  const data = batch(1);
  const windows = data.inputs.map((inputs, b) => ({ inputs, targets: data.targets[b] }));
  return timeSteps(() => model.trainBatch(windows, { loss: 'ce' }).loss, SECONDS_PER_LIBRARY);
}

async function tfjs(backend: 'cpu' | 'wasm') {
  if (backend === 'wasm') setWasmPaths(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname);
  await tf.setBackend(backend);
  await tf.ready();
  tf.enableProdMode();
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: V, outputDim: E, inputLength: T }),
      tf.layers.lstm({ units: H, returnSequences: true, kernelInitializer: 'glorotNormal', recurrentInitializer: 'glorotNormal' }),
      tf.layers.dense({ units: V, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'sparseCategoricalCrossentropy' });
  const data = batch(1);
  const x = tf.tensor2d(data.inputs, [B, T], 'int32');
  const y = tf.tensor3d(data.targets.map((r) => r.map((v) => [v])), [B, T, 1], 'float32');
  const result = await timeSteps(async () => {
    const h = await model.fit(x, y, { batchSize: B, epochs: 1, verbose: 0, shuffle: false });
    return h.history.loss[0] as number;
  }, SECONDS_PER_LIBRARY);
  x.dispose(); y.dispose(); model.dispose();
  return result;
}

async function main(): Promise<void> {
  const started = Date.now();
  const rows: { library: string; version: string; backend: string; seconds: number; steps: number; note: string }[] = [];
  const ours = await seqcast();
  rows.push({ library: 'seqcast', version: '0.1.0', backend: 'wasm SIMD kernel, fused trainBatch', ...ours, note: '' });
  console.log('seqcast', ours);
  for (const backend of ['cpu', 'wasm'] as const) {
    try {
      const theirs = await tfjs(backend);
      rows.push({ library: '@tensorflow/tfjs', version: tf.version.tfjs, backend: `${backend}, model.fit`, ...theirs, note: '' });
      console.log('tfjs', backend, theirs);
    } catch (err) {
      rows.push({ library: '@tensorflow/tfjs', version: tf.version.tfjs, backend: `${backend}, model.fit`, seconds: NaN, steps: 0, note: `could not train: ${(err as Error).message.split('\n')[0]}` });
      console.log('tfjs', backend, 'failed', err);
    }
  }
  const tokens = B * T;
  const machine = machineInfo();
  const table = rows.map((r) => {
    const rate = Number.isFinite(r.seconds) ? tokens / r.seconds : NaN;
    const ratio = Number.isFinite(r.seconds) ? (r.seconds / ours.seconds).toFixed(1) + '×' : '—';
    return `| ${r.library} | ${r.version} | ${r.backend} | ${Number.isFinite(r.seconds) ? (r.seconds * 1000).toFixed(0) : '—'} | ${Number.isFinite(rate) ? Math.round(rate).toLocaleString('en-US') : '—'} | ${r.library === 'seqcast' ? '1×' : ratio} | ${r.steps} | ${r.note} |`;
  });
  const section = [
    '<!-- w4:start -->',
    '## W4: training throughput, char-level LSTM',
    '',
    'Written by `npx tsx bench/peers-train.ts` (part of `npm run bench`).',
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}.`,
    '',
    `Model: embedding ${E} → LSTM H=${H} → dense ${V} (softmax cross-entropy); batch ${B} × sequence ${T} = ${tokens.toLocaleString('en-US')} tokens per optimizer step; Adam 2e-3 (seqcast also clips the gradient norm at 1.0; tfjs optimizers cannot). Each library trains on the same random token batch for about ${SECONDS_PER_LIBRARY} s after a warm-up step; median time per step. PyTorch 1.13 (OpenBLAS, one thread) measured 25,300 tokens/s for this setup on the reference machine (issue 4).`,
    '',
    '| library | version | backend | ms / step | tokens / s | seqcast speed-up | steps timed | note |',
    '|---|---|---|---:|---:|---:|---:|---|',
    ...table,
    '',
    `Whole run: ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    '<!-- w4:end -->',
  ].join('\n');
  await writeResultsSection(new URL('RESULTS.md', import.meta.url), '<!-- w4:start -->', '<!-- w4:end -->', section);
  console.log(section);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
