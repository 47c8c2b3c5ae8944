// Issue 16, "First, make one core's batch count": one stream and 64 batched streams at H = 128 on the SIMD and the
// relaxed-SIMD builds, beside the same gate product in native C (bench/native/matmul.c, gcc -O3 -march=native
// -ffast-math: single-stream and register-tiled 64-stream) and onnxruntime-node on one thread, all interleaved in
// one run (rotating order per round), medians and p10 – p90, load average before and after.
// Run: `npm run bench:kernel-batch` (node bench/with-relaxed-simd.mjs bench/kernel-batch.ts, so the relaxed build
// runs on Node 20). Writes its section of bench/RESULTS.md and bench/results-kernel-batch.json.
//
// Rows: "step" = the raw kernel call `kernel.step(B)` (slots and frames written straight into its memory: the whole
// LSTM step with its nonlinearities and the head); "product" = the gate product alone (debugAffine of the diagnostics
// build: (B, 512) over rows of width 136), the same work the C kernel does. GFLOP/s: step 8·H·(X+H) + 2·O·H =
// 141,312 FLOPs per stream-step, product 2·4H·(X+H) = 139,264; ONNX Runtime runs the whole step (141,312).

import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadModel, type Model } from '../src/index.js';
import { diagnosticKernel } from '../src/kernel/diagnostics.js';
import { supportsRelaxedSimd, type KernelVariant } from '../src/kernel/kernel.js';
import { fmtGflops, fmtUs, machineInfo, nowNs, randomFrames } from './common.js';
import { compileNative, type NativeMode, type NativeProduct } from './native.js';
import { onnxruntimePeer } from './peers/onnxruntime.js';
import { framesOf } from './peers/types.js';
import { writeResultsJson, writeResultsSection } from './report.js';
import { SMOKE, spread, timeMs } from './timing.js';
import { flopsPerStreamStep, O, W2_HIDDEN as H, W2_STREAMS as B, X } from './kernel-config.js';

const RESULTS_MD = new URL('RESULTS.md', import.meta.url);
const RESULTS_JSON = new URL('results-kernel-batch.json', import.meta.url);
const START = '<!-- kernel-batch:start -->', END = '<!-- kernel-batch:end -->';
const REPEATS = SMOKE ? 3 : 15, REPEAT_MS = SMOKE ? 10 : 40, WARMUP_MS = SMOKE ? 5 : 300;
const G = 4 * H, K = (X + H + 3) & ~3;
const STEP_FLOPS = flopsPerStreamStep(H), PRODUCT_FLOPS = 2 * G * (X + H);

/** One row: `repeat(calls)` runs `calls` calls and returns their µs; each call makes `streams` stream-steps. */
interface Row {
  id: string;
  label: string;
  streams: number;
  flops: number;
  repeat: (calls: number) => Promise<number>;
}

/** A sync loop timed from JS. */
function jsRow(id: string, label: string, streams: number, flops: number, call: () => void): Row {
  const run = (n: number) => { for (let i = 0; i < n; i++) call(); };
  return { id, label, streams, flops, repeat: async (calls) => (await timeMs(run, calls)) * 1000 };
}

/** kernel.step(streams) on freshly opened slots of `model`. */
function stepRows(variant: string, model: Model): Row[] {
  const kernel = model.kernel;
  return [1, B].map((streams) => {
    const slots = Array.from({ length: streams }, (_, b) => model.openStream({ name: `batch-${streams}-${b}` }).slot);
    const frames = randomFrames(streams, 11 + streams, X);
    return jsRow(`${variant}-step-${streams}`, `seqcast ${variant}: \`kernel.step(${streams})\` (whole step)`, streams, STEP_FLOPS, () => {
      const f32 = kernel.f32;
      for (let b = 0; b < streams; b++) { kernel.setSlot(b, slots[b]); f32.set(frames[b], kernel.inputOffset(b)); }
      kernel.step(streams);
    });
  });
}

/** The gate product alone (debugAffine) for 1 and 64 streams. */
async function productRows(variant: KernelVariant): Promise<Row[]> {
  const d = await diagnosticKernel(variant);
  const alloc = (floats: number) => d.debugAlloc(floats * 4);
  const panel = alloc(G * K), input = alloc(B * K), out = alloc(B * G), bias = alloc(G);
  const f32 = new Float32Array(d.memory.buffer);
  for (let i = 0; i < B * K; i++) f32[input / 4 + i] = (i % (X + H + 3)) < X + H ? Math.sin(i) : 0;
  for (let i = 0; i < G * K; i++) f32[panel / 4 + i] = Math.cos(i) * 0.05;
  return [1, B].map((streams) => jsRow(`${variant}-product-${streams}`, `seqcast ${variant}: gate product alone, B = ${streams}`, streams, PRODUCT_FLOPS,
    () => d.debugAffine(out, streams, G, input, K, panel, bias, bias)));
}

