// A state directory written under one worker count and restored under another (docs/workers.md "Checkpoints"):
// the single-thread layout (DIR/streams.json) and N workers' (DIR/worker-k/) move into each other at start, every
// stream lands where the hash now puts it and goes on from its checkpoint, bit for bit. Real servers on loopback,
// real files; the workers run the built dist/cluster/worker.js (`npm test` builds first).

import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeByName } from '../../src/cluster/directory.js';
import { workerPool, type WorkerPool } from '../../src/cluster/pool.js';
import { arrangeStateDir, prepareStateDir } from '../../src/cluster/state-layout.js';
import { createModel, loadModel, type Model, type ModelSpec } from '../../src/index.js';
import { CheckpointError } from '../../src/server/checkpoint.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from '../server/client.js';

const SPEC: ModelSpec = { cell: 'lstm', inputSize: 2, hiddenSize: 12, seed: 33 };
const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
let modelBytes: Uint8Array;
const dirs: string[] = [];
const models: Model[] = [];

beforeAll(async () => {
  const model = await createModel(SPEC);
  modelBytes = model.toSafetensors();
  model.close();
});

afterAll(() => {
  for (const model of models) model.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'seqcast-layout-'));
  dirs.push(dir);
  return dir;
}

/** A server on its own fresh copy of the model: one thread (workers undefined), or a pool of `workers`. */
async function start(stateDir: string, workers?: number): Promise<{ server: SeqcastServer; pool: WorkerPool | undefined }> {
  const model = await loadModel(modelBytes);
  models.push(model);
  let pool: WorkerPool | undefined;
  const makePool = workers === undefined ? undefined : workerPool({ workers });
  const engine = makePool && ((parts: Parameters<typeof makePool>[0]) => (pool = makePool(parts)));
  // what `seqcast serve --workers 1` does before it starts a server on its own thread (the pool does it itself)
  if (!engine) await prepareStateDir(stateDir, 'single', () => undefined);
  const server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, stateDir, learning: { every: 4, window: 8 }, engine });
  return { server, pool };
}

const valuesOf = (i: number) => [Math.fround(Math.sin(0.4 * i)), Math.fround(Math.cos(0.3 * i))];

/** Sends seqs from..to-1 of every stream, waits for them; each stream's predictions, stepping time and batch size left out. */
async function steps(client: Client, from: number, to: number): Promise<Record<string, Message[]>> {
  const before = new Map(NAMES.map((n) => [n, client.predictions(n).length]));
  client.send(NAMES.flatMap((stream) => Array.from({ length: to - from }, (_, k) => ({ type: 'frame', stream, seq: from + k, t: from + k, values: valuesOf(from + k) }))));
  await client.until(() => NAMES.every((n) => client.predictions(n).length === before.get(n)! + to - from), `predictions ${from}..${to - 1}`, 20_000);
  return Object.fromEntries(NAMES.map((n) => [n, client.predictions(n).slice(before.get(n)).map(({ stepMicros: _s, batch: _b, ...rest }: Message) => rest)]));
}

/** Opens every stream ('a' learns); the answers. */
async function openAll(client: Client): Promise<Message[]> {
  const answers: Message[] = [];
  for (const name of NAMES) answers.push(await client.open(name, name === 'a' ? { learn: true } : {}));
  return answers;
}

/** A state directory with every stream checkpointed after seqs 0..9, written by one thread (workers undefined) or N workers. */
async function written(workers?: number): Promise<string> {
  const stateDir = tempDir();
  const { server } = await start(stateDir, workers);
  const client = await Client.connect(server.url);
  await openAll(client);
  await steps(client, 0, 10);
  await client.close();
  await server.close();
  return stateDir;
}

