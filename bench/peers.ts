// Peer benchmark: seqcast against TensorFlow.js (cpu and wasm backends), ONNX
// Runtime (node and web/wasm), brain.js and a plain TypeScript LSTM, side by
// side in one process, on the same weights (bench/models, bench/onnx). Each
// library is driven through its own public API (bench/peers/*.ts). Run:
// `npm run bench` (builds first) or `npx tsx bench/peers.ts`. Writes the peers
// section of bench/RESULTS.md, bench/results-peers.json and bench/results.svg.
// No timing assertions: the issue's targets are reported as met / not met.
//
// W1: one stream, one step per call, state carried; H = 32, 128, 512.
// W2: 64 streams stepped together, one step per call; H = 128.
// W3: one whole sequence per call (T = 256, from zero state); H = 128.
// Per stream-step FLOPs = 8·H·(X+H) + 2·O·H (the matrix products only).
//
// Before timing, every peer's outputs are compared with seqcast's on the same
// inputs (tolerance 1e-4); a peer that disagrees is not timed.

import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  fmtGflops, fmtRate, fmtUs, lstmFlopsPerStreamStep, machineInfo, nowNs, percentile, randomFrames, wasmInfo,
  writeResultsSection, type Machine, type WasmInfo,
} from './common.js';
import { AGREE_TOL, allPeers, checkSequence, checkStreams, loadBenchModel, O, skipReason, X, type Agreement } from './peers/setup.js';
import { framesOf, type BenchModel, type Frames, type Peer, type SequenceRunner, type Stepper } from './peers/types.js';

const SIZES = [32, 128, 512];
const W2_HIDDEN = 128;
const W2_STREAMS = 64;
const W3_HIDDEN = 128;
const W3_LENGTH = 256;
const REPEATS = 21;
const REPEAT_TARGET_MS = 60; // each repeat is sized to take about this long (at least one call)
const WARMUP_MS = 300; // per implementation and workload, before calibration
const WARMUP_MIN_CALLS = 50;
const AGREE_STEPS = 5; // W1 / W2 steps compared (state carried)

const BENCH_DIR = new URL('./', import.meta.url);
const RESULTS_MD = new URL('RESULTS.md', BENCH_DIR);
const RESULTS_JSON = new URL('results-peers.json', BENCH_DIR);
const RESULTS_SVG = new URL('results.svg', BENCH_DIR);
const SECTION_START = '<!-- peers:start -->';
const SECTION_END = '<!-- peers:end -->';

type Workload = 'W1' | 'W2' | 'W3';

function flops(H: number): number {
  return lstmFlopsPerStreamStep(H, X, O);
}

// ---------------------------------------------------------------- timing

/** Sum of outputs, so no call can be optimised away. */
let sink = 0;

type Run = (calls: number) => void | Promise<void>;

interface Case {
  workload: Workload;
  hidden: number;
  streamStepsPerCall: number; // B for W1/W2, T for W3
  peer: Peer;
  agreement: Agreement;
  note: string;
  run: Run;
}

interface Measured {
  workload: Workload;
  hidden: number;
  streamStepsPerCall: number;
  id: string;
  library: string;
  version: string;
  backend: string;
  note: string;
  agreement: Agreement;
  callsPerRepeat: number;
  samplesUs: number[]; // µs per stream-step, one per repeat
  medianUs: number;
  p10Us: number;
  p90Us: number;
  streamStepsPerSec: number;
  gflops: number;
  seqcastSpeedup?: number; // this row's median ÷ seqcast's median, same workload and H
}

interface Skipped {
  workload: Workload;
  hidden: number;
  id: string;
  library: string;
  version: string;
  reason: string;
}

async function timeMs(run: Run, calls: number): Promise<number> {
  const t0 = nowNs();
  await run(calls);
  return Number(nowNs() - t0) / 1e6;
}

/** Runs calls in growing chunks until WARMUP_MS and WARMUP_MIN_CALLS are both reached. */
async function warmUp(run: Run): Promise<void> {
  let chunk = 1, calls = 0, elapsed = 0;
  while (elapsed < WARMUP_MS || calls < WARMUP_MIN_CALLS) {
    const ms = await timeMs(run, chunk);
    elapsed += ms;
    calls += chunk;
    if (ms < 20) chunk *= 2;
  }
}

