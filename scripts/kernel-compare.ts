// Times two builds of the kernel against each other in one process, interleaved: the build before a refactor
// (a folder holding its seqcast.wasm, default /work/kernel-old) and build/. Each round times every kernel below on
// both builds, in alternating order, so the machine's noise (other tenants, frequency) falls on both alike; the
// report gives each build's median and spread (p10–p90) per call, and the median of the per-round ratios new/old.
//
//   npx tsx scripts/kernel-compare.ts [--old DIR] [--new DIR] [--rounds N] [--relaxed] [--only NAME-PREFIX]
//   npx tsx scripts/kernel-compare.ts --callgrind [--old DIR] [--new DIR]   instructions per call, under valgrind
//   npx tsx scripts/kernel-compare.ts --count NAME --build DIR --calls N   (one kernel, N calls: what --callgrind runs)
//
// --callgrind counts the instructions one call of each kernel executes (valgrind --tool=callgrind, V8 with TurboFan
// only, --no-liftoff, so the code does not change tier while it runs): the count of a process making N₂ calls less
// that of one making N₁, over N₂ − N₁. Unlike times, the counts do not move with the machine's load.
//
// The kernels drive the raw ABI (tests/helpers/kernel-digests.ts Abi), so host code plays no part.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Abi, ADAM, CELL, LOSS_CE, LOSS_MSE, seedParams, seeded } from '../tests/helpers/kernel-digests.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const OLD = option('--old', '/work/kernel-old');
const NEW = option('--new', fileURLToPath(new URL('../build', import.meta.url)));
const ROUNDS = Number(option('--rounds', '15'));
const FILE = args.includes('--relaxed') ? 'seqcast-relaxed.wasm' : 'seqcast.wasm';

/** A kernel to time: set up once per build, then `run` is one call (or a few), timed many times. */
interface Workload {
  name: string;
  /** Calls per timing sample (about 20 ms of work). */
  calls: number;
  setup(abi: Abi): () => void;
}

/** Opens `streams` slots of a configured model, fills the io with seeded frames (or tokens), returns one batched step. */
function stepper(abi: Abi, streams: number, vocab = 0): () => void {
  seedParams(abi, 1, 0.3);
  const X = abi.call('getInputSize'), next = seeded(2, 1);
  const slots = Array.from({ length: streams }, () => abi.ok('slotOpen'));
  abi.writeI32(abi.call('getIoSlotsPtr'), slots);
  if (vocab > 0) abi.writeI32(abi.call('getIoTokensPtr'), slots.map((_, i) => (i * 7) % vocab));
  else abi.write(abi.call('getIoInputPtr'), Array.from({ length: streams * X }, next));
  return () => { abi.call('stepBatch', streams); };
}

/** Fills the training buffers with seeded windows; returns one fused trainStep (forward, BPTT, clipping, Adam). */
function trainer(abi: Abi, T: number, B: number, vocab = 0): () => void {
  seedParams(abi, 3, 0.3);
  abi.ok('trainConfigure', T, B);
  abi.ok('optimizerConfigure', ADAM, 1e-4, 0.9, 0.999, 1e-8, 0, 1, 0);
  const X = abi.call('getInputSize'), O = abi.call('getOutputSize'), next = seeded(4, 1);
  if (vocab > 0) {
    abi.writeI32(abi.call('trainTokensPtr'), Array.from({ length: T * B }, (_, n) => (n * 5) % vocab));
    abi.writeI32(abi.call('trainTargetTokensPtr'), Array.from({ length: T * B }, (_, n) => (n * 3) % O));
  } else {
    abi.write(abi.call('trainInputPtr'), Array.from({ length: T * B * X }, next));
    abi.write(abi.call('trainTargetPtr'), Array.from({ length: T * B * O }, next));
  }
  abi.write(abi.call('trainMaskPtr'), new Array(T * B).fill(1));
  const loss = vocab > 0 ? LOSS_CE : LOSS_MSE;
  return () => { abi.ok('trainStep', T, B, loss); };
}

const WORKLOADS: Workload[] = [
  { name: 'LSTM H=128 X=8, step of 64 streams', calls: 100, setup: (a) => (a.ok('configure', CELL.lstm, 1, 8, 0, 128, 8, 64, 64), stepper(a, 64)) },
  { name: 'LSTM H=128 X=8, step of 1 stream', calls: 4000, setup: (a) => (a.ok('configure', CELL.lstm, 1, 8, 0, 128, 8, 1, 1), stepper(a, 1)) },
  { name: 'GRU H=128 X=8 2 layers, step of 64 streams', calls: 50, setup: (a) => (a.ok('configure', CELL.gru, 2, 8, 0, 128, 8, 64, 64), stepper(a, 64)) },
  { name: 'char LSTM V=65 E=64 H=256, step of 32 streams', calls: 40, setup: (a) => (a.ok('configure', CELL.lstm, 1, 64, 65, 256, 65, 32, 32), stepper(a, 32, 65)) },
  { name: 'transformer D=64 4 heads FF=256 2 blocks W=128, step of 16', calls: 200, setup: (a) => (a.ok('configureTransformer', 8, 0, 64, 4, 256, 2, 128, 4, 8, 16, 16), stepper(a, 16)) },
  { name: 'LSTM H=64 X=8, trainStep T=32 B=8', calls: 5, setup: (a) => (a.ok('configure', CELL.lstm, 1, 8, 0, 64, 8, 1, 1), trainer(a, 32, 8)) },
  { name: 'char LSTM V=65 E=64 H=128, trainStep T=32 B=4', calls: 5, setup: (a) => (a.ok('configure', CELL.lstm, 1, 64, 65, 128, 65, 1, 1), trainer(a, 32, 4, 65)) },
  { name: 'transformer D=32 FF=64 2 blocks W=16, trainStep T=32 B=4', calls: 3, setup: (a) => (a.ok('configureTransformer', 4, 0, 32, 4, 64, 2, 16, 2, 4, 1, 1), trainer(a, 32, 4)) },
];

