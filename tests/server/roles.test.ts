// Who may change a stream: its producer, or the control role; learning needs the control role; horizons are bounded in cost.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer, type LocalProducer, type ServerOptions } from '../../src/server/server.js';
import { Client } from './client.js';

let model: Model;
let server: SeqcastServer | undefined;
const clients: Client[] = [];

beforeAll(async () => {
  model = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 4, seed: 15 });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

afterAll(() => model.close());

async function start(options: Partial<ServerOptions> = {}): Promise<SeqcastServer> {
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, ...options });
  return server;
}

async function connect(token?: string): Promise<Client> {
  const client = await Client.connect(server!.url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  clients.push(client);
  return client;
}

/** Sends `message` and waits for its answer (`type`) or an error. */
async function ask(client: Client, message: Record<string, unknown>, type: string): Promise<Record<string, any>> {
  client.send(message);
  return client.next((m) => m.type === type || m.type === 'error', `the answer to ${message.type}`);
}

describe('without tokens (loopback)', () => {
  it('a connection that holds no stream can neither configure nor reset another connection’s streams, and nothing changes', async () => {
    await start();
    const producer = await connect();
    const stranger = await connect();
    producer.send(Array.from({ length: 100 }, (_, i) => ({ type: 'open', stream: `p-${i}` })));
    await producer.until(() => producer.messages.filter((m) => m.type === 'opened').length === 100, '100 opened');
    // the attack of issue 19: horizon 256 on every stream, learning turned on, resets
    stranger.send(Array.from({ length: 100 }, (_, i) => ({ type: 'configure', stream: `p-${i}`, horizon: 256, learn: true })));
    stranger.send({ type: 'reset', stream: 'p-0' });
    await stranger.until(() => stranger.errors().length === 101, '101 refusals');
    expect(new Set(stranger.errors().map((e) => e.code))).toEqual(new Set(['forbidden']));
    expect(stranger.errors()[0].message).toMatch(/held by another producer; only that producer, or a connection with the control token/);
    expect([...server!.streams.values()].every((e) => e.horizon === 0 && !e.learn)).toBe(true);
    // its producer may
    expect(await ask(producer, { type: 'configure', stream: 'p-0', horizon: 3 }, 'configured')).toMatchObject({ horizon: 3 });
    expect(await ask(producer, { type: 'reset', stream: 'p-0' }, 'reset')).toMatchObject({ stream: 'p-0' });
  });

  it('the page may control streams produced inside the server (the demo’s) and streams nobody holds: reset, learning, horizon', async () => {
    await start();
    const inside: LocalProducer = { label: 'demo' };
    expect(server!.openStream(inside, { type: 'open', stream: 'demo', horizon: 0, learn: false, normalize: 'auto' })).toMatchObject({ type: 'opened' });
    const page = await connect();
    expect(await ask(page, { type: 'reset', stream: 'demo' }, 'reset')).toMatchObject({ stream: 'demo' });
    expect(await ask(page, { type: 'configure', stream: 'demo', learn: true, horizon: 5 }, 'configured')).toMatchObject({ learn: true, horizon: 5 });
    const gone = await connect();
    await gone.open('orphan');
    await gone.close();
    await page.until(() => server!.streams.get('orphan')?.owner === undefined, 'the orphan');
    expect(await ask(page, { type: 'reset', stream: 'orphan' }, 'reset')).toMatchObject({ stream: 'orphan' });
  });
});

describe('with tokens', () => {
  const tokens = { token: 'control-token', producerToken: 'producer-token', readToken: 'read-token' };

  it('the read-only token lists and subscribes, and may not open, configure or reset', async () => {
    await start(tokens);
    const producer = await connect(tokens.producerToken);
    await producer.open('s');
    const viewer = await connect(tokens.readToken);
    expect(await ask(viewer, { type: 'list' }, 'streams')).toMatchObject({ total: 1 });
    expect(await ask(viewer, { type: 'subscribe', streams: ['s'] }, 'subscribed')).toMatchObject({ streams: ['s'] });
    expect(await ask(viewer, { type: 'open', stream: 'mine' }, 'opened')).toMatchObject({ code: 'forbidden' });
    expect(await ask(viewer, { type: 'configure', stream: 's', horizon: 1 }, 'configured')).toMatchObject({ code: 'forbidden' });
    expect(await ask(viewer, { type: 'reset', stream: 's' }, 'reset')).toMatchObject({ code: 'forbidden' });
  });

  it('the producer token works its own streams but may not learn on a shared model nor change another producer’s stream; the control token may do both', async () => {
    await start(tokens);
    const producer = await connect(tokens.producerToken);
    const other = await connect(tokens.producerToken);
    const control = await connect(tokens.token);
    await producer.open('own');
    expect(await ask(producer, { type: 'configure', stream: 'own', horizon: 2 }, 'configured')).toMatchObject({ horizon: 2 });
    expect(await ask(producer, { type: 'configure', stream: 'own', learn: true }, 'configured')).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/control token/) });
    expect(await producer.open('learner', { learn: true })).toMatchObject({ code: 'forbidden' });
    expect(server!.streams.has('learner')).toBe(false);
    expect(await ask(other, { type: 'configure', stream: 'own', horizon: 9 }, 'configured')).toMatchObject({ code: 'forbidden' });
    expect(await ask(other, { type: 'reset', stream: 'own' }, 'reset')).toMatchObject({ code: 'forbidden' });
    expect(await ask(control, { type: 'configure', stream: 'own', learn: true, horizon: 4 }, 'configured')).toMatchObject({ learn: true, horizon: 4 });
    expect(await ask(control, { type: 'reset', stream: 'own' }, 'reset')).toMatchObject({ stream: 'own' });
    expect(await control.open('learner', { learn: true })).toMatchObject({ type: 'opened', learn: true });
  });

  it('needs the control token when given a producer or read-only one', async () => {
    await expect(SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, readToken: 'r' })).rejects.toThrow(/needs the control token/);
  });
});