/** Calls per repeat so one repeat takes about REPEAT_TARGET_MS (at least one call). */
async function calibrate(run: Run): Promise<number> {
  let calls = 1;
  for (;;) {
    const ms = await timeMs(run, calls);
    if (ms >= 15) return Math.max(1, Math.round((calls * REPEAT_TARGET_MS) / ms));
    calls *= ms < 1 ? 8 : 2;
  }
}

/** Warms up and calibrates every case, then times REPEATS rounds, the cases interleaved (order rotating) within each round. */
async function measure(cases: Case[]): Promise<Measured[]> {
  const calls: number[] = [];
  for (const c of cases) {
    await c.peer.activate?.();
    await warmUp(c.run);
    calls.push(await calibrate(c.run));
  }
  const samples: number[][] = cases.map(() => []);
  for (let r = 0; r < REPEATS; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + r) % cases.length;
      const c = cases[i];
      await c.peer.activate?.();
      const ms = await timeMs(c.run, calls[i]);
      samples[i].push((ms * 1000) / (calls[i] * c.streamStepsPerCall));
    }
  }
  return cases.map((c, i) => {
    const sorted = [...samples[i]].sort((a, b) => a - b);
    const medianUs = percentile(sorted, 0.5);
    return {
      workload: c.workload,
      hidden: c.hidden,
      streamStepsPerCall: c.streamStepsPerCall,
      id: c.peer.id,
      library: c.peer.library,
      version: c.peer.version,
      backend: c.peer.backend,
      note: c.note,
      agreement: c.agreement,
      callsPerRepeat: calls[i],
      samplesUs: samples[i],
      medianUs,
      p10Us: percentile(sorted, 0.1),
      p90Us: percentile(sorted, 0.9),
      streamStepsPerSec: 1e6 / medianUs,
      gflops: flops(c.hidden) / (medianUs * 1e3),
    };
  });
}

/** The timed loop for B streams stepped together (W1, W2): rotating through prepared inputs. */
function stepRun(peer: Peer, stepper: Stepper, inputs: Frames[]): Run {
  const mask = inputs.length - 1; // a power of two
  if (peer.async) {
    return async (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += await stepper.step(inputs[i & mask]);
      sink += s;
    };
  }
  return (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += stepper.step(inputs[i & mask]) as number;
    sink += s;
  };
}

/** The timed loop for whole sequences (W3). */
function sequenceRun(peer: Peer, runner: SequenceRunner, inputs: Frames[]): Run {
  const mask = inputs.length - 1;
  if (peer.async) {
    return async (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += await runner.run(inputs[i & mask]);
      sink += s;
    };
  }
  return (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += runner.run(inputs[i & mask]) as number;
    sink += s;
  };
}

// ---------------------------------------------------------------- workloads

interface Group {
  workload: Workload;
  hidden: number;
  label: string;
}

const GROUPS: Group[] = [
  ...SIZES.map((H) => ({ workload: 'W1' as const, hidden: H, label: `W1 H=${H}` })),
  { workload: 'W2', hidden: W2_HIDDEN, label: `W2 ${W2_STREAMS} streams H=${W2_HIDDEN}` },
  { workload: 'W3', hidden: W3_HIDDEN, label: `W3 sequence T=${W3_LENGTH} H=${W3_HIDDEN}` },
];