function nativeRow(native: NativeProduct, mode: NativeMode): Row {
  const streams = mode === 'single' ? 1 : B;
  return {
    id: `c-${mode}`, label: `C ${mode === 'single' ? 'single-stream' : 'register-tiled 4 rows × 3 streams, B = 64'} gate product (${native.compiler})`,
    streams, flops: PRODUCT_FLOPS,
    repeat: async (calls) => (native.nsPerCall(mode, H, X, calls) * calls) / 1000,
  };
}

async function onnxRows(): Promise<{ rows: Row[]; close: () => Promise<void> }> {
  const peer = onnxruntimePeer('node');
  await peer.init?.();
  const path = (f: string) => fileURLToPath(new URL(f, import.meta.url));
  const m = { hidden: H, inputSize: X, outputSize: O, weights: undefined as never, safetensorsPath: path(`models/lstm_h${H}.safetensors`), onnxPath: path(`onnx/lstm_h${H}.onnx`) };
  const rows: Row[] = [];
  for (const streams of [1, B]) {
    const stepper = await peer.streams(m, streams);
    const frames = framesOf(randomFrames(streams, 31 + streams, X), X);
    rows.push({
      id: `ort-${streams}`, label: `onnxruntime-node 1 thread: \`session.run\`, B = ${streams} (whole step)`, streams, flops: STEP_FLOPS,
      repeat: async (calls) => {
        const t0 = nowNs();
        for (let i = 0; i < calls; i++) await stepper.step(frames);
        return Number(nowNs() - t0) / 1000;
      },
    });
  }
  return { rows, close: async () => { await peer.close?.(); } };
}

interface Result { id: string; label: string; streams: number; medianUs: number; p10Us: number; p90Us: number; gflops: number; samplesUs: number[] }

/** Warms each row up, sizes its repeats to REPEAT_MS, then times REPEATS rounds with the rows in rotating order. */
async function timeRows(rows: Row[]): Promise<Result[]> {
  const calls: number[] = [];
  for (const row of rows) {
    let n = 1, us = 0, spent = 0;
    while (spent < WARMUP_MS * 1000 || us < 10_000) { us = await row.repeat(n); spent += us; if (us < 10_000) n *= 2; }
    calls.push(Math.max(1, Math.round((n * REPEAT_MS * 1000) / us)));
  }
  const samples: number[][] = rows.map(() => []);
  for (let r = 0; r < REPEATS; r++) {
    for (let k = 0; k < rows.length; k++) {
      const i = (k + r) % rows.length;
      samples[i].push((await rows[i].repeat(calls[i])) / (calls[i] * rows[i].streams));
    }
  }
  return rows.map((row, i) => {
    const s = spread(samples[i]);
    return { id: row.id, label: row.label, streams: row.streams, medianUs: s.median, p10Us: s.p10, p90Us: s.p90, gflops: row.flops / (s.median * 1000), samplesUs: samples[i] };
  });
}

