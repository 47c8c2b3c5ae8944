// Online learning benchmark: next-step MSE on three NAB streams for three
// forecasters side by side (persistence, an LSTM trained offline on the first
// half, the online LSTM learning as it streams), and the online learner's cost
// per step. Run: `npm run bench:online` or `npx tsx bench/online.ts`.
// Writes the online section of bench/RESULTS.md.
//
// Recipe (issue 4): LSTM H=32; every 8 steps, truncated BPTT on the last 32;
// Adam 3e-3; clip 1.0; the model predicts the change x[t+1] − x[t]; running
// normalization. Errors are in original units over the last 50% of each series.

import { readFileSync } from 'node:fs';
import { createModel } from '../src/index.js';
import { fmtUs, machineInfo, nowNs } from './common.js';
import { writeResultsSection } from './report.js';

const FILES = ['nyc_taxi', 'machine_temperature_system_failure', 'ambient_temperature_system_failure'];
const DATA = new URL('../../shared/datasets/nab/', import.meta.url);
const FALLBACK = new URL('../tests/fixtures/nab/', import.meta.url);

function load(name: string): number[] {
  let text: string;
  try {
    text = readFileSync(new URL(`${name}.csv`, DATA), 'utf8');
  } catch {
    text = readFileSync(new URL(`${name}.csv`, FALLBACK), 'utf8');
  }
  return text.trim().split('\n').slice(1).map((line) => Number(line.split(',')[1]));
}

/** Online LSTM: MSE over the second half, persistence MSE, µs per observed frame. */
async function online(values: number[]) {
  const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 32, seed: 1 });
  const learner = model.openLearningStream();
  let mse = 0, persistence = 0, n = 0;
  const t0 = nowNs();
  values.forEach((v, i) => {
    const report = learner.observe([v]);
    if (i >= values.length / 2 && report.error !== undefined) {
      mse += report.error;
      persistence += report.persistenceError!;
      n++;
    }
  });
  const us = Number(nowNs() - t0) / 1e3 / values.length;
  return { mse: mse / n, persistence: persistence / n, us, stats: learner.stats };
}

/** An LSTM trained offline on the first half (delta targets, normalized), then run over the whole series. */
async function offline(values: number[]) {
  const half = Math.floor(values.length / 2);
  const train = values.slice(0, half);
  const mean = train.reduce((a, v) => a + v, 0) / train.length;
  const std = Math.sqrt(train.reduce((a, v) => a + (v - mean) ** 2, 0) / train.length) || 1;
  const z = values.map((v) => (v - mean) / std);
  const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 32, seed: 1 });
  model.optimizer({ kind: 'adam', lr: 3e-3, clipNorm: 1 });
  const T = 64, B = 16;
  const starts: number[] = [];
  for (let s = 0; s + T + 1 < half; s += T / 2) starts.push(s);
  let cursor = 0;
  const epochs = 3;
  for (let step = 0; step < (epochs * starts.length) / B; step++) {
    const windows = Array.from({ length: B }, () => {
      const s = starts[cursor++ % starts.length];
      return {
        inputs: z.slice(s, s + T).map((v) => [v]),
        targets: z.slice(s, s + T).map((v, i) => [z[s + i + 1] - v]),
      };
    });
    model.trainBatch(windows);
  }
  const stream = model.openStream();
  let mse = 0, n = 0;
  for (let i = 0; i + 1 < values.length; i++) {
    const delta = stream.step([z[i]])[0];
    if (i + 1 >= half) {
      mse += ((z[i] + delta) * std + mean - values[i + 1]) ** 2;
      n++;
    }
  }
  return { mse: mse / n };
}

async function main(): Promise<void> {
  const started = Date.now();
  const rows: string[] = [];
  for (const name of FILES) {
    const values = load(name);
    const on = await online(values);
    const off = await offline(values);
    rows.push(`| ${name} | ${values.length.toLocaleString('en-US')} | ${on.persistence.toPrecision(5)} | ${off.mse.toPrecision(5)} (${(off.mse / on.persistence).toFixed(2)}×) | **${on.mse.toPrecision(5)} (${(on.mse / on.persistence).toFixed(2)}×)** | ${fmtUs(on.us)} | ${on.stats.updates} / ${on.stats.skipped} / ${on.stats.rollbacks} |`);
    console.log(name, 'persistence', on.persistence, 'offline', off.mse, 'online', on.mse, 'ratio', (on.mse / on.persistence).toFixed(3), `${on.us.toFixed(1)} µs/step`);
  }
  const machine = machineInfo();
  const section = [
    '<!-- online:start -->',
    '## Online learning on NAB streams',
    '',
    'Written by `npm run bench:online` (bench/online.ts).',
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}.`,
    '',
    'Next-step MSE in original units over the last 50% of each series (ratio to persistence in brackets):',
    '',
    '- **persistence**: x̂[t+1] = x[t].',
    '- **offline LSTM**: H=32, trained on the first half only (3 epochs of windows of 64, batch 16, Adam 3e-3, clip 1, predicting the change), then run over the series without learning.',
    '- **online LSTM**: `model.openLearningStream()` defaults: H=32; every 8 frames truncated BPTT over the last 32, Adam 3e-3, clip 1, predicting the change, running normalization; learning from the first frame to the last.',
    '- µs / step: the online learner\'s whole cost per observed frame (step, scoring, and its share of training), one process.',
    '- PyTorch reference with the same recipe (issue 4): about 500 µs per step, and 0.50× / 1.03× / 0.96× persistence on nyc_taxi / machine temperature / ambient temperature.',
    '',
    '| series | frames | persistence MSE | offline LSTM | online LSTM | online µs / step | updates / skipped / rollbacks |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Whole run: ${((Date.now() - started) / 1000).toFixed(1)} s.`,
    '<!-- online:end -->',
  ].join('\n');
  await writeResultsSection(new URL('RESULTS.md', import.meta.url), '<!-- online:start -->', '<!-- online:end -->', section);
  console.log(section);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
