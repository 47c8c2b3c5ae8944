// Server CPU per frame of two builds of seqcast, interleaved in one process: this checkout and another one (an older
// commit, built), each serving the same load from bench/server-load.mjs in turn, round after round, so that both
// meet the same spells of a noisy machine. Prints the medians and spreads of server CPU µs per frame and of frames/s.
//
// Writes its table to stdout and to its section of bench/RESULTS.md (between <!-- compare:start --> and <!-- compare:end -->).
//
// Run: npm run build && (cd OTHER && npm ci && npm run build) && npx tsx scripts/server-compare.ts OTHER [rounds] [seconds]
//   e.g. git worktree add --detach /tmp/before <commit>; then OTHER = /tmp/before

import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runGenerator, startGenerator } from '../bench/load-generator.js';
import { writeResultsSection } from '../bench/report.js';
import { floodServerOptions } from '../bench/common.js';

const STREAMS = 1000;
const CONNECTIONS = 4;
const HIDDEN = 64;

interface Build {
  label: string;
  createModel: (spec: object, options: object) => Promise<{ close(): void }>;
  start: (options: object) => Promise<{ url: string; close(): Promise<void> }>;
}

async function loadBuild(label: string, root: string): Promise<Build> {
  const library = await import(pathToFileURL(resolve(root, 'dist/index.js')).href);
  const server = await import(pathToFileURL(resolve(root, 'dist/server/server.js')).href);
  return { label, createModel: library.createModel, start: (options) => server.SeqcastServer.start(options) };
}

interface Sample {
  framesPerSecond: number;
  cpuMicrosPerFrame: number;
}

/** One flat-out run of `seconds` against a fresh server of `build`, binary or JSON frames. */
async function runOnce(build: Build, mode: 'binary' | 'json', seconds: number): Promise<Sample> {
  const model = await build.createModel({ cell: 'lstm', inputSize: 1, hiddenSize: HIDDEN, outputSize: 1, seed: 1 }, { batchCapacity: 256 });
  const server = await build.start({
    models: [{ name: 'bench', model }],
    ...floodServerOptions(STREAMS),
  });
  let child: Awaited<ReturnType<typeof startGenerator>> | undefined;
  try {
    child = await startGenerator(server.url, mode, STREAMS, CONNECTIONS);
    const before = process.cpuUsage();
    const result = await runGenerator(child, 0, seconds, 1);
    const used = process.cpuUsage(before);
    return { framesPerSecond: result.framesPerSecond, cpuMicrosPerFrame: (used.user + used.system) / Math.max(1, result.allFrames) };
  } finally {
    child?.send({ type: 'exit' });
    await server.close();
    model.close();
  }
}

/** The short commit a checkout is at (its build is assumed current). */
function commitOf(dir: string): string {
  return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function summary(values: number[], digits: number): string {
  return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
}

async function main(): Promise<void> {
  const [other, roundsArg, secondsArg] = process.argv.slice(2);
  if (!other) throw new Error('usage: tsx scripts/server-compare.ts OTHER_CHECKOUT [rounds=5] [seconds=3]');
  const rounds = Number(roundsArg ?? 5), seconds = Number(secondsArg ?? 3);
  const builds = [await loadBuild(`other (${commitOf(other)})`, other), await loadBuild('this checkout', fileURLToPath(new URL('..', import.meta.url)))];
  const load = loadavg();
  const samples = new Map<string, Sample[]>();
  for (const mode of ['binary', 'json'] as const) {
    for (let round = 0; round < rounds; round++) {
      // alternate which build goes first, so neither always meets the machine right after the other
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const build of order) {
        const sample = await runOnce(build, mode, seconds);
        const key = `${mode}\t${build.label}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        process.stdout.write(`${mode} round ${round + 1} ${build.label}: ${Math.round(sample.framesPerSecond)} frames/s, ${sample.cpuMicrosPerFrame.toFixed(2)} µs CPU/frame\n`);
      }
    }
  }
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; load average at start ${load.map((l) => l.toFixed(2)).join(' / ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`;
  const rows = [...samples].map(([key, list]) => {
    const [mode, label] = key.split('\t');
    return `| ${mode} | ${label} | ${summary(list.map((s) => s.cpuMicrosPerFrame), 2)} | ${summary(list.map((s) => s.framesPerSecond), 0)} |`;
  });
  const table = ['| frames | build | server CPU µs / frame, median (min–max) | frames/s flat out, median (min–max) |', '|---|---|---:|---:|', ...rows].join('\n');
  process.stdout.write(`\n${machine}\n${table}\n`);
  const section = `<!-- compare:start -->
## Server CPU per frame: this build beside an earlier one

\`npx tsx scripts/server-compare.ts OTHER ${rounds} ${seconds}\`: LSTM H=64, ${STREAMS} streams over ${CONNECTIONS} connections, the load generator of bench:server flat out; each round runs both builds back to back (alternating which goes first), ${rounds} rounds of ${seconds} s per build and frame kind. Server CPU is this process's user + system time over the run ÷ the frames answered.
OTHER here: commit ${commitOf(other)}; this build: commit ${commitOf('.')}. ${machine}.

${table}
<!-- compare:end -->`;
  await writeResultsSection(new URL('../bench/RESULTS.md', import.meta.url), '<!-- compare:start -->', '<!-- compare:end -->', section);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