/** Median over rounds of a / b (µs per stream-step of two rows timed in the same round). */
function pairedRatio(a: Result, b: Result): number {
  return spread(a.samplesUs.map((us, r) => us / b.samplesUs[r])).median;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const model = (variant: KernelVariant) => loadModel(fileURLToPath(new URL(`models/lstm_h${H}.safetensors`, import.meta.url)), { kernel: variant });
  const relaxed = supportsRelaxedSimd();
  const variants: KernelVariant[] = relaxed ? ['baseline', 'relaxed'] : ['baseline'];
  const models = await Promise.all(variants.map(model));
  const native = compileNative();
  const ort = await onnxRows();
  const rows: Row[] = [];
  for (const [i, v] of variants.entries()) rows.push(...stepRows(v, models[i]), ...(await productRows(v)));
  rows.push(nativeRow(native, 'single'), nativeRow(native, 'tiled'), ...ort.rows);


  const loadBefore = loadavg();
  console.log(`kernel-batch: ${rows.length} rows interleaved, ${REPEATS} rounds, load average ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}`);
  const results = await timeRows(rows);
  const loadAfter = loadavg();
  const by = (id: string) => results.find((r) => r.id === id);

  const w1 = by('baseline-step-1')!, w2 = by('baseline-step-64')!, p1 = by('baseline-product-1')!, p64 = by('baseline-product-64')!;
  const cSingle = by('c-single')!, cTiled = by('c-tiled')!, ort64 = by('ort-64')!;
  const r64 = by('relaxed-step-64'), rp64 = by('relaxed-product-64');
  const targets = [
    { target: 'SIMD: 64 batched streams ≥ 1.5× the single-stream GFLOP/s (whole step)', measured: `${fmtGflops(w2.gflops)} vs ${fmtGflops(w1.gflops)}: ${(w1.medianUs / w2.medianUs * (STEP_FLOPS / STEP_FLOPS)).toFixed(2)}× (paired per round ${(1 / pairedRatio(w2, w1)).toFixed(2)}×)`, met: w1.medianUs / w2.medianUs >= 1.5 },
    { target: 'SIMD: the 64-stream gate product ≥ 1.5× the single-stream one (product alone)', measured: `${fmtGflops(p64.gflops)} vs ${fmtGflops(p1.gflops)}: ${(p1.medianUs / p64.medianUs).toFixed(2)}×`, met: p1.medianUs / p64.medianUs >= 1.5 },
    { target: 'SIMD: 64 batched streams ahead of the C register-tiled 64-stream product (whole step vs C product)', measured: `${fmtGflops(w2.gflops)} vs ${fmtGflops(cTiled.gflops)} GFLOP/s: ${(w2.gflops / cTiled.gflops).toFixed(2)}×`, met: w2.gflops > cTiled.gflops },
    { target: 'SIMD: the 64-stream gate product ahead of the C tiled one (same product)', measured: `${fmtGflops(p64.gflops)} vs ${fmtGflops(cTiled.gflops)} GFLOP/s: ${(p64.gflops / cTiled.gflops).toFixed(2)}× (paired ${(1 / pairedRatio(p64, cTiled)).toFixed(2)}×)`, met: p64.gflops > cTiled.gflops },
    r64
      ? { target: 'relaxed: 64 batched streams ahead of onnxruntime-node 1 thread (both whole steps)', measured: `${fmtGflops(r64.gflops)} vs ${fmtGflops(ort64.gflops)} GFLOP/s: ${(ort64.medianUs / r64.medianUs).toFixed(2)}×`, met: r64.medianUs < ort64.medianUs }
      : { target: 'relaxed: 64 batched streams ahead of onnxruntime-node 1 thread', measured: 'not run: this runtime has no relaxed SIMD', met: false },
  ];

  const table = [
    '| row | median µs / stream-step | p10 – p90 µs | GFLOP/s |',
    '|---|---:|---:|---:|',
    ...results.map((r) => `| ${r.label} | **${fmtUs(r.medianUs)}** | ${fmtUs(r.p10Us)} – ${fmtUs(r.p90Us)} | ${fmtGflops(r.gflops)} |`),
  ].join('\n');
  const targetTable = ['| target | measured | |', '|---|---|---|', ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'met' : '**not met**'} |`)].join('\n');
  const text = [
    START,
    '## Kernel: one core\'s batch (issue 16)',
    '',
    'Written by `npm run bench:kernel-batch` (bench/kernel-batch.ts); raw numbers in bench/results-kernel-batch.json. Where the 64-stream step spends its time: `npx tsx bench/kernel-profile.ts`.',
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} at the start, ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} at the end (a shared machine: compare rows within this run). nn.LSTM(${X}, ${H}) + Linear(${H}, ${O}), ${B} streams. ${REPEATS} rounds, every row once per round in rotating order, each repeat ≈ ${REPEAT_MS} ms; median and p10 – p90 over the rounds. "step" rows: the raw \`kernel.step(B)\` (whole LSTM step and head), ${STEP_FLOPS.toLocaleString('en-US')} FLOPs per stream-step; "product" rows and the C rows: the gate product (B, ${G}) over width ${K}, ${PRODUCT_FLOPS.toLocaleString('en-US')} FLOPs per stream.`,
    '',
    table,
    '',
    targetTable,
    '',
    `Where the 64-stream step's time goes (SIMD): the gate product alone takes ${fmtUs(p64.medianUs)} of its ${fmtUs(w2.medianUs)} µs per stream-step (${(100 * p64.medianUs / w2.medianUs).toFixed(0)}%); the rest is the head, the LSTM nonlinearities, the row copies and the input check (\`npx tsx bench/kernel-profile.ts\` splits it further).${rp64 && r64 ? ` Relaxed: ${fmtUs(rp64.medianUs)} of ${fmtUs(r64.medianUs)} µs (${(100 * rp64.medianUs / r64.medianUs).toFixed(0)}%).` : ''}`,
    END,
  ].join('\n');
  await writeResultsSection(RESULTS_MD, START, END, text);
  await writeResultsJson(RESULTS_JSON, { benchmark: 'kernel-batch', machine, loadBefore, loadAfter, native: native.compiler, results, targets });
  console.log(table);
  console.log(targetTable);
  await ort.close();
  for (const m of models) m.close();
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
