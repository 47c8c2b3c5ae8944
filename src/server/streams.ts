// The server's stream table: every open stream by name and by binary id; open, configure, reset, close, park, expire and list.

import { ErrorCode } from '../protocol/codes.js';
import { MAX_LISTED, type ClosedMessage, type ConfigureMessage, type ConfiguredMessage, type LearningRequest, type ListedStream, type OpenedMessage, type OpenMessage, type ProtocolProblem, type ResetMessage, type StreamsMessage } from '../protocol/messages.js';
import { OnlineNormalizer } from '../stream/online-normalizer.js';
import { ErrorScorer, type ScorerOptions } from '../stream/error-scorer.js';
import { parkStream, releaseStream, resetEntry, setEntryLearning } from '../stream/slots.js';
import type { FrameSource, LearningConfig, ServedModel, StreamEntry } from '../stream/types.js';
import type { Clock } from './clock.js';
import { listedModel, listedStream, openedMessage } from './stream-reports.js';

/** The limits and defaults the table applies (the server's options, resolved). */
export interface StreamTableOptions {
  maxStreamsPerConnection: number;
  maxStreams: number;
  /** A stream idle this long (ms) is parked. */
  idleMs: number;
  /** A stream nobody holds is closed after this long (ms). */
  orphanTtlMs: number;
  /** Learning streams' defaults; `target` undefined: the model's metadata target, else 'delta'. */
  learning: { every: number; window: number; target: LearningConfig['target'] | undefined };
  scorer: ScorerOptions | undefined;
  clock: Clock;
  /** Steps the frames already received, so that a change (configure, reset, close) applies after them. */
  flush: () => void;
  log: (line: string) => void;
}

/** Why a model cannot learn online on this server, or undefined when it can. */
export function cannotLearn(model: ServedModel['model']): string | undefined {
  if (model.isTokenModel) return 'it is a token model, and online learning learns frame models';
  if (model.target === 'label') return 'it is a label model, and online learning predicts the next frame';
  if (model.outputSize !== model.inputSize) return `it outputs ${model.outputSize} values for ${model.inputSize} inputs, and online learning predicts the next frame`;
  return undefined;
}

/** Why a model's outputs cannot be fed back as its inputs (Stream.forecast), or undefined when they can. */
function cannotForecast(model: ServedModel['model']): string | undefined {
  if (model.target === 'label') return 'is a label model (its outputs are classes or a value, not a frame)';
  if (!model.isTokenModel && model.outputSize !== model.inputSize) return `outputs ${model.outputSize} values for ${model.inputSize} inputs`;
  return undefined;
}

/** What a stream entry starts with; everything else starts empty (no slot, not closed). */
export interface StreamEntryFields {
  name: string;
  id: number;
  served: ServedModel;
  learning: LearningConfig | undefined;
  learn: boolean;
  lastSeq: number;
  horizon: number;
  normalizer: OnlineNormalizer | undefined;
  /** Opened with normalize "none" (default false). */
  valuesAsSent?: boolean;
  scorer: ErrorScorer;
  owner: FrameSource | undefined;
  /** ms (the server's clock); undefined while held. */
  orphanedAt: number | undefined;
  /** ms (the server's clock). */
  lastActive: number;
  /** Stream.snapshot() bytes to start from (a restored stream). */
  parked?: Uint8Array;
  /** LearningStream.exportState() bytes to start from (a restored learning stream). */
  parkedLearner?: Uint8Array;
}

/** Builds a stream entry: the one place its fields are written out (open and restore both come here). */
export function streamEntry(fields: StreamEntryFields): StreamEntry {
  return {
    name: fields.name,
    id: fields.id,
    served: fields.served,
    stream: undefined,
    parked: fields.parked,
    learning: fields.learning,
    learner: undefined,
    parkedLearner: fields.parkedLearner,
    lastSeq: fields.lastSeq,
    horizon: fields.horizon,
    learn: fields.learning !== undefined && fields.learn,
    normalizer: fields.normalizer,
    valuesAsSent: fields.valuesAsSent ?? false,
    scorer: fields.scorer,
    owner: fields.owner,
    orphanedAt: fields.orphanedAt,
    lastActive: fields.lastActive,
    closed: false,
  };
}

