// The server under load: LSTM H=64, X=1, 1,000 streams, a load generator in another process on loopback.
// Sustained frames/s flat out, then client-observed latency at 25/50/90% of that rate, for JSON and binary frames.
// Writes its section of bench/RESULTS.md (between <!-- server:start --> and <!-- server:end -->).
//
// Run: npm run bench:server

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createModel } from '../src/index.js';
import { SeqcastServer } from '../src/server/server.js';

const HIDDEN = 64;
const STREAMS = 1000;
const CONNECTIONS = 4;
const MAX_SECONDS = 4;
const LEVEL_SECONDS = 3;
const WARMUP_SECONDS = 1;
const LEVELS = [0.25, 0.5, 0.9];
/** The whole run is stopped after this long, whatever happens. */
const DEADLINE_MS = 150_000;

const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const GENERATOR = fileURLToPath(new URL('./server-load.mjs', import.meta.url));

interface LevelResult {
  framesPerSecond: number;
  p50: number;
  p99: number;
  frames: number;
  errors: number;
}

function ask(child: ChildProcess, message: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: Record<string, unknown>) => {
      child.off('exit', onExit);
      if (reply.type === 'failed') reject(new Error(`load generator failed: ${reply.message}`));
      else resolve(reply);
    };
    const onExit = (code: number) => reject(new Error(`load generator exited with ${code}`));
    child.once('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

async function measure(mode: 'json' | 'binary'): Promise<{ max: LevelResult; levels: (LevelResult & { target: number; share: number })[] }> {
  const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: HIDDEN, outputSize: 1, seed: 1 }, { batchCapacity: 256 });
  const server = await SeqcastServer.start({
    models: [{ name: 'bench', model }],
    port: 0,
    webRoot: null,
    rateLimit: 10_000_000,
    maxStreamsPerConnection: STREAMS,
    maxPayload: 16 * 1024 * 1024,
  });
  const child = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await ask(child, { type: 'setup', url: `${server.url.replace('http', 'ws')}ws`, streams: STREAMS, connections: CONNECTIONS, mode });
    const max = (await ask(child, { type: 'run', rate: 0, seconds: MAX_SECONDS, warmup: WARMUP_SECONDS })) as unknown as LevelResult;
    process.stdout.write(`${mode}: max ${Math.round(max.framesPerSecond)} frames/s (p50 ${max.p50.toFixed(2)} ms, p99 ${max.p99.toFixed(2)} ms under saturation)\n`);
    const levels = [];
    for (const share of LEVELS) {
      const target = Math.round(max.framesPerSecond * share);
      const result = (await ask(child, { type: 'run', rate: target, seconds: LEVEL_SECONDS, warmup: WARMUP_SECONDS })) as unknown as LevelResult;
      process.stdout.write(`${mode}: ${share * 100}% = ${target} frames/s → ${Math.round(result.framesPerSecond)} frames/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms\n`);
      levels.push({ ...result, target, share });
    }
    return { max, levels };
  } finally {
    child.send({ type: 'exit' });
    await server.close();
    model.close();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function section(results: Record<'json' | 'binary', Awaited<ReturnType<typeof measure>>>, seconds: number, load: number[]): string {
  const rows: string[] = [];
  for (const mode of ['binary', 'json'] as const) {
    const { max, levels } = results[mode];
    rows.push(`| ${mode} | max (flat out) | — | **${fmt(max.framesPerSecond)}** | ${max.p50.toFixed(2)} | ${max.p99.toFixed(2)} | ${max.errors} |`);
    for (const level of levels) {
      rows.push(`| ${mode} | ${level.share * 100}% | ${fmt(level.target)} | ${fmt(level.framesPerSecond)} | ${level.p50.toFixed(2)} | **${level.p99.toFixed(2)}** | ${level.errors} |`);
    }
  }
  const p99At50 = (mode: 'json' | 'binary') => results[mode].levels.find((l) => l.share === 0.5)!.p99;
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  return `<!-- server:start -->
## Server: frames/s and latency over WebSockets

Written by \`npm run bench:server\` (bench/server.ts, load generator bench/server-load.mjs in a separate process).

Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString()} (load average at start ${load.map((l) => l.toFixed(2)).join(' / ')}).
Server and load generator share this machine's cores: the generator's JSON encoding and decoding competes with the server for CPU.

- Model: LSTM, X=1, H=${HIDDEN}, head 1, fresh weights (seed 1), \`batchCapacity\` 256; ${fmt(STREAMS)} streams (normalize: none) over ${CONNECTIONS} loopback connections.
- Frames go round robin over the streams, ${256} per message (a JSON array of frame messages, or one binary message); answers are JSON predictions or binary prediction records.
- **max**: closed loop, ${4096} frames in flight per connection, ${MAX_SECONDS} s measured after ${WARMUP_SECONDS} s of warm-up; frames/s = predictions received ÷ time.
- **25/50/90%**: open loop at that share of max, paced every 2 ms, ${LEVEL_SECONDS} s measured after ${WARMUP_SECONDS} s; latency is client-observed, from the send of a frame's message to the arrival of its prediction (includes the generator's own encode/decode).

| frames | load | target frames/s | sustained frames/s | p50 ms | p99 ms | errors |
|---|---|---:|---:|---:|---:|---:|
${rows.join('\n')}

| target (issue 5) | measured | |
|---|---|---|
| binary ≥ 150,000 frames/s | ${fmt(results.binary.max.framesPerSecond)} | ${verdict(results.binary.max.framesPerSecond >= 150_000)} |
| JSON ≥ 40,000 frames/s | ${fmt(results.json.max.framesPerSecond)} | ${verdict(results.json.max.framesPerSecond >= 40_000)} |
| p99 ≤ 5 ms at 50% load | binary ${p99At50('binary').toFixed(2)} ms, JSON ${p99At50('json').toFixed(2)} ms | ${verdict(p99At50('binary') <= 5 && p99At50('json') <= 5)} |

Whole run: ${seconds.toFixed(1)} s.
<!-- server:end -->`;
}

function writeSection(text: string): void {
  const current = readFileSync(RESULTS, 'utf8');
  const start = current.indexOf('<!-- server:start -->');
  const end = current.indexOf('<!-- server:end -->');
  const next = start >= 0 && end > start ? current.slice(0, start) + text + current.slice(end + '<!-- server:end -->'.length) : `${current.trimEnd()}\n\n${text}\n`;
  writeFileSync(RESULTS, next);
}

const deadline = setTimeout(() => {
  process.stderr.write(`bench:server did not finish within ${DEADLINE_MS / 1000} s; stopping\n`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

const load = loadavg();
const started = performance.now();
const binary = await measure('binary');
const json = await measure('json');
const text = section({ binary, json }, (performance.now() - started) / 1000, load);
writeSection(text);
process.stdout.write(`\nwrote the server section of bench/RESULTS.md\n`);
