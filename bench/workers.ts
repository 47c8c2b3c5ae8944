// The server on one thread, and with a pool of 1 and 2 worker threads, back to back, on the workload of
// bench/server.ts (LSTM H=64, X=1, 1,000 streams over 4 connections, a load generator in another process):
// flat-out frames/s, binary and JSON, then p50/p99 at 25/50/90% of each one's own max; the process's CPU per frame
// (every thread), and the socket thread's own CPU per frame (/proc/self/task/PID/stat: the main thread's user +
// system ticks, which load does not inflate, unlike its busy time) — what parsing, routing and crossing cost it.
// Writes its section of bench/RESULTS.md (between <!-- workers:start --> and <!-- workers:end -->).
//
// Run: npm run bench:workers (builds first: the workers run dist/cluster/worker.js)

import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { workerPool } from '../src/cluster/pool.js';
import { createModel } from '../src/index.js';
import { SeqcastServer } from '../src/server/server.js';
import { drainGenerator, runGenerator, startGenerator } from './load-generator.js';
import { writeResultsSection } from './report.js';
import { floodServerOptions } from './common.js';

const HIDDEN = 64;
const STREAMS = 1000;
const CONNECTIONS = 4;
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 4);
const LEVEL_SECONDS = Number(process.env.BENCH_LEVEL_SECONDS ?? 3);
const WARMUP_SECONDS = 1;
const LEVELS = [0.25, 0.5, 0.9];
/** 0: the in-thread server (--workers 1); N ≥ 1: a pool of N worker threads beside the socket thread. */
const WORKERS = (process.env.BENCH_WORKERS ?? '0,1,2').split(',').map(Number);
const nameOf = (workers: number) => (workers === 0 ? 'one thread' : `pool of ${workers}`);
/** Rounds of the whole comparison, interleaved (1, 2, 1, 2, …): the table gives medians and the spread over them. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);

interface Level {
  share: number;
  target: number;
  framesPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time of this process, every thread (user + system), per frame answered in the whole level, µs. */
  cpuMicros: number;
  /** The main (socket) thread's busy time per frame answered, µs. */
  socketMicros: number;
  /** The main (socket) thread's own CPU time per frame answered, µs. */
  socketCpuMicros: number;
}

