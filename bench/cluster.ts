// bench:cluster — seqcast on NATS JetStream (docs/cluster.md), end to end: a producer on a WebSocket → the front
// end (this process) → JetStream → 1, 2 or 3 `seqcast worker` processes → predictions back. Flat-out frames/s, p50/p99
// latency at 50% of that, and the failover time (kill -9 of a worker to the first prediction of its streams from
// the new owner). One run; writes the "Cluster" section of bench/RESULTS.md. Run: npm run bench:cluster.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { natsEngine, type NatsFrontEngine } from '../src/cluster/nats/front-engine.js';
import { partitionOf } from '../src/cluster/nats/subjects.js';
import { createModel } from '../src/index.js';
import { SeqcastServer } from '../src/server/server.js';
import { startNats, startWorker, type Child } from '../tests/cluster/nats-helpers.js';
import { writeResultsSection } from './report.js';

const PARTITIONS = 6;
const STREAMS = 120;
const HIDDEN = 32;
const FLAT_ROUNDS = Number(process.env.BENCH_FLAT_ROUNDS ?? 50);
const LOAD_SECONDS = Number(process.env.BENCH_LEVEL_SECONDS ?? 5);
const LEASE_MS = 1500;
const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);

const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: HIDDEN, seed: 3 });
const dir = mkdtempSync(join(tmpdir(), 'seqcast-bench-cluster-'));
const modelPath = join(dir, 'm.safetensors');
writeFileSync(modelPath, model.toSafetensors());

/** A producer: its streams' next seq, the send time of each outstanding frame, the latencies measured. */
class Producer {
  readonly sentAt = new Map<string, number>();
  answered = 0;
  latencies: number[] = [];
  lastArrival = new Map<string, number>();
  private seq = 0;
  onPrediction: ((stream: string, at: number) => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const now = performance.now();
      const parsed = JSON.parse(data.toString());
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
        if (m.type !== 'prediction') continue;
        const key = `${m.stream}/${m.seq}`;
        const sent = this.sentAt.get(key);
        if (sent !== undefined) (this.latencies.push(now - sent), this.sentAt.delete(key));
        this.answered++;
        this.lastArrival.set(m.stream, now);
        this.onPrediction?.(m.stream, now);
      }
    });
  }

  static async connect(url: string): Promise<Producer> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}ws`);
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const producer = new Producer(ws);
    ws.send(JSON.stringify(Array.from({ length: STREAMS }, (_, s) => ({ type: 'open', stream: `s${s}` }))));
    return producer;
  }

  /** One frame of every stream. */
  sendRound(): void {
    const seq = this.seq++;
    const now = performance.now();
    const frames = [];
    for (let s = 0; s < STREAMS; s++) {
      frames.push({ type: 'frame', stream: `s${s}`, seq, t: seq, values: [Math.sin(0.1 * seq + s), Math.cos(0.07 * seq)] });
      this.sentAt.set(`s${s}/${seq}`, now);
    }
    this.ws.send(JSON.stringify(frames));
  }

  get outstanding(): number {
    return this.sentAt.size;
  }
}

const until = async (test: () => boolean, what: string, ms: number) => {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};

interface Row {
  workers: number;
  flat: number;
  p50: number;
  p99: number;
  rate: number;
  failoverMs?: number;
  load: string;
}

async function run(workerCount: number, failover: boolean): Promise<Row> {
  const nats = await startNats();
  const workers: Child[] = [];
  let server: SeqcastServer | undefined;
  try {
    let engine: NatsFrontEngine | undefined;
    const make = natsEngine({ url: nats.url, partitions: PARTITIONS });
    server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, rateLimit: 10_000_000, engine: (parts) => (engine = make(parts)) });
    for (let k = 0; k < workerCount; k++) workers.push(await startWorker(nats.url, modelPath, ['--partitions', String(PARTITIONS), '--lease-ms', String(LEASE_MS)]));
    const share = Math.ceil(PARTITIONS / workerCount);
    await until(() => engine!.workers().length === workerCount && engine!.workers().every((w) => w.partitions.length <= share) && engine!.workers().flatMap((w) => w.partitions).length === PARTITIONS, 'the partitions shared', 60_000);
    const producer = await Producer.connect(server.url);
    await until(() => engine!.byName.size === STREAMS, 'streams opened', 30_000);

    // flat out: FLAT_ROUNDS rounds of every stream sent at once; frames/s = frames / (last answer − first send)
    let started = performance.now();
    const answeredBefore = producer.answered;
    for (let r = 0; r < FLAT_ROUNDS; r++) producer.sendRound();
    await until(() => producer.outstanding === 0, 'the flat-out frames answered', 120_000);
    const flat = ((producer.answered - answeredBefore) / (performance.now() - started)) * 1000;

    // 50% load, paced every 10 ms
    producer.latencies = [];
    const rate = flat / 2;
    const roundsPerSecond = rate / STREAMS;
    started = performance.now();
    let sent = 0;
    let failoverMs: number | undefined;
    let killedAt: number | undefined;
    const victimStreams = new Set<string>();
    while (performance.now() - started < LOAD_SECONDS * 1000 * (failover ? 2 : 1)) {
      const due = Math.floor(((performance.now() - started) / 1000) * roundsPerSecond);
      while (sent < due) (producer.sendRound(), sent++);
      if (failover && killedAt === undefined && performance.now() - started > LOAD_SECONDS * 1000) {
        const victim = workers[0] as Child & { id: string };
        const partitions = new Set(engine!.workers().find((w) => w.worker === victim.id)!.partitions);
        for (let s = 0; s < STREAMS; s++) if (partitions.has(partitionOf(`s${s}`, PARTITIONS))) victimStreams.add(`s${s}`);
        victim.process.kill('SIGKILL');
        killedAt = performance.now();
        producer.onPrediction = (stream, at) => {
          if (failoverMs === undefined && victimStreams.has(stream) && at - killedAt! > 20) failoverMs = at - killedAt!;
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const latencies = producer.latencies;
    await until(() => producer.outstanding === 0, 'the paced frames answered', 60_000);
    producer.ws.close();
    return { workers: workerCount, flat, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), rate, failoverMs, load: loadavg().map((l) => l.toFixed(1)).join(' / ') };
  } finally {
    await server?.close().catch(() => undefined);
    for (const w of workers) await w.stop('SIGKILL').catch(() => undefined);
    await nats.stop();
  }
}

const rows: Row[] = [];
for (const count of [1, 2, 3]) {
  const row = await run(count, count === 3);
  rows.push(row);
  process.stdout.write(`${count} worker(s): ${row.flat.toFixed(0)} frames/s flat out; at ${row.rate.toFixed(0)}/s p50 ${row.p50.toFixed(1)} ms p99 ${row.p99.toFixed(1)} ms${row.failoverMs !== undefined ? `; failover ${row.failoverMs.toFixed(0)} ms` : ''} (load ${row.load})\n`);
}
const failover = rows.find((r) => r.failoverMs !== undefined)?.failoverMs;
const text = `<!-- cluster:start -->
## Cluster (NATS JetStream)

