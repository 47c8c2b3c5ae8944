// A soak of the server: good producers at 50% of its flat-out rate, beside slow and paused dashboards, stalled sockets and
// a hostile client (bench/soak-adversaries.ts), for 10 minutes: RSS over time, the good producers' p99 per segment, and
// whether every good frame was answered. Writes its section of bench/RESULTS.md (<!-- soak:start --> … <!-- soak:end -->).
//
// Run: npx tsx bench/soak.ts [--seconds 600] [--segment 30] [--mode binary|json]

import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createModel } from '../src/index.js';
import { SeqcastServer } from '../src/server/server.js';
import { writeResultsSection } from './report.js';
import { type GeneratorRun, drainGenerator, runGenerator, startGenerator } from './load-generator.js';
import { startAdversaries } from './soak-adversaries.js';

const HIDDEN = 64;
const STREAMS = 1000;
const CONNECTIONS = 4;
const MAX_SECONDS = 4;
const LOAD = 0.5;
/** ms between RSS samples. */
const SAMPLE_MS = 5000;

const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);

type Run = GeneratorRun;
/** One soak segment: the good producers' run, when it ended, the server's RSS, its event loop's delay and the machine's load. */
type Segment = Run & { t: number; rss: number; loopP99: number; loopMax: number; load1: number };
/** Seconds the soak waits at the end for frames still in flight (a segment waits 3 s; later answers count as late). */
const FINAL_DRAIN_S = 30;

const mib = (bytes: number) => bytes / 2 ** 20;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '600' }, segment: { type: 'string', default: '30' }, mode: { type: 'string', default: 'binary' } } });
  const seconds = Number(values.seconds);
  const segment = Number(values.segment);
  const mode = values.mode === 'json' ? 'json' : 'binary';
  const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: HIDDEN, outputSize: 1, seed: 1 }, { batchCapacity: 256 });
  // the server's default limits, but for the rates: one address's 100,000 messages/s would cap the good producers' flat
  // out (bench/server.ts lifts them the same way); the hostile client comes from another address, with its own budget
  const log: string[] = [];
  const server = await SeqcastServer.start({ models: [{ name: 'bench', model }], port: 0, webRoot: null, rateLimit: 10_000_000, log: (line) => log.push(line) });
  const load = loadavg();
  let child: Awaited<ReturnType<typeof startGenerator>> | undefined;
  try {
    child = await startGenerator(server.url, mode, STREAMS, CONNECTIONS);
    const max = await runGenerator(child, 0, MAX_SECONDS, 1);
    const rate = Math.round(max.framesPerSecond * LOAD);
    process.stdout.write(`${mode}: max ${fmt(max.framesPerSecond)} frames/s; soaking at ${fmt(rate)} frames/s for ${seconds} s\n`);

    // the same load alone first: what the adversaries cost the good producers
    const alone = await runGenerator(child, rate, segment, 1);
    process.stdout.write(`  alone: ${fmt(alone.framesPerSecond)} frames/s, p50 ${alone.p50.toFixed(2)} ms, p99 ${alone.p99.toFixed(2)} ms\n`);
    const started = performance.now();
    const samples: { t: number; rss: number; heap: number }[] = [];
    const sample = () => {
      const { rss, heapUsed } = process.memoryUsage();
      samples.push({ t: (performance.now() - started) / 1000, rss, heap: heapUsed });
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);
    const adversaries = startAdversaries(server.url, STREAMS);
    const segments: Segment[] = [];
    // the server's event loop (this process): a stall of the server shows here, a busy machine in the load average
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();

    try {
      while ((performance.now() - started) / 1000 < seconds) {
        loop.reset();
        const run = await runGenerator(child, rate, segment, 0);
        const t = (performance.now() - started) / 1000;
        const rss = process.memoryUsage().rss;
        const seg = { ...run, t, rss, loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, load1: loadavg()[0] };
        segments.push(seg);
        process.stdout.write(`  ${t.toFixed(0)} s: ${fmt(run.framesPerSecond)} frames/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, errors ${run.errors}, late ${run.unanswered}, loop p99 ${seg.loopP99.toFixed(1)} ms max ${seg.loopMax.toFixed(0)} ms, load ${seg.load1.toFixed(2)}, RSS ${mib(rss).toFixed(0)} MiB\n`);
      }
    } finally {
      loop.disable();
      clearInterval(sampler);
      adversaries.stop();
    }
    const lost = await drainGenerator(child, FINAL_DRAIN_S);
    process.stdout.write(`never answered (after a ${FINAL_DRAIN_S} s drain): ${lost}\n`);
    sample();
    const counts = adversaries.counts;
    process.stdout.write(`adversaries: ${JSON.stringify(counts)}\n`);
    await writeResultsSection(RESULTS_MD, '<!-- soak:start -->', '<!-- soak:end -->', section({ mode, max, alone, rate, seconds, segment, segments, samples, counts, load, lost, failures: log.filter((l) => /failed/.test(l)), dashboardsDropped: log.filter((l) => /a dashboard that has not read/.test(l)).length, silentDropped: log.reduce((sum, l) => sum + Number(/^dropped (\d+) WebSockets? silent/.exec(l)?.[1] ?? 0), 0) }));
  } finally {
    child?.send({ type: 'exit' });
    await server.close();
    model.close();
  }
}

