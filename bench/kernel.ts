// Kernel benchmark: seqcast against a plain TypeScript LSTM (bench/naive-lstm.ts)
// on the shared benchmark models (bench/models, = /work/shared/bench), in one
// process, side by side. Run: `npm run bench:kernel` (builds first) or
// `npx tsx bench/kernel.ts`. Writes the kernel section of bench/RESULTS.md and
// bench/results-kernel.json, and prints the tables. No timing assertions: the
// targets are reported as met / not met.
//
// W1: one stream, one step per call, state carried; H = 32, 128, 512.
// W2: 64 streams stepped together (one stepBatch call), H = 128.
// Per stream-step FLOPs = 8·H·(X+H) + 2·O·H (the matrix products only).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadModel, type Model, type Stream } from '../src/index.js';
import { lstmWeights, NaiveLstm, NaiveLstmBatch, type LstmWeights } from './naive-lstm.js';
import {
  fmtGflops, fmtRate, fmtUs, lstmFlopsPerStreamStep, machineInfo, maxDiff, nowNs,
  kernelInUse, randomFrames as randomFramesOf, wasmInfo as wasmInfoOf, type Machine, type WasmInfo,
} from './common.js';
import { writeResultsJson, writeResultsSection } from './report.js';
import { SMOKE, timeCases, type Timing, type TimingOptions } from './timing.js';

const X = 8; // frame width
const O = 8; // head outputs
const SIZES = [32, 128, 512];
const W2_HIDDEN = 128;
const W2_STREAMS = 64;
const REPEATS = 15;
const REPEAT_TARGET_MS = 60; // each repeat is sized to take about this long
const WARMUP_MS = 400; // per implementation and workload, before calibration
const WARMUP_MIN_CALLS = 200;
const AGREE_TOL = 1e-4; // max |seqcast − naive|, and |seqcast − PyTorch| on check.json
const AGREE_STEPS = 50;

const BENCH_DIR = new URL('./', import.meta.url);
const MODELS_DIR = new URL('models/', BENCH_DIR);
const RESULTS_MD = new URL('RESULTS.md', BENCH_DIR);
const RESULTS_JSON = new URL('results-kernel.json', BENCH_DIR);
const SECTION_START = '<!-- kernel:start -->';
const SECTION_END = '<!-- kernel:end -->';

/** Matrix-product FLOPs of one stream-step (nonlinearities not counted). */
function flopsPerStreamStep(H: number): number {
  return lstmFlopsPerStreamStep(H, X, O);
}

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

