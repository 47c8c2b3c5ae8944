// The seqcast server: one HTTP server for the dashboard's files and one WebSocket endpoint (/ws) for producers and dashboards.

import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { filter, interval, Subject, type Subscription } from 'rxjs';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { InputError } from '../errors.js';
import { ErrorCode } from '../stream/codes.js';
import { conflateLatest } from '../stream/fan-out.js';
import { OnlineNormalizer } from '../stream/normalize.js';
import { streamPipeline } from '../stream/pipeline.js';
import { ErrorScorer, type ScorerOptions } from '../stream/score.js';
import { parkStream, releaseStream, streamSnapshot } from '../stream/slots.js';
import type { FrameSource, IncomingFrame, Rejection, ScoredBatch, ScoredFrame, ServedModel, StreamEntry } from '../stream/types.js';
import { readStreams, restoreWeights, writeCheckpoint, type StreamRecord } from './checkpoint.js';
import { Connection } from './connection.js';
import { Metrics } from './metrics.js';
import { checkMessage, decodeFrames, parseText, predictionMessage, WS_PATH, type OpenMessage, type ProtocolProblem, type SubscribeMessage } from './protocol.js';
import { isLoopback, originAllowed, presentedToken, tokenMatches } from './security.js';
import { findWebRoot, serveStatic } from './static-files.js';

export interface ServerOptions {
  /** The models streams can be opened on; the first is the default of `open`. */
  models: ServedModel[];
  /** Address to bind; default 127.0.0.1. Anything else exposes the server and needs a token. */
  host?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Access token every connection must present (Authorization: Bearer, or ?token=). */
  token?: string;
  /** Origins (e.g. "https://example.com") whose pages may connect, besides the server's own; "*" for any. */
  allowedOrigins?: string[];
  /** Largest message in bytes; a larger one closes the connection with 1009. Default 1 MiB. */
  maxPayload?: number;
  /** Streams one connection may hold. Default 1024. */
  maxStreamsPerConnection?: number;
  /** Streams the server holds in all. Default 100,000. */
  maxStreams?: number;
  /** Frames (and other messages) one connection may send per second; bursts up to one second's worth. Default 100,000. */
  rateLimit?: number;
  /** A stream idle this long (ms) is snapshotted out of the kernel, and restored on its next frame. Default 60,000. */
  idleMs?: number;
  /** Folder for checkpoints; restored from at start. */
  stateDir?: string;
  /** ms between checkpoints (with stateDir). Default 30,000. */
  checkpointIntervalMs?: number;
  /** ms between metrics messages. Default 1,000. */
  metricsIntervalMs?: number;
  /** Folder of the built dashboard; undefined = look for dist-web/ or web/dist/; null = none. */
  webRoot?: string | null;
  /** Scoring windows for new streams. */
  scorer?: ScorerOptions;
  /** Where the server reports what happens (restores, checkpoints, failures); default nowhere. */
  log?: (line: string) => void;
}

/** Predictions per stream a dashboard may have waiting; older ones are dropped. */
const DASHBOARD_DEPTH = 256;
/** ms between deliveries to a dashboard. */
const DASHBOARD_PULL_MS = 50;
/** A dashboard with more than this many bytes unsent gets nothing new until it drains (its values are conflated meanwhile). */
const DASHBOARD_BUFFER_LIMIT = 1024 * 1024;

/** A producer inside the server's process (the demo's streams): it gets its predictions by callback. */
export interface LocalProducer extends FrameSource {
  onPrediction?(frame: ScoredFrame): void;
  onError?(rejection: Rejection): void;
}

/** What `open` answers. */
export interface OpenedMessage {
  type: 'opened';
  stream: string;
  id: number;
  model: string;
  inputSize: number;
  outputSize: number;
  vocabSize?: number;
  channels?: string[];
  horizon: number;
  learn: boolean;
  normalize: 'model' | 'online' | 'none';
  lastSeq: number;
  resumed: boolean;
}

/**
 * A running server. `SeqcastServer.start(options)` binds and resolves once it
 * listens; `url` is then its http://HOST:PORT/ address. `close()` checkpoints
 * (with a state directory) and stops.
 */
