// The server's stream table: every open stream by name and by binary id; open, configure, reset, close, park, expire and list.

import { ErrorCode } from '../protocol/codes.js';
import { MAX_LISTED, type ClosedMessage, type ConfigureMessage, type ConfiguredMessage, type DetectionReport, type LearningRequest, type ListedStream, type OpenedMessage, type OpenMessage, type ProtocolProblem, type ResetMessage, type StreamsMessage } from '../protocol/messages.js';
import { OnlineNormalizer } from '../stream/online-normalizer.js';
import { ErrorScorer, type ScorerOptions } from '../stream/error-scorer.js';
import { parkStream, releaseStream, resetEntry, setEntryLearning } from '../stream/slots.js';
import type { FrameSource, LearningConfig, ServedModel, StreamEntry } from '../stream/types.js';
import type { Clock } from './clock.js';
import { Orphans } from './orphans.js';
import { refuseChange, refuseOpen } from './roles.js';
import { cannotForecast, cannotLearn, defaultTarget, plainCannotLearn, streamEntry } from './stream-entry.js';
import { listedStream, openedMessage, streamsPage } from './stream-reports.js';

export { cannotLearn, streamEntry, type StreamEntryFields } from './stream-entry.js';

/** The limits and defaults the table applies (the server's options, resolved). */
export interface StreamTableOptions {
  maxStreamsPerConnection: number;
  maxStreams: number;
  /** Streams one connection leaves orphaned when it goes (the most recently active are kept). */
  maxOrphansPerConnection: number;
  /** Orphaned streams the connections of one client address may leave in all (the oldest are closed first). */
  maxOrphansPerAddress: number;
  /** A stream idle this long (ms) is parked. */
  idleMs: number;
  /** A stream nobody holds is closed after this long (ms). */
  orphanTtlMs: number;
  /** Learning streams' defaults; `target` undefined: the model's metadata target, else 'delta'. */
  learning: { every: number; window: number; target: LearningConfig['target'] | undefined };
  /** The most forecast rows the server computes per frame of all its streams: the sum of their horizons. */
  maxForecastRows: number;
  scorer: ScorerOptions | undefined;
  /** The detection profile and threshold `list` tells dashboards. */
  detection: DetectionReport;
  clock: Clock;
  /** Steps the frames already received, so that a change (configure, reset, close) applies after them. */
  flush: () => void;
  log: (line: string) => void;
  /** Binary ids handed out: first, first + step, …; default 1, 2, … (worker k of N hands out k+1, k+1+N, …: src/cluster/). */
  streamIds?: { first: number; step: number };
}

/** Every stream the server holds. Its methods touch the entries and, through stream/slots.ts, their kernel slots. */
export class StreamTable {
  /** Open streams by name. */
  readonly byName = new Map<string, StreamEntry>();
  private readonly byId = new Map<number, StreamEntry>();
  private readonly orphans = new Orphans();
  /** The sum of every stream's horizon (kept at most maxForecastRows). */
  private forecastRows = 0;
  /** Streams evicted this turn, by reason, for one log line each. */
  private readonly evicted = new Map<string, number>();
  private evictionLogScheduled = false;
  private nextStreamId: number;
  private readonly streamIdStep: number;

  constructor(
    readonly models: ReadonlyMap<string, ServedModel>,
    readonly defaultModel: ServedModel,
    private readonly options: StreamTableOptions,
  ) {
    this.nextStreamId = options.streamIds?.first ?? 1;
    this.streamIdStep = options.streamIds?.step ?? 1;
  }

  /** The stream a binary frame's id names, if it is open. */
  withId(id: number): StreamEntry | undefined {
    return this.byId.get(id);
  }

