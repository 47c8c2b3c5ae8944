// The server against real `ws` clients on an ephemeral loopback port: predictions identical to the library, dashboards, idle streams.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model, type ModelSpec } from '../../src/index.js';
import { encodeFrames } from '../../src/protocol/binary.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';
import { ManualClock } from './clock.js';

/** A frame model with its own normalizer (the library normalizes; the server must not again). */
const NORMALIZED: ModelSpec = { cell: 'lstm', inputSize: 3, hiddenSize: 16, seed: 5, metadata: { normalizer: { mean: [10, -2, 0.5], std: [4, 0.5, 2] } } };
/** A plain GRU, streams opened with normalize: 'none' so values reach it as sent. */
const PLAIN: ModelSpec = { cell: 'gru', inputSize: 2, hiddenSize: 12, layers: 2, seed: 6 };

let server: SeqcastServer;
/** The shared server's time: its timers (metrics every 100 ms, idle and orphan checks) fire only when a test advances it. */
const clock = new ManualClock();
let normalized: Model;
let plain: Model;

beforeAll(async () => {
  normalized = await createModel(NORMALIZED, { batchCapacity: 8 });
  plain = await createModel(PLAIN);
  server = await SeqcastServer.start({ models: [{ name: 'normalized', model: normalized }, { name: 'plain', model: plain }], port: 0, webRoot: null, metricsIntervalMs: 100, clock });
});

afterAll(async () => {
  await server.close();
  normalized.close();
  plain.close();
});

/** Deterministic frame values for stream s, step i. */
function valuesOf(s: number, i: number, width: number): number[] {
  return Array.from({ length: width }, (_, c) => Math.fround(Math.sin(0.3 * i + s + c) * (c + 1) * 3 + s));
}

describe('many producers at once', () => {
  it('gives every stream exactly the predictions of stepping the same model directly, in JSON and binary, with forecasts', async () => {
    const producers = await Promise.all([0, 1, 2, 3].map(() => Client.connect(server.url)));
    const STEPS = 40;
    const streams = [] as { client: Client; name: string; model: 'normalized' | 'plain'; binary: boolean; id: number; horizon: number }[];
    for (let p = 0; p < producers.length; p++) {
      for (let k = 0; k < 5; k++) {
        const model = k % 2 === 0 ? 'normalized' : 'plain';
        const name = `p${p}-s${k}`;
        const horizon = k === 0 ? 3 : 0;
        const opened = await producers[p].open(name, { model, horizon, normalize: model === 'plain' ? 'none' : 'auto' });
        expect(opened.type).toBe('opened');
        streams.push({ client: producers[p], name, model, binary: p % 2 === 1, id: opened.id, horizon });
      }
    }
    // every producer sends one step of each of its streams per message, all producers interleaved
    for (let i = 0; i < STEPS; i++) {
      for (const client of producers) {
        const mine = streams.filter((s) => s.client === client);
        if (mine[0].binary) {
          for (const width of [3, 2]) {
            const same = mine.filter((s) => (s.model === 'normalized' ? 3 : 2) === width);
            client.sendBytes(encodeFrames(same.map((s) => ({ streamId: s.id, seq: i, t: 1000 + i, values: Float32Array.from(valuesOf(streams.indexOf(s), i, width)) }))));
          }
        } else {
          client.send(mine.map((s) => ({ type: 'frame', stream: s.name, seq: i, t: 1000 + i, values: valuesOf(streams.indexOf(s), i, s.model === 'normalized' ? 3 : 2) })));
        }
      }
    }
    for (const s of streams) {
      await s.client.until(() => (s.binary ? s.client.binary.filter((b) => b.streamId === s.id).length : s.client.predictions(s.name).length) === STEPS, `${STEPS} predictions of ${s.name}`);
    }
    // the same frames through the library, one stream at a time
    for (const s of streams) {
      const model = s.model === 'normalized' ? normalized : plain;
      const reference = await createModel(s.model === 'normalized' ? NORMALIZED : PLAIN);
      const stream = reference.openStream();
      const got = s.binary
        ? s.client.binary.filter((b) => b.streamId === s.id).map((b) => ({ seq: b.seq, predicted: Array.from(b.predicted), forecast: b.forecast.map((r) => Array.from(r)), t: b.t }))
        : s.client.predictions(s.name).map((m) => ({ seq: m.seq, predicted: m.predicted.map(Math.fround), forecast: (m.forecast ?? []).map((r: number[]) => r.map(Math.fround)), t: m.t }));
      expect(got.map((g) => g.seq)).toEqual(Array.from({ length: STEPS }, (_, i) => i));
      for (let i = 0; i < STEPS; i++) {
        const expected = stream.step(valuesOf(streams.indexOf(s), i, model.inputSize));
        expect(got[i].predicted).toEqual(Array.from(expected));
        expect(got[i].t).toBe(1000 + i);
        if (s.horizon > 0) expect(got[i].forecast).toEqual(stream.forecast(s.horizon).map((r) => Array.from(r)));
      }
      reference.close();
    }
    for (const client of producers) expect(client.errors()).toEqual([]);
    await Promise.all(producers.map((c) => c.close()));
  });

  it('batches frames of one turn into one kernel call and reports its size and step time', async () => {
    const client = await Client.connect(server.url);
    for (let k = 0; k < 6; k++) await client.open(`batch-${k}`, { model: 'plain', normalize: 'none' });
    client.send(Array.from({ length: 6 }, (_, k) => ({ type: 'frame', stream: `batch-${k}`, seq: 0, values: [k, -k] })));
    await client.until(() => client.messages.filter((m) => m.type === 'prediction').length === 6, '6 predictions');
    const predictions = client.messages.filter((m) => m.type === 'prediction');
    expect(predictions.map((m) => m.batch)).toEqual([6, 6, 6, 6, 6, 6]);
    expect(predictions.every((m) => m.stepMicros > 0 && m.anomaly === 0.5 && m.error === null)).toBe(true);
    await client.close();
  });

  it('scores each frame against the prediction made one frame earlier', async () => {
    const client = await Client.connect(server.url);
    await client.open('scored', { model: 'plain', normalize: 'none' });
    client.send([0, 1, 2].map((i) => ({ type: 'frame', stream: 'scored', seq: i, values: [i, 2 * i] })));
    await client.until(() => client.predictions('scored').length === 3, '3 predictions');
    const [first, second] = client.predictions('scored');
    const expectedError = Math.sqrt(((1 - first.predicted[0]) ** 2 + (2 - first.predicted[1]) ** 2) / 2);
    expect(second.error).toBeCloseTo(expectedError, 6);
    expect(second.rmse).toBeCloseTo(expectedError, 6);
    expect(first.actual).toEqual([0, 0]);
    await client.close();
  });
});

