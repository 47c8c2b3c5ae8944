// One WebSocket client: what it holds and subscribes to, its outgoing queue, its rate limit and its backpressure.

import type { WebSocket } from 'ws';
import type { Subscription } from 'rxjs';
import type { FrameSource, ScoredFrame, StreamEntry } from '../stream/types.js';
import { encodePredictions, MAX_BINARY_RECORDS, predictionRecordBytes } from '../protocol/binary.js';
import type { ErrorMessage, ProtocolProblem } from '../protocol/messages.js';
import { echoed } from '../protocol/codes.js';
import { LIST_PAGES_PER_SECOND, RateLimiter, takeFromAll, type ClientAddress } from './limits.js';
import type { HasRole, Role } from './roles.js';

/** Above this many bytes waiting in the socket, the connection stops being read until it drains below LOW_WATER. */
const HIGH_WATER = 8 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
/** How often a paused connection's buffer is looked at, ms. */
const DRAIN_POLL_MS = 5;
/** Answers are joined into one text message (a JSON array) up to about this many characters; a larger answer goes alone. */
export const MAX_JOINED_CHARS = 256 * 1024;
/**
 * Bytes a connection may have waiting, queued here and in its socket, before it is closed (1008): it sends
 * requests faster than it reads their answers. Its answers in flight are bounded by this, whatever it asks.
 */
export const MAX_WAITING_BYTES = 32 * 1024 * 1024;

/** What a connection is made with besides its socket. */
export interface ConnectionOptions {
  id: number;
  /** The client's address (and what it shares with the address's other connections). */
  address: ClientAddress;
  remotePort: number | undefined;
  /** Messages per second this connection may send. */
  rateLimit: number;
  /** What its token lets it do (roles.ts). */
  role: Role;
  /** Called for every error message sent (metrics). */
  onError: (code: string) => void;
  /** The server's clock, ms: the rate limits' budgets refill by it. */
  now: () => number;
  log: (line: string) => void;
}

/** A connected client, producer or dashboard or both: the streams it holds, what it watches, and its queued answers. */
export class Connection implements FrameSource, HasRole {
  readonly label: string;
  /** Streams this connection produces. */
  readonly owned = new Set<StreamEntry>();
  /** Streams whose predictions it watches: names, or '*' for all. */
  subscribed: Set<string> | '*' = new Set();
  /** Receives the metrics message once a second. */
  wantsMetrics = false;
  /** The dashboard fan-out, while it subscribes to anything. */
  dashboard: Subscription | undefined;
  /** Messages per second this connection may send (its own budget; `address` holds the one it shares). */
  readonly limiter: RateLimiter;
  /** `list` pages this connection may ask for (LIST_PAGES_PER_SECOND a second; its address's budget is `address.lists`). */
  readonly lists: RateLimiter;
  /** Messages refused by the rate limits may go on for a second's worth of the limit; beyond that the connection is closed. */
  private readonly refusals: RateLimiter;
  /** JSON texts of the messages queued, each serialized when queued. */
  private outgoing: string[] = [];
  private outgoingBinary: ScoredFrame[] = [];
  private flushScheduled = false;
  /** Set once the server closes the connection: nothing it sends from then on is handled, nothing more is queued. */
  closing = false;
  private drainTimer: NodeJS.Timeout | undefined;

  readonly id: number;
  readonly address: ClientAddress;
  /** What its token lets it do (roles.ts). */
  readonly role: Role;
  private readonly onError: (code: string) => void;
  private readonly log: (line: string) => void;
  /** Characters queued in `outgoing` and bytes in `outgoingBinary` (as encoded), not yet handed to the socket. */
  private outgoingSize = 0;

  constructor(
    readonly ws: WebSocket,
    options: ConnectionOptions,
  ) {
    this.id = options.id;
    this.role = options.role;
    this.address = options.address;
    this.onError = options.onError;
    this.log = options.log;
    this.label = `connection ${options.id} (${options.address.address}:${options.remotePort})`;
    this.limiter = new RateLimiter(options.rateLimit, options.now);
    this.refusals = new RateLimiter(options.rateLimit, options.now);
    this.lists = new RateLimiter(LIST_PAGES_PER_SECOND, options.now);
  }

  /**
   * How many of `wanted` messages (the frames of a binary message, the messages of a JSON batch, or 1 for any
   * other message, bad ones included) this connection may send now, within its own rate limit and its address's;
   * those are counted. A connection that goes on sending past its limits for a second's worth of it is closed (1008).
   */
  admit(wanted: number): number {
    const granted = takeFromAll([this.limiter, this.address.limiter], wanted);
    if (granted < wanted && this.refusals.take(1) === 0) this.closeWith(1008, 'rate limit exceeded for too long');
    return granted;
  }