  /** Adds an entry built elsewhere (restore): binary ids handed out later stay above its id. */
  add(entry: StreamEntry): void {
    this.byName.set(entry.name, entry);
    this.byId.set(entry.id, entry);
    if (entry.owner === undefined) this.orphans.add(entry);
    this.forecastRows += entry.horizon;
    if (entry.id >= this.nextStreamId) this.nextStreamId += (Math.floor((entry.id - this.nextStreamId) / this.streamIdStep) + 1) * this.streamIdStep;
  }

  /** Opens (or takes over) a stream for `source`; the `opened` answer, or what is wrong. `owned` is the source's set of held streams. */
  open(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem {
    const problem = (code: string, message: string): ProtocolProblem => ({ code, message, stream: request.stream });
    const refused = refuseOpen(source, request.stream, request.learn === true);
    if (refused) return refused;
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
    if (this.byName.size >= this.options.maxStreams && this.orphans.size === 0) {
      return problem(ErrorCode.tooManyStreams, `${what}: the server already holds ${this.byName.size} streams, the most allowed`);
    }
    // everything checked: a full table makes room by closing the stream longest without a producer
    if (this.byName.size >= this.options.maxStreams) this.evict(this.orphans.oldest()!, 'the server is full');
    const budget = this.forecastBudget(undefined, request.stream, request.horizon, what);
    if (budget) return budget;
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
    const budget = this.forecastBudget(existing, request.stream, request.horizon, what);
    if (budget) return budget;
    if (existing.owner !== source && owned && owned.size >= this.options.maxStreamsPerConnection) {
      return problem(ErrorCode.tooManyStreams, `${what}: this connection already holds ${owned.size} streams, the most allowed`);
    }
    // everything checked: a refused open has changed nothing
    if (existing.owner !== source) {
      existing.owner = source;
      existing.orphanedAt = undefined;
      this.orphans.delete(existing);
      owned?.add(existing);
    }
    if (request.horizon !== undefined) this.setHorizon(existing, request.horizon);
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
   * Changes a stream's learning or horizon for `source`, after the frames already received; the `configured` answer,
   * or what is wrong. The producer holding the stream may, and so may a connection with the control role (a
   * dashboard's controls; roles.ts).
   */
  configure(source: FrameSource, request: ConfigureMessage): ConfiguredMessage | ProtocolProblem {
    const entry = this.byName.get(request.stream);
    if (!entry || entry.closed) return { code: ErrorCode.unknownStream, message: `configure "${request.stream}": no such stream is open`, stream: request.stream };
    const what = `configure "${request.stream}"`;
    const refused = refuseChange(source, entry, what, request.learn === true);
    if (refused) return refused;
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
    const budget = this.forecastBudget(entry, request.stream, request.horizon, what);
    if (budget) return budget;
    // everything checked: apply after the frames received before this message
    this.options.flush();
    if (request.horizon !== undefined) this.setHorizon(entry, request.horizon);
    if (request.learn !== undefined) setEntryLearning(entry, request.learn, learning);
    return { type: 'configured', stream: entry.name, horizon: entry.horizon, learn: entry.learn, learning: entry.learning ?? null, lastSeq: entry.lastSeq };
  }

  /** Looks up a stream `source` holds, for close. */
  private held(source: FrameSource, stream: string, op: string): StreamEntry | ProtocolProblem {
    const entry = this.byName.get(stream);
    if (!entry || entry.owner !== source) {
      const code = entry?.owner ? ErrorCode.streamBusy : ErrorCode.unknownStream;
      return { code, message: `${op} "${stream}": ${entry?.owner ? 'the stream is held by another producer' : 'no such stream is open on this connection'}`, stream };
    }
    return entry;
  }

  /**
   * Zeroes a stream's state, statistics and scores (its seq stays monotonic) for `source`, after the frames already
   * received: the producer holding it may, and a connection with the control role (roles.ts). A learning stream's
   * learner starts afresh (history, running statistics); what the model has learned stays.
   */
  reset(source: FrameSource, stream: string): ResetMessage | ProtocolProblem {
    const entry = this.byName.get(stream);
    if (!entry || entry.closed) return { code: ErrorCode.unknownStream, message: `reset "${stream}": no such stream is open`, stream };
    const refused = refuseChange(source, entry, `reset "${stream}"`, false);
    if (refused) return refused;
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
    this.orphans.delete(entry);
    this.forecastRows -= entry.horizon;
    entry.closed = true;
    releaseStream(entry);
    this.byName.delete(entry.name);
    this.byId.delete(entry.id);
  }

  /**
   * A producer (from client `address`) left: the streams it held stay, unheld, so it can take them over again where
   * they stopped (until orphanTtlMs). It leaves at most maxOrphansPerConnection (its most recently active ones), and
   * its address at most maxOrphansPerAddress in all: beyond those the oldest orphans are closed first.
   */
  orphan(source: FrameSource, owned: Set<StreamEntry>, address?: string): void {
    const now = this.options.clock.now();
    const left = [...owned].filter((entry) => entry.owner === source).sort((a, b) => a.lastActive - b.lastActive);
    owned.clear();
    const excess = left.length - this.options.maxOrphansPerConnection;
    for (const [i, entry] of left.entries()) {
      if (i < excess) {
        this.evict(entry, `its connection left more than ${this.options.maxOrphansPerConnection} streams`);
        continue;
      }
      entry.owner = undefined;
      entry.orphanedAt = now;
      this.orphans.add(entry, address);
    }
    if (address === undefined) return;
    while (this.orphans.countOf(address) > this.options.maxOrphansPerAddress) {
      this.evict(this.orphans.oldest(address)!, `the connections of ${address} left more than ${this.options.maxOrphansPerAddress} streams`);
    }
  }

  /** Why a horizon of `horizon` (for `entry`, or a new stream) would pass the server's forecast budget, or undefined. */
  private forecastBudget(entry: StreamEntry | undefined, stream: string, horizon: number | undefined, what: string): ProtocolProblem | undefined {
    if (horizon === undefined) return undefined;
    const rows = this.forecastRows - (entry?.horizon ?? 0) + horizon;
    if (rows <= this.options.maxForecastRows) return undefined;
    return {
      code: ErrorCode.forecastBudget,
      message: `${what}: horizon ${horizon} would make the server forecast ${rows} rows per frame of all its streams, past its budget of ${this.options.maxForecastRows} (--max-forecast-rows); ask for a smaller horizon`,
      stream,
    };
  }

  /** Sets a stream's horizon (checked against the budget), keeping the sum. */
  private setHorizon(entry: StreamEntry, horizon: number): void {
    this.forecastRows += horizon - entry.horizon;
    entry.horizon = horizon;
  }

  /** Closes an orphan (or a stream being orphaned) to keep within a bound; says so in the log, once per reason and turn. */
  private evict(entry: StreamEntry, why: string): void {
    this.forget(entry);
    this.evicted.set(why, (this.evicted.get(why) ?? 0) + 1);
    if (this.evicted.size === 1 && !this.evictionLogScheduled) {
      this.evictionLogScheduled = true;
      queueMicrotask(() => {
        for (const [reason, count] of this.evicted) this.options.log(`closed ${count} stream${count === 1 ? '' : 's'} nobody held (the oldest first): ${reason}`);
        this.evicted.clear();
        this.evictionLogScheduled = false;
      });
    }
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

  /** The `streams` answer to `list` for `source`: the page of at most MAX_LISTED streams from `offset` on, in the order they were opened. */
  list(offset = 0, source?: FrameSource): StreamsMessage {
    const streams: ListedStream[] = [];
    let index = 0;
    for (const entry of this.byName.values()) {
      if (index++ < offset) continue;
      if (streams.length === MAX_LISTED) break;
      streams.push(listedStream(entry));
    }
    return streamsPage(streams, offset, this.byName.size, this.models.values(), this.options.detection, source);
  }
}