/** Builds every peer's case for one group, after checking its outputs against seqcast's; records skips. */
async function groupCases(group: Group, model: BenchModel, peers: Peer[], skipped: Skipped[], log: (line: string) => void): Promise<{ cases: Case[]; cleanup: (() => void | Promise<void>)[] }> {
  const { workload, hidden: H } = group;
  const cases: Case[] = [];
  const cleanup: (() => void | Promise<void>)[] = [];
  const [reference, ...others] = peers;
  const skip = (peer: Peer, reason: string) => {
    skipped.push({ workload, hidden: H, id: peer.id, library: peer.library, version: peer.version, reason });
    log(`  ${peer.id}: skipped — ${reason}`);
  };

  if (workload === 'W3') {
    const inputs = Array.from({ length: 4 }, (_, k) => framesOf(randomFrames(W3_LENGTH, 9000 + k, X), X));
    const ref = await reference.sequence(model, W3_LENGTH);
    cleanup.push(() => ref.dispose());
    cases.push({ workload, hidden: H, streamStepsPerCall: W3_LENGTH, peer: reference, note: ref.note ?? '', agreement: { status: 'agrees', maxAbs: 0, detail: 'reference' }, run: sequenceRun(reference, ref, inputs) });
    for (const peer of others) {
      let runner: SequenceRunner;
      try {
        await peer.activate?.();
        runner = await peer.sequence(model, W3_LENGTH);
      } catch (err) {
        skip(peer, skipReason(err));
        continue;
      }
      cleanup.push(() => runner.dispose());
      const agreement = await checkSequence(ref, runner, W3_LENGTH, 3000 + H);
      log(`  ${peer.id}: ${agreement.status} (max |diff| ${agreement.maxAbs.toExponential(1)})`);
      if (agreement.status === 'disagrees') {
        skip(peer, `outputs disagree with seqcast: max |diff| ${agreement.maxAbs.toExponential(2)} > ${AGREE_TOL} (${agreement.detail}); not timed`);
        continue;
      }
      cases.push({ workload, hidden: H, streamStepsPerCall: W3_LENGTH, peer, note: runner.note ?? '', agreement, run: sequenceRun(peer, runner, inputs) });
    }
    return { cases, cleanup };
  }

  const batch = workload === 'W1' ? 1 : W2_STREAMS;
  const pool = workload === 'W1' ? 256 : 16;
  const inputs = Array.from({ length: pool }, (_, k) => framesOf(randomFrames(batch, 42 + H * 1000 + k * 7, X), X));
  const ref = await reference.streams(model, batch);
  cleanup.push(() => ref.dispose());
  cases.push({ workload, hidden: H, streamStepsPerCall: batch, peer: reference, note: ref.note ?? '', agreement: { status: 'agrees', maxAbs: 0, detail: 'reference' }, run: stepRun(reference, ref, inputs) });
  for (const peer of others) {
    let stepper: Stepper;
    try {
      await peer.activate?.();
      stepper = await peer.streams(model, batch);
    } catch (err) {
      skip(peer, skipReason(err));
      continue;
    }
    cleanup.push(() => stepper.dispose());
    const agreement = await checkStreams(ref, stepper, batch, AGREE_STEPS, 5000 + H);
    log(`  ${peer.id}: ${agreement.status} (max |diff| ${agreement.maxAbs.toExponential(1)})`);
    if (agreement.status === 'disagrees') {
      skip(peer, `outputs disagree with seqcast: max |diff| ${agreement.maxAbs.toExponential(2)} > ${AGREE_TOL} (${agreement.detail}); not timed`);
      continue;
    }
    cases.push({ workload, hidden: H, streamStepsPerCall: batch, peer, note: stepper.note ?? '', agreement, run: stepRun(peer, stepper, inputs) });
  }
  return { cases, cleanup };
}

// ---------------------------------------------------------------- report

const WORKLOAD_LABEL: Record<Workload, string> = {
  W1: 'W1 1 stream',
  W2: `W2 ${W2_STREAMS} streams`,
  W3: `W3 T=${W3_LENGTH} sequence`,
};

function agreementCell(a: Agreement): string {
  switch (a.status) {
    case 'agrees': return a.detail === 'reference' ? 'reference' : `agrees (${a.maxAbs.toExponential(1)})`;
    case 'agrees-first-step': return `agrees, 1 step from zero state only (${a.maxAbs.toExponential(1)})`;
    case 'not-comparable': return '**not comparable** ‡';
    case 'disagrees': return '**disagrees**';
  }
}

