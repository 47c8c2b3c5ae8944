// Kernel benchmark: seqcast against a plain TypeScript LSTM (bench/naive-lstm.ts)
// on the shared benchmark models (bench/models, = /work/shared/bench), in one
// process, side by side. Run: `npm run bench:kernel` (builds first) or
// `npx tsx bench/kernel.ts`. Writes the kernel section of bench/RESULTS.md and
// bench/results-kernel.json, and prints the tables. No timing assertions: the
// targets are reported as met / not met. Settings in bench/kernel-config.ts,
// tables and section in bench/kernel-report.ts, timing in bench/timing.ts.
//
// W1: one stream, one step per call, state carried; H = 32, 128, 512.
// W2: 64 streams stepped together (one stepBatch call), H = 128.
// Per stream-step FLOPs = 8·H·(X+H) + 2·O·H (the matrix products only).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadModel, type Model, type Stream } from '../src/index.js';
import { diagnosticKernel } from '../src/kernel/diagnostics.js';
import { lstmWeights, NaiveLstm, NaiveLstmBatch, type LstmWeights } from './naive-lstm.js';
import {
  kernelInUse, machineInfo, maxDiff, nowNs, randomFrames as randomFramesOf, wasmInfo as wasmInfoOf, type Machine,
} from './common.js';
import { writeResultsJson, writeResultsSection } from './report.js';
import { SMOKE, timeCases, type TimingOptions } from './timing.js';
import {
  AGREE_STEPS, AGREE_TOL, flopsPerStreamStep, O, REPEAT_TARGET_MS, REPEATS, SECTION_END, SECTION_START, SIZES, W2_HIDDEN, W2_STREAMS,
  WARMUP_MIN_CALLS, WARMUP_MS, X, type Agreement, type Case, type Measured,
} from './kernel-config.js';
import { resultsTable, section, targetsFrom, targetsTable } from './kernel-report.js';

const BENCH_DIR = new URL('./', import.meta.url);
const MODELS_DIR = new URL('models/', BENCH_DIR);
const RESULTS_MD = new URL('RESULTS.md', BENCH_DIR);
const RESULTS_JSON = new URL('results-kernel.json', BENCH_DIR);
class BenchAbort extends Error {}

// ---------------------------------------------------------------- inputs

function randomFrames(count: number, seed: number): Float32Array[] {
  return randomFramesOf(count, seed, X);
}

// ---------------------------------------------------------------- agreement

interface CheckFile {
  x: number[];
  y: number[];
  h: number[];
}

function ensure(ok: boolean, message: string): void {
  if (!ok) throw new BenchAbort(message);
}

function expectAgree(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, worst: { value: number }): void {
  const { diff, at } = maxDiff(actual, expected);
  worst.value = Math.max(worst.value, diff);
  ensure(diff <= AGREE_TOL, `${what}: element ${at} is ${actual[at]} vs ${expected[at]} (|diff| ${diff.toExponential(2)} > ${AGREE_TOL})`);
}

/** seqcast vs PyTorch (check.json, one step from zero) and vs the naive LSTM (50 random steps, y, h and c). */
function checkAgreement(H: number, model: Model, weights: LstmWeights, check: CheckFile): Agreement {
  const ref = { value: 0 }, naiveRef = { value: 0 }, pair = { value: 0 };
  const probe = model.openStream({ name: `check-h${H}` });
  const naive = new NaiveLstm(weights);
  try {
    expectAgree(`H=${H} seqcast vs check.json y`, probe.step(check.x), check.y, ref);
    expectAgree(`H=${H} seqcast vs check.json h`, probe.state().h, check.h, ref);
    expectAgree(`H=${H} naive vs check.json y`, naive.step(check.x), check.y, naiveRef);
    expectAgree(`H=${H} naive vs check.json h`, naive.h, check.h, naiveRef);

    probe.reset();
    naive.setState();
    const frames = randomFrames(AGREE_STEPS, 1000 + H);
    for (let t = 0; t < AGREE_STEPS; t++) {
      const y = probe.step(frames[t]);
      const yNaive = naive.step(frames[t]);
      const state = probe.state();
      expectAgree(`H=${H} step ${t} seqcast vs naive y`, y, yNaive, pair);
      expectAgree(`H=${H} step ${t} seqcast vs naive h`, state.h, naive.h, pair);
      expectAgree(`H=${H} step ${t} seqcast vs naive c`, state.c!, naive.c, pair);
    }
  } finally {
    probe.close();
  }
  return { hidden: H, checkJsonSeqcastMaxAbs: ref.value, checkJsonNaiveMaxAbs: naiveRef.value, stepsCompared: AGREE_STEPS, seqcastVsNaiveMaxAbs: pair.value };
}