export class SeqcastServer {
  readonly models: Map<string, ServedModel>;
  readonly defaultModel: ServedModel;
  /** Open streams by name, and by binary id. */
  readonly streams = new Map<string, StreamEntry>();
  private readonly streamsById = new Map<number, StreamEntry>();
  private readonly connections = new Set<Connection>();
  private readonly metrics = new Metrics();
  private readonly frames$ = new Subject<IncomingFrame>();
  private readonly flushes$ = new Subject<void>();
  private readonly scored$ = new Subject<ScoredFrame>();
  private pipeline: Subscription | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private webRoot: string | undefined;
  private nextStreamId = 1;
  private nextConnectionId = 1;
  private checkpointing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly log: (line: string) => void;
  private readonly options: Required<Omit<ServerOptions, 'token' | 'stateDir' | 'webRoot' | 'log' | 'scorer'>> & Pick<ServerOptions, 'token' | 'stateDir' | 'scorer'>;
  /** http://HOST:PORT/ once listening. */
  url = '';
  port = 0;

  private constructor(options: ServerOptions) {
    if (options.models.length === 0) throw new InputError('the server needs at least one model');
    this.models = new Map(options.models.map((m) => [m.name, m]));
    if (this.models.size !== options.models.length) throw new InputError('two models have the same name');
    this.defaultModel = options.models[0];
    this.options = {
      models: options.models,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8080,
      token: options.token,
      allowedOrigins: options.allowedOrigins ?? [],
      maxPayload: options.maxPayload ?? 1024 * 1024,
      maxStreamsPerConnection: options.maxStreamsPerConnection ?? 1024,
      maxStreams: options.maxStreams ?? 100_000,
      rateLimit: options.rateLimit ?? 100_000,
      idleMs: options.idleMs ?? 60_000,
      stateDir: options.stateDir,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 30_000,
      metricsIntervalMs: options.metricsIntervalMs ?? 1000,
      scorer: options.scorer,
    };
    this.log = options.log ?? (() => undefined);
    if (!isLoopback(this.options.host) && !this.options.token) {
      throw new InputError(`binding to ${this.options.host} exposes the server beyond this machine; give it an access token (--token or SEQCAST_TOKEN)`);
    }
    this.http = createServer((request, response) => {
      serveStatic(request, response, this.webRoot, { wsUrl: this.url.replace(/^http/, 'ws') + WS_PATH.slice(1) }).catch((err) => {
        this.log(`static file error: ${(err as Error).message}`);
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxPayload, perMessageDeflate: false });
    this.http.on('upgrade', (request, socket, head) => this.upgrade(request, socket, head));
    this.startPipeline();
  }

  /** Restores the state directory (if any), binds, and starts the timers. */
  static async start(options: ServerOptions): Promise<SeqcastServer> {
    const server = new SeqcastServer(options);
    server.webRoot = options.webRoot === null ? undefined : (options.webRoot ?? (await findWebRoot()));
    if (server.options.stateDir) await server.restore(server.options.stateDir);
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(server.options.port, server.options.host, () => {
        server.http.off('error', reject);
        resolve();
      });
    });
    const address = server.http.address() as AddressInfo;
    server.port = address.port;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    server.url = `http://${host}:${address.port}/`;
    server.startTimers();
    return server;
  }

  /** Whether the server found a built dashboard to serve. */
  get servesDashboard(): boolean {
    return this.webRoot !== undefined;
  }

  // ---- the pipeline ---------------------------------------------------------------------------------------------

  private startPipeline(): void {
    this.pipeline = this.frames$.pipe(streamPipeline({ reject: (r) => this.rejected(r), flushes: this.flushes$ })).subscribe({
      next: (batch) => this.deliver(batch),
      error: (err) => {
        // a bug, not bad input (bad input is refused as values): report it and keep serving
        this.log(`pipeline failed, restarting it: ${(err as Error).stack ?? err}`);
        this.startPipeline();
      },
    });
  }

  private rejected(rejection: Rejection): void {
    const { source, streamLabel, seq, code, message } = rejection;
    if (source instanceof Connection) source.sendError({ code, message, stream: streamLabel, seq });
    else (source as LocalProducer).onError?.(rejection);
  }

