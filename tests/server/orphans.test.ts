// Orphaned streams are bounded per connection and per client address, and the oldest go first: the table cannot be filled by leaving.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer, type ServerOptions } from '../../src/server/server.js';
import { Client, eventually } from './client.js';
import { ManualClock } from './clock.js';

let model: Model;
let server: SeqcastServer | undefined;
const log: string[] = [];

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, seed: 8 });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  log.length = 0;
});

afterAll(() => model.close());

async function start(options: Partial<ServerOptions>): Promise<SeqcastServer> {
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, log: (line) => log.push(line), ...options });
  return server;
}

/** Connects, opens `names` in one batch, waits for every answer. */
async function producerOf(names: string[], options: Parameters<typeof Client.connect>[1] = {}): Promise<Client> {
  const client = await Client.connect(server!.url, options);
  client.send(names.map((stream) => ({ type: 'open', stream })));
  await client.until(() => client.messages.filter((m) => m.type === 'opened').length === names.length, `${names.length} opened`, 10_000);
  return client;
}

/** Closes `client`, the only one connected, and waits until the server has orphaned what it held. */
async function leave(client: Client): Promise<void> {
  await client.close();
  await eventually(() => [...server!.streams.values()].every((entry) => entry.owner === undefined), 'the streams orphaned');
  await new Promise((resolve) => setImmediate(resolve)); // the eviction's log line
}

const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

describe('orphaned streams', () => {
  it('one connection leaves at most maxOrphansPerConnection, its most recently active; the others are closed', async () => {
    const clock = new ManualClock();
    await start({ clock, maxOrphansPerConnection: 3 });
    const client = await Client.connect(server!.url);
    for (const stream of names('c', 5)) {
      await client.open(stream);
      clock.advance(1000);
    }
    await client.close();
    await eventually(() => server!.streams.size === 3, 'three streams left');
    expect([...server!.streams.keys()].sort()).toEqual(['c-2', 'c-3', 'c-4']);
    expect([...server!.streams.values()].every((entry) => entry.owner === undefined)).toBe(true);
  });

  it('the connections of one address leave at most maxOrphansPerAddress in all, the oldest closed first; others still open streams', async () => {
    const clock = new ManualClock();
    await start({ clock, maxOrphansPerAddress: 100, maxStreams: 150 });
    for (let c = 0; c < 10; c++) {
      await leave(await producerOf(names(`conn${c}`, 50)));
      clock.advance(1000);
    }
    // 500 left, 100 kept: the last two connections' streams
    expect(server!.streams.size).toBe(100);
    expect([...server!.streams.keys()].every((name) => name.startsWith('conn8-') || name.startsWith('conn9-'))).toBe(true);
    expect(log.some((line) => /closed \d+ streams nobody held \(the oldest first\)/.test(line))).toBe(true);
    // the table is not full of orphans: a producer from this address and one from another open what they need
    const here = await producerOf(names('here', 40));
    const elsewhere = await producerOf(names('far', 10), { localAddress: '127.0.0.2' });
    expect(server!.streams.size).toBe(150);
    await Promise.all([here.close(), elsewhere.close()]);
  });

  it('a full server makes room for a new stream by closing the stream longest without a producer', async () => {
    const clock = new ManualClock();
    await start({ clock, maxStreams: 4 });
    const first = await producerOf(['old-0', 'old-1']);
    await leave(first);
    clock.advance(1000);
    const second = await producerOf(['new-0', 'new-1']);
    const late = await Client.connect(server!.url);
    expect(await late.open('late')).toMatchObject({ type: 'opened' });
    expect([...server!.streams.keys()].sort()).toEqual(['late', 'new-0', 'new-1', 'old-1']);
    // held streams are never evicted: with no orphan left to close, a full server refuses
    expect(await late.open('late-2')).toMatchObject({ type: 'opened' });
    expect(await late.open('late-3')).toMatchObject({ type: 'error', code: 'too_many_streams' });
    await Promise.all([second.close(), late.close()]);
  });
});
