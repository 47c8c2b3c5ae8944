// seqcast on NATS JetStream (docs/cluster.md): three `seqcast worker` processes and a front end on a real nats-server.
// Many streams of known data; one worker killed with -9 mid-stream; every seq answered exactly once, and every
// stream's predictions equal a single-process server's of the same frames, bit for bit (JSON numbers round-trip).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsEngine, type NatsFrontEngine } from '../../src/cluster/nats/front-engine.js';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, eventually, type Message } from '../server/client.js';
import { committedState, startNats, startWorker, type Child } from './nats-helpers.js';

const STREAMS = 200;
const FRAMES = 24;
const KILL_AFTER = 10;

let model: Model;
let dir: string;
let modelPath: string;
let nats: Awaited<ReturnType<typeof startNats>> | undefined;
const workers: (Child & { id: string })[] = [];
const servers: SeqcastServer[] = [];

beforeAll(async () => {
  model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 12, seed: 17 });
  dir = mkdtempSync(join(tmpdir(), 'seqcast-nats-test-'));
  modelPath = join(dir, 'm.safetensors');
  writeFileSync(modelPath, model.toSafetensors());
  nats = await startNats();
});

afterAll(async () => {
  for (const server of servers) await server.close().catch(() => undefined);
  for (const w of workers) await w.stop('SIGKILL').catch(() => undefined);
  await nats?.stop();
  model?.close();
  rmSync(dir, { recursive: true, force: true });
});

const valuesOf = (s: number, i: number) => [Math.fround(Math.sin(0.3 * i + s)), Math.fround(Math.cos(0.2 * i * (1 + (s % 5))))];
const frameOf = (s: number, seq: number) => ({ type: 'frame', stream: `s${s}`, seq, t: 1000 + seq, values: valuesOf(s, seq) });

/** What a prediction says, less what depends on timing and batching (step time, batch size). */
function content(m: Message): Message {
  const { stepMicros: _s, batch: _b, ...rest } = m;
  return rest;
}

/** Predictions by stream, counted as they arrive (the client's own list is searched per call). */
function collect(client: Client): Map<string, Message[]> {
  const byStream = new Map<string, Message[]>();
  client.ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const parsed = JSON.parse(data.toString());
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
      if (m.type !== 'prediction') continue;
      let list = byStream.get(m.stream);
      if (!list) byStream.set(m.stream, (list = []));
      list.push(m);
    }
  });
  return byStream;
}

const total = (byStream: Map<string, Message[]>) => [...byStream.values()].reduce((n, l) => n + l.length, 0);

/** A single-process server's predictions of the same frames: the reference. */
async function reference(): Promise<Map<string, Message[]>> {
  const server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null });
  try {
    const client = await Client.connect(server.url);
    const got = collect(client);
    for (let s = 0; s < STREAMS; s++) expect((await client.open(`s${s}`)).type).toBe('opened');
    for (let seq = 0; seq < FRAMES; seq++) client.send(Array.from({ length: STREAMS }, (_, s) => frameOf(s, seq)));
    await client.until(() => total(got) === STREAMS * FRAMES, 'the reference predictions', 30_000);
    await client.close();
    return got;
  } finally {
    await server.close();
  }
}

/** Waits until every partition has committed a checkpoint of some of the frames (its restore point is mid-stream). */
async function everyPartitionCommitted(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const states = await committedState(nats!.url, 6);
    if (states.every((s) => s !== undefined && s.applied > 0)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for every partition's checkpoint: ${JSON.stringify(states)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('three workers and a front end on NATS JetStream', () => {
  it('answers every seq of 200 streams exactly once, bit for bit as one process does, through a worker killed with -9', async () => {
    const expected = await reference();
    let engine: NatsFrontEngine | undefined;
    const makeEngine = natsEngine({ url: nats!.url, partitions: 6 });
    const server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, engine: (parts) => (engine = makeEngine(parts)) });
    servers.push(server);
    for (let k = 0; k < 3; k++) workers.push(await startWorker(nats!.url, modelPath, ['--partitions', '6', '--checkpoint-every', '1', '--lease-ms', '1500']));
    // each worker settles on its fair share: 2 of the 6 partitions
    await eventually(() => engine!.workers().length === 3 && engine!.workers().every((w) => w.partitions.length === 2), 'the partitions shared 2 per worker', 30_000);
    const client = await Client.connect(server.url);
    const got = collect(client);
    for (let s = 0; s < STREAMS; s++) client.send({ type: 'open', stream: `s${s}` });
    await client.until(() => client.messages.filter((m) => m.type === 'opened').length === STREAMS, 'every stream opened', 30_000);
    for (let seq = 0; seq < KILL_AFTER; seq++) client.send(Array.from({ length: STREAMS }, (_, s) => frameOf(s, seq)));
    await client.until(() => total(got) === STREAMS * KILL_AFTER, 'the predictions before the kill', 30_000);
    // every partition commits a checkpoint of those frames; then the victim dies mid-stream, frames in flight
    await everyPartitionCommitted();
    const victim = workers[0];
    const orphaned = engine!.workers().find((w) => w.worker === victim.id)!.partitions;
    expect(orphaned).toHaveLength(2);
    for (let seq = KILL_AFTER; seq < FRAMES; seq++) client.send(Array.from({ length: STREAMS }, (_, s) => frameOf(s, seq)));
    await victim.stop('SIGKILL');
    await client.until(() => total(got) >= STREAMS * FRAMES, 'every prediction after the kill', 45_000);
    // exactly once: nothing more comes (a flush round trip through the cluster: a list answered by the live workers)
    client.send({ type: 'list' });
    await client.next((m) => m.type === 'streams', 'the list', 10_000);
    expect(total(got)).toBe(STREAMS * FRAMES);
    expect(client.errors()).toEqual([]);
    for (let s = 0; s < STREAMS; s++) {
      const seqs = got.get(`s${s}`)!.map((m) => m.seq);
      expect(seqs).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
      expect(got.get(`s${s}`)!.map(content)).toEqual(expected.get(`s${s}`)!.map(content));
    }
    // the two survivors took the victim's partitions over
    const survivors = () => engine!.workers().filter((w) => w.worker !== victim.id).flatMap((w) => w.partitions).sort();
    await eventually(() => survivors().length === 6, 'the survivors reporting all 6 partitions', 10_000);
    expect(survivors()).toEqual([0, 1, 2, 3, 4, 5]);
    await client.close();
  }, 120_000);
});