const load = (dir: string) => new WebAssembly.Module(readFileSync(`${dir}/${FILE}`));

/** µs per call of `run`, over `calls` calls. */
function sample(run: () => void, calls: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) run();
  return Number(process.hrtime.bigint() - t0) / 1e3 / calls;
}

const quantile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))];

function compare(): void {
  const builds = { old: load(OLD), new: load(NEW) };
  console.log(`${FILE}: old ${OLD}, new ${NEW}; ${ROUNDS} rounds, interleaved (order alternating per round)\n`);
  console.log('| kernel | old median µs (p10–p90) | new median µs (p10–p90) | new/old, median of round ratios (p10–p90) |');
  console.log('|---|---:|---:|---:|');
  for (const w of WORKLOADS.filter((x) => x.name.startsWith(option('--only', '')))) {
    const runs = { old: w.setup(new Abi(builds.old)), new: w.setup(new Abi(builds.new)) };
    for (let i = 0; i < 3; i++) { sample(runs.old, w.calls); sample(runs.new, w.calls); } // warm up: tier up both
    const times = { old: [] as number[], new: [] as number[] }, ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
      const got: Record<string, number> = {};
      for (const which of order) got[which] = sample(runs[which], w.calls);
      times.old.push(got.old); times.new.push(got.new); ratios.push(got.new / got.old);
    }
    const fmt = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `${quantile(s, 0.5).toFixed(2)} (${quantile(s, 0.1).toFixed(2)}–${quantile(s, 0.9).toFixed(2)})`;
    };
    const r = [...ratios].sort((a, b) => a - b);
    console.log(`| ${w.name} | ${fmt(times.old)} | ${fmt(times.new)} | ${quantile(r, 0.5).toFixed(3)} (${quantile(r, 0.1).toFixed(3)}–${quantile(r, 0.9).toFixed(3)}) |`);
  }
}

/** One kernel, `calls` calls on one build, nothing else: run under valgrind --tool=callgrind to count instructions. */
function count(name: string, dir: string, calls: number): void {
  const w = WORKLOADS.find((x) => x.name.startsWith(name));
  if (!w) throw new Error(`no kernel named ${name}: ${WORKLOADS.map((x) => x.name).join('; ')}`);
  const run = w.setup(new Abi(load(dir)));
  for (let i = 0; i < calls; i++) run();
}

/** Instructions (callgrind's Ir) of a whole process that makes `calls` calls of kernel `name` on build `dir`. */
function instructions(name: string, dir: string, calls: number): number {
  const script = fileURLToPath(import.meta.url);
  const run = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--no-liftoff',
    '--import', 'tsx', script, '--count', name, '--build', dir, '--calls', String(calls), ...(FILE === 'seqcast.wasm' ? [] : ['--relaxed'])],
  { encoding: 'utf8' });
  const collected = /Collected : (\d+)/.exec(run.stderr);
  if (run.status !== 0 || !collected) throw new Error(`valgrind failed (${run.status}): ${run.stderr.slice(-2000)}`);
  return Number(collected[1]);
}

function callgrind(): void {
  console.log(`${FILE}: instructions per call (callgrind Ir, node --no-liftoff), old ${OLD}, new ${NEW}\n`);
  console.log('| kernel | old Ir per call | new Ir per call | new/old |');
  console.log('|---|---:|---:|---:|');
  for (const w of WORKLOADS) {
    const n1 = Math.max(1, Math.round(w.calls / 4)), n2 = n1 + 2 * w.calls;
    const perCall = (dir: string) => (instructions(w.name, dir, n2) - instructions(w.name, dir, n1)) / (n2 - n1);
    const old = perCall(OLD), now = perCall(NEW);
    console.log(`| ${w.name} | ${Math.round(old).toLocaleString('en')} | ${Math.round(now).toLocaleString('en')} | ${(now / old).toFixed(4)} |`);
  }
}

if (args.includes('--count')) count(option('--count', ''), option('--build', NEW), Number(option('--calls', '100')));
else if (args.includes('--callgrind')) callgrind();
else compare();
