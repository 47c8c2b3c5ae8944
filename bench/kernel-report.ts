// The kernel benchmark's report: its tables, the issue's targets and its section of bench/RESULTS.md.

import { fmtGflops, fmtRate, fmtUs, type Machine, type WasmInfo } from './common.js';
import {
  AGREE_TOL, flopsPerStreamStep, O, REPEAT_TARGET_MS, REPEATS, SECTION_END, SECTION_START, SIZES, W2_HIDDEN, W2_STREAMS, WARMUP_MS, X,
  type Agreement, type Measured,
} from './kernel-config.js';

/** One of the issue's targets, judged on this run. */
export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

/** The plain TypeScript LSTM on the machine where the issue's targets were set (shared/bench/README.md), µs per step. */
const REFERENCE_NAIVE_US = { 32: 9.3, 128: 106 } as const;

/** The issue's targets, judged on the medians of this run. */
export function targetsFrom(results: Measured[]): Target[] {
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

/** Every measured row as a markdown table. */
export function resultsTable(results: Measured[]): string {
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

/** The targets as a markdown table. */
export function targetsTable(targets: Target[]): string {
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

/** The kernel section of bench/RESULTS.md, between SECTION_START and SECTION_END. */
export function section(machine: Machine, wasm: WasmInfo, results: Measured[], targets: Target[], agreement: Agreement[], batchDiff: number, seconds: number, peak: number): string {
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
