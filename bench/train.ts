// Training benchmark: the char-level LSTM of issue 4 on tiny shakespeare, with
// the same data path, task and kernel calls as `seqcast train` (src/train),
// against the PyTorch 1.13 reference figures given in the issue. Honest
// numbers only: what was not run is reported as not run, with how long it
// would take at the measured speed.
//
// Run: `npm run bench:train` (builds first) or `npx tsx bench/train.ts [flags]`.
//   --steps N         train exactly N steps (validation at every reference step count ≤ N)
//   --seconds S       speed measurement: S seconds of training steps (default 60)
//   --budget M        without --steps: go on to the reference step counts that fit in M minutes in all (default 10)
//   --data FILE       tiny shakespeare input.txt (default ../shared/datasets/tinyshakespeare/input.txt, then bench/data/tinyshakespeare.txt)
//   --no-write        print only; leave bench/RESULTS.md alone
// Writes its own section of bench/RESULTS.md (<!-- train:start --> … <!-- train:end -->) and bench/results-train.json.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createModel } from '../src/index.js';
import { readTextData } from '../src/train/data.js';
import { planText } from '../src/train/plan.js';
import { kernelInUse, machineInfo, wasmInfo } from './common.js';
import { writeResultsJson, writeResultsSection } from './report.js';
import { SMOKE } from './timing.js';

const SETUP = { embed: 64, hidden: 256, layers: 1, valSplit: 0.1, window: 64, batch: 32, lr: 2e-3, clip: 1.0, seed: 1337 };
/** PyTorch 1.13, one thread, OpenBLAS, on this machine (issue 4). */
const REFERENCE = { tokensPerSecond: 25_300, valLoss: new Map([[772, 1.697], [1545, 1.606], [2958, 1.547]]) };
const TARGET = { tokensPerSecond: 9_000, lossWithin: 0.02 };
const CHECKPOINTS = [...REFERENCE.valLoss.keys()];

const BENCH_DIR = new URL('./', import.meta.url);
const RESULTS_MD = new URL('RESULTS.md', BENCH_DIR);
const RESULTS_JSON = new URL('results-train.json', BENCH_DIR);
const SHARED = fileURLToPath(new URL('../../shared/datasets/tinyshakespeare/input.txt', BENCH_DIR));
const LOCAL = fileURLToPath(new URL('data/tinyshakespeare.txt', BENCH_DIR));

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function positiveFlag(name: string, fallback: number | undefined): number | undefined {
  const text = flag(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0)) throw new Error(`--${name} must be a number above 0, got ${text}`);
  return value;
}

