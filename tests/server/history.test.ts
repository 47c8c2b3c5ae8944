// The server keeps each stream's past and answers `history` with it: the same numbers the producer was sent, in the
// asked range, decimated to maxPoints with spikes kept, on one thread or over worker threads; bad requests are refused.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerPool } from '../../src/cluster/pool.js';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from './client.js';

let model: Model;
let server: SeqcastServer;

beforeAll(async () => {
  model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 8, seed: 5 });
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null });
});

afterAll(async () => {
  await server?.close();
  model?.close();
});

/** Opens `stream` and sends `count` JSON frames (t = T0 + 100 ms · seq, a spike at `spikeAt`), waiting for every prediction. */
async function produce(url: string, stream: string, count: number, spikeAt = -1): Promise<{ client: Client; predictions: Message[] }> {
  const client = await Client.connect(url);
  expect((await client.open(stream, { normalize: 'none' })).type).toBe('opened');
  const frames = Array.from({ length: count }, (_, seq) => ({ type: 'frame', stream, seq, t: T0 + 100 * seq, values: [seq === spikeAt ? 50 : Math.sin(seq / 7), 0.1 * seq] }));
  for (let i = 0; i < frames.length; i += 100) client.send(frames.slice(i, i + 100));
  await client.until(() => client.predictions(stream).length === count, `${count} predictions of ${stream}`, 20_000);
  return { client, predictions: client.predictions(stream) };
}

/** 2013-03-01T00:00:00Z: a replayed file's time, far from now. */
const T0 = Date.UTC(2013, 2, 1);

async function askHistory(client: Client, request: Record<string, unknown>): Promise<Message> {
  client.send({ type: 'history', ...request });
  return client.next((m) => (m.type === 'history' || m.type === 'error') && m.stream === request.stream, 'the history answer');
}

