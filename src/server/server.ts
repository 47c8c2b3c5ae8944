// The seqcast server: one HTTP server for the dashboard's files and one WebSocket endpoint (/ws) for producers and dashboards.
// This file holds its lifecycle, connections and dispatch; the stream table is streams.ts, dashboards dashboards.ts, persistence checkpoint.ts.

import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Subject, type Subscription } from 'rxjs';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { InputError } from '../errors.js';
import { checkFramesMessage, frameSeq, frameStreamId, frameTime, frameValues } from '../protocol/binary.js';
import { ErrorCode } from '../protocol/codes.js';
import { checkMessage, parseText, predictionJson } from '../protocol/json.js';
import { WS_PATH, type ClosedMessage, type ConfigureMessage, type ConfiguredMessage, type OpenedMessage, type OpenMessage, type ProtocolProblem, type ResetMessage, type StreamsMessage } from '../protocol/messages.js';
import { streamPipeline } from '../stream/pipeline.js';
import type { FrameSource, IncomingFrame, Rejection, ScoredBatch, ScoredFrame, ServedModel, StreamEntry } from '../stream/types.js';
import { Admission, refuseSocket } from './admission.js';
import { recordCheckpoint, restoreCheckpoint } from './checkpoint.js';
import { systemClock, type Cancel, type Clock } from './clock.js';
import { Connection } from './connection.js';
import { Dashboards } from './dashboards.js';
import { ClientAddresses, rateLimited } from './limits.js';
import { Metrics } from './metrics.js';
import { isLoopback } from './security.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import { findWebRoot, serveStatic } from './static-files.js';
import { StreamTable } from './streams.js';

export type { Clock } from './clock.js';
export type { ServerOptions } from './options.js';

/** A producer inside the server's process (the demo's streams): it gets its predictions by callback. */
export interface LocalProducer extends FrameSource {
  onPrediction?(frame: ScoredFrame): void;
  onError?(rejection: Rejection): void;
}

/**
 * A running server. `SeqcastServer.start(options)` binds and resolves once it
 * listens; `url` is then its http://HOST:PORT/ address. `close()` checkpoints
 * (with a state directory) and stops.
 */
export class SeqcastServer {
  readonly models: Map<string, ServedModel>;
  readonly defaultModel: ServedModel;
  private readonly table: StreamTable;
  private readonly dashboards = new Dashboards();
  private readonly connections = new Set<Connection>();
  private readonly addresses: ClientAddresses;
  private readonly metrics: Metrics;
  private readonly clock: Clock;
  private readonly frames$ = new Subject<IncomingFrame>();
  private readonly flushes$ = new Subject<void>();
  private pipeline: Subscription | undefined;
  private readonly timers: Cancel[] = [];
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly admission: Admission;
  private webRoot: string | undefined;
  private nextConnectionId = 1;
  private checkpointing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly log: (line: string) => void;
  private readonly options: ResolvedOptions;
  /** Generation of the last checkpoint written or restored (its files carry it). */
  private checkpointGeneration = 0;
  /** http://HOST:PORT/ once listening. */
  url = '';
  port = 0;