/** CPU time of this process's main thread so far, µs (Linux: utime + stime of /proc/self/task/PID/stat, in clock ticks of 10 ms). */
function mainThreadCpuMicros(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function level(child: Awaited<ReturnType<typeof startGenerator>>, share: number, target: number, seconds: number): Promise<Level> {
  const cpu = process.cpuUsage();
  const main = mainThreadCpuMicros();
  const elu = performance.eventLoopUtilization();
  const run = await runGenerator(child, target, seconds, WARMUP_SECONDS);
  const used = process.cpuUsage(cpu);
  const busy = performance.eventLoopUtilization(elu);
  const mainUsed = mainThreadCpuMicros() - main;
  const frames = Math.max(1, run.allFrames);
  return { share, target, framesPerSecond: run.framesPerSecond, p50: run.p50, p99: run.p99, errors: run.errors, cpuMicros: (used.user + used.system) / frames, socketMicros: (busy.active * 1000) / frames, socketCpuMicros: mainUsed / frames };
}

/** One server (1 or N workers) under one kind of frames: its max, then its levels. */
async function measure(workers: number, mode: 'json' | 'binary'): Promise<Level[]> {
  const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: HIDDEN, outputSize: 1, seed: 1 }, { batchCapacity: 256 });
  const server = await SeqcastServer.start({
    models: [{ name: 'bench', model }],
    ...floodServerOptions(STREAMS),
    engine: workers > 0 ? workerPool({ workers }) : undefined,
  });
  const child = await startGenerator(server.url, mode, STREAMS, CONNECTIONS);
  try {
    const max = await level(child, 1, 0, MAX_SECONDS);
    const levels = [max];
    for (const share of LEVELS) levels.push(await level(child, share, Math.round(max.framesPerSecond * share), LEVEL_SECONDS));
    await drainGenerator(child, 2);
    for (const l of levels) process.stdout.write(`${nameOf(workers)} ${mode} ${l.share === 1 ? 'max' : `${l.share * 100}%`}: ${Math.round(l.framesPerSecond)} frames/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, CPU ${l.cpuMicros.toFixed(2)} µs/frame, socket thread CPU ${l.socketCpuMicros.toFixed(2)} µs/frame (busy ${l.socketMicros.toFixed(2)}), load ${loadavg()[0].toFixed(1)}\n`);
    return levels;
  } finally {
    child.send({ type: 'exit' });
    await server.close();
    model.close();
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const loadBefore = loadavg();
const started = performance.now();
const rounds = new Map<string, Level[][]>();
// interleaved and back to back per kind of frames, so 1 and 2 workers meet the same spells of the machine
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['binary', 'json'] as const) {
    for (const workers of WORKERS) {
      const key = `${workers} ${mode}`;
      rounds.set(key, [...(rounds.get(key) ?? []), await measure(workers, mode)]);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[], digits = 0) => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;
/** Each level's median over the rounds, field by field. */
const results = new Map<string, Level[]>();
for (const [key, runs] of rounds) {
  results.set(key, runs[0].map((first, i) => {
    const field = (name: keyof Level) => median(runs.map((r) => r[i][name]));
    return { share: first.share, target: field('target'), framesPerSecond: field('framesPerSecond'), p50: field('p50'), p99: field('p99'), errors: Math.max(...runs.map((r) => r[i].errors)), cpuMicros: field('cpuMicros'), socketMicros: field('socketMicros'), socketCpuMicros: field('socketCpuMicros') };
  }));
}
const spreadOf = (key: string, i: number, name: keyof Level, digits = 0) => spread(rounds.get(key)!.map((r) => r[i][name]), digits);
const loadAfter = loadavg();

const rows: string[] = [];
for (const mode of ['binary', 'json'] as const) {
  for (const workers of WORKERS) {
    const key = `${workers} ${mode}`;
    for (const [i, l] of results.get(key)!.entries()) {
      const load = l.share === 1 ? 'max (flat out)' : `${l.share * 100}%`;
      const rate = l.share === 1 ? `**${fmt(l.framesPerSecond)}** (${spreadOf(key, i, 'framesPerSecond')})` : fmt(l.framesPerSecond);
      const p99 = `${l.share === 0.5 ? `**${l.p99.toFixed(2)}**` : l.p99.toFixed(2)} (${spreadOf(key, i, 'p99', 2)})`;
      rows.push(`| ${nameOf(workers)} | ${mode} | ${load} | ${l.share === 1 ? '—' : fmt(l.target)} | ${rate} | ${l.p50.toFixed(2)} | ${p99} | ${l.cpuMicros.toFixed(2)} | ${l.socketCpuMicros.toFixed(2)} (${spreadOf(key, i, 'socketCpuMicros', 2)}) | ${l.socketMicros.toFixed(2)} | ${l.errors} |`);
    }
  }
}
const max = (workers: number, mode: string) => results.get(`${workers} ${mode}`)![0].framesPerSecond;
const p99At50 = (workers: number, mode: string) => results.get(`${workers} ${mode}`)!.find((l) => l.share === 0.5)!.p99;
const socketAtMax = (workers: number, mode: string) => results.get(`${workers} ${mode}`)![0].socketCpuMicros;
/** A worker's CPU per frame, µs: the process's CPU per frame less the socket thread's, over the pool of 1 flat out. */
const workerCpu = (mode: string) => results.get(`1 ${mode}`)![0].cpuMicros - socketAtMax(1, mode);
const projected = (mode: string, cores: number) => {
  // the socket thread is the serial part: it caps the rate at 1e6 / its CPU µs per frame however many workers step;
  // below it, cores - 1 workers each step 1e6 / (a worker's CPU µs per frame)
  const socketCap = 1e6 / socketAtMax(2, mode);
  return Math.min(socketCap, ((cores - 1) * 1e6) / workerCpu(mode));
};
const ratio = (workers: number, mode: string) => max(workers, mode) / max(0, mode);
const text = `<!-- workers:start -->
## Workers: one thread, a pool of 1 and a pool of 2, back to back

Written by \`npm run bench:workers\` (bench/workers.ts; the workload of bench/server.ts: LSTM X=1, H=${HIDDEN}, batchCapacity 256, ${fmt(STREAMS)} streams over ${CONNECTIONS} loopback connections, the load generator bench/server-load.mjs in another process). **one thread** is \`--workers 1\` (the in-thread server); **pool of N** is the socket thread and N worker threads (\`--workers N\`; a pool of 1 is what \`--workers 1\` would be if it crossed to a worker).

Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString()}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} at the start and ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} at the end (other work shared this machine: read the ratios, not the digits). The load generator shares the same ${cpus().length} cores: a pool of 2 is 3 busy threads plus the generator on 2 cores, oversubscribed by construction.

- ${ROUNDS} rounds, interleaved (one thread, pool of 1, pool of 2; binary then JSON; round after round): each cell is the median over the rounds, (min–max) beside it.
- **max**: closed loop, ${MAX_SECONDS} s after ${WARMUP_SECONDS} s of warm-up; **25/50/90%**: open loop at that share of *each one's own* max, ${LEVEL_SECONDS} s; latency is client-observed.
- **CPU µs / frame**: this process's CPU time, every thread (socket thread and workers), over the level ÷ frames answered.
- **socket thread CPU µs / frame**: the main thread's own CPU time (utime + stime of /proc/self/task/PID/stat, 10 ms ticks) ÷ frames answered: with workers, what parsing, routing, crossing and answering cost the one thread every frame passes through. Unlike its busy time (next column, \`performance.eventLoopUtilization().active\`), it does not count time the thread waited for a core.

| server | frames | load | target frames/s | sustained frames/s | p50 ms | p99 ms | CPU µs / frame | socket thread CPU µs / frame | socket thread busy µs / frame | errors |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

| target (issue 16) | measured | |
|---|---|---|
| 2 workers ≥ 1.8× one thread, flat out | binary ${ratio(2, 'binary').toFixed(2)}×, JSON ${ratio(2, 'json').toFixed(2)}× (pool of 1: ${ratio(1, 'binary').toFixed(2)}×, ${ratio(1, 'json').toFixed(2)}×) | ${ratio(2, 'binary') >= 1.8 && ratio(2, 'json') >= 1.8 ? 'met' : '**not met**'} |
| p99 at 50% no worse than one thread at its own 50% | binary ${p99At50(2, 'binary').toFixed(2)} vs ${p99At50(0, 'binary').toFixed(2)} ms, JSON ${p99At50(2, 'json').toFixed(2)} vs ${p99At50(0, 'json').toFixed(2)} ms | ${p99At50(2, 'binary') <= p99At50(0, 'binary') && p99At50(2, 'json') <= p99At50(0, 'json') ? 'met' : '**not met**'} |

**16 cores, projected (not measured).** With N workers the socket thread is the serial part: it caps the rate at 1,000,000 ÷ its CPU µs per frame (pool of 2, flat out: binary ${socketAtMax(2, 'binary').toFixed(2)}, JSON ${socketAtMax(2, 'json').toFixed(2)} µs), whatever the workers do; below the cap each worker steps 1,000,000 ÷ a worker's CPU µs per frame (the pool of 1's CPU per frame less its socket thread's: binary ${workerCpu('binary').toFixed(2)}, JSON ${workerCpu('json').toFixed(2)} µs). For 16 cores (15 workers and the socket thread; the load generator elsewhere), min(cap, 15 workers): binary ${fmt(projected('binary', 16))} frames/s (cap ${fmt(1e6 / socketAtMax(2, 'binary'))}), JSON ${fmt(projected('json', 16))} frames/s (cap ${fmt(1e6 / socketAtMax(2, 'json'))}). It assumes CPU per frame stays what it is here (memory bandwidth, the kernel's batches and the NIC are not modelled). Past the cap, more than one socket thread (SO_REUSEPORT processes, or the NATS engine of DESIGN.md) is the way on.

Whole run: ${((performance.now() - started) / 1000).toFixed(1)} s.
<!-- workers:end -->`;
await writeResultsSection(RESULTS_MD, '<!-- workers:start -->', '<!-- workers:end -->', text);
process.stdout.write('\nwrote the workers section of bench/RESULTS.md\n');
process.exit(0);