\`npm run bench:cluster\` (bench/cluster.ts), one run: a producer with ${STREAMS} JSON streams (LSTM H=${HIDDEN}) on one
WebSocket → a front end (\`serve --nats\`, in the bench's process) → JetStream (one nats-server 2.9, file storage) →
${PARTITIONS} partitions over 1, 2, 3 \`seqcast worker\` processes → predictions back. Flat out: ${FLAT_ROUNDS} frames of every stream sent at once,
frames / (last prediction − first send); latency: send to prediction at the producer, paced at 50% of that run's flat-out rate (with 3
workers that window also holds the kill -9 below, so its p99 is the failover's stall).
Everything (nats-server, the front end, the producer, the workers) shares this machine's 2 cores.

| workers | frames/s flat out | rate at 50% | p50 | p99 | load average (1/5/15 min) after |
| ---: | ---: | ---: | ---: | ---: | :--- |
${rows.map((r) => `| ${r.workers} | ${r.flat.toFixed(0)} | ${r.rate.toFixed(0)} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.load} |`).join('\n')}

Failover (3 workers, at 50% load): kill -9 of a worker to the first prediction of one of its streams at the
producer, from the new owner: **${failover === undefined ? 'not seen' : `${failover.toFixed(0)} ms`}** with \`--lease-ms ${LEASE_MS}\` (the lease has to go
stale, then the taker restores the partition's checkpoint and replays the messages after it: the bound is the
lease time + a renewal period + restore and replay).

What 2 cores limit: the front end, nats-server and every worker compete for the same two cores (and this machine
is shared with other sessions: read the load average), so more workers cannot add throughput here; each frame
costs a JetStream publish and ack, a consumer delivery and a core NATS message back. On a cluster of machines each
worker has its own cores and the rate grows with workers until the ${PARTITIONS} partitions are all on different
workers, or until the nats-server's message rate (one publish + ack + delivery per frame) is the limit; a larger
P and batching several frames per JetStream message (docs/cluster.md) are the next steps past that.
<!-- cluster:end -->`;
await writeResultsSection(RESULTS_MD, '<!-- cluster:start -->', '<!-- cluster:end -->', text);
process.stdout.write('wrote the cluster section of bench/RESULTS.md\n');
model.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
