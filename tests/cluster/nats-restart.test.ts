// The whole cluster stopped and started again from JetStream (docs/cluster.md "State"): a stream learning online
// goes on where it was, its learned weights and its state restored from seqcast-state and seqcast-checkpoints,
// bit for bit as one process that never stopped. And a bad message published straight to a frames subject is
// refused on the stream's error subject and changes nothing.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsEngine, type NatsFrontEngine } from '../../src/cluster/nats/front-engine.js';
import { errorsSubject, framesSubject, partitionOf, streamToken } from '../../src/cluster/nats/subjects.js';
import { createModel, loadModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, eventually, type Message } from '../server/client.js';
import { startNats, startWorker, type Child } from './nats-helpers.js';

const PARTITIONS = 4;
const RESTART = 40;
const TOTAL = 64;
let dir: string;
let modelPath: string;
let shape: Model;
let nats: Awaited<ReturnType<typeof startNats>> | undefined;
const children: Child[] = [];
const servers: SeqcastServer[] = [];
const connections: NatsConnection[] = [];

beforeAll(async () => {
  shape = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 10, seed: 5 });
  dir = mkdtempSync(join(tmpdir(), 'seqcast-nats-restart-'));
  modelPath = join(dir, 'm.safetensors');
  writeFileSync(modelPath, shape.toSafetensors());
  nats = await startNats();
});

afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => undefined);
  for (const server of servers) await server.close().catch(() => undefined);
  for (const child of children) await child.stop('SIGKILL').catch(() => undefined);
  await nats?.stop();
  shape?.close();
  rmSync(dir, { recursive: true, force: true });
});

const frameOf = (stream: string, seq: number) => ({ type: 'frame', stream, seq, t: 500 + seq, values: [Math.fround(Math.sin(0.37 * seq)), Math.fround(Math.cos(0.21 * seq))] });
const content = ({ stepMicros: _s, batch: _b, ...rest }: Message) => rest;

/** A front end on the cluster (the test's model file gives it the model's name and shape; it steps nothing). */
async function frontEnd(): Promise<{ server: SeqcastServer; engine: NatsFrontEngine }> {
  let engine: NatsFrontEngine | undefined;
  const make = natsEngine({ url: nats!.url, partitions: PARTITIONS });
  const server = await SeqcastServer.start({ models: [{ name: 'm', model: shape }], port: 0, webRoot: null, engine: (parts) => (engine = make(parts)) });
  servers.push(server);
  return { server, engine: engine! };
}

async function workersUp(engine: NatsFrontEngine, count: number): Promise<Child[]> {
  const started: Child[] = [];
  for (let k = 0; k < count; k++) started.push(await startWorker(nats!.url, modelPath, ['--partitions', String(PARTITIONS), '--checkpoint-every', '1', '--lease-ms', '1500']));
  children.push(...started);
  const ids = new Set(started.map((c) => (c as Child & { id: string }).id));
  await eventually(() => engine.workers().filter((w) => ids.has(w.worker)).flatMap((w) => w.partitions).length === PARTITIONS, `${count} workers holding all partitions`, 30_000);
  return started;
}

/** Sends seqs from..to-1 and waits for their predictions. */
async function steps(client: Client, stream: string, from: number, to: number): Promise<Message[]> {
  const before = client.predictions(stream).length;
  client.send(Array.from({ length: to - from }, (_, k) => frameOf(stream, from + k)));
  await client.until(() => client.predictions(stream).length === before + to - from, `predictions ${from}..${to - 1} of ${stream}`, 30_000);
  return client.predictions(stream).slice(before);
}