function speedupCell(r: Measured): string {
  if (r.id === 'seqcast') return '1×';
  if (r.seqcastSpeedup === undefined) return '–';
  const ratio = r.seqcastSpeedup;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}×`;
}

function resultsTable(results: Measured[], skipped: Skipped[]): string {
  const lines = [
    '| workload | H | library | version | backend | median µs / stream-step | p10 – p90 µs | stream-steps/s | GFLOP/s | seqcast speed-up | outputs vs seqcast |',
    '|---|---:|---|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const g of GROUPS) {
    for (const r of results.filter((x) => x.workload === g.workload && x.hidden === g.hidden)) {
      const library = r.id === 'seqcast' ? '**seqcast**' : r.library;
      lines.push(`| ${WORKLOAD_LABEL[r.workload]} | ${r.hidden} | ${library} | ${r.version} | ${r.backend} | **${fmtUs(r.medianUs)}** | ${fmtUs(r.p10Us)} – ${fmtUs(r.p90Us)} | ${fmtRate(r.streamStepsPerSec)} | ${fmtGflops(r.gflops)} | ${speedupCell(r)} | ${agreementCell(r.agreement)} |`);
    }
    for (const s of skipped.filter((x) => x.workload === g.workload && x.hidden === g.hidden)) {
      lines.push(`| ${WORKLOAD_LABEL[s.workload]} | ${s.hidden} | ${s.library} | ${s.version} | | skipped | | | | | ${s.reason} |`);
    }
  }
  return lines.join('\n');
}

/** W1 medians as a library × H grid, like the reference numbers in the shared README. */
function w1Grid(results: Measured[]): string {
  const ids = [...new Set(results.filter((r) => r.workload === 'W1').map((r) => r.id))];
  const lines = [`| library (W1, median µs per step) | ${SIZES.map((H) => `H=${H}`).join(' | ')} |`, `|---|${SIZES.map(() => '---:').join('|')}|`];
  for (const id of ids) {
    const row = SIZES.map((H) => results.find((r) => r.workload === 'W1' && r.hidden === H && r.id === id));
    const first = row.find((r) => r)!;
    const name = first.id === 'seqcast' ? `**seqcast** ${first.version}` : `${first.library} ${first.version}: ${first.backend}`;
    lines.push(`| ${name} | ${row.map((r) => (r ? fmtUs(r.medianUs) : '–')).join(' | ')} |`);
  }
  return lines.join('\n');
}

interface Target {
  target: string;
  measured: string;
  met: boolean | undefined; // undefined: nothing to judge
}

const LIBRARY_PEERS = ['tfjs-cpu', 'tfjs-wasm', 'onnxruntime-node', 'onnxruntime-web', 'brain.js'];
const WASM_PEERS = ['tfjs-wasm', 'onnxruntime-web'];

function targetsFrom(results: Measured[]): Target[] {
  const at = (w: Workload, H: number) => results.filter((r) => r.workload === w && r.hidden === H);
  const seq = (w: Workload, H: number, id = 'seqcast') => at(w, H).find((r) => r.id === id);
  const targets: Target[] = [];
  const ratios = (id: string, label: string, report: boolean) => {
    for (const [H, factor] of [[128, 4], [32, 20]] as const) {
      const s = seq('W1', H, id);
      const peers = at('W1', H).filter((r) => LIBRARY_PEERS.includes(r.id));
      if (!s || peers.length === 0) continue;
      const fastest = peers.reduce((a, b) => (b.medianUs < a.medianUs ? b : a));
      const ratio = fastest.medianUs / s.medianUs;
      targets.push({
        target: `W1 H=${H}: ${label} ≥ ${factor}× faster than the fastest library peer (tfjs, ONNX Runtime, brain.js)`,
        measured: `${ratio.toFixed(1)}× (fastest peer: ${fastest.library}, ${fmtUs(fastest.medianUs)} µs; ${label} ${fmtUs(s.medianUs)} µs)`,
        met: report ? undefined : ratio >= factor,
      });
    }
    const s2 = seq('W2', W2_HIDDEN, id);
    const wasmPeers = at('W2', W2_HIDDEN).filter((r) => WASM_PEERS.includes(r.id));
    if (s2 && wasmPeers.length > 0) {
      targets.push({
        target: `W2: ${label} ≥ 2× the wasm peers (tfjs-backend-wasm, onnxruntime-web)`,
        measured: `${fmtGflops(s2.gflops)} GFLOP/s; ${wasmPeers.map((r) => `${(r.medianUs / s2.medianUs).toFixed(1)}× ${r.library} (${fmtGflops(r.gflops)} GFLOP/s)`).join(', ')}`,
        met: report ? undefined : wasmPeers.every((r) => r.medianUs / s2.medianUs >= 2),
      });
    }
  };
  ratios('seqcast', 'seqcast', false);
  const ahead = SIZES.map((H) => ({ H, s: seq('W1', H), n: at('W1', H).find((r) => r.id === 'naive') })).filter((x) => x.s && x.n);
  if (ahead.length > 0) {
    targets.push({
      target: 'W1: seqcast ahead of plain TypeScript at every size',
      measured: ahead.map((x) => `H=${x.H} ${(x.n!.medianUs / x.s!.medianUs).toFixed(1)}×`).join(', '),
      met: ahead.every((x) => x.s!.medianUs < x.n!.medianUs),
    });
  }
  const s3 = seq('W3', W3_HIDDEN);
  if (s3) {
    const others = at('W3', W3_HIDDEN).filter((r) => !r.id.startsWith('seqcast'));
    targets.push({
      target: 'W3: report honestly (the peers\' best case)',
      measured: `seqcast ${fmtUs(s3.medianUs)} µs per step; ${others.map((r) => `${r.library} ${fmtUs(r.medianUs)} (${(r.medianUs / s3.medianUs).toFixed(1)}×)`).join(', ')}`,
      met: undefined,
    });
  }
  // the same ratios for the relaxed-SIMD build, reported beside the plain build's (which every runtime runs)
  ratios('seqcast-relaxed', 'seqcast relaxed-SIMD build', true);
  return targets;
}

function targetsTable(targets: Target[]): string {
  return [
    '| target (from the issue) | measured in this run | |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === undefined ? '(report)' : t.met ? 'met' : '**not met**'} |`),
  ].join('\n');
}

