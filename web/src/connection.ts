// The dashboard's WebSocket: connects, reconnects by itself with backoff, and asks for a token when the server refuses without one.

import { parseServerText, type ServerMessage, WS_PATH } from './protocol';

/** Waits between reconnection attempts, ms; the last one repeats. */
export const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000];
/** Refused upgrades in a row, while the server answers HTTP, before the dashboard asks for a token. */
const REFUSALS_BEFORE_TOKEN_PROMPT = 2;
/**
 * A path only a seqcast server answers (src/server/static-files.ts serves it, with or without a built page): when it
 * loads while the WebSocket is refused, the server wants a token. A plain static server (vite preview, any file
 * server) has no such file, and the page goes on retrying, offering its local mode, instead of asking for a token.
 */
const SEQCAST_PROBE_PATH = '/demo-windows.json';

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'waiting-for-token';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Failed attempts since the last open connection. */
  attempt: number;
  /** With 'reconnecting': when the next attempt starts (page clock, ms). */
  retryAt?: number;
}

export interface ConnectionEvents {
  /** The messages of one text message, and when it arrived (page clock, ms). */
  messages(messages: ServerMessage[], arrivalMs: number): void;
  /** A connection opened: the place to (re)subscribe. */
  opened(): void;
  state(state: ConnectionState): void;
  /**
   * The server answers HTTP but refuses the WebSocket: it wants a token, or
   * `refused` says the one given was wrong. Resolves with the token to use.
   */
  tokenNeeded(refused: boolean): Promise<string>;
}

/**
 * A WebSocket to `origin` + /ws that stays connected: after any close it
 * tries again (250 ms, 500 ms, 1 s, then every 2 s). A browser cannot see the
 * HTTP status of a refused upgrade, so when attempts fail while the server's
 * page still loads, it asks for a token (once; a refused token asks again).
 */
export class DashboardSocket {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private refusals = 0;
  private timer: number | undefined;
  private stopped = false;

  constructor(
    private readonly origin: string,
    private readonly events: ConnectionEvents,
    private token: string | undefined,
  ) {}

  /** The WebSocket URL for `origin` (http → ws, https → wss), with the token as a query when there is one. */
  static url(origin: string, token: string | undefined): string {
    const url = new URL(WS_PATH, origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('token', token);
    return url.toString();
  }

  /** Whether a connection is open now. */
  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Sends one message (or an array of them); false when not connected (nothing is queued). */
  send(message: object | object[]): boolean {
    if (!this.isOpen) return false;
    this.socket!.send(JSON.stringify(message));
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'dashboard closed');
  }

  private connect(): void {
    this.events.state({ status: this.attempt === 0 ? 'connecting' : 'reconnecting', attempt: this.attempt });
    const socket = new WebSocket(DashboardSocket.url(this.origin, this.token));
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.refusals = 0;
      this.events.state({ status: 'open', attempt: 0 });
      this.events.opened();
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      const arrival = Date.now();
      let messages: ServerMessage[];
      try {
        messages = parseServerText(event.data);
      } catch {
        return; // the server sends JSON; anything else is not for the dashboard
      }
      this.events.messages(messages, arrival);
    };
    socket.onclose = () => {
      if (this.socket !== socket || this.stopped) return;
      this.attempt++;
      if (opened) this.scheduleReconnect();
      else void this.afterRefusal();
    };
  }

  private scheduleReconnect(): void {
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt - 1, RECONNECT_DELAYS_MS.length - 1)];
    this.events.state({ status: 'reconnecting', attempt: this.attempt, retryAt: Date.now() + delay });
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  /** A connection that never opened: the server is down or is no seqcast server (retry), or it answers HTTP and refused us (token). */
  private async afterRefusal(): Promise<void> {
    let serverUp = false;
    try {
      serverUp = (await fetch(new URL(SEQCAST_PROBE_PATH, this.origin), { method: 'HEAD', cache: 'no-store' })).ok;
    } catch {
      serverUp = false;
    }
    if (this.stopped) return;
    this.refusals = serverUp ? this.refusals + 1 : 0;
    if (this.refusals < REFUSALS_BEFORE_TOKEN_PROMPT) return this.scheduleReconnect();
    this.events.state({ status: 'waiting-for-token', attempt: this.attempt });
    this.token = await this.events.tokenNeeded(this.token !== undefined);
    this.refusals = 0;
    this.connect();
  }
}