function section(r: {
  mode: string;
  max: Run;
  alone: Run;
  rate: number;
  seconds: number;
  segment: number;
  segments: Segment[];
  lost: number;
  samples: { t: number; rss: number; heap: number }[];
  counts: ReturnType<typeof startAdversaries>['counts'];
  load: number[];
  failures: string[];
  /** Dashboards the server dropped for not reading, counted in its log (a paused client cannot see its own drop). */
  dashboardsDropped: number;
  /** WebSockets the heartbeat dropped for answering no ping (paused dashboards, sockets holding half a frame), from its log. */
  silentDropped: number;
}): string {
  const { segments, samples, counts } = r;
  const after = samples.filter((s) => s.t >= 60);
  const steady = after.length > 0 ? after : samples;
  const rssMin = Math.min(...steady.map((s) => s.rss));
  const rssMax = Math.max(...steady.map((s) => s.rss));
  const first = steady[0];
  const last = steady[steady.length - 1];
  const frames = segments.reduce((sum, s) => sum + s.allFrames, 0);
  const errors = segments.reduce((sum, s) => sum + s.errors, 0);
  // a segment's `unanswered` counts frames still in flight 3 s after it ended (the generator's counts carry over): late
  const late = Math.max(0, ...segments.map((s) => s.unanswered));
  const p99s = segments.map((s) => s.p99);
  const rows = segments.map((s) => `| ${s.t.toFixed(0)} | ${fmt(s.framesPerSecond)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.errors} | ${s.unanswered} | ${s.loopP99.toFixed(1)} / ${s.loopMax.toFixed(0)} | ${s.load1.toFixed(2)} | ${mib(s.rss).toFixed(0)} |`);
  const p99Sorted = [...p99s].sort((a, b) => a - b);
  const medianP99 = p99Sorted[Math.floor(p99Sorted.length / 2)] ?? NaN;
  const codes = Object.entries(counts.hostileCodes).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${fmt(n)}`).join(', ');
  return `<!-- soak:start -->
## Soak: 50% load beside slow and paused dashboards, stalled sockets and a hostile client

Written by \`npx tsx bench/soak.ts\` (bench/soak.ts, adversaries bench/soak-adversaries.ts in the server's process, good producers bench/server-load.mjs in a separate process).
Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString()} (load average at start ${r.load.map((l) => l.toFixed(2)).join(' / ')}).

- Server: the default limits (but the rate limits, lifted to 10,000,000 messages/s as bench/server.ts does, so that one address's producers are not capped; the hostile client has its own address); LSTM H=${HIDDEN}, X=1; ${fmt(STREAMS)} streams over ${CONNECTIONS} loopback connections, ${r.mode} frames, at ${LOAD * 100}% of the flat-out ${fmt(r.max.framesPerSecond)} frames/s = **${fmt(r.rate)} frames/s**, for ${fmt(r.seconds)} s in segments of ${r.segment} s.
- Beside them: a dashboard reading 20 streams; two dashboards on every stream that read 0.3 s of every 3.3 s; a dashboard on every stream that never reads (a new one every 40 s); every 2 s ten HTTP requests stalled half-way through their head and two WebSockets holding half a frame; and from 127.0.0.2 a hostile client that every 500 ms sends 50 \`list\`s in a batch, 20 frames with a seq nested 20,000 deep, 50 \`configure\`s of others' streams to horizon 256 with learning, a \`reset\`, a \`subscribe\` of 2,000 names, 50 messages that are not JSON and 20 bad binary headers, and every 5 s opens 300 streams and leaves.

The same load alone, before the adversaries start (one segment): p50 ${r.alone.p50.toFixed(2)} ms, p99 ${r.alone.p99.toFixed(2)} ms.

**Good producers beside the adversaries: ${fmt(frames)} frames, ${errors} errors, ${r.lost} never answered (after a final ${FINAL_DRAIN_S} s drain)${errors === 0 && r.lost === 0 ? ': every good frame answered' : ''}${late > 0 ? `; at most ${fmt(late)} answered later than 3 s after their segment ended` : ''}; p99 per segment ${Math.min(...p99s).toFixed(2)}–${Math.max(...p99s).toFixed(2)} ms (median ${medianP99.toFixed(2)} ms). RSS from the first minute on: ${mib(rssMin).toFixed(0)}–${mib(rssMax).toFixed(0)} MiB (${mib(first.rss).toFixed(0)} MiB at ${first.t.toFixed(0)} s, ${mib(last.rss).toFixed(0)} MiB at the end; heap ${mib(first.heap).toFixed(0)} → ${mib(last.heap).toFixed(0)} MiB).**

Per segment: "late" counts frames not yet answered 3 s after the segment ended; "loop" is the server's event-loop delay (p99 / max, ms), which tells a stalled server from a busy machine (load: the 1-minute load average on these 2 cores).

| t (s) | frames/s | p50 ms | p99 ms | errors | late | loop ms | load | RSS MiB |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

Adversaries: the reading dashboard got ${fmt(counts.readingPredictions)} predictions, the slow ones ${fmt(counts.slowPredictions)}; the server's log shows ${fmt(r.silentDropped)} WebSockets dropped for answering no ping (the ${counts.pausedOpened} paused dashboards and the sockets holding half a frame) and ${r.dashboardsDropped} dashboards dropped for not reading their predictions for 60 s; of ${fmt(counts.stalledOpened)} stalled sockets the server closed ${fmt(counts.stalledClosed)} (the rest were opened in the last seconds); the hostile client sent ${fmt(counts.hostileSent)} messages, got ${fmt(counts.hostileErrors)} errors (${codes}) and was closed ${counts.hostileClosed} times (by itself every 5 s, and by the server). Failures logged by the server: ${r.failures.length}.
<!-- soak:end -->`;
}

await main();