describe('a state directory restored under another worker count', () => {
  it('one thread’s is taken up by 2 workers, each stream where the hash puts it, going on bit for bit; and back', async () => {
    const single = await written();
    const copy = tempDir();
    cpSync(single, copy, { recursive: true });

    const one = await start(single);
    const oneClient = await Client.connect(one.server.url);
    await openAll(oneClient);
    const expected = await steps(oneClient, 10, 16);

    const two = await start(copy, 2);
    expect(readdirSync(copy).sort()).toEqual(['worker-0', 'worker-1']);
    const twoClient = await Client.connect(two.server.url);
    const reopened = await openAll(twoClient);
    expect(reopened.map((m) => [m.type, m.resumed, m.lastSeq])).toEqual(NAMES.map(() => ['opened', true, 9]));
    expect(NAMES.map((n) => two.pool!.workerOf(n))).toEqual(NAMES.map((n) => placeByName(n, 2)));
    // binary ids in the 2-worker scheme: worker k's are k+1 mod 2, all different
    expect(new Set(reopened.map((m) => m.id)).size).toBe(NAMES.length);
    for (const [i, m] of reopened.entries()) expect((m.id - 1) % 2).toBe(placeByName(NAMES[i], 2));
    // each worker starts from the weights the single thread had learned: the learner ('a') and the streams on its
    // worker go on exactly as in one thread (the other worker's copy no longer learns from 'a': docs/workers.md)
    const got = await steps(twoClient, 10, 16);
    const withLearner = NAMES.filter((n) => placeByName(n, 2) === placeByName('a', 2));
    expect(withLearner.length).toBeGreaterThan(1);
    for (const name of withLearner) expect(got[name]).toEqual(expected[name]);
    expect(got.a.filter((p) => p.learnEvent === 'trained').length).toBeGreaterThan(0);
    await twoClient.close();
    await two.server.close();

    // and back to one thread: the workers' folders merge into STATE_DIR/streams.json
    const back = await start(copy);
    expect(readdirSync(copy).sort()).toEqual(['models', 'streams.json']);
    const backClient = await Client.connect(back.server.url);
    expect((await openAll(backClient)).map((m) => [m.resumed, m.lastSeq])).toEqual(NAMES.map(() => [true, 15]));
    await steps(backClient, 16, 20);
    expect(backClient.errors()).toEqual([]);
    await backClient.close();
    await back.server.close();
    await oneClient.close();
    await one.server.close();
  });

  it('2 workers’ is taken up by 3, every stream resumed on the worker the hash now names', async () => {
    const stateDir = await written(2);
    const three = await start(stateDir, 3);
    expect(readdirSync(stateDir).sort()).toEqual(['worker-0', 'worker-1', 'worker-2']);
    const client = await Client.connect(three.server.url);
    const reopened = await openAll(client);
    expect(reopened.map((m) => [m.resumed, m.lastSeq])).toEqual(NAMES.map(() => [true, 9]));
    expect(NAMES.map((n) => three.pool!.workerOf(n))).toEqual(NAMES.map((n) => placeByName(n, 3)));
    for (const [i, m] of reopened.entries()) expect((m.id - 1) % 3).toBe(placeByName(NAMES[i], 3));
    // a stream opened afresh gets an id no restored stream has
    const fresh = await client.open('fresh');
    expect(reopened.map((m) => m.id)).not.toContain(fresh.id);
    await steps(client, 10, 12);
    expect(client.errors()).toEqual([]);
    await client.close();
    await three.server.close();
  });

  it('finishes a move that a crash interrupted after it was staged, and leaves a directory of the right layout alone', async () => {
    const stateDir = await written(2);
    const before = readFileSync(join(stateDir, 'worker-0', 'streams.json'), 'utf8');
    expect(await arrangeStateDir(stateDir, { workers: 2 })).toBeUndefined();
    expect(readFileSync(join(stateDir, 'worker-0', 'streams.json'), 'utf8')).toBe(before);

    // as if a move from one thread to 2 workers had staged its folders and crashed before the renames
    const staged = join(stateDir, '.relayout');
    mkdirSync(staged);
    for (const k of [0, 1]) cpSync(join(stateDir, `worker-${k}`), join(staged, `worker-${k}`), { recursive: true });
    rmSync(join(stateDir, 'worker-1'), { recursive: true });
    writeFileSync(join(stateDir, 'streams.json'), '{"format":2,"streams":[]}');
    writeFileSync(join(staged, 'DONE'), JSON.stringify({ from: [''], to: ['worker-0', 'worker-1'], streams: NAMES.length }));
    expect(await arrangeStateDir(stateDir, { workers: 2 })).toBeUndefined();
    expect(readdirSync(stateDir).sort()).toEqual(['worker-0', 'worker-1']);
    const restored = await start(stateDir, 2);
    const client = await Client.connect(restored.server.url);
    expect((await openAll(client)).map((m) => m.lastSeq)).toEqual(NAMES.map(() => 9));
    await client.close();
    await restored.server.close();
  });

  it('refuses a streams.json it cannot read, naming it, and changes nothing', async () => {
    const stateDir = await written(2);
    writeFileSync(join(stateDir, 'worker-1', 'streams.json'), '{ not json');
    const error = await arrangeStateDir(stateDir, 'single').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain(join(stateDir, 'worker-1', 'streams.json'));
    expect(readdirSync(stateDir).sort()).toEqual(['worker-0', 'worker-1']);
  });
});