  /** Sends each prediction back to its producer and on to watching dashboards. */
  private deliver(batch: ScoredBatch): void {
    if (batch.frames.length === 0) return;
    this.metrics.batchStepped(batch.frames[0].stepMicros);
    const touched = new Set<Connection>();
    const now = performance.now();
    const watched = this.scored$.observed;
    for (const frame of batch.frames) {
      const source = frame.source;
      if (source instanceof Connection) {
        if (frame.binary) source.sendBinary(frame);
        else source.send(predictionMessage(frame));
        touched.add(source);
      } else {
        (source as LocalProducer).onPrediction?.(frame);
      }
      this.metrics.frameAnswered(now - frame.receivedAt);
      if (watched) this.scored$.next(frame);
    }
    for (const connection of touched) connection.flush();
  }

  // ---- streams (shared by connections and local producers) -------------------------------------------------------

  /** Opens (or takes over) a stream for `source`; the `opened` answer, or what is wrong. */
  openStream(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem {
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const served = request.model === undefined ? undefined : this.models.get(request.model);
    if (request.model !== undefined && !served) {
      return problem(ErrorCode.unknownModel, `open "${request.stream}": no model "${request.model}"; this server holds ${[...this.models.keys()].map((n) => `"${n}"`).join(', ')}`);
    }
    if (request.learn) {
      return problem(
        ErrorCode.learningUnavailable,
        `open "${request.stream}": online learning is not available in this build (the library has no training API yet); open with learn: false to predict with the model as it is`,
      );
    }
    const existing = this.streams.get(request.stream);
    const model = (served ?? existing?.served ?? this.defaultModel).model;
    const modelName = (served ?? existing?.served ?? this.defaultModel).name;
    if (request.horizon > 0 && !model.isTokenModel && model.outputSize !== model.inputSize) {
      return problem(ErrorCode.forecastUnavailable, `open "${request.stream}": model "${modelName}" outputs ${model.outputSize} values for ${model.inputSize} inputs, so its outputs cannot be fed back for a horizon; open with horizon 0`);
    }
    if (request.normalize === 'online' && model.normalizer) {
      return problem(ErrorCode.badField, `open "${request.stream}": model "${modelName}" carries its own normalizer, which the library applies; online normalization on top would normalize twice`);
    }
    if (request.normalize === 'online' && model.isTokenModel) return problem(ErrorCode.badField, `open "${request.stream}": token models take token ids, which are not normalized`);

    if (existing) {
      if (existing.owner !== undefined && existing.owner !== source) {
        return problem(ErrorCode.streamBusy, `open "${request.stream}": the stream is held by another producer (${existing.owner.label})`);
      }
      if (served && served !== existing.served) {
        return problem(ErrorCode.badField, `open "${request.stream}": the stream is open on model "${existing.served.name}", not "${served.name}"; close it first`);
      }
      const online = existing.normalizer !== undefined;
      if ((request.normalize === 'online' && !online) || (request.normalize === 'none' && online)) {
        return problem(ErrorCode.badField, `open "${request.stream}": the stream was opened with ${online ? 'online' : 'no online'} normalization; close it to change that`);
      }
      if (existing.owner !== source) {
        if (owned && owned.size >= this.options.maxStreamsPerConnection) return problem(ErrorCode.tooManyStreams, `open "${request.stream}": this connection already holds ${owned.size} streams, the most allowed`);
        existing.owner = source;
        owned?.add(existing);
      }
      existing.horizon = request.horizon;
      return this.openedMessage(existing, true);
    }

    if (owned && owned.size >= this.options.maxStreamsPerConnection) {
      return problem(ErrorCode.tooManyStreams, `open "${request.stream}": this connection already holds ${owned.size} streams, the most allowed`);
    }
    if (this.streams.size >= this.options.maxStreams) {
      return problem(ErrorCode.tooManyStreams, `open "${request.stream}": the server already holds ${this.streams.size} streams, the most allowed`);
    }
    const online = !model.isTokenModel && !model.normalizer && request.normalize !== 'none';
    const entry: StreamEntry = {
      name: request.stream,
      id: this.nextStreamId++,
      served: served ?? this.defaultModel,
      stream: undefined,
      parked: undefined,
      lastSeq: -1,
      horizon: request.horizon,
      learn: false,
      normalizer: online ? new OnlineNormalizer(model.inputSize) : undefined,
      scorer: new ErrorScorer(this.options.scorer),
      owner: source,
      lastActive: Date.now(),
      closed: false,
    };
    this.streams.set(entry.name, entry);
    this.streamsById.set(entry.id, entry);
    owned?.add(entry);
    return this.openedMessage(entry, false);
  }

  private openedMessage(entry: StreamEntry, resumed: boolean): OpenedMessage {
    const model = entry.served.model;
    const message: OpenedMessage = {
      type: 'opened',
      stream: entry.name,
      id: entry.id,
      model: entry.served.name,
      inputSize: model.isTokenModel ? 1 : model.inputSize,
      outputSize: model.outputSize,
      horizon: entry.horizon,
      learn: entry.learn,
      normalize: model.normalizer ? 'model' : entry.normalizer ? 'online' : 'none',
      lastSeq: entry.lastSeq,
      resumed,
    };
    if (model.isTokenModel) message.vocabSize = model.arch.vocabSize;
    if (model.metadata.channels) message.channels = model.metadata.channels;
    return message;
  }

  /** Looks up a stream `source` holds, for reset and close. */
  private held(source: FrameSource, stream: string, op: string): StreamEntry | ProtocolProblem {
    const entry = this.streams.get(stream);
    if (!entry || entry.owner !== source) {
      const code = entry?.owner ? ErrorCode.streamBusy : ErrorCode.unknownStream;
      return { code, message: `${op} "${stream}": ${entry?.owner ? `the stream is held by another producer (${entry.owner.label})` : 'no such stream is open on this connection'}`, stream };
    }
    return entry;
  }

  /** Zeroes a stream's state, statistics and scores (its seq stays monotonic), after the frames already received. */
  resetStream(source: FrameSource, stream: string): { type: 'reset'; stream: string; lastSeq: number } | ProtocolProblem {
    const entry = this.held(source, stream, 'reset');
    if ('code' in entry) return entry;
    this.flushes$.next();
    entry.stream?.reset();
    entry.parked = undefined;
    entry.normalizer?.reset();
    entry.scorer.reset();
    return { type: 'reset', stream, lastSeq: entry.lastSeq };
  }

  /** Closes a stream for good: its slot is freed and its name can be opened afresh. */
  closeStream(source: FrameSource, stream: string, owned?: Set<StreamEntry>): { type: 'closed'; stream: string } | ProtocolProblem {
    const entry = this.held(source, stream, 'close');
    if ('code' in entry) return entry;
    this.flushes$.next();
    this.forget(entry);
    owned?.delete(entry);
    return { type: 'closed', stream };
  }

  private forget(entry: StreamEntry): void {
    entry.closed = true;
    releaseStream(entry);
    this.streams.delete(entry.name);
    this.streamsById.delete(entry.id);
  }

  /** Hands a frame to the pipeline (for local producers; connections do the same with what they receive). */
  pushFrame(frame: Omit<IncomingFrame, 'entry' | 'streamLabel' | 'receivedAt'> & { stream: string }): void {
    const { stream, ...rest } = frame;
    this.frames$.next({ ...rest, streamLabel: stream, entry: this.streams.get(stream), receivedAt: performance.now() });
  }

  /** The `streams` answer to `list`. */
  list(): Record<string, unknown> {
    return {
      type: 'streams',
      streams: [...this.streams.values()].map((entry) => ({
        stream: entry.name,
        id: entry.id,
        model: entry.served.name,
        lastSeq: entry.lastSeq,
        horizon: entry.horizon,
        learn: entry.learn,
        normalize: entry.served.model.normalizer ? 'model' : entry.normalizer ? 'online' : 'none',
        held: entry.owner !== undefined,
        parked: entry.stream === undefined,
      })),
      models: [...this.models.values()].map(({ name, model }) => ({
        name,
        description: model.describe(),
        cell: model.arch.cell,
        layers: model.arch.layers,
        hiddenSize: model.arch.hiddenSize,
        inputSize: model.isTokenModel ? 1 : model.inputSize,
        outputSize: model.outputSize,
        ...(model.isTokenModel ? { vocabSize: model.arch.vocabSize } : {}),
        ...(model.metadata.channels ? { channels: model.metadata.channels } : {}),
      })),
    };
  }

  // ---- connections ----------------------------------------------------------------------------------------------

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const refuse = (status: number, reason: string, body: string) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      socket.destroy();
    };
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname !== WS_PATH) return refuse(404, 'Not Found', `the WebSocket endpoint is ${WS_PATH}\n`);
    if (!originAllowed(request, this.options.allowedOrigins)) return refuse(403, 'Forbidden', `origin ${request.headers.origin} is not allowed\n`);
    if (this.options.token !== undefined && !tokenMatches(presentedToken(request), this.options.token)) {
      return refuse(401, 'Unauthorized', 'a valid access token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)\n');
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.connected(ws, request));
  }

  private connected(ws: WebSocket, request: IncomingMessage): void {
    const remote = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
    const connection = new Connection(ws, this.nextConnectionId++, remote, this.options.rateLimit, () => this.metrics.errorSent());
    this.connections.add(connection);
    ws.on('message', (data, isBinary) => {
      try {
        this.received(connection, data, isBinary);
      } catch (err) {
        this.log(`${connection.label}: ${(err as Error).stack ?? err}`);
        connection.sendError({ code: ErrorCode.internal, message: `the server failed on this message: ${(err as Error).message}` });
      }
    });
    // ws reports protocol faults (oversized message → 1009, bad UTF-8 → 1007) here, then closes the socket itself
    ws.on('error', (err) => this.log(`${connection.label}: ${err.message}`));
    ws.on('close', () => this.disconnected(connection));
  }

  private disconnected(connection: Connection): void {
    // streams stay, unheld, so their producer can take them over again where they stopped
    for (const entry of connection.owned) if (entry.owner === connection) entry.owner = undefined;
    connection.owned.clear();
    connection.dispose();
    this.connections.delete(connection);
  }

  private received(connection: Connection, data: RawData, isBinary: boolean): void {
    const receivedAt = performance.now();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) return this.receivedBinary(connection, bytes, receivedAt);
    const parsed = parseText(bytes.toString('utf8'));
    if (!Array.isArray(parsed)) return connection.sendError(parsed);
    const granted = connection.limiter.take(parsed.length);
    for (let i = 0; i < parsed.length; i++) {
      if (i === granted) {
        const refused = parsed.length - granted;
        const first = parsed[i] as { stream?: unknown; seq?: unknown } | null;
        connection.sendError({
          code: ErrorCode.rateLimited,
          message: `rate limit of ${this.options.rateLimit} messages per second exceeded: ${refused} message${refused === 1 ? '' : 's'} refused from here on, nothing of them applied`,
          ...(typeof first?.stream === 'string' ? { stream: first.stream } : {}),
          ...(first?.seq !== undefined ? { seq: first.seq } : {}),
          count: refused,
        });
        break;
      }
      this.handle(connection, parsed[i], receivedAt);
    }
  }

  private handle(connection: Connection, value: unknown, receivedAt: number): void {
    const message = checkMessage(value);
    if ('code' in message) return connection.sendError(message);
    switch (message.type) {
      case 'frame':
        this.frames$.next({
          source: connection,
          streamLabel: message.stream,
          entry: this.streams.get(message.stream),
          seq: message.seq,
          t: message.t,
          values: message.values,
          token: message.token,
          receivedAt,
        });
        return;
      case 'open':
        return this.answer(connection, this.openStream(connection, message, connection.owned));
      case 'reset':
        return this.answer(connection, this.resetStream(connection, message.stream));
      case 'close':
        return this.answer(connection, this.closeStream(connection, message.stream, connection.owned));
      case 'list':
        return connection.send(this.list());
      case 'subscribe':
      case 'unsubscribe':
        return this.subscribe(connection, message);
    }
  }

  private answer(connection: Connection, reply: { type: string } | ProtocolProblem): void {
    if ('code' in reply) connection.sendError(reply);
    else connection.send(reply);
  }

  private receivedBinary(connection: Connection, bytes: Buffer, receivedAt: number): void {
    const frames = decodeFrames(bytes);
    if (!Array.isArray(frames)) return connection.sendError(frames);
    const granted = connection.limiter.take(frames.length);
    for (let i = 0; i < granted; i++) {
      const { streamId, seq, t, values } = frames[i];
      const entry = this.streamsById.get(streamId);
      const tokenModel = entry?.served.model.isTokenModel ?? false;
      this.frames$.next({
        source: connection,
        streamLabel: entry?.name ?? `#${streamId}`,
        entry,
        seq,
        t,
        ...(tokenModel ? (values.length === 1 ? { token: values[0] } : { values }) : { values }),
        receivedAt,
        binary: true,
      });
    }
    if (granted < frames.length) {
      const first = frames[granted];
      connection.sendError({
        code: ErrorCode.rateLimited,
        message: `rate limit of ${this.options.rateLimit} frames per second exceeded: ${frames.length - granted} of the message's ${frames.length} frames refused from here on, nothing of them applied`,
        stream: this.streamsById.get(first.streamId)?.name ?? `#${first.streamId}`,
        seq: first.seq,
        count: frames.length - granted,
      });
    }
  }

  private subscribe(connection: Connection, message: SubscribeMessage): void {
    if (message.type === 'subscribe') {
      if (message.streams === '*') connection.subscribed = '*';
      else if (connection.subscribed !== '*') for (const name of message.streams) connection.subscribed.add(name);
      connection.wantsMetrics = message.metrics ?? true;
    } else {
      if (message.streams !== '*' && connection.subscribed === '*') {
        return connection.sendError({ code: ErrorCode.badField, message: 'unsubscribe: this connection watches "*"; unsubscribe "*" first, then subscribe to the streams to keep' });
      }
      if (message.streams === '*') connection.subscribed = new Set();
      else for (const name of message.streams) (connection.subscribed as Set<string>).delete(name);
      // metrics stop when asked (metrics: true) or with everything else ("*")
      if (message.metrics ?? message.streams === '*') connection.wantsMetrics = false;
    }
    const watching = connection.subscribed === '*' || connection.subscribed.size > 0;
    if (watching && !connection.dashboard) {
      const ws = connection.ws;
      const pulls = interval(DASHBOARD_PULL_MS).pipe(filter(() => ws.bufferedAmount < DASHBOARD_BUFFER_LIMIT));
      connection.dashboard = this.scored$
        .pipe(
          filter((frame) => connection.watches(frame.entry.name)),
          conflateLatest((frame) => frame.entry.name, DASHBOARD_DEPTH, pulls),
        )
        .subscribe((frames) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frames.map(predictionMessage)));
        });
    } else if (!watching && connection.dashboard) {
      connection.dashboard.unsubscribe();
      connection.dashboard = undefined;
    }
    connection.send({
      type: message.type === 'subscribe' ? 'subscribed' : 'unsubscribed',
      streams: connection.subscribed === '*' ? '*' : [...connection.subscribed],
      metrics: connection.wantsMetrics,
    });
  }

  // ---- timers: metrics, idle streams, checkpoints -----------------------------------------------------------------

  private startTimers(): void {
    const every = (ms: number, work: () => void) => {
      const timer = setInterval(work, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.metricsIntervalMs, () => this.sendMetrics());
    every(Math.max(10, Math.min(this.options.idleMs / 2, 5000)), () => this.parkIdle());
    if (this.options.stateDir) {
      every(this.options.checkpointIntervalMs, () => {
        this.checkpoint().catch((err) => this.log(`checkpoint failed: ${(err as Error).message}`));
      });
    }
  }

  private sendMetrics(): void {
    let held = 0;
    let parked = 0;
    for (const entry of this.streams.values()) {
      if (entry.owner) held++;
      if (!entry.stream) parked++;
    }
    const message = this.metrics.take({ open: this.streams.size, held, parked }, this.connections.size);
    for (const connection of this.connections) if (connection.wantsMetrics) connection.send(message);
  }

  /** Snapshots streams idle longer than idleMs out of the kernel, freeing their slots. */
  parkIdle(now = Date.now()): number {
    let parked = 0;
    for (const entry of this.streams.values()) {
      if (entry.stream && now - entry.lastActive >= this.options.idleMs) {
        parkStream(entry);
        parked++;
      }
    }
    return parked;
  }

  /** Writes a checkpoint of every model and stream to the state directory now (one at a time). */
  async checkpoint(): Promise<void> {
    const stateDir = this.options.stateDir;
    if (!stateDir) throw new InputError('this server has no state directory to checkpoint to');
    while (this.checkpointing) await this.checkpointing;
    // the records are taken synchronously, so they are one consistent moment between two batches
    const records = [...this.streams.values()].map((entry) => this.record(entry));
    const models = [...this.models.values()];
    this.checkpointing = writeCheckpoint(stateDir, models, records).finally(() => {
      this.checkpointing = undefined;
    });
    await this.checkpointing;
  }

  private record(entry: StreamEntry): StreamRecord {
    const snapshot = streamSnapshot(entry);
    return {
      name: entry.name,
      id: entry.id,
      model: entry.served.name,
      lastSeq: entry.lastSeq,
      horizon: entry.horizon,
      learn: entry.learn,
      normalize: entry.normalizer ? 'online' : 'none',
      ...(snapshot ? { snapshot: Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength).toString('base64') } : {}),
      ...(entry.normalizer ? { normalizer: entry.normalizer.toJSON() } : {}),
      scorer: entry.scorer.toJSON(),
    };
  }

  /** Loads weights and streams from the state directory: streams come back parked and unheld, to be taken over by `open`. */
  private async restore(stateDir: string): Promise<void> {
    for (const { name, model } of this.models.values()) {
      if (await restoreWeights(stateDir, name, model)) this.log(`restored the weights of model "${name}" from ${stateDir}`);
    }
    const file = await readStreams(stateDir);
    if (!file) return;
    for (const record of file.streams) {
      const served = this.models.get(record.model);
      if (!served) {
        this.log(`checkpointed stream "${record.name}" is on model "${record.model}", which this server does not hold; left out`);
        continue;
      }
      const parked = record.snapshot ? new Uint8Array(Buffer.from(record.snapshot, 'base64')) : undefined;
      if (parked) {
        // refuse a bad snapshot now rather than on the stream's next frame
        const probe = served.model.openStream({ name: record.name });
        try {
          probe.restore(parked);
        } finally {
          probe.close();
        }
      }
      const entry: StreamEntry = {
        name: record.name,
        id: record.id,
        served,
        stream: undefined,
        parked,
        lastSeq: record.lastSeq,
        horizon: record.horizon,
        learn: false,
        normalizer: record.normalizer ? OnlineNormalizer.fromJSON(record.normalizer) : undefined,
        scorer: ErrorScorer.fromJSON(record.scorer),
        owner: undefined,
        lastActive: Date.now(),
        closed: false,
      };
      this.streams.set(entry.name, entry);
      this.streamsById.set(entry.id, entry);
      this.nextStreamId = Math.max(this.nextStreamId, entry.id + 1);
    }
    this.log(`restored ${this.streams.size} stream${this.streams.size === 1 ? '' : 's'} from ${stateDir} (saved ${file.savedAt})`);
  }

  /** Stops: checkpoints (with a state directory), closes every connection (1001), stops listening. Models stay open; they are the caller's. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const timer of this.timers) clearInterval(timer);
      this.flushes$.next();
      let failure: unknown;
      if (this.options.stateDir) await this.checkpoint().catch((err) => (failure = err));
      for (const connection of this.connections) connection.ws.close(1001, 'server shutting down');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const connection of this.connections) connection.ws.terminate();
        }, 1000);
        this.wss.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const connection of this.connections) if (connection.ws.readyState === connection.ws.CLOSED) this.disconnected(connection);
      });
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
      this.pipeline?.unsubscribe();
      this.frames$.complete();
      this.scored$.complete();
      if (failure) throw failure;
    })();
    return this.closing;
  }
}
