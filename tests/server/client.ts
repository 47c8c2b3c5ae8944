// A test client: a real `ws` socket whose incoming messages (JSON arrays flattened, binary decoded) can be awaited.

import WebSocket from 'ws';
import { decodePredictions, type BinaryPrediction } from '../../src/protocol/binary.js';

export type Message = Record<string, any>;

export class Client {
  readonly messages: Message[] = [];
  readonly binary: BinaryPrediction[] = [];
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binary.push(...decodePredictions(new Uint8Array(data as Buffer)));
      else {
        const parsed = JSON.parse(data.toString());
        this.messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      }
      this.wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
  }

  /** Connects to the server's /ws (with options such as headers); rejects with the HTTP status when refused. */
  static connect(baseUrl: string, options: WebSocket.ClientOptions & { query?: string } = {}): Promise<Client> {
    const url = `${baseUrl.replace(/^http/, 'ws')}ws${options.query ?? ''}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  sendBytes(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  /** Waits until `test` holds over what has arrived (or the socket closed); fails after `ms`. */
  async until(test: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The first message matching `match` that has arrived or arrives; it is removed from `messages`. */
  async next(match: (m: Message) => boolean, what = 'a message', ms = 5000): Promise<Message> {
    await this.until(() => this.messages.some(match), what, ms);
    const index = this.messages.findIndex(match);
    return this.messages.splice(index, 1)[0];
  }

  /** Sends open and waits for its answer (opened or error). */
  async open(stream: string, options: Record<string, unknown> = {}): Promise<Message> {
    this.send({ type: 'open', stream, ...options });
    return this.next((m) => (m.type === 'opened' || m.type === 'error') && m.stream === stream, `the answer to open ${stream}`);
  }

  predictions(stream: string): Message[] {
    return this.messages.filter((m) => m.type === 'prediction' && m.stream === stream);
  }

  errors(): Message[] {
    return this.messages.filter((m) => m.type === 'error');
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/** Waits until `test` holds on the server's side (polled each event-loop turn, no fixed sleep); fails after `ms`. */
export async function eventually(test: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