/** Every stream the server holds. Its methods touch the entries and, through stream/slots.ts, their kernel slots. */
export class StreamTable {
  /** Open streams by name. */
  readonly byName = new Map<string, StreamEntry>();
  private readonly byId = new Map<number, StreamEntry>();
  private nextStreamId = 1;

  constructor(
    readonly models: ReadonlyMap<string, ServedModel>,
    readonly defaultModel: ServedModel,
    private readonly options: StreamTableOptions,
  ) {}

  /** The stream a binary frame's id names, if it is open. */
  withId(id: number): StreamEntry | undefined {
    return this.byId.get(id);
  }

  /** Adds an entry built elsewhere (restore): binary ids handed out later stay above its id. */
  add(entry: StreamEntry): void {
    this.byName.set(entry.name, entry);
    this.byId.set(entry.id, entry);
    this.nextStreamId = Math.max(this.nextStreamId, entry.id + 1);
  }

  /** Opens (or takes over) a stream for `source`; the `opened` answer, or what is wrong. `owned` is the source's set of held streams. */
  open(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem {
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const served = request.model === undefined ? undefined : this.models.get(request.model);
    if (request.model !== undefined && !served) {
      return problem(ErrorCode.unknownModel, `open "${request.stream}": no model "${request.model}"; this server holds ${[...this.models.keys()].map((n) => `"${n}"`).join(', ')}`);
    }
    const existing = this.byName.get(request.stream);
    const target = served ?? existing?.served ?? this.defaultModel;
    const model = target.model;
    const what = `open "${request.stream}"`;
    if (request.horizon !== undefined && request.horizon > 0 && cannotForecast(model)) {
      return problem(ErrorCode.forecastUnavailable, `${what}: model "${target.name}" ${cannotForecast(model)}, so its outputs cannot be fed back for a horizon; open with horizon 0`);
    }
    if (request.normalize === 'online' && model.normalizer) {
      return problem(ErrorCode.badField, `${what}: model "${target.name}" carries its own normalizer, which the library applies; online normalization on top would normalize twice`);
    }
    if (request.normalize === 'online' && model.isTokenModel) return problem(ErrorCode.badField, `${what}: token models take token ids, which are not normalized`);
    if (existing) return this.takeOver(existing, source, request, served, owned);

    const learning = request.learn || request.learning ? this.learningFor({ served: target, learning: undefined }, request, what) : undefined;
    if (learning && 'code' in learning) return learning;
    if (learning && request.normalize === 'none') {
      return problem(ErrorCode.badField, `${what}: a learning stream scales its inputs with its own running statistics (or the model's); open it with normalize "auto"`);
    }
    if (owned && owned.size >= this.options.maxStreamsPerConnection) {
      return problem(ErrorCode.tooManyStreams, `${what}: this connection already holds ${owned.size} streams, the most allowed`);
    }
    if (this.byName.size >= this.options.maxStreams) {
      return problem(ErrorCode.tooManyStreams, `${what}: the server already holds ${this.byName.size} streams, the most allowed`);
    }
    const learn = request.learn === true;
    // "auto" is what the model was trained with: its own normalizer, else values as sent (a learning stream scales itself)
    const online = !learn && request.normalize === 'online';
    const entry = streamEntry({
      name: request.stream,
      id: this.nextStreamId,
      served: target,
      learning: learn ? learning : undefined,
      learn,
      lastSeq: -1,
      horizon: request.horizon ?? 0,
      normalizer: online ? new OnlineNormalizer(model.inputSize) : undefined,
      valuesAsSent: request.normalize === 'none',
      scorer: new ErrorScorer(this.options.scorer),
      owner: source,
      orphanedAt: undefined,
      lastActive: this.options.clock.now(),
    });
    this.add(entry);
    owned?.add(entry);
    return openedMessage(entry, false);
  }

  /** `open` of a stream that exists: taken over by `source` if nobody else holds it; fields given change it, fields left out keep what it had. */
  private takeOver(existing: StreamEntry, source: FrameSource, request: OpenMessage, served: ServedModel | undefined, owned: Set<StreamEntry> | undefined): OpenedMessage | ProtocolProblem {
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const what = `open "${request.stream}"`;
    if (existing.owner !== undefined && existing.owner !== source) {
      return problem(ErrorCode.streamBusy, `${what}: the stream is held by another producer`);
    }
    if (served && served !== existing.served) {
      return problem(ErrorCode.badField, `${what}: the stream is open on model "${existing.served.name}", not "${served.name}"; close it first`);
    }
    const online = existing.normalizer !== undefined || (existing.learning !== undefined && !existing.served.model.normalizer);
    if ((request.normalize === 'online' && !online) || (request.normalize === 'none' && online)) {
      return problem(ErrorCode.badField, `${what}: the stream was opened with ${online ? 'online' : 'no online'} normalization; close it to change that`);
    }
    const learning = request.learn || request.learning ? this.learningFor(existing, request, what) : undefined;
    if (learning && 'code' in learning) return learning;
    if (request.learn && !existing.learning) {
      const refused = plainCannotLearn(existing, what);
      if (refused) return refused;
    }
    if (existing.owner !== source && owned && owned.size >= this.options.maxStreamsPerConnection) {
      return problem(ErrorCode.tooManyStreams, `${what}: this connection already holds ${owned.size} streams, the most allowed`);
    }
    // everything checked: a refused open has changed nothing
    if (existing.owner !== source) {
      existing.owner = source;
      existing.orphanedAt = undefined;
      owned?.add(existing);
    }
    if (request.horizon !== undefined) existing.horizon = request.horizon;
    if (request.learn !== undefined) setEntryLearning(existing, request.learn, learning);
    return openedMessage(existing, true);
  }

  /**
   * The learning configuration a stream gets from open or configure: its own if it
   * already learns (options cannot change then), else the request's options over the
   * server's defaults; or why its model cannot learn online.
   */
  private learningFor(entry: Pick<StreamEntry, 'served' | 'learning'>, request: { learning?: LearningRequest; stream: string }, what: string): LearningConfig | ProtocolProblem {
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

  /**
   * Changes a stream's learning or horizon, after the frames already received; the `configured` answer, or what is wrong.
   * Any connection may send it (a dashboard's controls), not only the producer holding the stream.
   */
  configure(request: ConfigureMessage): ConfiguredMessage | ProtocolProblem {
    const entry = this.byName.get(request.stream);
    if (!entry || entry.closed) return { code: ErrorCode.unknownStream, message: `configure "${request.stream}": no such stream is open`, stream: request.stream };
    const what = `configure "${request.stream}"`;
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const model = entry.served.model;
    if (request.horizon !== undefined && request.horizon > 0 && cannotForecast(model)) {
      return problem(ErrorCode.forecastUnavailable, `${what}: model "${entry.served.name}" ${cannotForecast(model)}, so its outputs cannot be fed back for a horizon`);
    }
    let learning: LearningConfig | undefined;
    if (request.learn || request.learning) {
      const checked = this.learningFor(entry, request, what);
      if ('code' in checked) return checked;
      learning = checked;
      if (!entry.learning && request.learn) {
        const refused = plainCannotLearn(entry, what);
        if (refused) return refused;
      }
      if (!entry.learning && !request.learn) {
        return problem(ErrorCode.badField, `${what}: learning options apply to a learning stream; give learn: true with them`);
      }
    }
    // everything checked: apply after the frames received before this message
    this.options.flush();
    if (request.horizon !== undefined) entry.horizon = request.horizon;
    if (request.learn !== undefined) setEntryLearning(entry, request.learn, learning);
    return { type: 'configured', stream: entry.name, horizon: entry.horizon, learn: entry.learn, learning: entry.learning ?? null, lastSeq: entry.lastSeq };
  }

  /** Looks up a stream `source` holds, for reset and close. */
  private held(source: FrameSource, stream: string, op: string): StreamEntry | ProtocolProblem {
    const entry = this.byName.get(stream);
    if (!entry || entry.owner !== source) {
      const code = entry?.owner ? ErrorCode.streamBusy : ErrorCode.unknownStream;
      return { code, message: `${op} "${stream}": ${entry?.owner ? 'the stream is held by another producer' : 'no such stream is open on this connection'}`, stream };
    }
    return entry;
  }

  /**
   * Zeroes a stream's state, statistics and scores (its seq stays monotonic), after the frames already received.
   * A learning stream's learner starts afresh (history, running statistics); what the model has learned stays.
   */
  reset(source: FrameSource, stream: string): ResetMessage | ProtocolProblem {
    const entry = this.held(source, stream, 'reset');
    if ('code' in entry) return entry;
    this.options.flush();
    resetEntry(entry);
    return { type: 'reset', stream, lastSeq: entry.lastSeq };
  }

  /** Closes a stream for good: its slot is freed and its name can be opened afresh. */
  close(source: FrameSource, stream: string, owned?: Set<StreamEntry>): ClosedMessage | ProtocolProblem {
    const entry = this.held(source, stream, 'close');
    if ('code' in entry) return entry;
    this.options.flush();
    this.forget(entry);
    owned?.delete(entry);
    return { type: 'closed', stream };
  }

  /** Drops a stream from the table and frees its slot; frames still in flight for it are refused (closed). */
  private forget(entry: StreamEntry): void {
    entry.closed = true;
    releaseStream(entry);
    this.byName.delete(entry.name);
    this.byId.delete(entry.id);
  }

  /** A producer left: the streams it held stay, unheld, so it can take them over again where they stopped (until orphanTtlMs). */
  orphan(source: FrameSource, owned: Set<StreamEntry>): void {
    const now = this.options.clock.now();
    for (const entry of owned) {
      if (entry.owner !== source) continue;
      entry.owner = undefined;
      entry.orphanedAt = now;
    }
    owned.clear();
  }

  /** Snapshots streams idle longer than idleMs (at `now`, ms on the server's clock) out of the kernel, freeing their slots; how many. */
  parkIdle(now: number): number {
    let parked = 0;
    for (const entry of this.byName.values()) {
      if (entry.stream && now - entry.lastActive >= this.options.idleMs) {
        parkStream(entry);
        parked++;
      }
    }
    return parked;
  }

  /** Closes streams nobody has held for orphanTtlMs at `now` (ms on the server's clock): their slots and names are freed; how many. */
  expireOrphans(now: number): number {
    let expired = 0;
    for (const entry of [...this.byName.values()]) {
      if (entry.owner === undefined && entry.orphanedAt !== undefined && now - entry.orphanedAt >= this.options.orphanTtlMs) {
        this.forget(entry);
        expired++;
      }
    }
    if (expired > 0) this.options.log(`closed ${expired} stream${expired === 1 ? '' : 's'} nobody had held for ${Math.round(this.options.orphanTtlMs / 1000)} s`);
    return expired;
  }

  /** How many streams are open, held, parked and learning (for metrics). */
  counts(): { open: number; held: number; parked: number; learning: number } {
    let held = 0;
    let parked = 0;
    let learning = 0;
    for (const entry of this.byName.values()) {
      if (entry.owner) held++;
      if (!entry.stream) parked++;
      if (entry.learn) learning++;
    }
    return { open: this.byName.size, held, parked, learning };
  }

  /** The `streams` answer to `list`: the page of at most MAX_LISTED streams from `offset` on, in the order they were opened. */
  list(offset = 0): StreamsMessage {
    const streams: ListedStream[] = [];
    let index = 0;
    for (const entry of this.byName.values()) {
      if (index++ < offset) continue;
      if (streams.length === MAX_LISTED) break;
      streams.push(listedStream(entry));
    }
    const next = offset + streams.length;
    return { type: 'streams', streams, models: [...this.models.values()].map(listedModel), total: this.byName.size, ...(next < this.byName.size ? { next } : {}) };
  }
}

/** The target a learning stream on `model` gets by default: the model's metadata target when it names one, else the server's, else 'delta'. */
function defaultTarget(model: ServedModel['model'], serverDefault: LearningConfig['target'] | undefined): LearningConfig['target'] {
  const target = model.metadata.target;
  if (target === 'delta' || target === 'value') return target;
  if (target === 'next') return 'value'; // seqcast train's name for a next-value model
  return serverDefault ?? 'delta';
}

/** Why a stream that is not a learning stream cannot become one (opened with normalize "none"), or undefined. */
function plainCannotLearn(entry: StreamEntry, what: string): ProtocolProblem | undefined {
  if (!entry.valuesAsSent) return undefined;
  return {
    code: ErrorCode.badField,
    message: `${what}: the stream was opened with normalize "none", and a learning stream scales its inputs with its own running statistics; close it and open it again with learn: true`,
    stream: entry.name,
  };
}

// ---- slot transitions the stream layer is to own (stream/slots.ts); kept here, in one place each, until it does ----