  /** Closes the connection (for what it did: rate, answers it does not read) after the answers queued so far. */
  closeWith(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.flush();
    this.ws.close(code, reason);
  }

  /** Whether this connection watches `stream`. */
  watches(stream: string): boolean {
    return this.subscribed === '*' || this.subscribed.has(stream);
  }

  /** Queues a JSON message; queued messages go out together once the current callback returns. */
  send(message: unknown): void {
    this.sendText(JSON.stringify(message));
  }

  /** Queues a message already serialized as JSON text (one object). */
  sendText(json: string): void {
    if (this.closing) return;
    this.outgoing.push(json);
    this.queued(json.length);
  }

  /** Queues an error message naming the offending stream and seq. */
  sendError(problem: ProtocolProblem): void {
    this.onError(problem.code);
    const message: ErrorMessage = { type: 'error', code: problem.code, message: problem.message };
    // what the peer sent is echoed only as far as it is bounded (echoed: no objects, no arrays, short strings)
    const stream = echoed(problem.stream);
    const seq = echoed(problem.seq);
    if (typeof stream === 'string') message.stream = stream;
    if (seq !== undefined) message.seq = seq;
    if (problem.count !== undefined) message.count = problem.count;
    this.send(message);
  }

  /** Queues a prediction to go back in a binary predictions message. */
  sendBinary(frame: ScoredFrame): void {
    if (this.closing) return;
    this.outgoingBinary.push(frame);
    this.queued(predictionRecordBytes(frame.predicted.length, frame.forecast?.length ?? 0));
  }

  /** Counts what was just queued against the bytes the connection may have waiting, and schedules the flush. */
  private queued(size: number): void {
    this.outgoingSize += size;
    if (this.outgoingSize + this.ws.bufferedAmount > MAX_WAITING_BYTES) {
      this.log(`${this.label}: more than ${MAX_WAITING_BYTES} bytes of answers waiting, unread; closing it`);
      this.outgoing = [];
      this.outgoingBinary = [];
      this.outgoingSize = 0;
      this.closing = true;
      this.ws.close(1008, 'too many answers waiting unread');
      return;
    }
    this.scheduleFlush();
  }

  /**
   * Sends what is queued once the current callback returns (a microtask): the answers to everything one socket
   * read brought (every batch stepped while it was handled) go out together, right after it.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /**
   * Sends everything queued: JSON answers joined into arrays of up to MAX_JOINED_CHARS (a larger answer alone),
   * binary predictions in as few messages as fit. A failure (a bug) closes this connection, never the server.
   */
  flush(): void {
    this.flushScheduled = false;
    const messages = this.outgoing;
    const frames = this.outgoingBinary;
    this.outgoing = [];
    this.outgoingBinary = [];
    this.outgoingSize = 0;
    if (this.ws.readyState !== this.ws.OPEN) return;
    try {
      let joined: string[] = [];
      let size = 0;
      const sendJoined = () => {
        this.ws.send(joined.length === 1 ? joined[0] : `[${joined.join(',')}]`);
        joined = [];
        size = 0;
      };
      for (const message of messages) {
        if (joined.length > 0 && size + message.length + 1 > MAX_JOINED_CHARS) sendJoined();
        joined.push(message);
        size += message.length + 1;
      }
      if (joined.length > 0) sendJoined();
      for (let at = 0; at < frames.length; at += MAX_BINARY_RECORDS) this.ws.send(encodePredictions(frames.slice(at, at + MAX_BINARY_RECORDS)));
      this.applyBackpressure();
    } catch (err) {
      this.log(`${this.label}: sending its answers failed, closing it: ${(err as Error).stack ?? err}`);
      this.closing = true;
      this.ws.terminate();
    }
  }

  /** Stops reading a client that does not read its answers, until its socket buffer drains: memory stays bounded. */
  private applyBackpressure(): void {
    if (this.drainTimer || this.ws.bufferedAmount < HIGH_WATER) return;
    this.ws.pause();
    this.drainTimer = setInterval(() => {
      // a timer's callback must not throw: that would end the process
      try {
        if (this.ws.readyState !== this.ws.OPEN || this.ws.bufferedAmount < LOW_WATER) {
          clearInterval(this.drainTimer);
          this.drainTimer = undefined;
          if (this.ws.readyState === this.ws.OPEN) this.ws.resume();
        }
      } catch (err) {
        this.log(`${this.label}: resuming it failed: ${(err as Error).message}`);
      }
    }, DRAIN_POLL_MS);
  }

  /** Forgets timers and the fan-out; the server has already released what the connection held. */
  dispose(): void {
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    this.dashboard?.unsubscribe();
    this.dashboard = undefined;
    this.outgoing = [];
    this.outgoingBinary = [];
  }
}
