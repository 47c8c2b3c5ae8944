// `--workers 2`: open/configure/reset/close, list, every bad frame answered with the single-threaded server's error,
// dashboards fed from both workers, and one metrics message merged over them.
// The workers run the built dist/cluster/worker.js (`npm test` builds first).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerPool, type WorkerPool } from '../../src/cluster/pool.js';
import { createModel, type Model } from '../../src/index.js';
import { encodeFrames } from '../../src/protocol/binary.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from '../server/client.js';

let model: Model;
let single: SeqcastServer;
let sharded: SeqcastServer;
let pool: WorkerPool | undefined;

beforeAll(async () => {
  model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 8, seed: 3 });
  const models = [{ name: 'm', model }];
  single = await SeqcastServer.start({ models, port: 0, webRoot: null });
  const makePool = workerPool({ workers: 2 });
  sharded = await SeqcastServer.start({ models, port: 0, webRoot: null, metricsIntervalMs: 50, engine: (parts) => (pool = makePool(parts)) });
});

afterAll(async () => {
  await sharded?.close();
  await single?.close();
  model?.close();
});

/** Names that land on worker 0 and on worker 1 (placement is a hash of the name). */
async function namesOnEachWorker(client: Client): Promise<[string, string]> {
  const found: (string | undefined)[] = [undefined, undefined];
  for (let i = 0; found.includes(undefined); i++) {
    const name = `probe-${i}`;
    expect((await client.open(name)).type).toBe('opened');
    const worker = pool!.workerOf(name)!;
    if (found[worker] === undefined) found[worker] = name;
    else client.send({ type: 'close', stream: name });
  }
  return found as [string, string];
}

/**
 * The same conversation with a server: each stream's answers (without ids, which differ by design) in order. Order
 * holds per stream: answers about streams on different workers may interleave differently.
 */
async function converse(server: SeqcastServer): Promise<Map<string, Message[]>> {
  const client = await Client.connect(server.url);
  const other = await Client.connect(server.url);
  const script: unknown[] = [
    { type: 'open', stream: 'a' },
    { type: 'frame', stream: 'a', seq: 0, values: [1, 2], t: 5 },
    { type: 'frame', stream: 'a', seq: 0, values: [1, 2], t: 6 }, // seq not larger
    { type: 'frame', stream: 'a', seq: 1, values: [1], t: 7 }, // wrong length
    { type: 'frame', stream: 'a', seq: 2, values: [1, 'x'], t: 8 }, // not a number
    { type: 'frame', stream: 'a', seq: 'three', values: [1, 2], t: 8 }, // seq not a number
    { type: 'frame', stream: 'nope', seq: 0, values: [1, 2], t: 9 }, // not open
    { type: 'configure', stream: 'a', horizon: 2 },
    { type: 'frame', stream: 'a', seq: 3, values: [0.5, -1], t: 10 },
    { type: 'reset', stream: 'a' },
    { type: 'frame', stream: 'a', seq: 4, values: [0.5, -1], t: 11 },
    { type: 'configure', stream: 'nope', horizon: 1 },
    { type: 'close', stream: 'a' },
    { type: 'frame', stream: 'a', seq: 5, values: [0.5, -1], t: 12 },
    { type: 'close', stream: 'a' },
  ];
  for (const message of script) client.send(message);
  await client.until(() => client.messages.length >= script.length - 2, 'an answer to every message', 10_000);
  // someone else's stream: busy
  other.send({ type: 'open', stream: 'b' });
  await other.next((m) => m.type === 'opened');
  client.send({ type: 'close', stream: 'b' });
  client.sendBytes(encodeFrames([{ streamId: 999_999, seq: 0, t: 1, values: Float32Array.of(1, 2) }]));
  await client.until(() => client.errors().length >= 10, 'the last errors', 10_000);
  await client.close();
  await other.close();
  const byStream = new Map<string, Message[]>();
  for (const { id: _id, stepMicros: _s, batch: _b, ...rest } of client.messages) byStream.set(rest.stream, [...(byStream.get(rest.stream) ?? []), rest]);
  return byStream;
}

describe('requests and errors with two workers', () => {
  it('answers open, frames, configure, reset and close, and every bad frame, as the single-threaded server does', async () => {
    const [one, two] = await Promise.all([converse(single), converse(sharded)]);
    expect(two).toEqual(one);
    expect(two.get('a')!.map((m) => m.code ?? m.type)).toEqual(['opened', 'bad_seq', 'wrong_length', 'bad_value', 'bad_field', 'prediction', 'configured', 'prediction', 'reset', 'prediction', 'closed', 'unknown_stream', 'unknown_stream']);
    expect(two.get('nope')!.map((m) => m.code)).toEqual(['unknown_stream', 'unknown_stream']);
    expect(two.get('b')!.map((m) => m.code)).toEqual(['stream_busy']);
    expect(two.get('#999999')!.map((m) => m.code)).toEqual(['unknown_stream']);
  });

  it('lists the streams of both workers in one page, and merges both workers into one metrics message', async () => {
    const client = await Client.connect(sharded.url);
    const [zero, one] = await namesOnEachWorker(client);
    const frames = 7;
    for (let i = 0; i < frames; i++) client.send([zero, one].map((stream) => ({ type: 'frame', stream, seq: i, values: [i, -i] })));
    await client.until(() => client.predictions(zero).length === frames && client.predictions(one).length === frames, 'predictions of both');
    client.send({ type: 'list' });
    const listed = await client.next((m) => m.type === 'streams');
    expect(listed.streams.map((s: Message) => s.stream)).toEqual(expect.arrayContaining([zero, one]));
    expect(listed.total).toBe(listed.streams.length);
    const watcher = await Client.connect(sharded.url);
    watcher.send({ type: 'subscribe', streams: '*', metrics: true });
    await watcher.next((m) => m.type === 'subscribed');
    const merged = await watcher.next((m) => m.type === 'metrics' && m.streams.open === listed.total && m.streams.held >= 2, 'a metrics message counting both workers', 10_000);
    expect(merged.totalFrames).toBeGreaterThanOrEqual(2 * frames);
    // a dashboard watching every stream gets the predictions of both workers
    client.send([zero, one].map((stream) => ({ type: 'frame', stream, seq: frames, values: [1, 1] })));
    await watcher.until(() => [zero, one].every((s) => watcher.messages.some((m) => m.type === 'prediction' && m.stream === s)), 'predictions of both workers on the dashboard');
    await watcher.close();
    await client.close();
  });
});