describe('streams', () => {
  it('orders reset and close after the frames sent before them, and keeps seq monotonic across a reset', async () => {
    const client = await Client.connect(server.url);
    await client.open('r', { model: 'plain', normalize: 'none' });
    client.send([
      { type: 'frame', stream: 'r', seq: 0, values: [1, 2] },
      { type: 'reset', stream: 'r' },
      { type: 'frame', stream: 'r', seq: 1, values: [1, 2] },
      { type: 'frame', stream: 'r', seq: 1, values: [1, 2] },
    ]);
    await client.until(() => client.predictions('r').length === 2 && client.errors().length === 1, 'two predictions and an error');
    const [before, after] = client.predictions('r');
    expect(after.predicted).toEqual(before.predicted); // same frame from a zero state
    expect(await client.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_seq', seq: 1, stream: 'r' });
    expect(await client.next((m) => m.type === 'reset')).toMatchObject({ stream: 'r', lastSeq: 0 });
    client.send({ type: 'close', stream: 'r' });
    expect(await client.next((m) => m.type === 'closed')).toMatchObject({ stream: 'r' });
    const reopened = await client.open('r', { model: 'plain', normalize: 'none' });
    expect(reopened).toMatchObject({ type: 'opened', lastSeq: -1, resumed: false });
    await client.close();
  });

  it('lets a producer take its stream over after reconnecting, continuing from its last seq', async () => {
    const first = await Client.connect(server.url);
    await first.open('handover', { model: 'plain', normalize: 'none' });
    first.send({ type: 'frame', stream: 'handover', seq: 7, values: [1, 1] });
    await first.until(() => first.predictions('handover').length === 1, 'a prediction');
    const other = await Client.connect(server.url);
    expect(await other.open('handover')).toMatchObject({ type: 'error', code: 'stream_busy' });
    other.send({ type: 'frame', stream: 'handover', seq: 8, values: [1, 1] });
    expect(await other.next((m) => m.type === 'error')).toMatchObject({ code: 'stream_busy', seq: 8 });
    await first.close();
    expect(await other.open('handover')).toMatchObject({ type: 'opened', resumed: true, lastSeq: 7, model: 'plain' });
    await other.close();
  });

  it('opens learning streams (learn: true) on models that can learn online (tests/server/learning.test.ts has the rest)', async () => {
    const client = await Client.connect(server.url);
    expect(await client.open('learner', { model: 'plain', learn: true })).toMatchObject({ type: 'opened', learn: true, learning: { every: 8, window: 32, target: 'delta' }, normalize: 'online' });
    client.send({ type: 'close', stream: 'learner' });
    await client.next((m) => m.type === 'closed');
    await client.close();
  });

  it('closes a stream whose producer left once nobody has held it for the TTL, freeing its name; a held one stays', async () => {
    const ttl = await SeqcastServer.start({ models: [{ name: 'plain', model: await createModel(PLAIN) }], port: 0, webRoot: null, orphanTtlMs: 60_000 });
    const left = await Client.connect(ttl.url);
    const stays = await Client.connect(ttl.url);
    await left.open('orphan', { normalize: 'none' });
    await stays.open('held', { normalize: 'none' });
    left.send({ type: 'frame', stream: 'orphan', seq: 5, values: [1, 2] });
    stays.send({ type: 'frame', stream: 'held', seq: 0, values: [1, 2] });
    await left.until(() => left.predictions('orphan').length === 1, 'a prediction');
    await stays.until(() => stays.predictions('held').length === 1, 'a prediction');
    await left.close();
    await stays.until(() => ttl.streams.get('orphan')?.owner === undefined, 'the server to see the disconnect');
    const leftAt = ttl.streams.get('orphan')!.orphanedAt!;
    expect(ttl.expireOrphans(leftAt + 59_000)).toBe(0);
    expect(ttl.streams.has('orphan')).toBe(true);
    expect(ttl.expireOrphans(leftAt + 60_000)).toBe(1);
    expect(ttl.expireOrphans(Date.now() + 3_600_000)).toBe(0); // "held" is held: it stays however old
    stays.send({ type: 'list' });
    expect((await stays.next((m) => m.type === 'streams')).streams.map((s: { stream: string }) => s.stream)).toEqual(['held']);
    // the name is free: it opens afresh, seq starting anew
    expect(await stays.open('orphan', { normalize: 'none' })).toMatchObject({ type: 'opened', resumed: false, lastSeq: -1 });
    await stays.close();
    await ttl.close();
  });

  it('closes orphans on its own timer (orphanTtlMs), and a producer that comes back in time keeps its stream', async () => {
    const clock = new ManualClock();
    const ttl = await SeqcastServer.start({ models: [{ name: 'plain', model: await createModel(PLAIN) }], port: 0, webRoot: null, orphanTtlMs: 300, clock });
    const first = await Client.connect(ttl.url);
    await first.open('quick', { normalize: 'none' });
    await first.open('slow', { normalize: 'none' });
    await first.close();
    const back = await Client.connect(ttl.url);
    await back.until(() => ttl.streams.get('slow')?.owner === undefined, 'the server to see the disconnect');
    expect(await back.open('quick', { normalize: 'none' })).toMatchObject({ type: 'opened', resumed: true });
    clock.advance(299);
    expect([...ttl.streams.keys()].sort()).toEqual(['quick', 'slow']);
    clock.advance(1); // the timer (every 150 ms) finds "slow" unheld for 300 ms
    expect([...ttl.streams.keys()]).toEqual(['quick']);
    clock.advance(3_600_000);
    expect(ttl.streams.has('quick')).toBe(true);
    await back.close();
    await ttl.close();
  });

  it("fills in t with the server's receive time (ms since the epoch) when a producer gives none, in JSON and binary", async () => {
    const client = await Client.connect(server.url);
    const opened = await client.open('untimed', { model: 'plain', normalize: 'none' });
    const before = Date.now();
    client.send({ type: 'frame', stream: 'untimed', seq: 0, values: [1, 2] });
    client.sendBytes(encodeFrames([{ streamId: opened.id, seq: 1, t: undefined, values: Float32Array.of(1, 2) }]));
    client.send({ type: 'frame', stream: 'untimed', seq: 2, t: 7, values: [1, 2] });
    await client.until(() => client.predictions('untimed').length === 2 && client.binary.length === 1, 'three predictions');
    const after = Date.now();
    const [json, timed] = client.predictions('untimed');
    for (const t of [json.t, client.binary[0].t]) {
      expect(t).toBeGreaterThanOrEqual(before - 5);
      expect(t).toBeLessThanOrEqual(after + 5);
    }
    expect(timed.t).toBe(7);
    await client.close();
  });

  it('parks an idle stream out of the kernel and brings it back bit for bit', async () => {
    const client = await Client.connect(server.url);
    await client.open('idle', { model: 'normalized' });
    const reference = (await createModel(NORMALIZED)).openStream();
    for (let i = 0; i < 5; i++) client.send({ type: 'frame', stream: 'idle', seq: i, values: valuesOf(9, i, 3) });
    await client.until(() => client.predictions('idle').length === 5, '5 predictions');
    expect(server.parkIdle(clock.now() + 10 * 60_000)).toBeGreaterThan(0);
    expect(server.streams.get('idle')!.stream).toBeUndefined();
    for (let i = 5; i < 10; i++) client.send({ type: 'frame', stream: 'idle', seq: i, values: valuesOf(9, i, 3) });
    await client.until(() => client.predictions('idle').length === 10, '10 predictions');
    const got = client.predictions('idle').map((m) => m.predicted.map(Math.fround));
    for (let i = 0; i < 10; i++) expect(got[i]).toEqual(Array.from(reference.step(valuesOf(9, i, 3))));
    await client.close();
  });

  it("stamps a stream's last activity on the server's clock, so a stream that just stepped is not idle however far the system's clock is", async () => {
    // the server's time is far from the system's (a year ahead): only the server's clock may decide idleness
    const later = new ManualClock(Date.now() + 365 * 24 * 3_600_000);
    const model = await createModel(PLAIN);
    const own = await SeqcastServer.start({ models: [{ name: 'plain', model }], port: 0, webRoot: null, clock: later, idleMs: 60_000 });
    const client = await Client.connect(own.url);
    try {
      await client.open('busy', { model: 'plain', normalize: 'none' });
      client.send({ type: 'frame', stream: 'busy', seq: 0, values: [1, 2] });
      await client.until(() => client.predictions('busy').length === 1, 'the prediction');
      expect(own.parkIdle(later.now() + 59_000)).toBe(0);
      expect(own.parkIdle(later.now() + 60_000)).toBe(1);
    } finally {
      await client.close();
      await own.close();
      model.close();
    }
  });
});

describe('dashboards', () => {
  it('lists streams and models, receives predictions of subscribed streams and metrics once per interval', async () => {
    const producer = await Client.connect(server.url);
    const dashboard = await Client.connect(server.url);
    await producer.open('watched', { model: 'plain', normalize: 'none' });
    await producer.open('unwatched', { model: 'plain', normalize: 'none' });
    dashboard.send({ type: 'subscribe', streams: ['watched'] });
    expect(await dashboard.next((m) => m.type === 'subscribed')).toMatchObject({ streams: ['watched'], metrics: true });
    for (let i = 0; i < 5; i++) producer.send([{ type: 'frame', stream: 'watched', seq: i, values: [i, i] }, { type: 'frame', stream: 'unwatched', seq: i, values: [i, i] }]);
    await dashboard.until(() => dashboard.predictions('watched').length === 5, 'the watched predictions');
    expect(dashboard.predictions('unwatched')).toEqual([]);
    expect(dashboard.messages.some((m) => m.type === 'metrics')).toBe(false); // none before the interval is over
    const open = server.streams.size;
    const held = [...server.streams.values()].filter((entry) => entry.owner !== undefined).length;
    clock.advance(100); // the metrics message is taken now, in this same tick
    const metrics = await dashboard.next((m) => m.type === 'metrics', 'metrics');
    expect(metrics).toMatchObject({ interval: 0.1, streams: { open, held }, learning: { available: true, streams: 0, loss: null, updates: 0 } });
    expect(metrics.totalFrames).toBeGreaterThanOrEqual(10);
    expect(metrics.latencyMs).toHaveProperty('p99');
    expect(metrics.memory.rss).toBeGreaterThan(0);
    dashboard.send({ type: 'list' });
    const list = await dashboard.next((m) => m.type === 'streams');
    expect(list.streams.find((s: { stream: string }) => s.stream === 'watched')).toMatchObject({ model: 'plain', lastSeq: 4, held: true });
    expect(list.models.map((m: { name: string }) => m.name)).toEqual(['normalized', 'plain']);
    dashboard.send({ type: 'unsubscribe', streams: '*' });
    expect(await dashboard.next((m) => m.type === 'unsubscribed')).toMatchObject({ streams: [], metrics: false });
    await Promise.all([producer.close(), dashboard.close()]);
  });

  it('keeps a dashboard that does not read to the latest values per stream (bounded), while the producer is served', async () => {
    const producer = await Client.connect(server.url);
    const dashboard = await Client.connect(server.url);
    await producer.open('fast', { model: 'plain', normalize: 'none' });
    dashboard.send({ type: 'subscribe', streams: '*' });
    await dashboard.next((m) => m.type === 'subscribed');
    dashboard.ws.pause(); // reads nothing
    for (let i = 0; i < 2000; i++) producer.send({ type: 'frame', stream: 'fast', seq: i, values: [i % 7, 1] });
    await producer.until(() => producer.predictions('fast').length === 2000, 'all predictions to the producer', 15_000);
    dashboard.ws.resume();
    await dashboard.until(() => dashboard.predictions('fast').some((m) => m.seq === 1999), 'the latest prediction', 5000);
    // the producer gets every answer, in order; the dashboard, the latest ones, in order (older ones may have been dropped)
    expect(producer.predictions('fast').map((m) => m.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    const seen = dashboard.predictions('fast').map((m) => m.seq as number);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
    expect(seen.at(-1)).toBe(1999);
    await Promise.all([producer.close(), dashboard.close()]);
  });
});
