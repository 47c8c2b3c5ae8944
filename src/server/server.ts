// The seqcast server: one HTTP server for the dashboard's files and one WebSocket endpoint (/ws) for producers and dashboards.

import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { filter, interval, Subject, type Subscription } from 'rxjs';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Model } from '../api/model.js';
import { exportOptimizerState, importOptimizerState, type LearningStats } from '../api/online.js';
import { InputError } from '../errors.js';
import { ErrorCode } from '../stream/codes.js';
import { conflateLatest } from '../stream/fan-out.js';
import { OnlineNormalizer } from '../stream/normalize.js';
import { streamPipeline } from '../stream/pipeline.js';
import { ErrorScorer, type ScorerOptions } from '../stream/score.js';
import { learnerSnapshot, parkStream, releaseStream, streamSnapshot } from '../stream/slots.js';
import type { FrameSource, IncomingFrame, LearningConfig, Rejection, ScoredBatch, ScoredFrame, ServedModel, StreamEntry } from '../stream/types.js';
import { readCheckpoint, readCheckpointFile, restoreWeights, writeCheckpoint, type ModelRecordBytes, type StreamRecord } from './checkpoint.js';
import { Connection } from './connection.js';
import { Metrics } from './metrics.js';
import { checkFramesMessage, checkMessage, frameRecordOffset, parseText, predictionJson, readFrameValues, WS_PATH, type ConfigureMessage, type LearningRequest, type OpenMessage, type ProtocolProblem, type SubscribeMessage } from './protocol.js';
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
  /** A stream nobody holds (its producer disconnected, or it came back from a checkpoint) is closed after this long (ms), freeing its slot and name. Default 600,000 (10 minutes). */
  orphanTtlMs?: number;
  /** Defaults for learning streams (open may override them per stream): train every 8 frames on the last 32; target 'delta' unless the model's metadata says 'value'. */
  learning?: Partial<LearningConfig>;
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
  /** A learning stream's options (null for a stream that does not learn). */
  learning: LearningConfig | null;
}

/** What `configure` answers. */
export interface ConfiguredMessage {
  type: 'configured';
  stream: string;
  horizon: number;
  learn: boolean;
  learning: LearningConfig | null;
  lastSeq: number;
}

/** Why a model cannot learn online on this server, or undefined when it can. */
export function cannotLearn(model: Model): string | undefined {
  if (model.isTokenModel) return 'it is a token model, and online learning learns frame models';
  if (model.outputSize !== model.inputSize) return `it outputs ${model.outputSize} values for ${model.inputSize} inputs, and online learning predicts the next frame`;
  return undefined;
}

/** The target a learning stream on `model` gets by default: the model's metadata target when it names one, else the server's, else 'delta'. */
function defaultTarget(model: Model, serverDefault: LearningConfig['target'] | undefined): LearningConfig['target'] {
  const target = model.metadata.target;
  if (target === 'delta' || target === 'value') return target;
  return serverDefault ?? 'delta';
}

/** How a stream's inputs are scaled, as open, configure and list report it. */
function normalizeMode(entry: StreamEntry): 'model' | 'online' | 'none' {
  if (entry.served.model.normalizer) return 'model';
  return entry.normalizer || entry.learning ? 'online' : 'none';
}

