// Stalled clients are dropped: HTTP requests that never finish arriving, and WebSockets that stop answering pings.

import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Clock } from './clock.js';

/** The time limits the server holds clients to, ms. */
export interface TimeoutOptions {
  /** From connecting (or from the last response, on a kept-alive socket) to a request's complete head. */
  headersTimeoutMs: number;
  /** From a request's head to its response having been sent. */
  requestTimeoutMs: number;
  /** Between pings of every WebSocket; one that has not answered the previous ping (nor sent anything) by the next is dropped. */
  pingIntervalMs: number;
}

/**
 * Deadlines of the HTTP sockets not (yet) upgraded, on the server's clock: a socket that has sent no complete
 * request head `headersTimeoutMs` after connecting or after its last response, or whose request is not answered
 * within `requestTimeoutMs`, is destroyed by the next sweep. (Node's own headersTimeout does not cover a socket
 * an `upgrade` listener may take, and it runs on the wall clock.) Touches only the sockets it watches.
 */
export class HttpDeadlines {
  private readonly deadlines = new Map<Socket, number>();

  constructor(
    http: HttpServer,
    options: TimeoutOptions,
    private readonly clock: Clock,
  ) {
    http.on('connection', (socket: Socket) => {
      this.deadlines.set(socket, clock.now() + options.headersTimeoutMs);
      socket.once('close', () => this.deadlines.delete(socket));
    });
    http.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const socket = request.socket;
      this.deadlines.set(socket, clock.now() + options.requestTimeoutMs);
      response.once('finish', () => {
        if (!socket.destroyed) this.deadlines.set(socket, clock.now() + options.headersTimeoutMs);
      });
    });
    // a socket being upgraded is the WebSocket's now (Heartbeat watches it), or refused and destroyed
    http.on('upgrade', (request: IncomingMessage) => this.deadlines.delete(request.socket));
  }

  /** Destroys the sockets past their deadline at the clock's now; how many. */
  sweep(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const [socket, deadline] of this.deadlines) {
      if (now < deadline) continue;
      this.deadlines.delete(socket);
      socket.destroy();
      dropped++;
    }
    return dropped;
  }

  /** Sockets being watched. */
  get size(): number {
    return this.deadlines.size;
  }
}

/**
 * Pings every WebSocket each `pingIntervalMs` and drops one that has neither answered the previous ping nor sent
 * anything since: a dead peer, or one holding half a frame (a pong cannot pass a frame's unfinished payload).
 * An idle dashboard answers pings on its own (every WebSocket client does) and stays.
 */
export class Heartbeat {
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private readonly sockets = new Set<WebSocket>();

  /** Watches `ws` until it closes. */
  watch(ws: WebSocket): void {
    this.sockets.add(ws);
    this.alive.set(ws, true);
    const heard = () => this.alive.set(ws, true);
    ws.on('pong', heard);
    ws.on('message', heard);
    ws.once('close', () => this.sockets.delete(ws));
  }

  /** One beat: drops the sockets silent since the last (saying how many to `log`), pings the others; how many were dropped. */
  beat(log?: (line: string) => void): number {
    let dropped = 0;
    for (const ws of this.sockets) {
      if (!this.alive.get(ws)) {
        this.sockets.delete(ws);
        ws.terminate();
        dropped++;
        continue;
      }
      this.alive.set(ws, false);
      if (ws.readyState === ws.OPEN) ws.ping();
    }
    if (dropped > 0) log?.(`dropped ${dropped} WebSocket${dropped === 1 ? '' : 's'} silent since the last ping (no pong, no message)`);
    return dropped;
  }
}
