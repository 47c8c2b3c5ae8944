// The server under load: LSTM H=64, X=1, 1,000 streams, a load generator in another process on loopback.
// Sustained frames/s flat out, then client-observed latency at 25/50/90% of that rate, for JSON and binary frames.
// Writes its section of bench/RESULTS.md (between <!-- server:start --> and <!-- server:end -->).
//
// Run: npm run bench:server (or all of npm run bench)

import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createModel } from '../src/index.js';
import { SeqcastServer } from '../src/server/server.js';
import { ask, startGenerator } from './load-generator.js';
import { writeResultsSection } from './report.js';
import { calibrateWork, measureSteadiness, startEchoServer, type Steadiness } from './echo-server.js';
import { floodServerOptions } from './common.js';

const HIDDEN = 64;
const STREAMS = 1000;
const CONNECTIONS = 4;
const MAX_SECONDS = 4;
const LEVEL_SECONDS = 3;
const WARMUP_SECONDS = 1;
const LEVELS = [0.25, 0.5, 0.9];
/** Corrections of the work stand-in's work per frame against its own max. */
const WORK_ROUNDS = 3;
/** Seconds of fixed work timed alone, before and after the run, to see how steady the machine is. */
const STEADINESS_SECONDS = 5;
/** The whole run is stopped after this long, whatever happens. */
const DEADLINE_MS = 300_000;

const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);

interface LevelResult {
  framesPerSecond: number;
  p50: number;
  p99: number;
  frames: number;
  /** Frames answered in the whole run (warm-up and drain included). */
  allFrames: number;
  errors: number;
  /** The server's CPU time (this process: user + system) per answered frame over the whole run, µs. */
  cpuMicrosPerFrame: number;
}

/** Runs one level, also measuring this process's CPU time (the server's; the generator is another process). */
async function runLevel(child: ChildProcess, rate: number, seconds: number): Promise<LevelResult> {
  const before = process.cpuUsage();
  const result = (await ask(child, { type: 'run', rate, seconds, warmup: WARMUP_SECONDS })) as unknown as LevelResult;
  const used = process.cpuUsage(before);
  return { ...result, cpuMicrosPerFrame: (used.user + used.system) / Math.max(1, result.allFrames) };
}

interface FloorResult {
  share: number;
  target: number;
  echo: LevelResult;
  work: LevelResult;
}

interface Measured {
  max: LevelResult;
  levels: (LevelResult & { target: number; share: number })[];
  floors: FloorResult[];
  echoMax: LevelResult;
  workMax: LevelResult;
  /** Per frame, the work stand-in's fixed work: what it took when calibrated, µs. */
  workMicros: number;
}

/** A server under test with its own load generator (1,000 streams open). */
interface Target {
  child: ChildProcess;
  close(): Promise<void>;
}

async function withGenerator(url: string, mode: 'json' | 'binary', close: () => Promise<void>): Promise<Target> {
  const child = await startGenerator(url, mode, STREAMS, CONNECTIONS);
  return {
    child,
    close: async () => {
      child.send({ type: 'exit' });
      await close();
    },
  };
}

/**
 * seqcast, then two stand-ins on the same loopback, process and event loop, each with its own generator: `echo`
 * answers each message at once and does nothing else; `work` answers message by message after doing, per frame, a
 * fixed amount of arithmetic that took seqcast's service time less echo's own (1 / max frames/s of each, flat out,
 * in this run) when calibrated. Its work is counted in operations, not in wall-clock time, so when the machine slows
 * down it takes longer, as seqcast's does. Its p99 at a load is what this machine leaves for any server with that
 * much work per frame; its own flat-out max checks that its work per frame matches seqcast's. Each load level runs
 * the three back to back, so that they meet the same spell of the machine.
 */