function callNotes(results: Measured[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const r of results) {
    const key = `${r.id}|${r.workload}`;
    // the relaxed build is called exactly as the plain one
    if (seen.has(key) || !r.note || r.id === 'seqcast-relaxed') continue;
    seen.add(key);
    lines.push(`- ${r.id === 'seqcast' ? 'seqcast' : r.library} ${r.workload}: ${r.note}`);
  }
  return lines.join('\n');
}

function notComparableNotes(results: Measured[]): string {
  const lines = results.filter((r) => r.agreement.status === 'not-comparable')
    .map((r) => `- ‡ ${r.library} ${r.workload} H=${r.hidden}: ${r.agreement.detail}. Timed anyway (same weights, same amount of LSTM work per step); its speed-up is shown but it does not compute the same outputs.`);
  return lines.join('\n');
}

function section(machine: Machine, wasm: WasmInfo, results: Measured[], skipped: Skipped[], targets: Target[], seconds: number): string {
  return `${SECTION_START}
## Peers: seqcast vs TensorFlow.js, ONNX Runtime, brain.js and plain TypeScript

Written by \`npm run bench\` (bench/peers.ts, adapters in bench/peers/); raw numbers in bench/results-peers.json; plot in bench/results.svg.

Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}
(load average at start ${machine.loadavg.map((v) => v.toFixed(2)).join(' / ')}; seqcast kernel ${wasm.file} ${wasm.bytes} bytes, sha256 ${wasm.sha256.slice(0, 12)}).

Model: \`nn.LSTM(${X}, H)\` + \`nn.Linear(H, ${O})\`, float32, the same weights in every library: bench/models/lstm_hH.safetensors (seqcast, tfjs, brain.js, plain TypeScript) and its ONNX export bench/onnx/lstm_hH.onnx (ONNX Runtime).

- **W1**: one stream, one step per call, state carried. **W2**: ${W2_STREAMS} streams stepped together per call (tfjs: a stateful model with batch ${W2_STREAMS}; ONNX: B=${W2_STREAMS}), H=${W2_HIDDEN}. **W3**: one whole sequence per call, T=${W3_LENGTH}, from zero state, H=${W3_HIDDEN}: the peers get the sequence in one call, seqcast steps it frame by frame through \`stream.step\`. Times are per stream-step (call time ÷ ${W2_STREAMS} in W2, ÷ ${W3_LENGTH} in W3).
- seqcast is timed in its plain build (build/seqcast.wasm: SIMD128, runs on every runtime), the reference for every speed-up and target, and, ${results.some((r) => r.id === 'seqcast-relaxed') ? 'as this run could,' : '**not in this run** (this runtime has no relaxed SIMD),'} in its relaxed-SIMD build (build/seqcast-relaxed.wasm: fused multiply-adds in the matrix products; Node 22+ and current browsers load it by default, docs/abi.md). \`npm run bench\` starts this script through bench/with-relaxed-simd.mjs, which adds \`--experimental-wasm-relaxed-simd\` on Node 20; the peers ship no relaxed-SIMD code, so the flag changes nothing for them.
- Every library on one thread. Each is driven through its public API as its docs show (how each call is made is listed below).
- Method: one process; each implementation warmed up ≥ ${WARMUP_MS} ms and ≥ ${WARMUP_MIN_CALLS} calls, then ${REPEATS} repeats of N calls (N sized so a repeat takes ≈ ${REPEAT_TARGET_MS} ms, at least one call), the implementations of a workload interleaved within each repeat round (order rotating); median and p10 / p90 over the repeats; \`process.hrtime.bigint\`.
- FLOPs per stream-step = 8·H·(X+H) + 2·O·H with X=${X}, O=${O} (the matrix products; nonlinearities not counted): ${SIZES.map((H) => `H=${H}: ${flops(H).toLocaleString('en-US')}`).join(', ')}. GFLOP/s = FLOPs ÷ median time per stream-step (work a library does beyond that, like brain.js's extra step per call, is not credited).
- seqcast speed-up = the row's median ÷ seqcast's median for the same workload and H, both from this run.
- Install: all peers are pinned devDependencies (\`npm ci\` installs them). onnxruntime-node ships its Linux x64 CPU binaries in the package; its postinstall would only download optional CUDA binaries, so the repo's .npmrc sets \`onnxruntime-node-install=skip\` (read by its install script). brain.js 1.6.1 (npm's \`latest\`; its gpu.js 1.x dependency is plain JS) installs and runs on Node 20 as is. tfjs-node is not used (it downloads libtensorflow at install time); tfjs-backend-wasm's threads do not start under Node, so it runs its single-threaded SIMD build.
- Before timing, every peer's outputs were compared with seqcast's on the same inputs (${AGREE_STEPS} steps with state carried for W1/W2, all ${W3_LENGTH} outputs for W3; tolerance ${AGREE_TOL}); max |difference| in the last column. A peer that disagreed would be listed as skipped, not timed.

${resultsTable(results, skipped)}

${notComparableNotes(results)}

W1 at a glance (median µs per step, one stream, state carried):

${w1Grid(results)}

Targets:

${targetsTable(targets)}

How each call is made:

${callNotes(results)}

Whole run: ${seconds.toFixed(1)} s.
${SECTION_END}`;
}