/** stepBatch over 64 streams vs the naive batched loop, 10 steps of distinct inputs per stream. */
function checkBatchAgreement(model: Model, weights: LstmWeights): number {
  const worst = { value: 0 };
  const streams = Array.from({ length: W2_STREAMS }, (_, b) => model.openStream({ name: `check-batch-${b}` }));
  const naive = new NaiveLstmBatch(weights, W2_STREAMS);
  try {
    for (let t = 0; t < 10; t++) {
      const frames = randomFrames(W2_STREAMS, 5000 + t);
      const ys = model.stepBatch(streams, frames);
      const yNaive = naive.step(frames);
      for (let b = 0; b < W2_STREAMS; b++) expectAgree(`W2 step ${t} stream ${b} stepBatch vs naive y`, ys[b], yNaive[b], worst);
    }
  } finally {
    for (const s of streams) s.close();
  }
  return worst.value;
}

// ---------------------------------------------------------------- timing

/** Sum of outputs, so no step can be optimised away. */
let sink = 0;

const TIMING: TimingOptions = { repeats: REPEATS, repeatTargetMs: REPEAT_TARGET_MS, warmupMs: WARMUP_MS, warmupMinCalls: WARMUP_MIN_CALLS };

/** Times the cases with the shared harness (bench/timing.ts), interleaved, and adds the GFLOP/s. */
async function measure(cases: Case[]): Promise<Measured[]> {
  const timings = await timeCases(cases.map((c) => ({ run: c.run, streamStepsPerCall: c.streams })), TIMING);
  return cases.map((c, i) => ({ ...c, ...timings[i], gflops: flopsPerStreamStep(c.hidden) / (timings[i].medianUs * 1e3) }));
}

function w1Cases(H: number, model: Model, weights: LstmWeights): Case[] {
  const frames = randomFrames(256, 42 + H);
  const mask = frames.length - 1;
  const stream: Stream = model.openStream({ name: `bench-h${H}` });
  const rawStream: Stream = model.openStream({ name: `bench-raw-h${H}` });
  const kernel = model.kernel;
  const rawSlot = rawStream.slot;
  const inAt = kernel.inputOffset(0), outAt = kernel.outputOffset(0);
  const naive = new NaiveLstm(weights);
  const base = { workload: 'W1' as const, hidden: H, streams: 1 };
  return [
    {
      ...base, impl: 'seqcast', label: 'seqcast `stream.step(x)`',
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += stream.step(frames[i & mask])[0];
        sink += s;
      },
    },
    {
      ...base, impl: 'seqcast-raw', label: 'seqcast raw kernel call (extra: `kernel.step(1)`, no API checks or copies)',
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          kernel.setSlot(0, rawSlot);
          kernel.f32.set(frames[i & mask], inAt);
          kernel.step(1);
          s += kernel.f32[outAt];
        }
        sink += s;
      },
    },
    {
      ...base, impl: 'naive', label: 'naive TypeScript `NaiveLstm.step(x)`',
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += naive.step(frames[i & mask])[0];
        sink += s;
      },
    },
  ];
}

function w2Cases(model: Model, weights: LstmWeights): Case[] {
  const H = W2_HIDDEN, B = W2_STREAMS;
  const batches = Array.from({ length: 16 }, (_, t) => randomFrames(B, 7000 + t));
  const mask = batches.length - 1;
  const streams = Array.from({ length: B }, (_, b) => model.openStream({ name: `bench-batch-${b}` }));
  const rawSlots = Array.from({ length: B }, (_, b) => model.openStream({ name: `bench-raw-batch-${b}` }).slot);
  const kernel = model.kernel;
  const inAt = Array.from({ length: B }, (_, b) => kernel.inputOffset(b));
  const outAt = kernel.outputOffset(0);
  const naive = new NaiveLstmBatch(weights, B);
  const base = { workload: 'W2' as const, hidden: H, streams: B };
  return [
    {
      ...base, impl: 'seqcast', label: 'seqcast `model.stepBatch(streams, frames)`',
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += model.stepBatch(streams, batches[i & mask])[0][0];
        sink += s;
      },
    },
    {
      ...base, impl: 'seqcast-raw', label: `seqcast raw kernel call (extra: \`kernel.step(${B})\`, no API checks or copies)`,
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const frames = batches[i & mask];
          const f32 = kernel.f32;
          for (let b = 0; b < B; b++) {
            kernel.setSlot(b, rawSlots[b]);
            f32.set(frames[b], inAt[b]);
          }
          kernel.step(B);
          s += kernel.f32[outAt];
        }
        sink += s;
      },
    },
    {
      ...base, impl: 'naive', label: 'naive TypeScript `NaiveLstmBatch.step(frames)` (loop over streams)',
      run: (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += naive.step(batches[i & mask])[0][0];
        sink += s;
      },
    },
  ];
}

