// The replay command's WebSocket to a seqcast server, as a producer: connect, requests (open, close) answered in turn
// or refused, frames' answers handed on. Every wait is bounded, and nothing is left connected on a failure.

import WebSocket from 'ws';
import { SeqcastError } from '../errors.js';
import type { OpenedMessage } from '../protocol/messages.js';

/** Replaying failed: the server could not be reached, refused a request, stopped answering or went away. */
export class ReplayError extends SeqcastError {
  constructor(message: string) {
    super('REPLAY', message);
  }
}

/** A JSON message from the server, as replay reads it. */
export type ServerMessage = Record<string, unknown> & { type?: unknown };

/** ms a request (open, close) may wait for its answer. */
export const REQUEST_TIMEOUT_MS = 15_000;

interface PendingRequest {
  what: string;
  resolve(message: ServerMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A producer's connection. Requests go one at a time; the first answer that is not a frame's (a `prediction`, or an
 * `error` naming a seq) answers the request waiting. Frames' answers go to `onFrameAnswer` and `onBinary`.
 */
export class ProducerSocket {
  private pending: PendingRequest | undefined;
  /** Set when the connection is gone; later requests fail with it. */
  private gone: ReplayError | undefined;
  /** JSON answers to frames: predictions, and errors naming a seq. */
  onFrameAnswer: (message: ServerMessage) => void = () => undefined;
  /** Binary messages (predictions of binary frames). */
  onBinary: (bytes: Uint8Array) => void = () => undefined;
  /** The connection closed (after `ended`, for a close asked for by `terminate`, it is not called). */
  onClose: (reason: ReplayError) => void = () => undefined;
  private ended = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.onBinary(new Uint8Array(data as Buffer));
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString());
      } catch {
        return this.fail(new ReplayError('the server sent a message that is not JSON; is the --url a seqcast server?'));
      }
      for (const message of (Array.isArray(parsed) ? parsed : [parsed]) as ServerMessage[]) this.received(message);
    });
    ws.on('close', (code, reason) => {
      const why = reason.length > 0 ? `: ${reason.toString()}` : '';
      this.fail(new ReplayError(`the server closed the connection (${code}${why})`));
    });
    ws.on('error', (err) => this.fail(new ReplayError(`the connection failed: ${err.message}`)));
  }

  /** Connects to `url` (with a bearer `token`); throws ReplayError when it cannot, within REQUEST_TIMEOUT_MS. */
  static connect(url: string, token: string | undefined): Promise<ProducerSocket> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, handshakeTimeout: REQUEST_TIMEOUT_MS });
      } catch (err) {
        return reject(new ReplayError(`cannot connect to ${url}: ${(err as Error).message}`));
      }
      ws.once('open', () => resolve(new ProducerSocket(ws)));
      ws.once('unexpected-response', (_request, response) => {
        ws.terminate();
        reject(new ReplayError(`${url} refused the connection: HTTP ${response.statusCode} ${response.statusMessage}${response.statusCode === 401 ? ' (give the access token with --token or SEQCAST_TOKEN)' : ''}`));
      });
      ws.once('error', (err) => reject(new ReplayError(`cannot connect to ${url}: ${err.message}`)));
    });
  }

  /** Opens (or takes over) a stream; throws ReplayError with the server's reason when it refuses. */
  async open(request: Record<string, unknown> & { stream: string }): Promise<OpenedMessage> {
    const answer = await this.request({ type: 'open', ...request }, `open stream "${request.stream}"`);
    if (answer.type !== 'opened') throw new ReplayError(`the server refused to open stream "${request.stream}": ${describe(answer)}`);
    return answer as unknown as OpenedMessage;
  }

  /** Closes a stream for good; the answer (`closed`, or the server's refusal as an `error` message) is returned, not thrown. */
  async close(stream: string): Promise<ServerMessage> {
    return this.request({ type: 'close', stream }, `close stream "${stream}"`);
  }

  /** Sends a message of frames (a JSON string or binary bytes). */
  send(data: string | Uint8Array): void {
    if (!this.gone) this.ws.send(data);
  }

  /** Ends the connection at once (no close handshake to wait for): the process may exit right after. */
  terminate(): void {
    this.ended = true;
    clearTimeout(this.pending?.timer);
    this.ws.terminate();
  }

  /** Closes the connection politely (the server orphans what it still holds), waiting at most a second. */
  async end(): Promise<void> {
    this.ended = true;
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 1000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000, 'replay done');
    });
  }

  private request(message: Record<string, unknown>, what: string): Promise<ServerMessage> {
    if (this.gone) return Promise.reject(this.gone);
    if (this.pending) return Promise.reject(new Error(`${what} while "${this.pending.what}" waits (a bug in replay)`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new ReplayError(`the server did not answer "${what}" within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
      this.pending = { what, resolve, reject, timer };
      this.ws.send(JSON.stringify(message));
    });
  }

  private received(message: ServerMessage): void {
    const answersFrame = message.type === 'prediction' || (message.type === 'error' && typeof message.seq === 'number');
    if (answersFrame || !this.pending) return this.onFrameAnswer(message);
    const { resolve, timer } = this.pending;
    clearTimeout(timer);
    this.pending = undefined;
    resolve(message);
  }

  private fail(reason: ReplayError): void {
    if (this.gone) return;
    this.gone = reason;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(reason);
    }
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    if (!this.ended) this.onClose(reason);
  }
}

/** A server's refusal in words: its message and code. */
export function describe(answer: ServerMessage): string {
  return typeof answer.message === 'string' ? `${answer.message}${typeof answer.code === 'string' ? ` (${answer.code})` : ''}` : JSON.stringify(answer).slice(0, 200);
}