// ---------------------------------------------------------------- plot

const PALETTE: Record<string, string> = {
  seqcast: '#d62728',
  'seqcast-relaxed': '#e377c2',
  'tfjs-cpu': '#ff7f0e',
  'tfjs-wasm': '#bcbd22',
  'onnxruntime-node': '#1f77b4',
  'onnxruntime-web': '#17becf',
  'brain.js': '#9467bd',
  naive: '#7f7f7f',
};

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Two panels: W1 µs per step vs H (log–log lines), and W2 / W3 µs per stream-step (log-scale bars). */
function plotSvg(results: Measured[], machine: Machine): string {
  const width = 980, height = 460;
  const top = 70, bottom = 384; // plot area y range
  const all = results.map((r) => r.medianUs);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all)))), hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
  const y = (us: number) => bottom - ((Math.log10(us) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  const ids = Object.keys(PALETTE).filter((id) => results.some((r) => r.id === id));
  const nameOf = (id: string) => {
    const r = results.find((x) => x.id === id)!;
    return id === 'seqcast' ? 'seqcast' : id === 'seqcast-relaxed' ? 'seqcast (relaxed SIMD)' : id === 'naive' ? 'plain TypeScript' : id === 'tfjs-cpu' ? 'tfjs (cpu)' : id === 'tfjs-wasm' ? 'tfjs-backend-wasm' : r.library;
  };
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">seqcast vs peers: median µs per stream-step (log scale, lower is better)</text>`);
  out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}; one thread each`)}</text>`);

  const axis = (x0: number, x1: number) => {
    for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++) {
      const v = Math.pow(10, e), yy = y(v).toFixed(1);
      out.push(`<line x1="${x0}" y1="${yy}" x2="${x1}" y2="${yy}" stroke="#ddd"/>`);
      out.push(`<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#333">${v >= 1 ? v.toLocaleString('en-US') : v}</text>`);
    }
    out.push(`<line x1="${x0}" y1="${top}" x2="${x0}" y2="${bottom}" stroke="#333"/>`);
    out.push(`<line x1="${x0}" y1="${bottom}" x2="${x1}" y2="${bottom}" stroke="#333"/>`);
  };

  // panel 1: W1 lines
  const p1x0 = 70, p1x1 = 470;
  axis(p1x0, p1x1);
  out.push(`<text x="${(p1x0 + p1x1) / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">W1: one stream, one step per call</text>`);
  out.push(`<text transform="translate(18 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">µs per step</text>`);
  const xH = (H: number) => p1x0 + 40 + ((Math.log2(H) - Math.log2(SIZES[0])) / (Math.log2(SIZES[SIZES.length - 1]) - Math.log2(SIZES[0]))) * (p1x1 - p1x0 - 80);
  for (const H of SIZES) out.push(`<text x="${xH(H).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">H=${H}</text>`);
  for (const id of ids) {
    const pts = SIZES.map((H) => results.find((r) => r.workload === 'W1' && r.hidden === H && r.id === id)).filter((r): r is Measured => r !== undefined);
    if (pts.length === 0) continue;
    const color = PALETTE[id];
    const dash = pts.some((p) => p.agreement.status !== 'agrees') ? ' stroke-dasharray="5 3"' : '';
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="${id === 'seqcast' ? 3 : 2}"${dash} points="${pts.map((p) => `${xH(p.hidden).toFixed(1)},${y(p.medianUs).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${xH(p.hidden).toFixed(1)}" cy="${y(p.medianUs).toFixed(1)}" r="3.5" fill="${color}"><title>${escapeXml(`${nameOf(id)} W1 H=${p.hidden}: ${fmtUs(p.medianUs)} µs`)}</title></circle>`);
  }

  // panel 2: W2 and W3 bars
  const p2x0 = 560, p2x1 = 960;
  axis(p2x0, p2x1);
  out.push(`<text x="${(p2x0 + p2x1) / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">W2 (${W2_STREAMS} streams) and W3 (T=${W3_LENGTH}), H=128</text>`);
  const groups: [Workload, string][] = [['W2', `W2: ${W2_STREAMS} streams per call`], ['W3', `W3: sequence per call`]];
  const gw = (p2x1 - p2x0) / groups.length;
  groups.forEach(([w, label], gi) => {
    const rows = ids.map((id) => results.find((r) => r.workload === w && r.id === id)).filter((r): r is Measured => r !== undefined);
    const bw = Math.min(24, (gw - 30) / Math.max(1, rows.length));
    const gx = p2x0 + gi * gw + (gw - bw * rows.length) / 2;
    rows.forEach((r, k) => {
      const yy = y(r.medianUs);
      const hatch = r.agreement.status !== 'agrees' ? ' fill-opacity="0.45"' : '';
      out.push(`<rect x="${(gx + k * bw).toFixed(1)}" y="${yy.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(bottom - yy).toFixed(1)}" fill="${PALETTE[r.id]}"${hatch}><title>${escapeXml(`${nameOf(r.id)} ${w}: ${fmtUs(r.medianUs)} µs per stream-step`)}</title></rect>`);
    });
    out.push(`<text x="${(p2x0 + gi * gw + gw / 2).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${escapeXml(label)}</text>`);
  });

  // legend
  ids.forEach((id, k) => {
    const lx = 70 + (k % 4) * 225, ly = bottom + 42 + Math.floor(k / 4) * 18;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="14" height="10" fill="${PALETTE[id]}"/>`);
    out.push(`<text x="${lx + 20}" y="${ly}">${escapeXml(nameOf(id))}</text>`);
  });
  out.push(`<text x="${width - 10}" y="${height - 8}" text-anchor="end" fill="#777" font-size="10">dashed / faded: outputs match seqcast only for one step from zero state (brain.js); written by bench/peers.ts</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const began = nowNs();
  const machine = machineInfo();
  // the reference is seqcast's plain build, whatever build this runtime would load by default
  const wasm = await wasmInfo(new URL('../build/seqcast.wasm', import.meta.url));
  const log = (line: string) => console.log(line);
  log(`seqcast peer benchmark — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}`);

  const models = new Map<number, BenchModel>();
  for (const H of new Set([...SIZES, W2_HIDDEN, W3_HIDDEN])) models.set(H, await loadBenchModel(H));

  const peers: Peer[] = [];
  const skipped: Skipped[] = [];
  for (const peer of allPeers()) {
    try {
      await peer.init();
      peers.push(peer);
      log(`${peer.id}: ${peer.library} ${peer.version}, ${peer.backend}`);
    } catch (err) {
      const reason = `could not start: ${err instanceof Error ? err.message : String(err)}`;
      log(`${peer.id}: ${reason}`);
      for (const g of GROUPS) skipped.push({ workload: g.workload, hidden: g.hidden, id: peer.id, library: peer.library, version: peer.version, reason });
    }
  }
  if (peers[0]?.id !== 'seqcast') throw new Error('seqcast itself could not start');

  const results: Measured[] = [];
  for (const group of GROUPS) {
    log(`${group.label}: checking outputs against seqcast ...`);
    const { cases, cleanup } = await groupCases(group, models.get(group.hidden)!, peers, skipped, log);
    log(`${group.label}: timing ${cases.length} implementations ...`);
    const measured = await measure(cases);
    const s = measured.find((r) => r.id === 'seqcast')!;
    for (const r of measured) r.seqcastSpeedup = r.medianUs / s.medianUs;
    for (const r of measured) log(`  ${r.id.padEnd(18)} ${fmtUs(r.medianUs).padStart(8)} µs/step  ${fmtGflops(r.gflops).padStart(6)} GFLOP/s  seqcast ${speedupCell(r)}`);
    results.push(...measured);
    for (const free of cleanup) await free();
  }
  for (const peer of peers) await peer.close?.();
  if (!Number.isFinite(sink)) console.warn(`warning: the outputs summed during timing are not finite (${sink})`);

  const targets = targetsFrom(results);
  const seconds = Number(nowNs() - began) / 1e9;
  await writeResultsSection(RESULTS_MD, SECTION_START, SECTION_END, section(machine, wasm, results, skipped, targets, seconds));
  await writeFile(RESULTS_SVG, plotSvg(results, machine));
  await writeFile(RESULTS_JSON, `${JSON.stringify({
    benchmark: 'peers',
    machine,
    kernel: wasm,
    config: { inputSize: X, outputSize: O, sizes: SIZES, w2: { hidden: W2_HIDDEN, streams: W2_STREAMS }, w3: { hidden: W3_HIDDEN, length: W3_LENGTH }, repeats: REPEATS, repeatTargetMs: REPEAT_TARGET_MS, warmupMs: WARMUP_MS, agreementTolerance: AGREE_TOL },
    flopsFormula: 'per stream-step FLOPs = 8*H*(X+H) + 2*O*H (matrix products only; nonlinearities not counted)',
    results: results.map((r) => ({ ...r, flopsPerStreamStep: flops(r.hidden) })),
    skipped,
    targets,
    seconds,
  }, null, 2)}\n`);

  console.log('');
  console.log(resultsTable(results, skipped));
  console.log('');
  console.log(targetsTable(targets));
  console.log('');
  console.log(`wrote ${fileURLToPath(RESULTS_MD)} (peers section), ${fileURLToPath(RESULTS_SVG)} and ${fileURLToPath(RESULTS_JSON)} in ${seconds.toFixed(1)} s`);
  const disagreeing = skipped.filter((s) => s.reason.startsWith('outputs disagree'));
  if (disagreeing.length > 0) {
    console.error(`error: ${disagreeing.map((s) => `${s.id} ${s.workload} H=${s.hidden}`).join(', ')} disagreed with seqcast and ${disagreeing.length > 1 ? 'were' : 'was'} not timed`);
    process.exitCode = 1;
  }
}

main().then(() => {
  // onnxruntime-web / tfjs-backend-wasm may keep handles open; the results are written
  process.exit(process.exitCode ?? 0);
}, (err: unknown) => {
  console.error(err);
  process.exit(1);
});