describe('horizons', () => {
  it('are bounded in cost: a horizon past the server’s forecast budget is refused (forecast_budget), the others stay', async () => {
    await start({ maxForecastRows: 1024 });
    const producer = await connect();
    producer.send(Array.from({ length: 10 }, (_, i) => ({ type: 'open', stream: `h-${i}` })));
    await producer.until(() => producer.messages.filter((m) => m.type === 'opened').length === 10, '10 opened');
    producer.send(Array.from({ length: 10 }, (_, i) => ({ type: 'configure', stream: `h-${i}`, horizon: 256 })));
    await producer.until(() => producer.messages.filter((m) => m.type === 'configured' || m.type === 'error').length === 10, '10 answers');
    expect(producer.messages.filter((m) => m.type === 'configured')).toHaveLength(4);
    expect(producer.errors()).toHaveLength(6);
    expect(producer.errors()[0]).toMatchObject({ code: 'forecast_budget', stream: 'h-4' });
    expect([...server!.streams.values()].reduce((sum, e) => sum + e.horizon, 0)).toBe(1024);
    producer.messages.length = 0;
    // lowering one makes room; closing one gives its rows back
    expect(await ask(producer, { type: 'configure', stream: 'h-0', horizon: 0 }, 'configured')).toMatchObject({ horizon: 0 });
    expect(await producer.open('late', { horizon: 256 })).toMatchObject({ type: 'opened', horizon: 256 });
    expect(await producer.open('later', { horizon: 1 })).toMatchObject({ code: 'forecast_budget' });
    producer.send({ type: 'close', stream: 'h-1' });
    await producer.next((m) => m.type === 'closed');
    expect(await producer.open('later', { horizon: 200 })).toMatchObject({ type: 'opened', horizon: 200 });
    producer.send({ type: 'frame', stream: 'late', seq: 0, values: [1] });
    expect((await producer.next((m) => m.type === 'prediction')).forecast).toHaveLength(256);
  });
});