describe('a cluster restarted from JetStream', () => {
  it('brings back a learning stream and its learned weights: its predictions go on as one process that never stopped', async () => {
    const own = await loadModel(modelPath);
    const one = await SeqcastServer.start({ models: [{ name: 'm', model: own }], port: 0, webRoot: null });
    let expected: Message[];
    try {
      const client = await Client.connect(one.url);
      expect(await client.open('learner', { learn: true })).toMatchObject({ type: 'opened', learn: true });
      expected = await steps(client, 'learner', 0, TOTAL);
      await client.close();
    } finally {
      await one.close();
      own.close();
    }
    // the model learns before the restart point, so what comes after depends on the weights it learned
    expect(expected.slice(0, RESTART).filter((p) => p.learnEvent === 'trained').length).toBeGreaterThan(0);

    const first = await frontEnd();
    const firstWorkers = await workersUp(first.engine, 2);
    const before = await Client.connect(first.server.url);
    expect(await before.open('learner', { learn: true })).toMatchObject({ type: 'opened', learn: true });
    const got = await steps(before, 'learner', 0, RESTART);
    await before.close();
    // everything stops gracefully: workers checkpoint and hand over, the front end tells them its connection left
    for (const w of firstWorkers) await w.stop('SIGTERM');
    await first.server.close();

    const second = await frontEnd();
    await workersUp(second.engine, 2);
    const after = await Client.connect(second.server.url);
    expect(await after.open('learner')).toMatchObject({ type: 'opened', resumed: true, lastSeq: RESTART - 1, learn: true });
    got.push(...(await steps(after, 'learner', RESTART, TOTAL)));
    expect(after.errors()).toEqual([]);
    expect(got.map(content)).toEqual(expected.map(content));
    await after.close();
  }, 120_000);

  it('refuses a bad message published straight to a frames subject on the stream error subject, changing nothing', async () => {
    const { server, engine } = await frontEnd();
    if (children.every((c) => c.exited !== undefined)) await workersUp(engine, 1);
    await eventually(() => engine.workers().flatMap((w) => w.partitions).length === PARTITIONS, 'the workers reporting all partitions', 30_000);
    const own = await loadModel(modelPath);
    const one = await SeqcastServer.start({ models: [{ name: 'm', model: own }], port: 0, webRoot: null });
    let expected: Message[];
    try {
      const client = await Client.connect(one.url);
      await client.open('plain');
      expected = await steps(client, 'plain', 0, 10);
      await client.close();
    } finally {
      await one.close();
      own.close();
    }
    const client = await Client.connect(server.url);
    expect((await client.open('plain')).type).toBe('opened');
    const got = await steps(client, 'plain', 0, 5);

    const nc = await connect({ servers: nats!.url });
    connections.push(nc);
    const p = partitionOf('plain', PARTITIONS);
    const errors: Message[] = [];
    nc.subscribe(errorsSubject(p, streamToken('plain')), { callback: (_err, msg) => errors.push(JSON.parse(msg.string())) });
    await nc.flush();
    const js = nc.jetstream();
    const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
    await js.publish(framesSubject(p, 'plain'), bytes('{not json'));
    await js.publish(framesSubject(p, 'plain'), bytes({ kind: 'frame', source: 'X.1', frame: { type: 'frame', stream: 'plain', seq: 5, t: 505, values: [9, 9] }, binary: false, at: 0 }));
    await js.publish(framesSubject(p, 'plain'), bytes({ kind: 'frame', source: 'X.1', frame: { type: 'frame', stream: 'other', seq: 5, values: [1, 2] }, binary: false, at: 0 }));
    await js.publish(framesSubject((p + 1) % PARTITIONS, 'plain'), bytes({ kind: 'orphan', source: 'X.1' }));
    await eventually(() => errors.length === 3, 'three refusals on the error subject', 20_000);
    expect(errors.map((e) => e.code)).toEqual(['bad_json', 'stream_busy', 'bad_message']);
    expect(errors[1].message).toMatch(/held by another producer|not yours|owner/);
    expect(errors[2].message).toMatch(/names stream "other"/);

    // nothing changed: the stream goes on as if the bad messages had never been sent
    got.push(...(await steps(client, 'plain', 5, 10)));
    expect(client.errors()).toEqual([]);
    expect(got.map(content)).toEqual(expected.map(content));
    // the list names the worker holding each stream (the dashboard shows it). During a handover the old and the new
    // holder can both answer for a moment, and a report can lag by one: ask until list and reports settle, then compare
    const holders = () => engine.workers().filter((w) => w.partitions.includes(p)).map((w) => w.worker);
    const listedWorker = async () => {
      client.send({ type: 'list' });
      const listed = await client.next((m) => m.type === 'streams', 'the list', 10_000);
      return listed.streams.filter((s: Message) => s.stream === 'plain').map((s: Message) => s.worker as string);
    };
    let named: string[] = [];
    for (let tries = 0; tries < 30; tries++) {
      named = await listedWorker();
      if (named.length === 1 && holders().length === 1 && named[0] === holders()[0]) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(named).toEqual(holders());
    await client.close();
  }, 90_000);
});