/**
 * The arithmetic ceiling on this machine: debugPeak (the diagnostics build, src/kernel/diagnostics.ts) runs 12
 * independent f32x4 multiply-then-add chains with no memory traffic (fixed-width WebAssembly SIMD has no FMA).
 * Median GFLOP/s over 7 runs of about 0.1 s.
 */
async function measurePeak(): Promise<number> {
  const peak = (await diagnosticKernel('baseline')).debugPeak;
  peak(2_000_000);
  const samples: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = nowNs();
    peak(5_000_000);
    samples.push((5_000_000 * 192) / Number(nowNs() - t0));
  }
  samples.sort((a, b) => a - b);
  return samples[3];
}

async function writeResultsMd(sectionText: string): Promise<void> {
  await writeResultsSection(RESULTS_MD, SECTION_START, SECTION_END, sectionText);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const began = nowNs();
  const machine: Machine = machineInfo();
  const wasm = await wasmInfoOf(await kernelInUse());
  console.log(`seqcast kernel benchmark — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}`);

  const models = new Map<number, { model: Model; weights: LstmWeights }>();
  const agreement: Agreement[] = [];
  for (const H of SIZES) {
    const path = fileURLToPath(new URL(`lstm_h${H}.safetensors`, MODELS_DIR));
    const model = await loadModel(path);
    const { arch } = model;
    ensure(arch.cell === 'lstm' && arch.layers === 1 && arch.inputSize === X && arch.hiddenSize === H && model.outputSize === O,
      `${path} is ${model.describe()}, expected a 1-layer lstm with input ${X}, hidden ${H}, head ${O}`);
    const weights = lstmWeights((name) => model.getParameter(name));
    const check = JSON.parse(await readFile(new URL(`lstm_h${H}.check.json`, MODELS_DIR), 'utf8')) as CheckFile;
    agreement.push(checkAgreement(H, model, weights, check));
    models.set(H, { model, weights });
  }
  const w2 = models.get(W2_HIDDEN)!;
  const batchDiff = checkBatchAgreement(w2.model, w2.weights);
  console.log(`agreement ok: seqcast vs check.json and vs naive within ${AGREE_TOL} at H = ${SIZES.join(', ')}; stepBatch vs naive batch within ${AGREE_TOL}`);

  const results: Measured[] = [];
  for (const H of SIZES) {
    const { model, weights } = models.get(H)!;
    console.log(`timing W1 H=${H} ...`);
    results.push(...(await measure(w1Cases(H, model, weights))));
  }
  console.log(`timing W2 ${W2_STREAMS} streams H=${W2_HIDDEN} ...`);
  results.push(...(await measure(w2Cases(w2.model, w2.weights))));
  for (const r of results) {
    const naive = results.find((n) => n.workload === r.workload && n.hidden === r.hidden && n.impl === 'naive')!;
    r.speedupVsNaive = naive.medianUs / r.medianUs;
  }
  if (!Number.isFinite(sink)) console.warn(`warning: the outputs summed during timing are not finite (${sink})`);

  const targets = targetsFrom(results);
  const seconds = Number(nowNs() - began) / 1e9;
  const peak = await measurePeak();
  console.log(`ceiling: ${peak.toFixed(1)} GFLOP/s (f32x4 mul+add, no memory traffic)`);
  const text = section(machine, wasm, results, targets, agreement, batchDiff, seconds, peak);
  await writeResultsMd(text);
  await writeResultsJson(RESULTS_JSON, {
    benchmark: 'kernel',
    machine,
    kernel: wasm,
    config: { inputSize: X, outputSize: O, sizes: SIZES, w2: { hidden: W2_HIDDEN, streams: W2_STREAMS }, repeats: REPEATS, repeatTargetMs: REPEAT_TARGET_MS, warmupMs: WARMUP_MS, agreementTolerance: AGREE_TOL },
    flopsFormula: 'per stream-step FLOPs = 8*H*(X+H) + 2*O*H (matrix products only; nonlinearities not counted)',
    agreement: { perSize: agreement, w2StepBatchVsNaiveMaxAbs: batchDiff },
    ceilingGflops: peak,
    results: results.map(({ run: _run, ...r }) => ({ ...r, flopsPerStreamStep: flopsPerStreamStep(r.hidden), streamStepsPerRepeat: r.callsPerRepeat * r.streams })),
    targets,
    seconds,
  });

  console.log('');
  console.log(resultsTable(results));
  console.log('');
  console.log(targetsTable(targets));
  console.log('');
  console.log(SMOKE ? 'smoke run: done, nothing written' : `wrote ${fileURLToPath(RESULTS_MD)} (kernel section) and ${fileURLToPath(RESULTS_JSON)} in ${seconds.toFixed(1)} s`);
  for (const { model } of models.values()) model.close();
}

main().catch((err: unknown) => {
  if (err instanceof BenchAbort) {
    console.error(`bench:kernel aborted before timing — seqcast and the reference disagree: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exitCode = 1;
});
