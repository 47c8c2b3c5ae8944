// `--workers 2` with a state directory: each worker checkpoints and restores its own streams; a worker killed
// mid-stream is replaced, its streams restored from the last checkpoint (or lost without a state directory) and
// their producers told, while the other worker's streams go on untouched. And online learning on a worker.
// The workers run the built dist/cluster/worker.js (`npm test` builds first).

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerPool, type WorkerPool } from '../../src/cluster/pool.js';
import { createModel, type Model, type ModelSpec } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from '../server/client.js';

const SPEC: ModelSpec = { cell: 'lstm', inputSize: 2, hiddenSize: 12, seed: 21 };
let model: Model;
const dirs: string[] = [];

beforeAll(async () => {
  model = await createModel(SPEC);
});

afterAll(() => {
  model?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startSharded(stateDir: string | undefined, models = [{ name: 'm', model }]): Promise<{ server: SeqcastServer; pool: WorkerPool }> {
  let pool: WorkerPool | undefined;
  const makePool = workerPool({ workers: 2 });
  const server = await SeqcastServer.start({ models, port: 0, webRoot: null, stateDir, engine: (parts) => (pool = makePool(parts)) });
  return { server, pool: pool! };
}

/** Opens streams until one lives on each worker; their names, by worker. */
async function streamOnEachWorker(client: Client, pool: WorkerPool, prefix: string): Promise<[string, string]> {
  const found: (string | undefined)[] = [undefined, undefined];
  for (let i = 0; found.includes(undefined); i++) {
    const name = `${prefix}-${i}`;
    expect((await client.open(name)).type).toBe('opened');
    const worker = pool.workerOf(name)!;
    if (found[worker] === undefined) found[worker] = name;
  }
  return found as [string, string];
}

const valuesOf = (i: number) => [Math.fround(Math.sin(0.4 * i)), Math.fround(Math.cos(0.3 * i))];

/** Sends seqs `from`..`to` - 1 of `stream` and waits for their predictions; the predicted rows. */
async function steps(client: Client, stream: string, from: number, to: number): Promise<number[][]> {
  const before = client.predictions(stream).length;
  client.send(Array.from({ length: to - from }, (_, k) => ({ type: 'frame', stream, seq: from + k, t: from + k, values: valuesOf(from + k) })));
  await client.until(() => client.predictions(stream).length === before + to - from, `predictions ${from}..${to - 1} of ${stream}`, 20_000);
  return client.predictions(stream).slice(before).map((p: Message) => p.predicted);
}

async function untilTrue(test: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a worker killed mid-stream', () => {
  it('is replaced, its streams back at the last checkpoint and their producer told; the other worker’s streams go on', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'seqcast-workers-'));
    dirs.push(stateDir);
    const { server, pool } = await startSharded(stateDir);
    const client = await Client.connect(server.url);
    const [onZero, onOne] = await streamOnEachWorker(client, pool, 'kill');
    for (const stream of [onZero, onOne]) await steps(client, stream, 0, 10);
    await server.checkpoint();
    expect(readdirSync(stateDir).sort()).toEqual(['worker-0', 'worker-1']);
    const original = await steps(client, onZero, 10, 15);

    await pool.thread(0).terminate();
    const told = await client.next((m) => m.type === 'error' && m.stream === onZero, 'the error telling the producer');
    expect(told).toMatchObject({ code: 'internal' });
    expect(told.message).toContain('back at the last checkpoint');
    await untilTrue(() => pool.restarts === 1 && pool.workerOf(onZero) === 0, 'the replacement worker to restore its streams');

    // the other worker's stream never noticed
    await steps(client, onOne, 10, 12);
    expect(client.errors().filter((e) => e.stream === onOne)).toEqual([]);
    // the killed worker's stream is taken over where its checkpoint left it, and goes on bit for bit
    const reopened = await client.open(onZero);
    expect(reopened).toMatchObject({ type: 'opened', resumed: true, lastSeq: 9 });
    expect(await steps(client, onZero, 10, 15)).toEqual(original);
    await client.close();
    await server.close();

    // and a new server with two workers restores both workers' streams where close() checkpointed them
    const again = await startSharded(stateDir);
    const back = await Client.connect(again.server.url);
    expect(await back.open(onZero)).toMatchObject({ resumed: true, lastSeq: 14 });
    expect(await back.open(onOne)).toMatchObject({ resumed: true, lastSeq: 11 });
    expect([again.pool.workerOf(onZero), again.pool.workerOf(onOne)]).toEqual([0, 1]);
    await back.close();
    await again.server.close();
  });

  it('without a state directory, loses its streams (the producer is told, open starts afresh) and nothing else', async () => {
    const { server, pool } = await startSharded(undefined);
    const client = await Client.connect(server.url);
    const [onZero, onOne] = await streamOnEachWorker(client, pool, 'lost');
    for (const stream of [onZero, onOne]) await steps(client, stream, 0, 5);
    await pool.thread(1).terminate();
    const told = await client.next((m) => m.type === 'error' && m.stream === onOne, 'the error telling the producer');
    expect(told.message).toContain('its state is lost');
    await untilTrue(() => pool.restarts === 1, 'the replacement worker');
    await steps(client, onZero, 5, 8);
    expect(await client.open(onOne)).toMatchObject({ type: 'opened', resumed: false, lastSeq: -1 });
    await steps(client, onOne, 0, 3);
    expect(client.errors().filter((e) => e !== told)).toEqual([]);
    await client.close();
    await server.close();
  });
});

describe('online learning on a worker', () => {
  it('trains the worker’s copy of the model: a learning stream’s predictions are those of the single-threaded server', async () => {
    // each server learns into its own model
    const [forOne, forTwo] = await Promise.all([createModel(SPEC), createModel(SPEC)]);
    const one = await SeqcastServer.start({ models: [{ name: 'm', model: forOne }], port: 0, webRoot: null, learning: { every: 4, window: 8 } });
    let pool: WorkerPool | undefined;
    const makePool = workerPool({ workers: 2 });
    const two = await SeqcastServer.start({ models: [{ name: 'm', model: forTwo }], port: 0, webRoot: null, learning: { every: 4, window: 8 }, engine: (parts) => (pool = makePool(parts)) });
    const results: Message[][] = [];
    for (const server of [one, two]) {
      const client = await Client.connect(server.url);
      expect(await client.open('learner', { learn: true })).toMatchObject({ type: 'opened', learn: true });
      await steps(client, 'learner', 0, 40);
      results.push(client.predictions('learner').map(({ stepMicros: _s, ...rest }: Message) => rest));
      await client.close();
    }
    expect(pool!.workerOf('learner')).toBeDefined();
    expect(results[1].filter((p) => p.learnEvent === 'trained').length).toBeGreaterThan(0);
    expect(results[1]).toEqual(results[0]);
    await two.close();
    await one.close();
    forOne.close();
    forTwo.close();
  });
});