  private constructor(options: ServerOptions) {
    if (options.models.length === 0) throw new InputError('the server needs at least one model');
    this.models = new Map(options.models.map((m) => [m.name, m]));
    if (this.models.size !== options.models.length) throw new InputError('two models have the same name');
    this.defaultModel = options.models[0];
    this.options = resolveOptions(options);
    this.log = options.log ?? (() => undefined);
    this.clock = options.clock ?? systemClock;
    this.metrics = new Metrics(this.clock);
    this.addresses = new ClientAddresses({ messagesPerSecond: this.options.addressRateLimit }, () => this.clock.now());
    if (!isLoopback(this.options.host) && !this.options.token) {
      throw new InputError(`binding to ${this.options.host} exposes the server beyond this machine; give it an access token (--token or SEQCAST_TOKEN)`);
    }
    this.table = new StreamTable(this.models, this.defaultModel, {
      maxStreamsPerConnection: this.options.maxStreamsPerConnection,
      maxStreams: this.options.maxStreams,
      maxOrphansPerConnection: this.options.maxOrphansPerConnection,
      maxOrphansPerAddress: this.options.maxOrphansPerAddress,
      idleMs: this.options.idleMs,
      orphanTtlMs: this.options.orphanTtlMs,
      learning: this.options.learning,
      scorer: options.scorer,
      clock: this.clock,
      flush: () => this.flushes$.next(),
      log: this.log,
    });
    this.admission = new Admission({ host: this.options.host, allowedHosts: this.options.allowedHosts, allowedOrigins: this.options.allowedOrigins, token: this.options.token });
    this.http = createServer((request, response) => {
      const refusal = this.admission.checkRequest(request);
      if (refusal) {
        response.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(refusal.body);
        return;
      }
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
    if (server.options.stateDir) {
      const restored = await restoreCheckpoint(server.options.stateDir, server.models, server.clock.now(), server.log);
      if (restored) {
        server.checkpointGeneration = restored.generation;
        for (const entry of restored.streams) server.table.add(entry);
      }
    }
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

  /** Open streams by name (the stream table's). */
  get streams(): ReadonlyMap<string, StreamEntry> {
    return this.table.byName;
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
    const now = performance.now();
    const watched = this.dashboards.watched;
    for (const frame of batch.frames) {
      // one frame's delivery failing (a local producer's callback, a bug) must not cost the others theirs
      try {
        const source = frame.source;
        if (source instanceof Connection) {
          if (frame.binary) source.sendBinary(frame);
          else source.sendText(predictionJson(frame)); // sent with the rest of this socket read's answers (Connection)
        } else {
          (source as LocalProducer).onPrediction?.(frame);
        }
        this.metrics.frameAnswered(now - frame.receivedAt);
        if (frame.learnEvent !== undefined) this.metrics.learned(frame.learnEvent, frame.loss);
        if (watched) this.dashboards.publish(frame);
      } catch (err) {
        this.log(`delivering the prediction of stream "${frame.entry.name}" seq ${frame.seq} failed: ${(err as Error).stack ?? err}`);
      }
    }
  }

  // ---- streams (shared by connections and local producers; the table does the work) ------------------------------

  /** Opens (or takes over) a stream for `source`; the `opened` answer, or what is wrong. */
  openStream(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem {
    return this.table.open(source, request, owned);
  }

  /** Changes a stream's learning or horizon after the frames already received (any connection may); the `configured` answer, or what is wrong. */
  configureStream(request: ConfigureMessage): ConfiguredMessage | ProtocolProblem {
    return this.table.configure(request);
  }

  /** Zeroes a stream's state, statistics and scores (its seq stays monotonic), after the frames already received. */
  resetStream(source: FrameSource, stream: string): ResetMessage | ProtocolProblem {
    return this.table.reset(source, stream);
  }

  /** Closes a stream for good: its slot is freed and its name can be opened afresh. */
  closeStream(source: FrameSource, stream: string, owned?: Set<StreamEntry>): ClosedMessage | ProtocolProblem {
    return this.table.close(source, stream, owned);
  }

  /** Hands a frame to the pipeline (for local producers; connections do the same with what they receive). */
  pushFrame(frame: Omit<IncomingFrame, 'entry' | 'streamLabel' | 'receivedAt'> & { stream: string }): void {
    const { stream, ...rest } = frame;
    this.frames$.next({ ...rest, streamLabel: stream, entry: this.table.byName.get(stream), receivedAt: performance.now() });
  }

  /** The `streams` answer to `list` (a page of at most MAX_LISTED streams from `offset` on). */
  list(offset = 0): StreamsMessage {
    return this.table.list(offset);
  }

  /** Snapshots streams idle longer than idleMs (at `now`, ms on the server's clock) out of the kernel, freeing their slots; how many. */
  parkIdle(now = this.clock.now()): number {
    return this.table.parkIdle(now);
  }

  /** Closes streams nobody has held for orphanTtlMs at `now` (their producer disconnected, or they came back from a checkpoint and were not taken over): their slots and names are freed; how many. */
  expireOrphans(now = this.clock.now()): number {
    return this.table.expireOrphans(now);
  }

  // ---- connections ----------------------------------------------------------------------------------------------

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const refusal = this.admission.checkUpgrade(request);
    if (refusal) return refuseSocket(socket, refusal);
    this.wss.handleUpgrade(request, socket, head, (ws) => this.connected(ws, request));
  }

  private connected(ws: WebSocket, request: IncomingMessage): void {
    const address = this.addresses.attach(request.socket.remoteAddress ?? 'unknown');
    const connection = new Connection(ws, {
      id: this.nextConnectionId++,
      address,
      remotePort: request.socket.remotePort,
      rateLimit: this.options.rateLimit,
      onError: () => this.metrics.errorSent(),
      now: () => this.clock.now(),
      log: this.log,
    });
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
    this.table.orphan(connection, connection.owned, connection.address.address);
    connection.dispose();
    if (this.connections.delete(connection)) this.addresses.detach(connection.address);
  }

  private received(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.closing) return;
    const receivedAt = performance.now();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) return this.receivedBinary(connection, bytes, receivedAt);
    const parsed = parseText(bytes.toString('utf8'));
    // every message counts against the rate limits, a bad one (or an empty batch) as one
    const messages = Array.isArray(parsed) ? parsed : [];
    const granted = connection.admit(Math.max(1, messages.length));
    if (!Array.isArray(parsed)) return connection.sendError(granted === 1 ? parsed : rateLimited(this.options, 1, undefined, undefined));
    // a connection closed for what it asked (answers it does not read) is not served the rest of its batch
    for (let i = 0; i < granted && i < messages.length && !connection.closing; i++) this.handle(connection, messages[i], receivedAt);
    if (granted < messages.length) {
      const first = messages[granted] as { stream?: unknown; seq?: unknown } | null;
      connection.sendError(rateLimited(this.options, messages.length - granted, first?.stream, first?.seq));
    }
  }

  private handle(connection: Connection, value: unknown, receivedAt: number): void {
    const message = checkMessage(value);
    if ('code' in message) return connection.sendError(message);
    switch (message.type) {
      case 'frame':
        // the same keys as binary frames, so the pipeline sees objects of one shape
        this.frames$.next({
          source: connection,
          streamLabel: message.stream,
          entry: this.table.byName.get(message.stream),
          seq: message.seq,
          t: message.t,
          values: message.values,
          token: message.token,
          receivedAt,
          binary: false,
          ownedValues: false,
        });
        return;
      case 'open':
        return this.answer(connection, this.table.open(connection, message, connection.owned));
      case 'configure':
        return this.answer(connection, this.table.configure(message));
      case 'reset':
        return this.answer(connection, this.table.reset(connection, message.stream));
      case 'close':
        return this.answer(connection, this.table.close(connection, message.stream, connection.owned));
      case 'list':
        return connection.send(this.table.list(message.offset));
      case 'subscribe':
      case 'unsubscribe':
        return this.dashboards.subscribe(connection, message);
    }
  }

  private answer(connection: Connection, reply: { type: string } | ProtocolProblem): void {
    if ('code' in reply) connection.sendError(reply);
    else connection.send(reply);
  }

  private receivedBinary(connection: Connection, bytes: Buffer, receivedAt: number): void {
    const message = checkFramesMessage(bytes);
    if ('code' in message) return connection.sendError(connection.admit(1) === 1 ? message : rateLimited(this.options, 1, undefined, undefined));
    const { count, width } = message;
    const granted = connection.admit(count);
    // each record goes straight into the pipeline: its values decoded once, into the array that becomes the frame's actual
    for (let i = 0; i < granted; i++) {
      const streamId = frameStreamId(message, i);
      const entry = this.table.withId(streamId);
      const token = width === 1 && entry !== undefined && entry.served.model.isTokenModel;
      const values = frameValues(message, i);
      this.frames$.next({
        source: connection,
        streamLabel: entry?.name ?? `#${streamId}`,
        entry,
        seq: frameSeq(message, i),
        t: frameTime(message, i),
        values: token ? undefined : values,
        token: token ? values[0] : undefined,
        receivedAt,
        binary: true,
        ownedValues: true,
      });
    }
    if (granted < count) {
      const streamId = frameStreamId(message, granted);
      connection.sendError(rateLimited(this.options, count - granted, this.table.withId(streamId)?.name ?? `#${streamId}`, frameSeq(message, granted)));
    }
  }

  // ---- timers: metrics, idle and orphaned streams, checkpoints ----------------------------------------------------

  private startTimers(): void {
    const every = (ms: number, work: () => void) => this.timers.push(this.clock.every(ms, work));
    every(this.options.metricsIntervalMs, () => this.dashboards.sendMetrics(this.metrics, this.table.counts(), this.connections));
    every(Math.max(10, Math.min(this.options.idleMs / 2, this.options.orphanTtlMs / 2, 5000)), () => {
      this.parkIdle();
      this.expireOrphans();
      this.addresses.sweep();
    });
    if (this.options.stateDir) {
      every(this.options.checkpointIntervalMs, () => {
        this.checkpoint().catch((err) => this.log(`checkpoint failed: ${(err as Error).message}`));
      });
    }
  }

  /** Writes a checkpoint of every model and stream to the state directory now (one at a time). */
  async checkpoint(): Promise<void> {
    const stateDir = this.options.stateDir;
    if (!stateDir) throw new InputError('this server has no state directory to checkpoint to');
    while (this.checkpointing) await this.checkpointing;
    const generation = ++this.checkpointGeneration;
    this.checkpointing = recordCheckpoint(stateDir, generation, this.models.values(), this.table.byName.values()).finally(() => {
      this.checkpointing = undefined;
    });
    await this.checkpointing;
  }

  /** Stops: checkpoints (with a state directory), closes every connection (1001), stops listening. Models stay open; they are the caller's. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const cancel of this.timers) cancel();
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
      this.dashboards.complete();
      if (failure) throw failure;
    })();
    return this.closing;
  }
}
