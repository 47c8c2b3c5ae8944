// The clients a soak (bench/soak.ts) runs beside its good producers: dashboards that read, read slowly or not at
// all, sockets that stall half-way, and a hostile client; each counts what the server did to it.

import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

/** What the adversaries saw, for the soak's report. */
export interface AdversaryCounts {
  /** Predictions the reading dashboard received. */
  readingPredictions: number;
  /** Predictions the slow dashboards received. */
  slowPredictions: number;
  /** Paused dashboards opened (one every 40 s, each let go after 120 s). */
  pausedOpened: number;
  /** Stalled sockets opened, and closed by the server. */
  stalledOpened: number;
  stalledClosed: number;
  /** Messages the hostile client sent, errors it got back, times the server closed it. */
  hostileSent: number;
  hostileErrors: number;
  hostileClosed: number;
  /** Error codes the hostile client got, by code. */
  hostileCodes: Record<string, number>;
}

/** Starts every adversary against `url` (http://HOST:PORT/); stop() ends them. */
export function startAdversaries(url: string, streams: number): { counts: AdversaryCounts; stop: () => void } {
  const wsUrl = `${url.replace(/^http/, 'ws')}ws`;
  const { hostname, port } = new URL(url);
  const counts: AdversaryCounts = { readingPredictions: 0, slowPredictions: 0, pausedOpened: 0, stalledOpened: 0, stalledClosed: 0, hostileSent: 0, hostileErrors: 0, hostileClosed: 0, hostileCodes: {} };
  const timers: NodeJS.Timeout[] = [];
  const sockets = new Set<WebSocket | Socket>();
  let stopped = false;
  const every = (ms: number, work: () => void) => timers.push(setInterval(() => !stopped && work(), ms));

  /** A dashboard watching `watch`; `onPredictions` gets the count of each message's predictions. */
  const dashboard = (watch: string[] | '*', onPredictions: (n: number) => void, onClose?: () => void): WebSocket => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    sockets.add(ws);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', streams: watch, metrics: true })));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString();
      onPredictions(text.split('"type":"prediction"').length - 1);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      sockets.delete(ws);
      if (!stopped) onClose?.();
    });
    return ws;
  };

  // one dashboard that reads everything it gets, on 20 streams
  dashboard(Array.from({ length: 20 }, (_, i) => `s${i}`), (n) => (counts.readingPredictions += n));
  // two slow ones on every stream: they read 0.3 s of every 3.3 s
  for (let i = 0; i < 2; i++) {
    const slow = dashboard('*', (n) => (counts.slowPredictions += n));
    let paused = false;
    every(i === 0 ? 3000 : 3300, () => {
      paused = !paused;
      if (paused) slow.pause();
      else slow.resume();
    });
  }
  // a paused one on every stream, which never reads. A paused client cannot see the server drop it (it reads
  // nothing, not even the close), so a new one starts every 40 s and each is let go after 120 s: one or more
  // paused dashboards are always on the server until it drops them
  const paused = () => {
    const ws = dashboard('*', () => undefined);
    counts.pausedOpened++;
    ws.on('open', () => setTimeout(() => ws.pause(), 100));
    timers.push(setTimeout(() => ws.terminate(), 120_000));
  };
  paused();
  every(40_000, paused);

  // stalled sockets: half a request head, and WebSockets holding half a frame
  every(2000, () => {
    for (let i = 0; i < 10; i++) {
      const socket = connect(Number(port), hostname);
      counts.stalledOpened++;
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${hostname}\r\nX-Stalled: `));
      socket.on('close', () => {
        sockets.delete(socket);
        if (!stopped) counts.stalledClosed++;
      });
    }
    for (let i = 0; i < 2; i++) {
      const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
      counts.stalledOpened++;
      sockets.add(ws);
      ws.on('error', () => undefined);
      ws.on('open', () => (ws as unknown as { _socket: Socket })._socket.write(Buffer.from([0x81, 0xfe, 0xea, 0x60, 1, 2, 3, 4, 0x61])));
      ws.on('close', () => {
        sockets.delete(ws);
        if (!stopped) counts.stalledClosed++;
      });
    }
  });

  // the hostile client, from another loopback address (its own rate budget): every 500 ms a volley of what issue 19 found
  let hostile: WebSocket | undefined;
  let volleys = 0;
  const reconnect = () => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false, localAddress: '127.0.0.2' });
    hostile = ws;
    sockets.add(ws);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const parsed = JSON.parse(data.toString());
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
        if (m.type !== 'error') continue;
        counts.hostileErrors++;
        counts.hostileCodes[m.code] = (counts.hostileCodes[m.code] ?? 0) + 1;
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      sockets.delete(ws);
      if (stopped) return;
      counts.hostileClosed++;
      setTimeout(reconnect, 200);
    });
  };
  reconnect();
  const nested = '['.repeat(20_000) + ']'.repeat(20_000);
  every(500, () => {
    const ws = hostile;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const send = (message: string | Buffer) => {
      ws.send(message);
      counts.hostileSent++;
    };
    volleys++;
    send(JSON.stringify(Array.from({ length: 50 }, () => ({ type: 'list' }))));
    for (let i = 0; i < 20; i++) send(`{"type":"frame","stream":"s${i}","seq":${nested},"values":[1]}`);
    send(JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ type: 'configure', stream: `s${(volleys * 50 + i) % streams}`, horizon: 256, learn: true }))));
    send(JSON.stringify({ type: 'reset', stream: `s${volleys % streams}` }));
    send(JSON.stringify({ type: 'subscribe', streams: Array.from({ length: 2000 }, (_, i) => `nope-${i}`) }));
    for (let i = 0; i < 50; i++) send('{"type":');
    for (let i = 0; i < 20; i++) send(Buffer.from([0x53, 0x43, 9, 9, 1, 0, 1, 0]));
    // every 5 s: 300 streams opened and left behind (orphans)
    if (volleys % 10 === 0) {
      send(JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ type: 'open', stream: `orphan-${volleys}-${i}` }))));
      setTimeout(() => ws.close(), 200);
    }
  });

  return {
    counts,
    stop: () => {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) (socket instanceof WebSocket ? socket.terminate() : socket.destroy());
    },
  };
}
