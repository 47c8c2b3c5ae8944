// Stalled clients are dropped on the server's clock, and no timer's failure (EMFILE at the descriptor limit) ends the process.

import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';
import { ManualClock } from './clock.js';

let model: Model;
let server: SeqcastServer;
let clock: ManualClock;
const log: string[] = [];

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, seed: 6 });
  clock = new ManualClock();
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, clock, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, pingIntervalMs: 30_000, log: (line) => log.push(line) });
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await server.close();
  model.close();
});

/** A raw TCP connection to the server, with whether (and when, on the test's clock) the server has closed it. */
async function rawSocket(): Promise<{ socket: Socket; closed: () => boolean }> {
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, closed: () => closed };
}

/** Advances the clock a second at a time (letting the sockets' events through) until `done`, or `limitMs`; the ms advanced. */
async function advanceUntil(done: () => boolean, limitMs: number): Promise<number> {
  let advanced = 0;
  while (!done() && advanced < limitMs) {
    clock.advance(1000);
    advanced += 1000;
    for (let i = 0; i < 20 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  }
  return advanced;
}

describe('stalled clients', () => {
  it('drops an HTTP request whose head never finishes arriving, after the headers timeout', async () => {
    const stalled = await rawSocket();
    stalled.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '); // and nothing more
    expect(await advanceUntil(stalled.closed, 9_000)).toBe(9_000);
    expect(stalled.closed()).toBe(false);
    await advanceUntil(stalled.closed, 5_000);
    expect(stalled.closed()).toBe(true);
  });

  it('drops an upgrade request that stalls half-way just the same', async () => {
    const stalled = await rawSocket();
    stalled.socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n');
    expect(await advanceUntil(stalled.closed, 15_000)).toBeLessThanOrEqual(12_000);
    expect(stalled.closed()).toBe(true);
  });

  it('drops a WebSocket that holds half a frame (it cannot answer pings), saying so in its log, and keeps an idle dashboard that does', async () => {
    const idle = await Client.connect(server.url);
    const stalled = await Client.connect(server.url);
    // a masked text frame announcing 60,000 bytes, of which 4 arrive: pongs the client sends after it are read as payload
    const socket = (stalled.ws as unknown as { _socket: Socket })._socket;
    socket.write(Buffer.from([0x81, 0xfe, 0xea, 0x60, 1, 2, 3, 4, 0x61, 0x62, 0x63, 0x64]));
    const dropped = () => stalled.closeCode !== undefined;
    const advanced = await advanceUntil(dropped, 120_000);
    expect(dropped()).toBe(true);
    expect(advanced).toBeLessThanOrEqual(60_000); // within two ping intervals
    expect(log).toContain('dropped 1 WebSocket silent since the last ping (no pong, no message)');
    await advanceUntil(() => false, 90_000); // three more intervals
    expect(idle.closeCode).toBeUndefined();
    idle.send({ type: 'list' });
    expect(await idle.next((m) => m.type === 'streams')).toMatchObject({ type: 'streams' });
    await idle.close();
  });
});

describe('timers', () => {
  it('a metrics timer whose process.memoryUsage() throws EMFILE is reported, and the server goes on (the last figures are sent)', async () => {
    const dashboard = await Client.connect(server.url);
    dashboard.send({ type: 'subscribe', streams: '*', metrics: true });
    await dashboard.next((m) => m.type === 'subscribed');
    clock.advance(1000);
    const before = await dashboard.next((m) => m.type === 'metrics');
    vi.spyOn(process, 'memoryUsage').mockImplementation(() => {
      throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
    });
    clock.advance(1000);
    const during = await dashboard.next((m) => m.type === 'metrics');
    expect(during.memory).toEqual(before.memory);
    await dashboard.close();
  });

  it('a timer that throws is reported and runs again at its next tick', async () => {
    const park = vi.spyOn(server, 'parkIdle').mockImplementation(() => {
      throw new Error('a failing timer');
    });
    clock.advance(10_000);
    expect(park).toHaveBeenCalled();
    expect(log.some((line) => line.includes('timer failed, the server goes on') && line.includes('a failing timer'))).toBe(true);
    park.mockRestore();
    const client = await Client.connect(server.url);
    expect(await client.open('after-the-failure')).toMatchObject({ type: 'opened' });
    await client.close();
  });
});
