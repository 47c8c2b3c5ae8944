// `--workers 2` on a real server on loopback: streams spread over both worker threads, each stream's predictions
// in order and bit for bit those of the single-threaded server, every error answered, merged metrics.
// The workers run the built dist/cluster/worker.js: `npm test` builds first (npm run build by hand otherwise).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerPool, type WorkerPool } from '../../src/cluster/pool.js';
import { createModel, type Model, type ModelSpec } from '../../src/index.js';
import { encodeFrames } from '../../src/protocol/binary.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from '../server/client.js';

const FRAMES: ModelSpec = { cell: 'lstm', inputSize: 3, hiddenSize: 16, seed: 11 };
const STREAMS = 12;
const STEPS = 30;

let model: Model;
let single: SeqcastServer;
let sharded: SeqcastServer;
let pool: WorkerPool | undefined;

beforeAll(async () => {
  model = await createModel(FRAMES);
  const models = [{ name: 'frames', model }];
  single = await SeqcastServer.start({ models, port: 0, webRoot: null });
  const makePool = workerPool({ workers: 2 });
  sharded = await SeqcastServer.start({ models, port: 0, webRoot: null, metricsIntervalMs: 100, engine: (parts) => (pool = makePool(parts)) });
});

afterAll(async () => {
  await sharded?.close();
  await single?.close();
  model?.close();
});

function valuesOf(s: number, i: number): number[] {
  return [0, 1, 2].map((c) => Math.fround(Math.sin(0.37 * i + s + c) * (c + 1) + 0.1 * s));
}

/** Opens STREAMS streams (half sent as binary) on `server` and sends them STEPS frames; every stream's predictions. */
async function run(server: SeqcastServer, prefix: string): Promise<Map<string, { seq: number; predicted: number[]; error: unknown }[]>> {
  const json = await Client.connect(server.url);
  const binary = await Client.connect(server.url);
  const ids = new Map<string, number>();
  for (let s = 0; s < STREAMS; s++) {
    const client = s % 2 === 0 ? json : binary;
    const opened = await client.open(`${prefix}-${s}`, { horizon: s === 0 ? 2 : 0 });
    expect(opened.type).toBe('opened');
    ids.set(`${prefix}-${s}`, opened.id);
  }
  for (let i = 0; i < STEPS; i++) {
    json.send(Array.from({ length: STREAMS / 2 }, (_, k) => ({ type: 'frame', stream: `${prefix}-${2 * k}`, seq: i, t: 1000 + i, values: valuesOf(2 * k, i) })));
    binary.sendBytes(encodeFrames(Array.from({ length: STREAMS / 2 }, (_, k) => ({ streamId: ids.get(`${prefix}-${2 * k + 1}`)!, seq: i, t: 1000 + i, values: Float32Array.from(valuesOf(2 * k + 1, i)) }))));
  }
  const out = new Map<string, { seq: number; predicted: number[]; error: unknown }[]>();
  for (let s = 0; s < STREAMS; s++) {
    const name = `${prefix}-${s}`;
    if (s % 2 === 0) {
      await json.until(() => json.predictions(name).length === STEPS, `${STEPS} predictions of ${name}`, 20_000);
      out.set(String(s), json.predictions(name).map((p: Message) => ({ seq: p.seq, predicted: p.predicted, error: p.error, forecast: p.forecast })));
    } else {
      const id = ids.get(name)!;
      await binary.until(() => binary.binary.filter((b) => b.streamId === id).length === STEPS, `${STEPS} binary predictions of ${name}`, 20_000);
      out.set(String(s), binary.binary.filter((b) => b.streamId === id).map((b) => ({ seq: b.seq, predicted: Array.from(b.predicted), error: b.error })));
    }
  }
  expect(json.errors()).toEqual([]);
  expect(binary.errors()).toEqual([]);
  await json.close();
  await binary.close();
  return out;
}

describe('a server with two worker threads', () => {
  it('spreads streams over both workers, and answers each stream in seq order with exactly the single-threaded predictions', async () => {
    const [one, two] = await Promise.all([run(single, 'flow'), run(sharded, 'flow')]);
    const workers = new Set(Array.from({ length: STREAMS }, (_, s) => pool!.workerOf(`flow-${s}`)));
    expect(workers).toEqual(new Set([0, 1]));
    for (let s = 0; s < STREAMS; s++) {
      const got = two.get(String(s))!;
      expect(got.map((p) => p.seq)).toEqual(Array.from({ length: STEPS }, (_, i) => i));
      expect(got).toEqual(one.get(String(s)));
    }
  });
});