/** A learner's running totals for list and metrics (NaN as null). */
function learnerStats(stats: LearningStats): Record<string, number | null> {
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  return { frames: stats.frames, updates: stats.updates, skipped: stats.skipped, rollbacks: stats.rollbacks, mse: finite(stats.mse), persistenceMse: finite(stats.persistenceMse), runningLoss: finite(stats.runningLoss) };
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
  private readonly options: Required<Omit<ServerOptions, 'token' | 'stateDir' | 'webRoot' | 'log' | 'scorer' | 'learning'>> &
    Pick<ServerOptions, 'token' | 'stateDir' | 'scorer'> & { learning: { every: number; window: number; target: LearningConfig['target'] | undefined } };
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
      orphanTtlMs: options.orphanTtlMs ?? 600_000,
      learning: { every: options.learning?.every ?? 8, window: options.learning?.window ?? 32, target: options.learning?.target },
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
    const now = performance.now();
    const watched = this.scored$.observed;
    for (const frame of batch.frames) {
      const source = frame.source;
      if (source instanceof Connection) {
        if (frame.binary) source.sendBinary(frame);
        else source.sendText(predictionJson(frame)); // sent with the rest of this socket read's answers (Connection)
      } else {
        (source as LocalProducer).onPrediction?.(frame);
      }
      this.metrics.frameAnswered(now - frame.receivedAt);
      if (frame.learnEvent !== undefined) this.metrics.learned(frame.learnEvent, frame.loss);
      if (watched) this.scored$.next(frame);
    }
  }

  // ---- streams (shared by connections and local producers) -------------------------------------------------------

  /** Opens (or takes over) a stream for `source`; the `opened` answer, or what is wrong. */
  openStream(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem {
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const served = request.model === undefined ? undefined : this.models.get(request.model);
    if (request.model !== undefined && !served) {
      return problem(ErrorCode.unknownModel, `open "${request.stream}": no model "${request.model}"; this server holds ${[...this.models.keys()].map((n) => `"${n}"`).join(', ')}`);
    }
    const existing = this.streams.get(request.stream);
    const model = (served ?? existing?.served ?? this.defaultModel).model;
    const modelName = (served ?? existing?.served ?? this.defaultModel).name;
    const what = `open "${request.stream}"`;
    if (request.horizon !== undefined && request.horizon > 0 && !model.isTokenModel && model.outputSize !== model.inputSize) {
      return problem(ErrorCode.forecastUnavailable, `${what}: model "${modelName}" outputs ${model.outputSize} values for ${model.inputSize} inputs, so its outputs cannot be fed back for a horizon; open with horizon 0`);
    }
    if (request.normalize === 'online' && model.normalizer) {
      return problem(ErrorCode.badField, `${what}: model "${modelName}" carries its own normalizer, which the library applies; online normalization on top would normalize twice`);
    }
    if (request.normalize === 'online' && model.isTokenModel) return problem(ErrorCode.badField, `${what}: token models take token ids, which are not normalized`);

    if (existing) {
      if (existing.owner !== undefined && existing.owner !== source) {
        return problem(ErrorCode.streamBusy, `${what}: the stream is held by another producer (${existing.owner.label})`);
      }
      if (served && served !== existing.served) {
        return problem(ErrorCode.badField, `${what}: the stream is open on model "${existing.served.name}", not "${served.name}"; close it first`);
      }
      const online = existing.normalizer !== undefined || (existing.learning !== undefined && !model.normalizer);
      if ((request.normalize === 'online' && !online) || (request.normalize === 'none' && online)) {
        return problem(ErrorCode.badField, `${what}: the stream was opened with ${online ? 'online' : 'no online'} normalization; close it to change that`);
      }
      const learning = request.learn || request.learning ? this.learningFor(existing, request, what) : undefined;
      if (learning && 'code' in learning) return learning;
      if (existing.owner !== source) {
        if (owned && owned.size >= this.options.maxStreamsPerConnection) return problem(ErrorCode.tooManyStreams, `${what}: this connection already holds ${owned.size} streams, the most allowed`);
        existing.owner = source;
        existing.orphanedAt = undefined;
        owned?.add(existing);
      }
      // fields given change the stream; fields left out keep what it had
      if (request.horizon !== undefined) existing.horizon = request.horizon;
      if (request.learn && !existing.learning) {
        const refused = this.plainCannotLearn(existing, what);
        if (refused) return refused;
      }
      if (request.learn !== undefined) this.setLearning(existing, request.learn, learning);
      return this.openedMessage(existing, true);
    }

    const learning = request.learn || request.learning ? this.learningFor({ served: served ?? this.defaultModel, learning: undefined, normalizer: undefined }, request, what) : undefined;
    if (learning && 'code' in learning) return learning;
    if (learning && request.normalize === 'none') {
      return problem(ErrorCode.badField, `${what}: a learning stream scales its inputs with its own running statistics (or the model's); open it with normalize "auto"`);
    }
    if (owned && owned.size >= this.options.maxStreamsPerConnection) {
      return problem(ErrorCode.tooManyStreams, `${what}: this connection already holds ${owned.size} streams, the most allowed`);
    }
    if (this.streams.size >= this.options.maxStreams) {
      return problem(ErrorCode.tooManyStreams, `${what}: the server already holds ${this.streams.size} streams, the most allowed`);
    }
    const learn = request.learn === true;
    const online = !learn && !model.isTokenModel && !model.normalizer && request.normalize !== 'none';
    const entry: StreamEntry = {
      name: request.stream,
      id: this.nextStreamId++,
      served: served ?? this.defaultModel,
      stream: undefined,
      parked: undefined,
      learning: learn ? learning : undefined,
      learner: undefined,
      parkedLearner: undefined,
      lastSeq: -1,
      horizon: request.horizon ?? 0,
      learn,
      normalizer: online ? new OnlineNormalizer(model.inputSize) : undefined,
      scorer: new ErrorScorer(this.options.scorer),
      owner: source,
      orphanedAt: undefined,
      lastActive: Date.now(),
      closed: false,
    };
    this.streams.set(entry.name, entry);
    this.streamsById.set(entry.id, entry);
    owned?.add(entry);
    return this.openedMessage(entry, false);
  }

  /**
   * The learning configuration a stream gets from open or configure: its own if it
   * already learns (options cannot change then), else the request's options over the
   * server's defaults; or why its model cannot learn online.
   */
  private learningFor(entry: Pick<StreamEntry, 'served' | 'learning' | 'normalizer'>, request: { learn?: boolean; learning?: LearningRequest; stream: string }, what: string): LearningConfig | ProtocolProblem {
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const { name, model } = entry.served;
    const reason = cannotLearn(model);
    if (reason) return problem(ErrorCode.learningUnavailable, `${what}: model "${name}" cannot learn online: ${reason}; use learn: false to predict with it as it is`);
    const defaults = this.options.learning;
    const wanted: LearningConfig = {
      every: request.learning?.every ?? entry.learning?.every ?? defaults.every,
      window: request.learning?.window ?? entry.learning?.window ?? defaults.window,
      target: request.learning?.target ?? entry.learning?.target ?? defaultTarget(model, defaults.target),
    };
    if (entry.learning && (wanted.every !== entry.learning.every || wanted.window !== entry.learning.window || wanted.target !== entry.learning.target)) {
      return problem(ErrorCode.badField, `${what}: the stream already learns with every ${entry.learning.every}, window ${entry.learning.window}, target ${entry.learning.target}; those cannot change (close the stream to start over)`);
    }
    return wanted;
  }

  /** Why a stream that is not a learning stream cannot become one (opened with normalize "none"), or undefined. */
  private plainCannotLearn(entry: StreamEntry, what: string): ProtocolProblem | undefined {
    const model = entry.served.model;
    if (model.normalizer || entry.normalizer !== undefined) return undefined;
    return {
      code: ErrorCode.badField,
      message: `${what}: the stream was opened with normalize "none", and a learning stream scales its inputs with its own running statistics; close it and open it again with learn: true`,
      stream: entry.name,
    };
  }

  /**
   * Turns a stream's training on or off. A stream that is not yet a learning stream
   * becomes one (`learning` must then be given): its kernel state carries over, its
   * learner starts with fresh statistics, and it stays a learning stream from then on.
   */
  private setLearning(entry: StreamEntry, on: boolean, learning: LearningConfig | undefined): void {
    if (on && !entry.learning) {
      if (!learning) throw new Error('setLearning: a stream becoming a learning stream needs its configuration');
      // the plain stream's slot becomes the learner's (activeLearner restores it on the next frame)
      if (entry.stream) {
        entry.parked = entry.stream.snapshot();
        entry.stream.close();
        entry.stream = undefined;
      }
      entry.learning = learning;
      entry.normalizer = undefined;
    }
    entry.learn = on && entry.learning !== undefined;
    entry.learner?.setLearning(entry.learn);
  }

  /**
   * Changes a stream's learning or horizon, after the frames already received; the `configured` answer, or what is wrong.
   * Any connection may send it (a dashboard's controls), not only the producer holding the stream.
   */
  configureStream(request: ConfigureMessage): ConfiguredMessage | ProtocolProblem {
    const entry = this.streams.get(request.stream);
    if (!entry || entry.closed) return { code: ErrorCode.unknownStream, message: `configure "${request.stream}": no such stream is open`, stream: request.stream };
    const what = `configure "${request.stream}"`;
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const model = entry.served.model;
    if (request.horizon !== undefined && request.horizon > 0 && !model.isTokenModel && model.outputSize !== model.inputSize) {
      return problem(ErrorCode.forecastUnavailable, `${what}: model "${entry.served.name}" outputs ${model.outputSize} values for ${model.inputSize} inputs, so its outputs cannot be fed back for a horizon`);
    }
    let learning: LearningConfig | undefined;
    if (request.learn || request.learning) {
      const checked = this.learningFor(entry, request, what);
      if ('code' in checked) return checked;
      learning = checked;
      if (!entry.learning && request.learn) {
        const refused = this.plainCannotLearn(entry, what);
        if (refused) return refused;
      }
      if (!entry.learning && !request.learn) {
        return problem(ErrorCode.badField, `${what}: learning options apply to a learning stream; give learn: true with them`);
      }
    }
    // everything checked: apply after the frames received before this message
    this.flushes$.next();
    if (request.horizon !== undefined) entry.horizon = request.horizon;
    if (request.learn !== undefined) this.setLearning(entry, request.learn, learning);
    return { type: 'configured', stream: entry.name, horizon: entry.horizon, learn: entry.learn, learning: entry.learning ?? null, lastSeq: entry.lastSeq };
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
      learning: entry.learning ?? null,
      normalize: normalizeMode(entry),
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

  /**
   * Zeroes a stream's state, statistics and scores (its seq stays monotonic), after the frames already received.
   * A learning stream's learner starts afresh (history, running statistics); what the model has learned stays.
   */
  resetStream(source: FrameSource, stream: string): { type: 'reset'; stream: string; lastSeq: number } | ProtocolProblem {
    const entry = this.held(source, stream, 'reset');
    if ('code' in entry) return entry;
    this.flushes$.next();
    if (entry.learner) {
      entry.learner.close();
      entry.learner = undefined;
      entry.stream = undefined;
    } else {
      entry.stream?.reset();
    }
    entry.parked = undefined;
    entry.parkedLearner = undefined;
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
        learning: entry.learning ? { ...entry.learning, ...(entry.learner ? { stats: learnerStats(entry.learner.stats) } : {}) } : null,
        normalize: normalizeMode(entry),
        held: entry.owner !== undefined,
        parked: entry.stream === undefined,
      })),
      models: [...this.models.values()].map(({ name, model }) => ({
        name,
        description: model.describe(),
        kind: model.arch.kind,
        cell: model.arch.cell,
        layers: model.arch.layers,
        hiddenSize: model.arch.hiddenSize,
        inputSize: model.isTokenModel ? 1 : model.inputSize,
        outputSize: model.outputSize,
        ...(model.isTokenModel ? { vocabSize: model.arch.vocabSize } : {}),
        ...(model.metadata.channels ? { channels: model.metadata.channels } : {}),
        ...(model.metadata.shape ? { shape: model.metadata.shape } : {}),
        ...(model.arch.attention
          ? { attention: { width: model.arch.attention.width, heads: model.arch.attention.heads, blocks: model.arch.attention.blocks, window: model.arch.attention.window, sinks: model.arch.attention.sinks } }
          : {}),
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
    // streams stay, unheld, so their producer can take them over again where they stopped (until orphanTtlMs)
    const now = Date.now();
    for (const entry of connection.owned) {
      if (entry.owner !== connection) continue;
      entry.owner = undefined;
      entry.orphanedAt = now;
    }
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
        // the same keys as binary frames, so the pipeline sees objects of one shape
        this.frames$.next({
          source: connection,
          streamLabel: message.stream,
          entry: this.streams.get(message.stream),
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
        return this.answer(connection, this.openStream(connection, message, connection.owned));
      case 'configure':
        return this.answer(connection, this.configureStream(message));
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
    const message = checkFramesMessage(bytes);
    if ('code' in message) return connection.sendError(message);
    const { count, width, view } = message;
    const granted = connection.limiter.take(count);
    // each record goes straight into the pipeline: its values decoded once, into the array that becomes the frame's actual
    for (let i = 0; i < granted; i++) {
      const at = frameRecordOffset(message, i);
      const streamId = view.getUint32(at, true);
      const t = view.getFloat64(at + 8, true);
      const entry = this.streamsById.get(streamId);
      const token = width === 1 && entry !== undefined && entry.served.model.isTokenModel;
      const values = readFrameValues(message, i);
      this.frames$.next({
        source: connection,
        streamLabel: entry?.name ?? `#${streamId}`,
        entry,
        seq: view.getUint32(at + 4, true),
        t: Number.isNaN(t) ? undefined : t,
        values: token ? undefined : values,
        token: token ? values[0] : undefined,
        receivedAt,
        binary: true,
        ownedValues: true,
      });
    }
    if (granted < count) {
      const at = frameRecordOffset(message, granted);
      const streamId = view.getUint32(at, true);
      connection.sendError({
        code: ErrorCode.rateLimited,
        message: `rate limit of ${this.options.rateLimit} frames per second exceeded: ${count - granted} of the message's ${count} frames refused from here on, nothing of them applied`,
        stream: this.streamsById.get(streamId)?.name ?? `#${streamId}`,
        seq: view.getUint32(at + 4, true),
        count: count - granted,
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
          if (ws.readyState === ws.OPEN) ws.send(`[${frames.map(predictionJson).join(',')}]`);
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

  // ---- timers: metrics, idle and orphaned streams, checkpoints ----------------------------------------------------

  private startTimers(): void {
    const every = (ms: number, work: () => void) => {
      const timer = setInterval(work, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.metricsIntervalMs, () => this.sendMetrics());
    every(Math.max(10, Math.min(this.options.idleMs / 2, this.options.orphanTtlMs / 2, 5000)), () => {
      this.parkIdle();
      this.expireOrphans();
    });
    if (this.options.stateDir) {
      every(this.options.checkpointIntervalMs, () => {
        this.checkpoint().catch((err) => this.log(`checkpoint failed: ${(err as Error).message}`));
      });
    }
  }

  private sendMetrics(): void {
    let held = 0;
    let parked = 0;
    let learning = 0;
    for (const entry of this.streams.values()) {
      if (entry.owner) held++;
      if (!entry.stream) parked++;
      if (entry.learn) learning++;
    }
    const message = this.metrics.take({ open: this.streams.size, held, parked }, this.connections.size, learning);
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

  /** Closes streams nobody has held for orphanTtlMs (their producer disconnected, or they came back from a checkpoint and were not taken over): their slots and names are freed. */
  expireOrphans(now = Date.now()): number {
    let expired = 0;
    for (const entry of [...this.streams.values()]) {
      if (entry.owner === undefined && entry.orphanedAt !== undefined && now - entry.orphanedAt >= this.options.orphanTtlMs) {
        this.forget(entry);
        expired++;
      }
    }
    if (expired > 0) this.log(`closed ${expired} stream${expired === 1 ? '' : 's'} nobody had held for ${Math.round(this.options.orphanTtlMs / 1000)} s`);
    return expired;
  }

  /** Writes a checkpoint of every model and stream to the state directory now (one at a time). */
  async checkpoint(): Promise<void> {
    const stateDir = this.options.stateDir;
    if (!stateDir) throw new InputError('this server has no state directory to checkpoint to');
    while (this.checkpointing) await this.checkpointing;
    // everything is taken synchronously, so weights, optimizers and streams are one consistent moment between two batches
    const records = [...this.streams.values()].map((entry) => this.record(entry));
    const models: ModelRecordBytes[] = [...this.models.values()].map(({ name, model }) => {
      const optimizer = exportOptimizerState(model);
      return { name, weights: model.toSafetensors(), ...(optimizer ? { optimizer } : {}) };
    });
    const generation = ++this.checkpointGeneration;
    this.checkpointing = writeCheckpoint(stateDir, generation, models, records).finally(() => {
      this.checkpointing = undefined;
    });
    await this.checkpointing;
  }

  private record(entry: StreamEntry): StreamRecord {
    const snapshot = streamSnapshot(entry);
    const learner = entry.learning ? learnerSnapshot(entry) : undefined;
    const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    return {
      name: entry.name,
      id: entry.id,
      model: entry.served.name,
      lastSeq: entry.lastSeq,
      horizon: entry.horizon,
      learn: entry.learn,
      normalize: entry.normalizer ? 'online' : 'none',
      ...(snapshot ? { snapshot: base64(snapshot) } : {}),
      ...(entry.normalizer ? { normalizer: entry.normalizer.toJSON() } : {}),
      scorer: entry.scorer.toJSON(),
      ...(entry.learning ? { learning: entry.learning } : {}),
      ...(learner ? { learner: base64(learner) } : {}),
    };
  }

  /**
   * Loads weights, optimizer states and streams from the state directory: streams come back parked and unheld, to be
   * taken over by `open` (or closed after orphanTtlMs). Learning streams continue bit for bit, training included.
   */
  private async restore(stateDir: string): Promise<void> {
    const file = await readCheckpoint(stateDir, [...this.models.keys()]);
    if (!file) return;
    this.checkpointGeneration = file.generation ?? 0;
    for (const record of file.models ?? []) {
      const served = this.models.get(record.name);
      if (!served) continue;
      await restoreWeights(join(stateDir, record.weights), record.name, served.model);
      let how = '';
      if (record.optimizer) {
        const started = performance.now();
        const bytes = await readCheckpointFile(join(stateDir, record.optimizer));
        try {
          importOptimizerState(served.model, bytes);
          how = ` and its optimizer state (${((performance.now() - started) / 1000).toFixed(1)} s)`;
        } catch (err) {
          // the weights are what matters; learning goes on from fresh optimizer moments (not bit for bit)
          how = `, but not its optimizer state (${(err as Error).message}; learning goes on with fresh Adam moments)`;
        }
      }
      this.log(`restored the weights of model "${record.name}"${how} from ${stateDir}`);
    }
    const now = Date.now();
    for (const record of file.streams) {
      const served = this.models.get(record.model);
      if (!served) {
        this.log(`checkpointed stream "${record.name}" is on model "${record.model}", which this server does not hold; left out`);
        continue;
      }
      const parked = record.snapshot ? new Uint8Array(Buffer.from(record.snapshot, 'base64')) : undefined;
      const parkedLearner = record.learner ? new Uint8Array(Buffer.from(record.learner, 'base64')) : undefined;
      if (record.learning && cannotLearn(served.model)) {
        this.log(`checkpointed stream "${record.name}" learns, but model "${record.model}" cannot learn online: ${cannotLearn(served.model)}; left out`);
        continue;
      }
      // refuse a bad snapshot now rather than on the stream's next frame
      if (record.learning) {
        const probe = served.model.openLearningStream({ name: record.name, every: record.learning.every, window: record.learning.window, predict: record.learning.target, learn: false });
        try {
          if (parkedLearner) probe.importState(parkedLearner);
          if (parked) probe.stream.restore(parked);
        } finally {
          probe.close();
        }
      } else if (parked) {
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
        learning: record.learning,
        learner: undefined,
        parkedLearner,
        lastSeq: record.lastSeq,
        horizon: record.horizon,
        learn: record.learning !== undefined && record.learn,
        normalizer: record.normalizer ? OnlineNormalizer.fromJSON(record.normalizer) : undefined,
        scorer: ErrorScorer.fromJSON(record.scorer),
        owner: undefined,
        orphanedAt: now,
        lastActive: now,
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