describe('history', () => {
  it('after 137 frames a dashboard gets back exactly what the producer was sent: t, seq, actual, predicted, error, rmse and anomaly', async () => {
    const { client, predictions } = await produce(server.url, 'exact', 137);
    const dashboard = await Client.connect(server.url);
    const answer = await askHistory(dashboard, { stream: 'exact' });
    expect(answer).toMatchObject({ type: 'history', channels: 2, rows: 137, decimated: false, oldest: T0 });
    expect(answer.t).toEqual(predictions.map((p) => p.t));
    expect(answer.seq).toEqual(predictions.map((p) => p.seq));
    for (const c of [0, 1]) {
      expect(answer.actual[c]).toEqual(predictions.map((p) => p.actual[c]));
      expect(answer.predicted[c]).toEqual(predictions.map((p) => p.predicted[c]));
    }
    expect(answer.error).toEqual(predictions.map((p) => p.error));
    expect(answer.rmse).toEqual(predictions.map((p) => p.rmse));
    expect(answer.anomaly).toEqual(predictions.map((p) => p.anomaly));
    client.ws.close();
    dashboard.ws.close();
  });

  it('since/until select frames by their own t, and last N seconds counts back from the newest frame', async () => {
    const { client } = await produce(server.url, 'ranges', 50);
    const between = await askHistory(client, { stream: 'ranges', since: T0 + 1000, until: T0 + 2000 });
    expect(between.seq).toEqual(Array.from({ length: 11 }, (_, i) => 10 + i));
    const last = await askHistory(client, { stream: 'ranges', last: 0.5 });
    expect(last.seq).toEqual([44, 45, 46, 47, 48, 49]);
    const until = await askHistory(client, { stream: 'ranges', until: T0 + 200 });
    expect(until.seq).toEqual([0, 1, 2]);
    client.ws.close();
  });

  it('more frames than maxPoints come back as at most maxPoints min/max rows, the spike among them', async () => {
    const { client } = await produce(server.url, 'spiky', 1000, 613);
    const answer = await askHistory(client, { stream: 'spiky', maxPoints: 100 });
    expect(answer.rows).toBe(1000);
    expect(answer.decimated).toBe(true);
    expect(answer.t.length).toBeLessThanOrEqual(100);
    expect(answer.t.length).toBeGreaterThan(90);
    expect(Math.max(...answer.actual[0])).toBe(50);
    // rows stay in time order, covering the whole range
    expect(answer.t[0]).toBe(T0);
    expect(answer.t.at(-1)).toBe(T0 + 100 * 999);
    for (let i = 1; i < answer.t.length; i++) expect(answer.t[i]).toBeGreaterThan(answer.t[i - 1]);
    client.ws.close();
  });

  it('a stream open but not yet stepped has an empty history; a stream the server never saw is unknown_stream', async () => {
    const client = await Client.connect(server.url);
    await client.open('quiet');
    expect(await askHistory(client, { stream: 'quiet' })).toMatchObject({ type: 'history', rows: 0, t: [], oldest: null });
    expect(await askHistory(client, { stream: 'nosuch' })).toMatchObject({ type: 'error', code: 'unknown_stream', stream: 'nosuch' });
    client.ws.close();
  });

  it.each([
    [{ stream: 'exact', maxPoints: 1 }, /maxPoints must be an integer from 2 to 10000, got 1/],
    [{ stream: 'exact', maxPoints: 2.5 }, /maxPoints must be an integer/],
    [{ stream: 'exact', since: 10, until: 5 }, /since \(10\) is after until \(5\)/],
    [{ stream: 'exact', since: 'yesterday' }, /since must be a frame time/],
    [{ stream: 'exact', last: -3 }, /last must be a positive number of seconds, got -3/],
    [{ stream: 'exact', last: 3, since: 0 }, /give since or last, not both/],
    [{ stream: 'exact', lastSeconds: 3 }, /no field "lastSeconds"/],
  ])('a bad history request %j is refused with bad_field naming what is wrong, and nothing else changes', async (request, message) => {
    const client = await Client.connect(server.url);
    const answer = await askHistory(client, request);
    expect(answer).toMatchObject({ type: 'error', code: 'bad_field', stream: 'exact' });
    expect(answer.message).toMatch(message);
    expect(answer.message).toMatch(/^history "exact": /);
    client.ws.close();
  });

  it('a history request without a stream is refused with missing_field', async () => {
    const client = await Client.connect(server.url);
    client.send({ type: 'history' });
    expect(await client.next((m) => m.type === 'error')).toMatchObject({ code: 'missing_field', message: 'history message has no "stream"' });
    client.ws.close();
  });

  it('the read-only token may ask for history, as it may subscribe', async () => {
    const guarded = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, token: 'control', readToken: 'reader' });
    try {
      const producer = await Client.connect(guarded.url, { query: '?token=control' });
      expect((await producer.open('guarded', { normalize: 'none' })).type).toBe('opened');
      producer.send(Array.from({ length: 5 }, (_, seq) => ({ type: 'frame', stream: 'guarded', seq, values: [seq, 1] })));
      await producer.until(() => producer.predictions('guarded').length === 5, 'five predictions');
      const reader = await Client.connect(guarded.url, { query: '?token=reader' });
      expect(await askHistory(reader, { stream: 'guarded' })).toMatchObject({ type: 'history', rows: 5, seq: [0, 1, 2, 3, 4] });
      for (const c of [producer, reader]) c.ws.close();
    } finally {
      await guarded.close();
    }
  });

  it('with --workers 2 the history is kept where predictions come back, the same as on one thread', async () => {
    const sharded = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, engine: workerPool({ workers: 2 }) });
    try {
      const names = ['w-a', 'w-b', 'w-c'];
      const runs = await Promise.all(names.map((name) => produce(sharded.url, name, 40)));
      for (const [i, name] of names.entries()) {
        const answer = await askHistory(runs[i].client, { stream: name });
        expect(answer.seq).toEqual(runs[i].predictions.map((p) => p.seq));
        expect(answer.predicted[1]).toEqual(runs[i].predictions.map((p) => p.predicted[1]));
        runs[i].client.ws.close();
      }
    } finally {
      await sharded.close();
    }
  }, 30_000);
});