interface Agreement {
  hidden: number;
  checkJsonSeqcastMaxAbs: number;
  checkJsonNaiveMaxAbs: number;
  stepsCompared: number;
  seqcastVsNaiveMaxAbs: number;
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

interface Case {
  workload: 'W1' | 'W2';
  hidden: number;
  streams: number; // stream-steps per call
  impl: 'seqcast' | 'seqcast-raw' | 'naive';
  label: string;
  run: (calls: number) => void;
}

interface Measured extends Case, Timing {
  gflops: number;
  speedupVsNaive?: number;
}

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

// ---------------------------------------------------------------- report

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

/** The plain TypeScript LSTM on the machine where the issue's targets were set (shared/bench/README.md), µs per step. */
const REFERENCE_NAIVE_US = { 32: 9.3, 128: 106 } as const;

function targetsFrom(results: Measured[]): Target[] {
  const api = (w: string, H: number) => results.find((r) => r.workload === w && r.hidden === H && r.impl === 'seqcast')!;
  const naive = (w: string, H: number) => results.find((r) => r.workload === w && r.hidden === H && r.impl === 'naive')!;
  const h128 = api('W1', 128), h32 = api('W1', 32), w2 = api('W2', W2_HIDDEN);
  const targets: Target[] = [
    { target: 'W1 H=128 single stream, median < 7 µs per step (≈ 20 GFLOP/s)', measured: `${fmtUs(h128.medianUs)} µs (${fmtGflops(h128.gflops)} GFLOP/s)`, met: h128.medianUs < 7 },
    { target: 'W1 H=32 single stream, median < 1 µs per step', measured: `${fmtUs(h32.medianUs)} µs`, met: h32.medianUs < 1 },
    { target: `W2 ${W2_STREAMS} streams H=${W2_HIDDEN}, ≥ 35 GFLOP/s`, measured: `${fmtGflops(w2.gflops)} GFLOP/s (${fmtUs(w2.medianUs)} µs per stream-step)`, met: w2.gflops >= 35 },
  ];
  const ahead = [...SIZES.map((H) => ['W1', H] as const), ['W2', W2_HIDDEN] as const].map(([w, H]) => {
    const s = api(w, H), n = naive(w, H);
    return { name: `${w} H=${H}`, ratio: n.medianUs / s.medianUs, ok: s.medianUs < n.medianUs };
  });
  // The issue's figures come from the machine of shared/bench/README.md, which also measured the plain TypeScript
  // LSTM there: 9.3 µs at H=32 and 106 µs at H=128. The same baseline runs here in this run, so each absolute target
  // carries over as a speed-up over it: 9.3 / 1 = 9.3× at H=32, 106 / 7 = 15.1× at H=128.
  for (const [H, targetUs, naiveThereUs] of [[128, 7, REFERENCE_NAIVE_US[128]], [32, 1, REFERENCE_NAIVE_US[32]]] as const) {
    const s = api('W1', H), n = naive('W1', H);
    const needed = naiveThereUs / targetUs;
    targets.push({
      target: `W1 H=${H} scaled to this machine through the naive baseline: ≥ ${needed.toFixed(1)}× naive (${naiveThereUs} µs ÷ ${targetUs} µs on the issue's machine)`,
      measured: `${(n.medianUs / s.medianUs).toFixed(1)}× (naive ${fmtUs(n.medianUs)} µs here, so the target here is ${fmtUs(n.medianUs / needed)} µs; seqcast ${fmtUs(s.medianUs)} µs)`,
      met: n.medianUs / s.medianUs >= needed,
    });
  }
  targets.push({
    target: 'seqcast ahead of naive at every size (medians)',
    measured: ahead.map((a) => `${a.name} ${a.ratio.toFixed(1)}×`).join(', '),
    met: ahead.every((a) => a.ok),
  });
  return targets;
}

function resultsTable(results: Measured[]): string {
  const lines = [
    '| workload | H | implementation | median µs / stream-step | p10 – p90 µs | stream-steps/s | GFLOP/s | speed-up vs naive |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const workload = r.workload === 'W1' ? 'W1 1 stream' : `W2 ${r.streams} streams`;
    const speedup = r.impl === 'naive' ? '1×' : `${r.speedupVsNaive!.toFixed(1)}×`;
    lines.push(`| ${workload} | ${r.hidden} | ${r.label} | **${fmtUs(r.medianUs)}** | ${fmtUs(r.p10Us)} – ${fmtUs(r.p90Us)} | ${fmtRate(r.streamStepsPerSec)} | ${fmtGflops(r.gflops)} | ${speedup} |`);
  }
  return lines.join('\n');
}

function targetsTable(targets: Target[]): string {
  return [
    '| target | measured (seqcast public API) | |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'met' : '**not met**'} |`),
  ].join('\n');
}

function agreementTable(agreement: Agreement[], batchDiff: number): string {
  return [
    '| H | seqcast vs PyTorch check.json (y, h) | naive vs check.json | seqcast vs naive, 50 random steps (y, h, c) |',
    '|---:|---:|---:|---:|',
    ...agreement.map((a) => `| ${a.hidden} | ${a.checkJsonSeqcastMaxAbs.toExponential(1)} | ${a.checkJsonNaiveMaxAbs.toExponential(1)} | ${a.seqcastVsNaiveMaxAbs.toExponential(1)} |`),
    `| ${W2_HIDDEN} (W2) | | | stepBatch vs naive batch, 64 streams × 10 steps (y): ${batchDiff.toExponential(1)} |`,
  ].join('\n');
}

/**
 * The arithmetic ceiling on this machine: the kernel's debugPeak runs 12 independent
 * f32x4 multiply-then-add chains with no memory traffic (fixed-width WebAssembly SIMD
 * has no FMA). Median GFLOP/s over 7 runs of about 0.1 s.
 */
function measurePeak(model: Model): number {
  const peak = model.kernel.exports.debugPeak;
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

function section(machine: Machine, wasm: WasmInfo, results: Measured[], targets: Target[], agreement: Agreement[], batchDiff: number, seconds: number, peak: number): string {
  return `${SECTION_START}
## Kernel: seqcast vs a plain TypeScript LSTM

Written by \`npm run bench:kernel\` (bench/kernel.ts); raw numbers in bench/results-kernel.json.

Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}
(load average at start ${machine.loadavg.map((v) => v.toFixed(2)).join(' / ')}; kernel ${wasm.file} ${wasm.bytes} bytes, sha256 ${wasm.sha256.slice(0, 12)}, built ${wasm.mtime}).

Model: \`nn.LSTM(${X}, H)\` + \`nn.Linear(H, ${O})\`, float32, the shared weights in bench/models (lstm_hH.safetensors, also used for the ONNX comparisons).
The naive baseline (bench/naive-lstm.ts) is plain Float32Array TypeScript: PyTorch layouts, nested loops, \`Math.exp\` sigmoid and \`Math.tanh\`, preallocated buffers, state carried; W2 loops over the streams.

- **W1**: one stream, one step per call, state carried. **W2**: ${W2_STREAMS} streams stepped together per call, H=${W2_HIDDEN}; times are per stream-step (call time ÷ ${W2_STREAMS}).
- Method: each implementation warmed up ≥ ${WARMUP_MS} ms, then ${REPEATS} repeats of N calls (N sized so a repeat takes ≈ ${REPEAT_TARGET_MS} ms), implementations interleaved within each repeat round; median and p10 / p90 over the repeats; \`process.hrtime.bigint\`.
- FLOPs per stream-step = 8·H·(X+H) + 2·O·H with X=${X}, O=${O} (the matrix products; nonlinearities not counted): ${SIZES.map((H) => `H=${H}: ${flopsPerStreamStep(H).toLocaleString('en-US')}`).join(', ')}. GFLOP/s = FLOPs ÷ median time.
- Speed-up vs naive = naive median ÷ this row's median, both from this run.
- "raw kernel call" rows are an extra: the kernel alone (slot and input written straight into its memory, \`kernel.step\`, one output value read); the targets are judged on the public API rows.

${resultsTable(results)}

**Ceiling on this machine**: ${peak.toFixed(1)} GFLOP/s for f32x4 multiply-then-add with no memory traffic at all (the kernel's \`debugPeak\`: 12 independent chains; fixed-width WebAssembly SIMD has no FMA, and relaxed SIMD needs a flag on Node 20). A matrix-vector product also loads every weight once, so it stays below this: here W1 H=128 reaches ${(100 * (results.find((r) => r.workload === 'W1' && r.hidden === 128 && r.impl === 'seqcast')?.gflops ?? NaN) / peak).toFixed(0)}% of it and W2 ${(100 * (results.find((r) => r.workload === 'W2' && r.impl === 'seqcast')?.gflops ?? NaN) / peak).toFixed(0)}%. The issue's reference figures (a hand-written AssemblyScript step at 6.5 µs for H=128; 35 GFLOP/s batched) come from the AMD EPYC machine of shared/bench/README.md, where the plain TypeScript LSTM took 9.3 µs (H=32) and 106 µs (H=128); here it takes ${fmtUs(results.find((r) => r.workload === 'W1' && r.hidden === 32 && r.impl === 'naive')!.medianUs)} and ${fmtUs(results.find((r) => r.workload === 'W1' && r.hidden === 128 && r.impl === 'naive')!.medianUs)} µs, so the targets are also given below scaled through that baseline. On this shared virtual machine the same binary's timings move by up to ±50% from run to run (other tenants), so compare rows within one run.

Targets (from the issue), judged on the medians above:

${targetsTable(targets)}

Agreement checked before timing (max |difference|, must be ≤ ${AGREE_TOL}; the run aborts otherwise):

${agreementTable(agreement, batchDiff)}

Whole run: ${seconds.toFixed(1)} s.
${SECTION_END}`;
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
  const peak = measurePeak(w2.model);
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
