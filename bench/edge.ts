// The kernel on edge devices: one stepBatch call of each production build in Node (SIMD, relaxed SIMD, scalar) and
// of the scalar build translated to C (examples/c-host: wasm2c, gcc -O2) beside them, in one interleaved run, with
// the builds' sizes. Run: `npm run bench:edge` (builds first; relaxed SIMD where Node runs it, through
// bench/with-relaxed-simd.mjs). Writes the edge section of bench/RESULTS.md. Needs make, gcc and wasm2c for the C
// column (left out, and said so, without them).
//
// Each round times every build once per workload, in an order that rotates from round to round, so the machine's
// drifts fall on all alike; a C sample is one run of `seqcast-host --time CALLS BATCH`, which times its own calls
// (process start and model loading excluded). The report gives each build's median and p10–p90 over the rounds.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, loadModel, supportsRelaxedSimd, type KernelVariant, type ModelSpec } from '../src/index.js';
import { KERNEL_FILES } from '../src/kernel/kernel.js';
import { fmtUs, machineInfo } from './common.js';
import { writeResultsSection } from './report.js';
import { SMOKE, spread } from './timing.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_MD = new URL('RESULTS.md', import.meta.url);
const ROUNDS = SMOKE ? 2 : 9;
/** Each sample runs about this long, ms. */
const SAMPLE_MS = SMOKE ? 10 : 150;

interface Workload { name: string; spec: ModelSpec; batch: number }

const WORKLOADS: Workload[] = [
  { name: 'LSTM H=128 X=8, 1 stream', spec: { cell: 'lstm', inputSize: 8, hiddenSize: 128, outputSize: 8, seed: 1 }, batch: 1 },
  { name: 'LSTM H=128 X=8, 64 streams', spec: { cell: 'lstm', inputSize: 8, hiddenSize: 128, outputSize: 8, seed: 2 }, batch: 64 },
  { name: 'GRU H=64 X=4 2 layers, 16 streams', spec: { cell: 'gru', layers: 2, inputSize: 4, hiddenSize: 64, outputSize: 4, seed: 3 }, batch: 16 },
  {
    name: 'transformer D=64 4 heads FF=256 2 blocks W=128, 16 streams',
    spec: { kind: 'transformer', inputSize: 8, width: 64, heads: 4, mlpSize: 256, blocks: 2, window: 128, sinks: 4, outputSize: 8, seed: 4 },
    batch: 16,
  },
];

type Build = KernelVariant | 'c-host';
const LABELS: Record<Build, string> = {
  baseline: 'SIMD (seqcast.wasm)',
  relaxed: 'relaxed SIMD',
  scalar: 'scalar (seqcast-scalar.wasm)',
  'c-host': 'C host (wasm2c, gcc -O2)',
};

const hasTools = ['make', 'gcc', 'wasm2c'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
const builds: Build[] = ['baseline', ...(supportsRelaxedSimd() ? ['relaxed' as const] : []), 'scalar', ...(hasTools ? ['c-host' as const] : [])];

const dir = mkdtempSync(join(tmpdir(), 'seqcast-edge-'));
const cHostDir = join(ROOT, 'examples/c-host/build');
if (hasTools) {
  console.log('building examples/c-host ...');
  execFileSync('make', ['-s', '-C', join(ROOT, 'examples/c-host'), `OUT=${cHostDir}`], { stdio: 'inherit' });
}

/** Frames for a workload: 64 rows of the model's input width, as a CSV the C host reads. */
function framesCsv(columns: number): string {
  const rows = Array.from({ length: 64 }, (_, t) => Array.from({ length: columns }, (_, j) => Math.sin(0.1 * t + j).toFixed(5)).join(','));
  return `${rows.join('\n')}\n`;
}

/** A timed run of `calls` stepBatch calls on one build: µs per call. */
type Sampler = (calls: number) => number;

async function nodeSampler(modelPath: string, variant: KernelVariant, batch: number, frames: number[][]): Promise<Sampler> {
  const model = await loadModel(modelPath, { kernel: variant, batchCapacity: batch });
  const kernel = model.kernel;
  for (let b = 0; b < batch; b++) {
    kernel.setSlot(b, kernel.openSlot());
    kernel.f32.set(frames[b % frames.length], kernel.inputOffset(b));
  }
  return (calls) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) kernel.step(batch);
    return Number(process.hrtime.bigint() - t0) / 1e3 / calls;
  };
}

function cSampler(modelPath: string, csvPath: string, batch: number): Sampler {
  return (calls) => {
    const out = execFileSync(join(cHostDir, 'seqcast-host'), ['--time', String(calls), String(batch), modelPath, csvPath], { encoding: 'utf8' });
    const match = /: ([\d.]+) us per call/.exec(out);
    if (!match) throw new Error(`seqcast-host --time printed ${JSON.stringify(out)}`);
    return Number(match[1]);
  };
}

