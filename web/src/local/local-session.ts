// The page's stand-in for a server in local mode: it runs a dropped CSV in a Web Worker (worker.ts) and answers the
// dashboard's protocol messages (list, subscribe, configure, reset) as `seqcast serve` would, for that one stream.

import { DETECTION_PROFILES, DEFAULT_DETECTION_PROFILE } from '../../../src/stream/detection-thresholds.js';
import type { ErrorMessage, ListedModel, ListedStream, ServerMessage } from '../protocol';
import type { FromWorker, ToWorker } from './messages';

/** What a local run is given: the files, and how to replay them. */
export interface LocalRun {
  csv: File;
  /** A .safetensors model file; absent: a new model learnt from scratch. */
  model?: File;
  /** Rows per second (0: as fast as the kernel computes). */
  rowsPerSecond: number;
  horizon: number;
  kernel: 'auto' | 'baseline' | 'relaxed';
}

/** Where the session reports: the messages a server would have sent, and how the run goes. */
export interface LocalEvents {
  messages(messages: ServerMessage[], arrivalMs: number): void;
  /** The run started (`ready`), ended (`done`) or failed (`failed`, with what went wrong). */
  progress(state: 'ready' | 'done' | 'failed', detail: string): void;
}

/** What the page's test hook reads of a local run. */
export interface LocalStatus {
  state: 'idle' | 'starting' | 'running' | 'done' | 'failed';
  stream?: string;
  kernel?: string;
  rows: number;
  /** Rows predicted so far, and every row's anomaly score in order. */
  predicted: number;
  scores: number[];
  problem?: string;
  /** Once done: seconds the worker spent computing the rows. */
  computeSeconds?: number;
}

/**
 * One dropped file run in the page with no server. `send` takes what the
 * dashboard would send the server and answers through `events.messages`.
 */
export class LocalSession {
  readonly status: LocalStatus = { state: 'idle', rows: 0, predicted: 0, scores: [] };
  private worker: Worker | undefined;
  private stream: ListedStream | undefined;
  private model: ListedModel | undefined;
  private watched = false;

  constructor(private readonly events: LocalEvents) {}

  /** Starts the worker on `run`'s files (read here, handed over as text and bytes). */
  async start(run: LocalRun): Promise<void> {
    this.status.state = 'starting';
    const [csv, modelBytes] = await Promise.all([run.csv.text(), run.model?.arrayBuffer()]);
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'seqcast-local' });
    this.worker = worker;
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.received(event.data);
    worker.onerror = (event) => this.fail(`the worker stopped: ${event.message || 'it could not start'}`);
    const start: ToWorker = {
      type: 'start',
      stream: run.csv.name.replace(/\.csv$/i, ''),
      csv,
      csvName: run.csv.name,
      ...(run.model && modelBytes ? { model: { name: run.model.name, bytes: modelBytes } } : {}),
      rowsPerSecond: run.rowsPerSecond,
      horizon: run.horizon,
      kernel: run.kernel,
    };
    worker.postMessage(start, modelBytes ? [modelBytes] : []);
  }

  /** Ends the run: the worker and its kernel go. */
  stop(): void {
    this.worker?.terminate();
    this.worker = undefined;
  }

  /** A message (or messages) the dashboard sends; answered as the server would. Always accepted. */
  send(message: object | object[]): boolean {
    const replies: ServerMessage[] = [];
    for (const m of (Array.isArray(message) ? message : [message]) as { type: string; stream?: string; streams?: string[] | '*'; horizon?: number; learn?: boolean }[]) {
      const mine = m.stream !== undefined && m.stream === this.stream?.stream;
      switch (m.type) {
        case 'list':
          replies.push(this.listed());
          break;
        case 'subscribe':
        case 'unsubscribe': {
          const names = m.streams === '*' ? [this.stream?.stream ?? ''] : (m.streams ?? []);
          if (this.stream && names.includes(this.stream.stream)) this.watch(m.type === 'subscribe');
          replies.push({ type: m.type === 'subscribe' ? 'subscribed' : 'unsubscribed', streams: this.watched && this.stream ? [this.stream.stream] : [], metrics: false });
          break;
        }
        case 'configure':
          if (mine) this.post({ type: 'configure', horizon: m.horizon, learn: m.learn });
          else replies.push(this.refusal(m.stream, 'unknown_stream', `no stream "${String(m.stream)}" runs in this page`));
          break;
        case 'reset':
          replies.push(this.refusal(m.stream, 'not_supported', 'a file run in the browser cannot be reset; drop it again to start over'));
          break;
        default:
          replies.push(this.refusal(m.stream, 'unknown_type', `the page's local mode does not take "${m.type}"`));
      }
    }
    if (replies.length > 0) queueMicrotask(() => this.events.messages(replies, Date.now()));
    return true;
  }

  private received(message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        Object.assign(this.status, { state: 'running', stream: message.stream.stream, kernel: message.kernel, rows: message.rows });
        this.stream = message.stream;
        this.model = message.model;
        // as the server's answer to the page's next list would: the page subscribes, and the replay begins
        this.events.messages([this.listed()], Date.now());
        this.events.progress('ready', `${message.stream.stream}: ${message.rows.toLocaleString('en-US')} rows, model ${message.model.description}, kernel ${message.kernel}`);
        break;
      case 'predictions': {
        for (const p of message.predictions) this.status.scores.push(p.anomaly);
        this.status.predicted += message.predictions.length;
        const last = message.predictions[message.predictions.length - 1];
        if (this.stream && last) this.stream.lastSeq = last.seq;
        this.events.messages(message.predictions, Date.now());
        break;
      }
      case 'configured':
        if (!this.stream) return;
        Object.assign(this.stream, { horizon: message.horizon, learn: message.learn });
        this.events.messages([{ type: 'configured', stream: this.stream.stream, horizon: message.horizon, learn: message.learn, learning: this.stream.learning, lastSeq: message.lastSeq }], Date.now());
        break;
      case 'done':
        Object.assign(this.status, { state: 'done', computeSeconds: message.computeSeconds });
        this.events.progress('done', `${this.stream?.stream ?? 'the file'}: all ${message.rows.toLocaleString('en-US')} rows predicted and scored`);
        break;
      case 'failed':
        this.fail(message.message);
    }
  }

  private fail(problem: string): void {
    Object.assign(this.status, { state: 'failed', problem });
    this.worker?.terminate();
    this.events.progress('failed', problem);
  }

  /** Watching is running: the replay pauses while the view is paused (nobody else would see it). */
  private watch(on: boolean): void {
    if (on === this.watched) return;
    this.watched = on;
    this.post({ type: 'pause', paused: !on });
  }

  private post(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  /** The `list` answer: the one stream (once the worker runs it), its model and the standard profile's threshold. */
  private listed(): ServerMessage {
    const profile = DETECTION_PROFILES.find((p) => p.profile === DEFAULT_DETECTION_PROFILE)!;
    return {
      type: 'streams',
      streams: this.stream ? [{ ...this.stream }] : [],
      models: this.model ? [this.model] : [],
      total: this.stream ? 1 : 0,
      detection: { profile: profile.profile, threshold: profile.threshold },
    } as ServerMessage;
  }

  private refusal(stream: string | undefined, code: string, message: string): ErrorMessage {
    return { type: 'error', code, message, ...(stream !== undefined ? { stream } : {}) };
  }
}