function minutes(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const stepsFlag = positiveFlag('steps', undefined);
  const speedSeconds = positiveFlag('seconds', 60)!;
  const budgetSeconds = positiveFlag('budget', 10)! * 60;
  const write = !process.argv.includes('--no-write');
  const dataPath = flag('data') ?? (existsSync(SHARED) ? SHARED : LOCAL);
  if (!existsSync(dataPath)) {
    console.error(`tiny shakespeare not found: looked for ${SHARED} and ${LOCAL}; pass --data FILE (the 1,115,394-character input.txt of char-rnn)`);
    process.exitCode = 1;
    return;
  }
  const started = performance.now();
  const machine = machineInfo();
  const data = await readTextData(dataPath);
  const plan = planText(data, { shape: 'many-to-many', window: SETUP.window, batch: SETUP.batch, valSplit: SETUP.valSplit });
  const task = plan.task;
  const model = await createModel({ cell: 'lstm', vocabSize: data.vocab.length, embedSize: SETUP.embed, hiddenSize: SETUP.hidden, layers: SETUP.layers, seed: SETUP.seed });
  model.optimizer({ kind: 'adam', lr: SETUP.lr, clipNorm: SETUP.clip });
  const tokensPerStep = task.batch * task.window;
  console.log(`${data.ids.length.toLocaleString('en-US')} characters, vocabulary ${data.vocab.length}; ${model.describe()}`);
  console.log(`${plan.notes.slice(1).join('; ')}; ${task.stepsPerEpoch} steps per epoch of ${task.batch} × ${task.window}`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.map((l) => l.toFixed(2)).join(' / ')}`);

  let step = 0;
  let trainSeconds = 0;
  let epoch = 0;
  let k = task.stepsPerEpoch; // forces startEpoch on the first step
  const valLoss = new Map<number, { loss: number; seconds: number }>();
  let speed: { steps: number; seconds: number } | undefined;
  let target = stepsFlag ?? Infinity;
  let lastLoss = NaN;

  const validateNow = () => {
    const t0 = performance.now();
    const loss = task.validate(model);
    const seconds = (performance.now() - t0) / 1000;
    valLoss.set(step, { loss, seconds });
    const ref = REFERENCE.valLoss.get(step);
    console.log(`step ${fmt(step)}: validation loss ${loss.toFixed(4)}${ref ? ` (PyTorch ${ref}, ${(((loss - ref) / ref) * 100).toFixed(1)}%)` : ''}; validation took ${seconds.toFixed(1)} s`);
  };

  let lastPrint = performance.now();
  while (step < target) {
    if (k >= task.stepsPerEpoch) {
      task.startEpoch(() => 0); // truncated BPTT keeps the order; nothing to shuffle
      epoch++;
      k = 0;
    }
    const windows = task.windows(k);
    const t0 = performance.now();
    const result = model.trainBatch(windows, { loss: 'ce' });
    trainSeconds += (performance.now() - t0) / 1000;
    task.afterStep(result);
    lastLoss = result.loss;
    k++;
    step++;
    if (performance.now() - lastPrint > 15_000) {
      lastPrint = performance.now();
      console.log(`  step ${fmt(step)} (epoch ${epoch}): loss ${lastLoss.toFixed(3)}, ${fmt((step * tokensPerStep) / trainSeconds)} tokens/s`);
    }
    if (!speed && stepsFlag === undefined && trainSeconds >= speedSeconds) {
      speed = { steps: step, seconds: trainSeconds };
      // go on to the reference checkpoints that fit in the budget (a validation costs about 10% of an epoch's tokens, forward only)
      const perStep = trainSeconds / step;
      const validationGuess = (data.ids.length * SETUP.valSplit) / ((step * tokensPerStep) / trainSeconds) / 2.5;
      const spent = (performance.now() - started) / 1000;
      const fits = CHECKPOINTS.filter((c, i) => spent + (c - step) * perStep + (i + 1) * validationGuess <= budgetSeconds);
      target = fits.length ? fits[fits.length - 1] : step;
      console.log(`speed: ${fmt((step * tokensPerStep) / trainSeconds)} tokens/s over ${step} steps; ` + (fits.length ? `going on to step ${fmt(target)}` : `no reference step count fits the ${minutes(budgetSeconds)} budget; stopping`));
    }
    if (REFERENCE.valLoss.has(step)) validateNow();
  }
  speed ??= { steps: step, seconds: trainSeconds };
  const tokensPerSecond = (speed.steps * tokensPerStep) / speed.seconds;
  const overallTokensPerSecond = (step * tokensPerStep) / trainSeconds;
  const perStep = trainSeconds / step;
  const validationSeconds = valLoss.size ? [...valLoss.values()].reduce((a, v) => a + v.seconds, 0) / valLoss.size : NaN;
  const fullRun = CHECKPOINTS[CHECKPOINTS.length - 1] * perStep;
  const total = (performance.now() - started) / 1000;
  console.log(`\ntokens/s: seqcast ${fmt(overallTokensPerSecond)} over all ${step} steps${speed.steps < step ? ` (${fmt(tokensPerSecond)} over the first ${speed.steps})` : ''}, PyTorch ${fmt(REFERENCE.tokensPerSecond)}, target ≥ ${fmt(TARGET.tokensPerSecond)}`);
  console.log(`a full run to ${fmt(CHECKPOINTS[CHECKPOINTS.length - 1])} steps would take about ${minutes(fullRun)} of training at this speed (PyTorch: ${minutes((CHECKPOINTS[CHECKPOINTS.length - 1] * tokensPerStep) / REFERENCE.tokensPerSecond)})`);

  const rows = CHECKPOINTS.map((c) => {
    const ref = REFERENCE.valLoss.get(c)!;
    const mine = valLoss.get(c);
    if (!mine) return `| ${fmt(c)} | ${ref.toFixed(3)} | not run (≈ ${minutes(c * perStep)} of training at the measured speed) | | |`;
    const off = (mine.loss - ref) / ref;
    return `| ${fmt(c)} | ${ref.toFixed(3)} | **${mine.loss.toFixed(3)}** | ${off >= 0 ? '+' : ''}${(off * 100).toFixed(1)}% | ${Math.abs(off) <= TARGET.lossWithin || mine.loss < ref ? 'met' : 'not met'} |`;
  });
  const wasm = await wasmInfo(await kernelInUse());
  const command = `npx tsx bench/train.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const section = [
    '<!-- train:start -->',
    '## Training: char-level LSTM on tiny shakespeare',
    '',
    `Written by \`npm run bench:train\` (bench/train.ts; this run: \`${command}\`); raw numbers in bench/results-train.json.`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}`,
    `(load average at start ${machine.loadavg.map((l) => l.toFixed(2)).join(' / ')} on a machine shared with other work, so speeds vary between runs; kernel ${wasm.file} ${wasm.bytes} bytes, sha256 ${wasm.sha256.slice(0, 12)}, built ${wasm.mtime}).`,
    '',
    `Setup (issue 4): embedding ${SETUP.embed}, LSTM H=${SETUP.hidden}, ${SETUP.layers} layer, 90/10 split, sequence ${SETUP.window}, batch ${SETUP.batch}, Adam ${SETUP.lr}, clip ${SETUP.clip}, seed ${SETUP.seed}. ` +
      'The training text is cut into 32 contiguous rows; step k trains on chunk k of every row, from the state the previous chunk ended in (truncated BPTT), reset each epoch ' +
      `(${task.stepsPerEpoch} steps per epoch). Same code as \`seqcast train\` (src/train): the kernel's fused \`model.trainBatch\`, one thread, WebAssembly SIMD.`,
    'Validation loss: mean next-character cross-entropy (nats) over the last 10% cut the same way into 32 rows, state carried, forward only. The issue does not say exactly how the reference evaluated, so small differences in the protocol are possible.',
    'tokens/s = steps × 32 × 64 ÷ seconds inside the training steps (validation not counted).',
    '',
    '| | PyTorch 1.13 (reference) | seqcast | target |',
    '|---|---:|---:|---|',
    `| tokens/s | ${fmt(REFERENCE.tokensPerSecond)} | **${fmt(overallTokensPerSecond)}** (all ${fmt(step)} steps, ${trainSeconds.toFixed(0)} s in training steps` +
      (speed.steps < step ? `; the first ${speed.seconds.toFixed(0)} s: ${fmt(tokensPerSecond)}` : '') +
      `) | ≥ ${fmt(TARGET.tokensPerSecond)}: ${overallTokensPerSecond >= TARGET.tokensPerSecond ? 'met' : 'not met'} |`,
    '',
    '| steps | PyTorch val loss | seqcast val loss | difference | within 2% |',
    '|---:|---:|---:|---:|---|',
    ...rows,
    '',
    `At the measured speed (${(perStep * 1000).toFixed(0)} ms per step over this run) the full run to ${fmt(CHECKPOINTS[CHECKPOINTS.length - 1])} steps takes about ${minutes(fullRun)} of training` +
      (Number.isFinite(validationSeconds) ? ` plus ${validationSeconds.toFixed(0)} s per validation` : '') +
      `; PyTorch takes ${minutes((CHECKPOINTS[CHECKPOINTS.length - 1] * tokensPerStep) / REFERENCE.tokensPerSecond)}. Run it with \`npx tsx bench/train.ts --steps ${CHECKPOINTS[CHECKPOINTS.length - 1]}\`.`,
    `This run: ${fmt(step)} steps, last training loss ${lastLoss.toFixed(3)}, ${minutes(total)} in all.`,
    '<!-- train:end -->',
  ].join('\n');
  console.log(`\n${section}`);
  if (write) {
    await writeResultsSection(RESULTS_MD, '<!-- train:start -->', '<!-- train:end -->', section);
    await writeResultsJson(RESULTS_JSON, {
      machine, wasm, setup: SETUP, command, steps: step, epochs: epoch,
      speed: { steps: speed.steps, seconds: speed.seconds, tokensPerSecond }, overallTokensPerSecond,
      validation: Object.fromEntries([...valLoss].map(([s, v]) => [s, v])),
      reference: { tokensPerSecond: REFERENCE.tokensPerSecond, valLoss: Object.fromEntries(REFERENCE.valLoss) },
      lastTrainingLoss: lastLoss, seconds: total,
    });
    console.log(SMOKE ? 'smoke run: done, nothing written' : `wrote ${fileURLToPath(RESULTS_MD)} (train section) and ${fileURLToPath(RESULTS_JSON)}`);
  }
  model.close();
}

await main();