/** Calls that take about SAMPLE_MS on this sampler (after a warm-up). */
function calibrate(sample: Sampler): number {
  sample(10);
  let calls = 10;
  for (;;) {
    const us = sample(calls) * calls;
    if (us >= 20_000) return Math.max(1, Math.round((calls * SAMPLE_MS * 1000) / us));
    calls *= 4;
  }
}

interface Row { workload: Workload; perBuild: Partial<Record<Build, { median: number; p10: number; p90: number }>> }

const rows: Row[] = [];
for (const workload of WORKLOADS) {
  const model = await createModel(workload.spec);
  const modelPath = join(dir, `${workload.spec.seed}.safetensors`);
  await model.save(modelPath);
  const csv = framesCsv(model.inputSize);
  const csvPath = `${modelPath}.csv`;
  writeFileSync(csvPath, csv);
  const frames = csv.trim().split('\n').map((line) => line.split(',').map(Number));
  model.close();

  const samplers = new Map<Build, Sampler>();
  for (const build of builds) {
    samplers.set(build, build === 'c-host' ? cSampler(modelPath, csvPath, workload.batch) : await nodeSampler(modelPath, build, workload.batch, frames));
  }
  const calls = new Map([...samplers].map(([build, sample]) => [build, calibrate(sample)]));
  const samples = new Map<Build, number[]>(builds.map((b) => [b, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < builds.length; k++) {
      const build = builds[(k + round) % builds.length];
      samples.get(build)!.push(samplers.get(build)!(calls.get(build)!));
    }
  }
  const perBuild = Object.fromEntries(builds.map((b) => [b, spread(samples.get(b)!)]));
  rows.push({ workload, perBuild });
  console.log(workload.name, Object.entries(perBuild).map(([b, s]) => `${b} ${fmtUs(s.median)} µs`).join(', '));
}
rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------- the section

const sizeOf = (file: string) => statSync(join(ROOT, 'build', file)).size;
const cell = (s: { median: number; p10: number; p90: number } | undefined) => (s ? `${fmtUs(s.median)} (${fmtUs(s.p10)}–${fmtUs(s.p90)})` : '–');
const ratio = (s: { median: number } | undefined, base: { median: number } | undefined) => (s && base ? `${(s.median / base.median).toFixed(2)}×` : '–');
const machine = machineInfo();
const lines = [
  '<!-- edge:start -->',
  '## Edge: the scalar build, the C host and the size budget',
  '',
  `Written by \`npm run bench:edge\` (bench/edge.ts) on ${machine.date.slice(0, 10)}: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}` +
    ` (load average ${machine.loadavg.map((x) => x.toFixed(1)).join(' ')} at the end). One \`stepBatch\` call of every stream, µs: median (p10–p90)` +
    ` of ${ROUNDS} interleaved rounds, each build once per round in rotating order. The C host is build/seqcast-scalar.wasm through wasm2c` +
    ' (wabt 1.0.32) and gcc -O2 -ffp-contract=off (examples/c-host), timing its own calls.' +
    (hasTools ? '' : ' **No C column: make, gcc or wasm2c is not installed.**') +
    (supportsRelaxedSimd() ? '' : ' No relaxed-SIMD column: this Node does not run relaxed SIMD.'),
  '',
  `| workload | ${builds.map((b) => LABELS[b]).join(' | ')} | ${builds.filter((b) => b !== 'baseline').map((b) => `${LABELS[b].split(' (')[0]} / SIMD`).join(' | ')} |`,
  `|---|${builds.map(() => '---:').join('|')}|${builds.filter((b) => b !== 'baseline').map(() => '---:').join('|')}|`,
  ...rows.map(({ workload, perBuild }) =>
    `| ${workload.name} | ${builds.map((b) => cell(perBuild[b])).join(' | ')} | ${builds.filter((b) => b !== 'baseline').map((b) => ratio(perBuild[b], perBuild.baseline)).join(' | ')} |`),
  '',
  'Sizes of the production builds (the budget is 65,536 bytes each, checked by tests/kernel-builds.test.ts):',
  '',
  '| build | bytes | headroom |',
  '|---|---:|---:|',
  ...Object.values(KERNEL_FILES).map((file) => `| build/${file} | ${sizeOf(file).toLocaleString('en-US')} | ${(65_536 - sizeOf(file)).toLocaleString('en-US')} |`),
  '<!-- edge:end -->',
];
await writeResultsSection(RESULTS_MD, '<!-- edge:start -->', '<!-- edge:end -->', lines.join('\n'));
console.log(lines.join('\n'));
