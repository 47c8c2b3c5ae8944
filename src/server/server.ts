// The seqcast server: one HTTP server for the dashboard's files and one WebSocket endpoint (/ws) for producers and dashboards.
// This file holds its lifecycle and connections; what their messages do is dispatch.ts, who gets in admission.ts, the stream table
// streams.ts, dashboards dashboards.ts, persistence checkpoint.ts.

import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Subject, type Subscription } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import { InputError } from '../errors.js';
import { ErrorCode } from '../protocol/codes.js';
import { predictionJson } from '../protocol/json.js';
import { WS_PATH, type ClosedMessage, type ConfigureMessage, type ConfiguredMessage, type OpenedMessage, type OpenMessage, type ProtocolProblem, type ResetMessage, type StreamsMessage } from '../protocol/messages.js';
import { detectionThreshold } from '../stream/detection-thresholds.js';
import { streamPipeline } from '../stream/pipeline.js';
import type { FrameSource, IncomingFrame, Rejection, ScoredBatch, ScoredFrame, ServedModel, StreamEntry } from '../stream/types.js';
import { Admission, refuseSocket } from './admission.js';
import { recordCheckpoint } from './checkpoint.js';
import { systemClock, type Cancel, type Clock } from './clock.js';
import { Connection } from './connection.js';
import { Dashboards } from './dashboards.js';
import { Dispatch } from './dispatch.js';
import { serveOperations, type Readiness } from './health.js';
import { History } from './history.js';
import { answeredLater, type StreamDirectory, type StreamEngine } from './engine.js';
import { ClientAddresses } from './limits.js';
import { Metrics } from './metrics.js';
import type { Role } from './roles.js';
import { isLoopback } from './security.js';
import { restoreStreams } from './restore.js';
import { Sinks } from './sinks.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import { findWebRoot, serveStatic } from './static-files.js';
import { Heartbeat, HttpDeadlines } from './timeouts.js';
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
  private readonly table: StreamDirectory;
  /** The engine the streams live in when it is not this thread's table and pipeline (ServerOptions.engine: worker threads). */
  private readonly engine: StreamEngine | undefined;
  private readonly dashboards: Dashboards;
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
  private readonly dispatch: Dispatch;
  private readonly deadlines: HttpDeadlines;
  private readonly heartbeat = new Heartbeat();
  /** Where predictions also go (--sink); opened by start. */
  private sinks: Sinks | undefined;
  private webRoot: string | undefined;
  private nextConnectionId = 1;
  private checkpointing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly log: (line: string) => void;
  private readonly options: ResolvedOptions;
  /** Generation of the last checkpoint written or restored (its files carry it). */
  private checkpointGeneration = 0;
  /** What start restored from the state directory, for /readyz. */
  private restored: Readiness['state'] = 'none';
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
    this.dashboards = new Dashboards(() => this.clock.now(), this.log, new History(detectionThreshold(this.options.detectionProfile)));
    this.addresses = new ClientAddresses({ messagesPerSecond: this.options.addressRateLimit }, () => this.clock.now());
    if (!isLoopback(this.options.host) && !this.options.token) {
      throw new InputError(`binding to ${this.options.host} exposes the server beyond this machine; give it an access token (--token or SEQCAST_TOKEN)`);
    }
    const tableOptions = {
      maxStreamsPerConnection: this.options.maxStreamsPerConnection,
      maxStreams: this.options.maxStreams,
      maxOrphansPerConnection: this.options.maxOrphansPerConnection,
      maxOrphansPerAddress: this.options.maxOrphansPerAddress,
      maxForecastRows: this.options.maxForecastRows,
      idleMs: this.options.idleMs,
      orphanTtlMs: this.options.orphanTtlMs,
      learning: this.options.learning,
      detection: { profile: this.options.detectionProfile, threshold: detectionThreshold(this.options.detectionProfile) },
    };
    const engineParts = { models: options.models, table: tableOptions, scorer: options.scorer, stateDir: this.options.stateDir, now: () => this.clock.now(), log: this.log };
    this.engine = options.engine?.({ ...engineParts, deliver: (batch) => this.deliver(batch), rejected: (rejection) => this.rejected(rejection) });
    this.table = this.engine ?? new StreamTable(this.models, this.defaultModel, { ...tableOptions, scorer: options.scorer, clock: this.clock, flush: () => this.flushes$.next(), log: this.log });
    this.dispatch = new Dispatch({ table: this.table, dashboards: this.dashboards, frames: (frame) => this.receive(frame), limits: this.options });
    this.metrics.prometheus.declareModels(this.models.keys());
    this.metrics.prometheus.readGaugesFrom(() => ({ streams: this.table.counts(), connections: this.connections.size }));
    const { host, allowedHosts, allowedOrigins, token, producerToken, readToken } = this.options;
    if ((producerToken !== undefined || readToken !== undefined) && token === undefined) {
      throw new InputError('a producer or read-only token needs the control token too (--token or SEQCAST_TOKEN)');
    }
    this.admission = new Admission({ host, allowedHosts, allowedOrigins, token, producerToken, readToken });
    this.http = createServer((request, response) => {
      const refusal = this.admission.checkRequest(request);
      if (refusal) {
        response.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(refusal.body);
        return;
      }
      if (serveOperations(request, response, { prometheus: this.metrics.prometheus, readiness: () => this.readiness() })) return;
      serveStatic(request, response, this.webRoot, { wsUrl: this.url.replace(/^http/, 'ws') + WS_PATH.slice(1) }).catch((err) => {
        this.log(`static file error: ${(err as Error).message}`);
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxPayload, perMessageDeflate: false });
    this.http.on('upgrade', (request, socket, head) => this.upgrade(request, socket, head));
    this.deadlines = new HttpDeadlines(this.http, this.options, this.clock);
    // node's own limits too (on the wall clock), for the requests it parses
    this.http.headersTimeout = this.options.headersTimeoutMs;
    this.http.requestTimeout = this.options.requestTimeoutMs;
    this.startPipeline();
  }

  /** Restores the state directory (if any), binds, and starts the timers. */
  static async start(options: ServerOptions): Promise<SeqcastServer> {
    const server = new SeqcastServer(options);
    server.webRoot = options.webRoot === null ? undefined : (options.webRoot ?? (await findWebRoot()));
    const { table, engine } = server;
    const restored = await restoreStreams({ engine, stateDir: server.options.stateDir, models: server.models, now: server.clock.now(), log: server.log, add: (entry) => table instanceof StreamTable && table.add(entry) });
    server.checkpointGeneration = restored.generation;
    server.restored = restored.state;
    server.sinks = await Sinks.open(options.sinks ?? [], { registry: server.metrics.prometheus.registry, clock: server.clock, syncIntervalMs: server.options.checkpointIntervalMs, log: server.log });
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => void server.sinks?.close().finally(() => reject(err));
      server.http.once('error', failed);
      server.http.listen(server.options.port, server.options.host, () => {
        server.http.off('error', failed);
        resolve();
      });
    });
    // from now on a failure to accept (EMFILE at the descriptor limit) is reported, not thrown
    server.http.on('error', (err) => server.log(`accepting connections failed: ${err.message}`));
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

  /** What GET /readyz answers: ready once listening (models loaded, state restored), not while closing. */
  readiness(): Readiness {
    return { ready: this.url !== '' && !this.closing, models: [...this.models.keys()], state: this.restored, streams: this.table.byName.size };
  }

  /** Open streams by name (the stream table's). */
  get streams(): ReadonlyMap<string, StreamEntry> {
    return this.table.byName;
  }

  // ---- the pipeline ---------------------------------------------------------------------------------------------

  private startPipeline(): void {
    const engine = this.engine;
    if (engine) return void (this.pipeline = this.frames$.subscribe((frame) => engine.frame(frame)));
    this.pipeline = this.frames$.pipe(streamPipeline({ reject: (r) => this.rejected(r), flushes: this.flushes$, now: () => this.clock.now() })).subscribe({
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
    const now = performance.now();
    this.metrics.batchStepped(batch.frames[0].stepMicros, batch.frames[0].entry.served.name, batch.frames.length, now - batch.frames[0].receivedAt);
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
        if (frame.learnEvent !== undefined) this.metrics.learned(frame.learnEvent, frame.loss, frame.entry.served.name);
        this.dashboards.publish(frame);
        this.sinks?.publish(frame);
      } catch (err) {
        this.log(`delivering the prediction of stream "${frame.entry.name}" seq ${frame.seq} failed: ${(err as Error).stack ?? err}`);
      }
    }
  }

  // ---- streams (shared by connections and local producers; the table does the work) ------------------------------

  /** Opens (or takes over) a stream for `source`; the `opened` answer, or what is wrong. */
  openStream(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem {
    return this.table.open(source, request, owned) ?? answeredLater(request.stream);
  }

  /** Changes a stream's learning or horizon for `source` after the frames already received (roles.ts says who may); the `configured` answer, or what is wrong. */
  configureStream(source: FrameSource, request: ConfigureMessage): ConfiguredMessage | ProtocolProblem {
    return this.table.configure(source, request) ?? answeredLater(request.stream);
  }

  /** Zeroes a stream's state, statistics and scores (its seq stays monotonic), after the frames already received. */
  resetStream(source: FrameSource, stream: string): ResetMessage | ProtocolProblem {
    return this.table.reset(source, stream) ?? answeredLater(stream);
  }

  /** Closes a stream for good: its slot is freed and its name can be opened afresh. */
  closeStream(source: FrameSource, stream: string, owned?: Set<StreamEntry>): ClosedMessage | ProtocolProblem {
    return this.table.close(source, stream, owned) ?? answeredLater(stream);
  }

  /** Hands a frame to the pipeline (for local producers; connections do the same with what they receive). */
  pushFrame(frame: Omit<IncomingFrame, 'entry' | 'streamLabel' | 'receivedAt'> & { stream: string }): void {
    const { stream, ...rest } = frame;
    this.receive({ ...rest, streamLabel: stream, entry: this.table.byName.get(stream), receivedAt: performance.now() });
  }

  /** Every frame, a connection's or a local producer's, enters the pipeline here. */
  private receive(frame: IncomingFrame): void {
    this.metrics.framesReceived(1);
    this.frames$.next(frame);
  }

  /** The `streams` answer to `list` (a page of at most MAX_LISTED streams from `offset` on). */
  list(offset = 0): StreamsMessage | undefined {
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
    const admitted = this.admission.checkUpgrade(request);
    if ('status' in admitted) return refuseSocket(socket, admitted);
    this.wss.handleUpgrade(request, socket, head, (ws) => this.connected(ws, request, admitted.role));
  }

  private connected(ws: WebSocket, request: IncomingMessage, role: Role): void {
    const address = this.addresses.attach(request.socket.remoteAddress ?? 'unknown');
    const connection = new Connection(ws, {
      id: this.nextConnectionId++,
      address,
      remotePort: request.socket.remotePort,
      rateLimit: this.options.rateLimit,
      role,
      onError: (code) => this.metrics.errorSent(code),
      now: () => this.clock.now(),
      log: this.log,
    });
    this.connections.add(connection);
    ws.on('message', (data, isBinary) => {
      try {
        this.dispatch.received(connection, data, isBinary);
      } catch (err) {
        this.log(`${connection.label}: ${(err as Error).stack ?? err}`);
        connection.sendError({ code: ErrorCode.internal, message: `the server failed on this message: ${(err as Error).message}` });
      }
    });
    // ws reports protocol faults (oversized message → 1009, bad UTF-8 → 1007) here, then closes the socket itself
    ws.on('error', (err) => this.log(`${connection.label}: ${err.message}`));
    ws.on('close', () => this.disconnected(connection));
    this.heartbeat.watch(ws);
  }

  private disconnected(connection: Connection): void {
    this.table.orphan(connection, connection.owned, connection.address.address);
    connection.dispose();
    if (this.connections.delete(connection)) this.addresses.detach(connection.address);
  }

  // ---- timers: metrics, idle and orphaned streams, checkpoints ----------------------------------------------------

  private startTimers(): void {
    // a timer's callback must never throw (at the descriptor limit even process.memoryUsage() does): that would end the process
    const every = (ms: number, work: () => void) =>
      this.timers.push(
        this.clock.every(ms, () => {
          try {
            work();
          } catch (err) {
            this.log(`timer failed, the server goes on: ${(err as Error).stack ?? err}`);
          }
        }),
      );
    every(this.options.metricsIntervalMs, () => this.dashboards.sendMetrics(this.metrics, this.table.counts(), this.connections));
    every(Math.min(1000, this.options.headersTimeoutMs / 2), () => this.deadlines.sweep());
    every(this.options.pingIntervalMs, () => this.heartbeat.beat(this.log));
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
    const written = this.engine ? this.engine.checkpoint(generation) : recordCheckpoint(stateDir, generation, this.models.values(), this.table.byName.values(), this.log);
    this.checkpointing = written.finally(() => {
      this.checkpointing = undefined;
    });
    await this.checkpointing;
    await this.sinks?.sync();
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
      await this.sinks?.close();
      this.pipeline?.unsubscribe();
      await this.engine?.stop();
      this.frames$.complete();
      this.dashboards.complete();
      if (failure) throw failure;
    })();
    return this.closing;
  }
}
