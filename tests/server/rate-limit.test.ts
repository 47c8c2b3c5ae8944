// The rate limits count every message, bad ones too, per connection and per client address.

import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer, type ServerOptions } from '../../src/server/server.js';
import { Client } from './client.js';
import { ManualClock } from './clock.js';

let model: Model;
let server: SeqcastServer | undefined;
const clients: Client[] = [];

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, seed: 9 });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

afterAll(() => model.close());

async function start(options: Partial<ServerOptions>): Promise<SeqcastServer> {
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, ...options });
  return server;
}

async function connect(options: Parameters<typeof Client.connect>[1] = {}): Promise<Client> {
  const client = await Client.connect(server!.url, options);
  clients.push(client);
  return client;
}

/** A binary message with a bad magic. */
const BAD_BINARY = new Uint8Array([0x58, 0x58, 1, 1, 1, 0, 1, 0]);

describe('rate limits', () => {
  it('count invalid JSON and bad binary messages like any other: past the limit they are refused, not answered as if handled', async () => {
    const clock = new ManualClock();
    await start({ rateLimit: 20, clock });
    const client = await connect();
    for (let i = 0; i < 25; i++) client.send('{not json');
    await client.until(() => client.errors().length === 25, '25 errors');
    const codes = client.errors().map((e) => e.code);
    expect(codes.slice(0, 20)).toEqual(Array(20).fill('bad_json'));
    expect(codes.slice(20)).toEqual(Array(5).fill('rate_limited'));
    client.messages.length = 0;
    clock.advance(500); // 10 messages of budget back
    for (let i = 0; i < 12; i++) client.sendBytes(BAD_BINARY);
    await client.until(() => client.errors().length === 12, '12 errors');
    expect(client.errors().map((e) => e.code)).toEqual([...Array(10).fill('bad_binary'), 'rate_limited', 'rate_limited']);
  });

  it('close a connection that goes on sending past its limit for a second’s worth of it (1008)', async () => {
    const clock = new ManualClock();
    await start({ rateLimit: 20, clock });
    const client = await connect();
    for (let i = 0; i < 60; i++) client.send({ type: 'subscribe', streams: [] });
    await client.until(() => client.closeCode !== undefined, 'the connection closed');
    expect(client.closeCode).toBe(1008);
    expect(client.messages.filter((m) => m.type === 'subscribed')).toHaveLength(20);
    expect(client.errors().length).toBeLessThanOrEqual(21);
  });

  it('give list a budget of its own, 10 pages a second per connection and 40 per address: each page costs up to 1,000 streams written out', async () => {
    const clock = new ManualClock();
    await start({ clock });
    const client = await connect();
    client.send(Array.from({ length: 15 }, () => ({ type: 'list' })));
    await client.until(() => client.messages.length === 15, '15 answers');
    expect(client.messages.filter((m) => m.type === 'streams')).toHaveLength(10);
    expect(client.errors().map((e) => e.code)).toEqual(Array(5).fill('rate_limited'));
    // other connections of the address share its 40, of which this one has used 10 (the clock stands still)
    const others = [await connect(), await connect(), await connect(), await connect()];
    for (const other of others) other.send(Array.from({ length: 10 }, () => ({ type: 'list' })));
    await Promise.all(others.map((o) => o.until(() => o.messages.length === 10, '10 answers')));
    expect(others.map((o) => o.messages.filter((m) => m.type === 'streams').length).reduce((a, b) => a + b)).toBe(30);
    clock.advance(1000); // a second later each connection has its 10 again
    client.messages.length = 0;
    client.send({ type: 'list' });
    expect(await client.next((m) => m.type === 'streams' || m.type === 'error')).toMatchObject({ type: 'streams' });
  });

  it('hold for all connections from one address together, and each address has its own', async () => {
    const clock = new ManualClock();
    await start({ rateLimit: 1000, addressRateLimit: 30, clock });
    const producers = [await connect(), await connect(), await connect()];
    for (const [i, p] of producers.entries()) expect(await p.open(`s${i}`)).toMatchObject({ type: 'opened' }); // 3 of the address's 30
    // one after the other, so the order the server reads them in is known
    const expected = [20, 7, 0];
    for (const [i, p] of producers.entries()) {
      p.send(Array.from({ length: 20 }, (_, seq) => ({ type: 'frame', stream: `s${i}`, seq, values: [seq] })));
      await p.until(() => p.predictions(`s${i}`).length === expected[i] && p.errors().length === (i === 0 ? 0 : 1), `${expected[i]} predictions of s${i}`);
    }
    expect(producers[1].errors()[0]).toMatchObject({ code: 'rate_limited', stream: 's1', seq: 7, count: 13 });
    expect(producers[2].errors()[0]).toMatchObject({ code: 'rate_limited', stream: 's2', seq: 0, count: 20 });
    // another address (127.0.0.2 is loopback too) has a budget of its own
    const elsewhere = await connect({ localAddress: '127.0.0.2' });
    expect(await elsewhere.open('far')).toMatchObject({ type: 'opened' });
  });
});
