// Online learning in the server, against real `ws` clients on an ephemeral loopback port: learning streams predict and
// train exactly as LearningStream does, refused frames never train, configure turns learning on and off and changes the
// horizon, parking is bit for bit, metrics report the learning, and models that cannot learn online say so.

import { afterEach, describe, expect, it } from 'vitest';
import { createModel, type Model, type ModelSpec } from '../../src/index.js';
import type { LearningStream } from '../../src/api/learning-stream.js';
import { encodeFrames } from '../../src/protocol/binary.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from './client.js';
import { ManualClock } from './clock.js';

const LEARNER: ModelSpec = { cell: 'lstm', inputSize: 2, hiddenSize: 8, seed: 21 };
const PLAIN: ModelSpec = { cell: 'gru', inputSize: 2, hiddenSize: 6, seed: 22 };

let server: SeqcastServer | undefined;
/** The current server's time: its metrics (every 100 ms) and idle checks come only when a test advances it. */
let clock = new ManualClock();
const clients: Client[] = [];
const models: Model[] = [];

async function start(extra: { name: string; spec: ModelSpec }[] = [], token?: string): Promise<SeqcastServer> {
  const specs = [{ name: 'learner', spec: LEARNER }, { name: 'plain', spec: PLAIN }, ...extra];
  const served = await Promise.all(specs.map(async ({ name, spec }) => ({ name, model: await createModel(spec) })));
  models.push(...served.map((s) => s.model));
  clock = new ManualClock();
  server = await SeqcastServer.start({ models: served, port: 0, webRoot: null, metricsIntervalMs: 100, clock, token });
  return server;
}

async function connect(token?: string): Promise<Client> {
  const client = await Client.connect(server!.url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
  for (const model of models.splice(0)) model.close();
});

const valuesAt = (i: number) => [20 + 5 * Math.sin(i / 4) + (i % 3) * 0.1, 3 * Math.cos(i / 7)];
const f32 = (row: number[]) => row.map(Math.fround);

/** Sends frames from..to−1 of `stream` one message each and waits for their predictions. */
async function send(client: Client, stream: string, from: number, to: number, values = valuesAt): Promise<Message[]> {
  for (let i = from; i < to; i++) client.send({ type: 'frame', stream, seq: i, values: values(i) });
  await client.until(() => client.predictions(stream).filter((m) => m.seq >= from && m.seq < to).length === to - from, `predictions ${from}..${to - 1} of ${stream}`);
  return client.predictions(stream).filter((m) => m.seq >= from && m.seq < to);
}

/** The library's answer to frame i for a learner, as the server reports it. */
function expectSame(got: Message, learner: LearningStream, values: number[], horizon: number): void {
  const report = learner.observe(values);
  expect(f32(got.predicted)).toEqual(Array.from(report.predicted));
  expect(got.learnEvent).toBe(report.event);
  expect(got.loss).toBe(report.loss);
  if (horizon > 0) expect(got.forecast.map(f32)).toEqual(learner.forecast(horizon).map((r) => Array.from(r)));
}