async function measure(mode: 'json' | 'binary'): Promise<Measured> {
  const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: HIDDEN, outputSize: 1, seed: 1 }, { batchCapacity: 256 });
  const targets: Target[] = [];
  try {
    const server = await SeqcastServer.start({
      models: [{ name: 'bench', model }],
      ...floodServerOptions(STREAMS),
    });
    const seqcast = await withGenerator(server.url, mode, () => server.close());
    targets.push(seqcast);
    const max = await runLevel(seqcast.child, 0, MAX_SECONDS);
    process.stdout.write(`${mode}: max ${Math.round(max.framesPerSecond)} frames/s (p50 ${max.p50.toFixed(2)} ms, p99 ${max.p99.toFixed(2)} ms under saturation)\n`);

    const echoServer = await startEchoServer(16 * 1024 * 1024);
    const echo = await withGenerator(echoServer.url, mode, () => echoServer.close());
    targets.push(echo);
    const echoMax = await runLevel(echo.child, 0, MAX_SECONDS);
    // the work per frame: calibrated alone first, then corrected against the stand-in's own flat-out max (measured
    // the way seqcast's is) until its max is within 10% of seqcast's
    const workMicros = Math.max(0, 1e6 / max.framesPerSecond - 1e6 / echoMax.framesPerSecond);
    let units = workMicros * calibrateWork();
    const workServer = await startEchoServer(16 * 1024 * 1024, units);
    const work = await withGenerator(workServer.url, mode, () => workServer.close());
    targets.push(work);
    let workMax = await runLevel(work.child, 0, MAX_SECONDS);
    for (let round = 0; round < WORK_ROUNDS && Math.abs(workMax.framesPerSecond / max.framesPerSecond - 1) > 0.1; round++) {
      const measuredMicros = 1e6 / workMax.framesPerSecond - 1e6 / echoMax.framesPerSecond;
      units *= workMicros / Math.max(0.1, measuredMicros);
      workServer.setWork(units);
      workMax = await runLevel(work.child, 0, MAX_SECONDS);
    }
    process.stdout.write(`${mode}: echo max ${Math.round(echoMax.framesPerSecond)} frames/s; work (${Math.round(units)} units/frame) max ${Math.round(workMax.framesPerSecond)} frames/s\n`);

    const levels: Measured['levels'] = [];
    const floors: FloorResult[] = [];
    for (const share of LEVELS) {
      const target = Math.round(max.framesPerSecond * share);
      const ours = await runLevel(seqcast.child, target, LEVEL_SECONDS);
      const floor: FloorResult = { share, target, work: await runLevel(work.child, target, LEVEL_SECONDS), echo: await runLevel(echo.child, target, LEVEL_SECONDS) };
      process.stdout.write(
        `${mode}: ${share * 100}% = ${target} frames/s → ${Math.round(ours.framesPerSecond)} frames/s, p50 ${ours.p50.toFixed(2)} ms, p99 ${ours.p99.toFixed(2)} ms; work p99 ${floor.work.p99.toFixed(2)} ms, echo p99 ${floor.echo.p99.toFixed(2)} ms\n`,
      );
      levels.push({ ...ours, target, share });
      floors.push(floor);
    }
    return { max, levels, floors, echoMax, workMax, workMicros };
  } finally {
    for (const target of targets) await target.close();
    model.close();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function section(results: Record<'json' | 'binary', Measured>, seconds: number, load: number[], steadiness: Steadiness[]): string {
  const rows: string[] = [];
  for (const mode of ['binary', 'json'] as const) {
    const { max, levels } = results[mode];
    rows.push(`| ${mode} | max (flat out) | — | **${fmt(max.framesPerSecond)}** | ${max.p50.toFixed(2)} | ${max.p99.toFixed(2)} | ${max.cpuMicrosPerFrame.toFixed(1)} | ${max.errors} |`);
    for (const level of levels) {
      rows.push(`| ${mode} | ${level.share * 100}% | ${fmt(level.target)} | ${fmt(level.framesPerSecond)} | ${level.p50.toFixed(2)} | **${level.p99.toFixed(2)}** | ${level.cpuMicrosPerFrame.toFixed(1)} | ${level.errors} |`);
    }
  }
  const floorRows: string[] = [];
  for (const mode of ['binary', 'json'] as const) {
    const { levels, floors, workMicros, echoMax, workMax, max } = results[mode];
    floorRows.push(`| ${mode} | max (flat out) | — | ${fmt(max.framesPerSecond)} | ${fmt(workMax.framesPerSecond)} (fixed work aimed at ${workMicros.toFixed(1)} µs/frame on top of echo's ${(1e6 / echoMax.framesPerSecond).toFixed(1)}) | ${fmt(echoMax.framesPerSecond)} | — |`);
    for (const floor of floors) {
      const ours = levels.find((l) => l.share === floor.share)!;
      floorRows.push(
        `| ${mode} | ${floor.share * 100}% | ${fmt(floor.target)} | p99 **${ours.p99.toFixed(2)}** ms | p99 ${floor.work.p99.toFixed(2)} ms | p99 ${floor.echo.p99.toFixed(2)} ms | ${(ours.p99 / floor.work.p99).toFixed(1)}× |`,
      );
    }
  }
  const p99At50 = (mode: 'json' | 'binary') => results[mode].levels.find((l) => l.share === 0.5)!.p99;
  const workAt50 = (mode: 'json' | 'binary') => results[mode].floors.find((l) => l.share === 0.5)!.work.p99;
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  return `<!-- server:start -->
## Server: frames/s and latency over WebSockets

Written by \`npm run bench:server\` (also the last part of \`npm run bench\`; bench/server.ts, load generator bench/server-load.mjs in a separate process).

Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString()} (load average at start ${load.map((l) => l.toFixed(2)).join(' / ')}).
Server and load generator share this machine's cores: the generator's JSON encoding and decoding competes with the server for CPU.

- Model: LSTM, X=1, H=${HIDDEN}, head 1, fresh weights (seed 1), \`batchCapacity\` 256; ${fmt(STREAMS)} streams (normalize: none) over ${CONNECTIONS} loopback connections.
- Frames go round robin over the streams, ${256} per message (a JSON array of frame messages, or one binary message); answers are JSON predictions or binary prediction records.
- **max**: closed loop, ${4096} frames in flight per connection, ${MAX_SECONDS} s measured after ${WARMUP_SECONDS} s of warm-up; frames/s = predictions received ÷ time.
- **25/50/90%**: open loop at that share of max, paced every 2 ms, ${LEVEL_SECONDS} s measured after ${WARMUP_SECONDS} s; latency is client-observed, from the send of a frame's message to the arrival of its prediction (includes the generator's own encode/decode).
- **server CPU µs / frame**: the server process's CPU time (user + system, \`process.cpuUsage\`) over the whole level, warm-up included, ÷ the frames answered in it. At a paced rate the server sleeps between the generator's ticks and works on smaller batches, so each frame costs it more than flat out: the level's real utilisation is its share × (this column ÷ the max row's).

| frames | load | target frames/s | sustained frames/s | p50 ms | p99 ms | server CPU µs / frame | errors |
|---|---|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

**How steady this machine runs.** Fixed arithmetic, sliced, timed alone in this process for ${STEADINESS_SECONDS} s before and after the run: the share of 20 ms windows in which it ran more than 2× slower than its median, and the slowest window. ${steadiness.map((m, i) => `${i === 0 ? 'Before' : 'After'}: ${(m.slowWindows * 100).toFixed(1)}% of windows, slowest ${m.worst.toFixed(1)}× the median.`).join(' ')} Both of this virtual machine's cores slow down together in such windows (seen with one such process pinned to each core), so no process placement avoids them; whatever runs in one takes that many times longer.

**What this machine allows.** The same generator, at the same rates, against two stand-ins in this process (bench/echo-server.ts): *echo* answers each message at once and does nothing else; *work* answers message by message after a fixed amount of arithmetic per frame, aimed at seqcast's service time less echo's own (1 ÷ max frames/s of each, flat out, in this run): timed alone first, then corrected (up to ${WORK_ROUNDS} times) until the stand-in's own max is within 10% of seqcast's. Its work is counted in operations, not waited for on the clock, so a slow window of the machine stretches it as it stretches seqcast's; its own max (first row of each kind) shows how close its cost per frame came to seqcast's. At each load the three run back to back, each with its own generator, so that they meet the same spell of the machine. A server with that much work per frame cannot do better than *work*: its p99 is what the machine's slow windows and the transport leave.

| frames | load | frames/s | seqcast | work stand-in | echo | seqcast ÷ work (p99) |
|---|---|---:|---:|---:|---:|---:|
${floorRows.join('\n')}

| target (issue 5) | measured | |
|---|---|---|
| binary ≥ 150,000 frames/s | ${fmt(results.binary.max.framesPerSecond)} | ${verdict(results.binary.max.framesPerSecond >= 150_000)} |
| JSON ≥ 40,000 frames/s | ${fmt(results.json.max.framesPerSecond)} | ${verdict(results.json.max.framesPerSecond >= 40_000)} |
| p99 ≤ 5 ms at 50% load | binary ${p99At50('binary').toFixed(2)} ms, JSON ${p99At50('json').toFixed(2)} ms (the work stand-in: ${workAt50('binary').toFixed(2)} / ${workAt50('json').toFixed(2)} ms) | ${verdict(p99At50('binary') <= 5 && p99At50('json') <= 5)} |

Whole run: ${seconds.toFixed(1)} s.
<!-- server:end -->`;
}

const deadline = setTimeout(() => {
  process.stderr.write(`bench:server did not finish within ${DEADLINE_MS / 1000} s; stopping\n`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

const load = loadavg();
const started = performance.now();
const steadiness = [measureSteadiness(STEADINESS_SECONDS)];
const binary = await measure('binary');
const json = await measure('json');
steadiness.push(measureSteadiness(STEADINESS_SECONDS));
const text = section({ binary, json }, (performance.now() - started) / 1000, load, steadiness);
await writeResultsSection(RESULTS_MD, '<!-- server:start -->', '<!-- server:end -->', text);
process.stdout.write(`\nwrote the server section of bench/RESULTS.md\n`);
