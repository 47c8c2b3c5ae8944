// Answers are bounded: however much one message asks for, the server builds and holds a bounded amount for it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { MAX_LISTED, MAX_SUBSCRIBED } from '../../src/protocol/messages.js';
import { MAX_JOINED_CHARS } from '../../src/server/connection.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';

let model: Model;
let server: SeqcastServer;
/** A producer that must be served throughout. */
let bystander: Client;
let bystanderSeq = 0;

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, seed: 4 });
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null });
  bystander = await Client.connect(server.url);
  await bystander.open('bystander');
});

afterAll(async () => {
  await bystander.close();
  await server.close();
  model.close();
});

/** The bystander's next frame is answered. */
async function stillServed(): Promise<void> {
  const seq = bystanderSeq++;
  bystander.send({ type: 'frame', stream: 'bystander', seq, values: [seq] });
  await bystander.next((m) => m.type === 'prediction' && m.seq === seq, `the bystander's frame ${seq}`);
}

/** Records the length of every text message `client` receives. */
function textSizes(client: Client): number[] {
  const sizes: number[] = [];
  client.ws.on('message', (data, isBinary) => {
    if (!isBinary) sizes.push((data as Buffer).length);
  });
  return sizes;
}

describe('bounded answers', () => {
  it('closes (1008) a connection that asks in one message for more answers than it may have waiting (3,000 subscribes echoing 1,024 names), and serves the rest', async () => {
    const hostile = await Client.connect(server.url);
    hostile.send({ type: 'subscribe', streams: Array.from({ length: 1024 }, (_, i) => `watched-${String(i).padStart(4, '0')}`) });
    await hostile.next((m) => m.type === 'subscribed');
    const sizes = textSizes(hostile);
    const request = JSON.stringify(Array.from({ length: 3000 }, () => ({ type: 'subscribe', streams: [] })));
    expect(request.length).toBeLessThan(128 * 1024);
    hostile.send(request); // 3,000 answers of about 16 KB each: 48 MB asked for
    await hostile.until(() => hostile.closeCode !== undefined, 'the connection closed', 15_000);
    expect(hostile.closeCode).toBe(1008);
    expect(hostile.messages.filter((m) => m.type === 'subscribed').length).toBeLessThan(3000);
    // the answers that went out were joined up to the cap, no further
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_JOINED_CHARS + 2);
    await stillServed();
  });

  it('leaves the first page of 1,000 streams to an open of 1,023 more', async () => {
    const producer = await Client.connect(server.url);
    producer.send(Array.from({ length: 1023 }, (_, i) => ({ type: 'open', stream: `s-${String(i).padStart(4, '0')}` })));
    await producer.until(() => producer.messages.filter((m) => m.type === 'opened').length === 1023, '1023 opened', 15_000);
    await producer.close();
  });

  it(`lists at most ${MAX_LISTED} streams an answer, and pages on from "next"`, async () => {
    const producer = await Client.connect(server.url);
    const total = server.streams.size; // the 1,023 streams left by the producer above, and the bystander's
    expect(total).toBe(1024);
    producer.send({ type: 'list' });
    const first = await producer.next((m) => m.type === 'streams');
    expect(first).toMatchObject({ total, next: MAX_LISTED });
    expect(first.streams).toHaveLength(MAX_LISTED);
    producer.send({ type: 'list', offset: first.next });
    const second = await producer.next((m) => m.type === 'streams');
    expect(second.streams).toHaveLength(total - MAX_LISTED);
    expect(second).not.toHaveProperty('next');
    expect(new Set([...first.streams, ...second.streams].map((s: { stream: string }) => s.stream)).size).toBe(total);
    producer.send({ type: 'list', offset: -1 });
    expect(await producer.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_field' });
    await producer.close();
    await stillServed();
  });

  it(`watches at most ${MAX_SUBSCRIBED} names a connection: a larger subscribe is refused whole, and answers stay small`, async () => {
    const dashboard = await Client.connect(server.url);
    const sizes = textSizes(dashboard);
    dashboard.send({ type: 'subscribe', streams: Array.from({ length: 40_000 }, (_, i) => `made-up-${i}`) });
    expect(await dashboard.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_field' });
    dashboard.send({ type: 'subscribe', streams: Array.from({ length: MAX_SUBSCRIBED }, (_, i) => `n-${i}`) });
    expect((await dashboard.next((m) => m.type === 'subscribed')).streams).toHaveLength(MAX_SUBSCRIBED);
    dashboard.send({ type: 'subscribe', streams: ['one-more', 'n-0'] });
    expect(await dashboard.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_field' });
    dashboard.send({ type: 'subscribe', streams: ['n-0', 'n-1'] }); // already watched: nothing added, allowed
    expect((await dashboard.next((m) => m.type === 'subscribed')).streams).toHaveLength(MAX_SUBSCRIBED);
    dashboard.send(Array.from({ length: 700 }, () => ({ type: 'subscribe', streams: [] })));
    await dashboard.until(() => dashboard.messages.filter((m) => m.type === 'subscribed').length === 700, '700 answers', 15_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_JOINED_CHARS + 2);
    await dashboard.close();
    await stillServed();
  });
});