describe('learning streams', () => {
  it('predict, forecast and train exactly as LearningStream does, beside a plain stream stepped by the batch', async () => {
    await start();
    const producer = await connect();
    expect(await producer.open('pump', { model: 'learner', learn: true, horizon: 3, learning: { every: 4, window: 8 } })).toMatchObject({
      type: 'opened', learn: true, learning: { every: 4, window: 8, target: 'delta' }, normalize: 'online', horizon: 3,
    });
    await producer.open('fan', { model: 'plain', normalize: 'none' });
    const reference = await createModel(LEARNER);
    const learner = reference.openLearningStream({ every: 4, window: 8 });
    const plainReference = (await createModel(PLAIN)).openStream();
    for (let i = 0; i < 60; i++) producer.send([{ type: 'frame', stream: 'pump', seq: i, values: valuesAt(i) }, { type: 'frame', stream: 'fan', seq: i, values: valuesAt(i + 9) }]);
    await producer.until(() => producer.predictions('pump').length === 60 && producer.predictions('fan').length === 60, '60 predictions each');
    const pump = producer.predictions('pump');
    pump.forEach((m, i) => expectSame(m, learner, valuesAt(i), 3));
    producer.predictions('fan').forEach((m, i) => {
      expect(f32(m.predicted)).toEqual(Array.from(plainReference.step(valuesAt(i + 9))));
      expect(m).not.toHaveProperty('learnEvent');
    });
    const trained = pump.filter((m) => m.learnEvent === 'trained');
    expect(trained.length).toBeGreaterThan(8);
    expect(trained.every((m) => typeof m.loss === 'number' && m.batch === 1)).toBe(true);
    for (const name of reference.parameterNames) expect(Array.from(models[0].getParameter(name))).toEqual(Array.from(reference.getParameter(name)));
    expect(producer.errors()).toEqual([]);
  });

  it('never trains on a refused frame: bad values, lengths, seqs and binary records change nothing', async () => {
    await start();
    const producer = await connect();
    const opened = await producer.open('pump', { model: 'learner', learn: true, learning: { every: 2, window: 4 } });
    const reference = await createModel(LEARNER);
    const learner = reference.openLearningStream({ every: 2, window: 4 });
    let seq = 0;
    for (let round = 0; round < 12; round++) {
      producer.send([
        { type: 'frame', stream: 'pump', seq, values: [1, NaN] },
        { type: 'frame', stream: 'pump', seq, values: [1] },
        { type: 'frame', stream: 'pump', seq, values: [1, 'x'] },
        { type: 'frame', stream: 'pump', seq: seq - 1, values: [1, 2] },
        { type: 'frame', stream: 'pump', seq, values: valuesAt(seq) },
      ]);
      producer.sendBytes(encodeFrames([{ streamId: opened.id, seq, t: undefined, values: Float32Array.of(5, 5) }])); // a duplicate seq
      await producer.until(() => producer.predictions('pump').length === seq + 1, `prediction ${seq}`);
      seq++;
    }
    await producer.until(() => producer.errors().length === 12 * 5, 'every refusal');
    expect(new Set(producer.errors().map((e) => e.code))).toEqual(new Set(['bad_value', 'wrong_length', 'bad_seq', 'bad_field'])); // seq −1 is bad_field
    producer.predictions('pump').forEach((m, i) => expectSame(m, learner, valuesAt(i), 0));
    expect(learner.stats.updates).toBeGreaterThan(3);
    for (const name of reference.parameterNames) expect(Array.from(models[0].getParameter(name))).toEqual(Array.from(reference.getParameter(name)));
  });

  it('turns learning off and on and changes the horizon with configure, from the producer or a dashboard with the control token', async () => {
    await start([], 'control');
    const producer = await connect('control');
    const dashboard = await connect('control');
    await producer.open('pump', { model: 'learner', learn: true, learning: { every: 2, window: 4 } });
    await send(producer, 'pump', 0, 10);
    producer.send({ type: 'configure', stream: 'pump', learn: false, horizon: 2 });
    expect(await producer.next((m) => m.type === 'configured')).toEqual({ type: 'configured', stream: 'pump', learn: false, horizon: 2, learning: { every: 2, window: 4, target: 'delta' }, lastSeq: 9 });
    const frozen = models[0].getParameter('lstm.weight_hh_l0');
    const paused = await send(producer, 'pump', 10, 30);
    expect(paused.every((m) => m.learnEvent === undefined && m.forecast.length === 2)).toBe(true);
    expect(Array.from(models[0].getParameter('lstm.weight_hh_l0'))).toEqual(Array.from(frozen));
    // a dashboard (not the stream's producer) with the control role turns it back on (tests/server/roles.test.ts: who else may)
    dashboard.send({ type: 'configure', stream: 'pump', learn: true });
    expect(await dashboard.next((m) => m.type === 'configured')).toMatchObject({ learn: true, horizon: 2 });
    const resumed = await send(producer, 'pump', 30, 40);
    expect(resumed.filter((m) => m.learnEvent === 'trained').length).toBeGreaterThan(2);
    // what cannot be configured
    dashboard.send({ type: 'configure', stream: 'pump', learning: { every: 3 } });
    expect(await dashboard.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_field', stream: 'pump', message: expect.stringMatching(/already learns with every 2/) });
    dashboard.send({ type: 'configure', stream: 'nope', learn: true });
    expect(await dashboard.next((m) => m.type === 'error')).toMatchObject({ code: 'unknown_stream' });
    dashboard.send({ type: 'configure', stream: 'pump' });
    expect(await dashboard.next((m) => m.type === 'error')).toMatchObject({ code: 'missing_field' });
    dashboard.send({ type: 'configure', stream: 'pump', horizon: -1 });
    expect(await dashboard.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_field' });
    producer.send({ type: 'list' });
    const listed = (await producer.next((m) => m.type === 'streams')).streams.find((s: Message) => s.stream === 'pump');
    expect(listed).toMatchObject({ learn: true, horizon: 2, normalize: 'online', learning: { every: 2, window: 4, target: 'delta', stats: { frames: 40, updates: expect.any(Number) } } });
  });

  it('turns a plain stream into a learning stream, which keeps its state and learns from then on', async () => {
    await start();
    const producer = await connect();
    await producer.open('fan', { model: 'learner' });
    await producer.open('raw', { model: 'learner', normalize: 'none' });
    const before = await send(producer, 'fan', 0, 20);
    expect(before.every((m) => m.learnEvent === undefined)).toBe(true);
    producer.send({ type: 'configure', stream: 'fan', learn: true, learning: { every: 2, window: 4, target: 'value' } });
    expect(await producer.next((m) => m.type === 'configured')).toMatchObject({ learn: true, learning: { every: 2, window: 4, target: 'value' } });
    const after = await send(producer, 'fan', 20, 40);
    expect(after.filter((m) => m.learnEvent === 'trained').length).toBeGreaterThan(3);
    producer.send({ type: 'configure', stream: 'raw', learn: true });
    expect(await producer.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_field', stream: 'raw', message: expect.stringMatching(/normalize "none"/) });
    expect(await producer.open('raw2', { model: 'learner', normalize: 'none', learn: true })).toMatchObject({ type: 'error', code: 'bad_field' });
  });

  it('parks an idle learning stream with its learner and brings both back bit for bit', async () => {
    await start();
    const producer = await connect();
    await producer.open('pump', { model: 'learner', learn: true, horizon: 2, learning: { every: 3, window: 6 } });
    const reference = await createModel(LEARNER);
    const learner = reference.openLearningStream({ every: 3, window: 6 });
    const first = await send(producer, 'pump', 0, 25);
    expect(server!.parkIdle(clock.now() + 3_600_000)).toBe(1);
    expect(server!.streams.get('pump')).toMatchObject({ stream: undefined, learner: undefined });
    const second = await send(producer, 'pump', 25, 50);
    [...first, ...second].forEach((m, i) => expectSame(m, learner, valuesAt(i), 2));
  });

  it('starts a learning stream afresh on reset, keeping what the model learned', async () => {
    await start();
    const producer = await connect();
    await producer.open('pump', { model: 'learner', learn: true, learning: { every: 2, window: 4 } });
    const reference = await createModel(LEARNER);
    let learner = reference.openLearningStream({ every: 2, window: 4 });
    const first = await send(producer, 'pump', 0, 20);
    first.forEach((m, i) => expectSame(m, learner, valuesAt(i), 0));
    producer.send({ type: 'reset', stream: 'pump' });
    expect(await producer.next((m) => m.type === 'reset')).toMatchObject({ lastSeq: 19 });
    learner.close();
    learner = reference.openLearningStream({ every: 2, window: 4 });
    const second = await send(producer, 'pump', 20, 40);
    second.forEach((m, i) => expectSame(m, learner, valuesAt(20 + i), 0));
    expect(second[0].error).toBeNull();
  });

  it('reports learning in metrics: loss, updates, skipped and rolled-back counts, learning streams', async () => {
    await start();
    const producer = await connect();
    const dashboard = await connect();
    dashboard.send({ type: 'subscribe', streams: [], metrics: true });
    await dashboard.next((m) => m.type === 'subscribed');
    await producer.open('pump', { model: 'learner', learn: true, learning: { every: 2, window: 4 } });
    await producer.open('fan', { model: 'plain' });
    const predictions = await send(producer, 'pump', 0, 40);
    const applied = predictions.filter((m) => m.learnEvent === 'trained' || m.learnEvent === 'rolled-back').length;
    expect(applied).toBeGreaterThan(10);
    expect(dashboard.messages.filter((m) => m.type === 'metrics')).toEqual([]); // none before the interval is over
    clock.advance(100); // one interval, holding every update
    const metrics = await dashboard.next((m) => m.type === 'metrics', 'the metrics message');
    expect(metrics).toMatchObject({ interval: 0.1, streams: { open: 2, held: 2 } });
    expect(metrics.learning).toMatchObject({ available: true, streams: 1, updates: applied, skipped: expect.any(Number), rolledBack: expect.any(Number), total: { updates: applied } });
    expect(metrics.learning.loss).toBeGreaterThan(0);
    expect(metrics.learning.total).toEqual({ updates: applied, skipped: metrics.learning.skipped, rolledBack: metrics.learning.rolledBack });
    // the next interval counts its own (none), with no loss
    clock.advance(100);
    expect((await dashboard.next((m) => m.type === 'metrics', 'the next metrics message')).learning).toMatchObject({ updates: 0, loss: null, total: { updates: applied } });
  });

  it('refuses learn: true on token models and models whose outputs are not their inputs, with learning_unavailable, and opens nothing', async () => {
    await start([
      { name: 'attention', spec: { kind: 'transformer', inputSize: 2, width: 8, heads: 2, window: 4, seed: 1 } },
      { name: 'tokens', spec: { cell: 'gru', vocabSize: 5, hiddenSize: 4, seed: 1 } },
      { name: 'classifier', spec: { cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 1 } },
    ]);
    const client = await connect();
    expect(await client.open('t', { model: 'tokens', learn: true })).toMatchObject({ type: 'error', code: 'learning_unavailable', message: expect.stringMatching(/token model/) });
    expect(await client.open('c', { model: 'classifier', learn: true })).toMatchObject({ type: 'error', code: 'learning_unavailable', message: expect.stringMatching(/outputs 2 values for 3 inputs/) });
    client.send({ type: 'list' });
    expect((await client.next((m) => m.type === 'streams')).streams).toEqual([]);
    expect(await client.open('c', { model: 'classifier' })).toMatchObject({ type: 'opened', learn: false, learning: null });
    client.send({ type: 'configure', stream: 'c', learn: true });
    expect(await client.next((m) => m.type === 'error')).toMatchObject({ code: 'learning_unavailable', stream: 'c' });
    // a frame transformer whose outputs are its inputs learns online like the recurrent models
    expect(await client.open('a', { model: 'attention', learn: true })).toMatchObject({ type: 'opened', learn: true });
  });
});

describe('attention models in the server', () => {
  it('send each position\'s attention weights (last block), one row per head over the attended positions, and learn online', async () => {
    const spec: ModelSpec = { kind: 'transformer', inputSize: 2, width: 8, heads: 2, blocks: 2, window: 3, sinks: 1, seed: 5 };
    await start([{ name: 'attention', spec }]);
    const client = await connect();
    expect(await client.open('a', { model: 'attention' })).toMatchObject({ type: 'opened' });
    for (let seq = 0; seq < 6; seq++) {
      client.send({ type: 'frame', stream: 'a', seq, values: valuesAt(seq) });
      const prediction = await client.next((m) => m.type === 'prediction' && m.seq === seq);
      // one sink plus a window of 3: position p attends min(p + 1, 4) positions
      const count = Math.min(seq + 1, 4);
      expect(prediction.attention).toHaveLength(2);
      for (const row of prediction.attention as number[][]) {
        expect(row).toHaveLength(count);
        expect(row.every((w) => w >= 0 && w <= 1)).toBe(true);
        expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
      }
    }
    expect(await client.open('b', { model: 'attention', learn: true })).toMatchObject({ type: 'opened', learn: true });
    for (let seq = 0; seq < 60; seq++) client.send({ type: 'frame', stream: 'b', seq, values: valuesAt(seq) });
    const last = await client.next((m) => m.type === 'prediction' && m.stream === 'b' && m.seq === 59);
    expect(last.attention).toHaveLength(2);
  });
});
