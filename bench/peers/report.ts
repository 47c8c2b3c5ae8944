// The peer benchmark's report: the tables, the issue's targets and the RESULTS.md section.

import { fmtGflops, fmtRate, fmtUs, type Machine, type WasmInfo } from '../common.js';
import { AGREE_TOL, O, X, type Agreement } from './setup.js';
import { AGREE_STEPS, flops, GROUPS, REPEAT_TARGET_MS, REPEATS, SIZES, W2_HIDDEN, W2_STREAMS, W3_HIDDEN, W3_LENGTH, WARMUP_MIN_CALLS, WARMUP_MS, type Measured, type Skipped, type Workload } from './workloads.js';

export const SECTION_START = '<!-- peers:start -->';
export const SECTION_END = '<!-- peers:end -->';

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

/** A row's seqcast speed-up: "12×", "1×" for seqcast itself. */
export function speedupCell(r: Measured): string {
  if (r.id === 'seqcast') return '1×';
  if (r.seqcastSpeedup === undefined) return '–';
  const ratio = r.seqcastSpeedup;
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}×`;
}

/** Every timed and skipped peer, workload by workload. */
export function resultsTable(results: Measured[], skipped: Skipped[]): string {
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

export interface Target {
  target: string;
  measured: string;
  met: boolean | undefined; // undefined: nothing to judge
}

const LIBRARY_PEERS = ['tfjs-cpu', 'tfjs-wasm', 'onnxruntime-node', 'onnxruntime-web', 'brain.js'];
const WASM_PEERS = ['tfjs-wasm', 'onnxruntime-web'];

/** The issue's targets, judged on this run's results. */
export function targetsFrom(results: Measured[]): Target[] {
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

/** The targets as a markdown table. */
export function targetsTable(targets: Target[]): string {
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

/** The peers section of bench/RESULTS.md, between SECTION_START and SECTION_END. */
export function section(machine: Machine, wasm: WasmInfo, results: Measured[], skipped: Skipped[], targets: Target[], seconds: number): string {
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
