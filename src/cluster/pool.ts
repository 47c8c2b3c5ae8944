// The socket thread's side of `--workers N`: a StreamEngine (src/server/engine.ts) whose streams live on N worker
// threads. It routes requests and frames (one transferred buffer per worker per turn), answers with what the
// workers answer, merges their reports, and replaces a worker that dies (docs/workers.md).

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { ErrorCode } from '../protocol/codes.js';
import type { ListedStream, ProtocolProblem, StreamsMessage } from '../protocol/messages.js';
import { MAX_LISTED } from '../protocol/messages.js';
import type { EngineParts, StreamEngine } from '../server/engine.js';
import { streamsPage } from '../server/stream-reports.js';
import type { FrameSource, IncomingFrame, ScoredFrame, ServedModel, StreamEntry } from '../stream/types.js';
import { Directory, type DirectoryEntry } from './directory.js';
import { workerExecArgv } from './exec-argv.js';
import { FrameBatcher, unpackPredictions } from './frames.js';
import type { FromWorker, StreamCounts, StreamRequest, ToWorker, WorkerSetup } from './messages.js';
import { listRows } from './shard.js';
import { prepareStateDir } from './state-layout.js';
import { allNumbers, isAnswerable, localRefused, SourceIds, type Answerable } from './sources.js';
import { RemoteRequests } from './requests.js';

/** How the pool is made. */
export interface PoolOptions {
  /** Worker threads, ≥ 1. */
  workers: number;
  /** The worker's entry; default dist/cluster/worker.js (built by `npm run build`). */
  workerUrl?: URL;
}

interface Pending {
  source: Answerable;
  owned: Set<StreamEntry> | undefined;
}

/** One worker thread and what the socket thread keeps for it. */
interface WorkerHandle {
  readonly index: number;
  thread: Worker;
  batcher: FrameBatcher;
  counts: StreamCounts;
  /** Resolves once the worker has restored its folder and said it is ready. */
  ready: Promise<void>;
  /** It was ready once: if it stops now, it is replaced (one that never started is not, or it would start again and again). */
  started: boolean;
}

/** The worker entry next to this file when it runs built, else the built one (tests run src/ with dist/ built). */
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.js') ? './worker.js' : '../../dist/cluster/worker.js', import.meta.url);

const NO_COUNTS: StreamCounts = { open: 0, held: 0, parked: 0, learning: 0 };

/** Makes a server's engine of `options.workers` worker threads (ServerOptions.engine). */
export function workerPool(options: PoolOptions): (parts: EngineParts) => WorkerPool {
  return (parts) => new WorkerPool(parts, options);
}

/** Streams on worker threads. Touches only this thread's directory; every stream's state is its worker's. */
export class WorkerPool extends RemoteRequests implements StreamEngine {
  private readonly directory: Directory;
  private readonly workers: WorkerHandle[] = [];
  private readonly models: ReadonlyMap<string, ServedModel>;
  private readonly sources = new SourceIds();
  private readonly pending = new Map<number, Pending & { worker: number }>();
  private readonly waiting = new Map<number, { worker: number; done: (message: FromWorker | undefined) => void }>();
  private nextRequestId = 1;
  private flushScheduled = false;
  /** Scored batches received this turn, delivered together at its end. */
  private arrived: ScoredFrame[][] = [];
  private stopping = false;
  /** Workers replaced after dying, since the start (tests and logs). */
  restarts = 0;

  constructor(
    private readonly parts: EngineParts,
    private readonly options: PoolOptions,
  ) {
    super();
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`workers must be a positive integer, got ${options.workers}`);
    this.models = new Map(parts.models.map((m) => [m.name, m]));
    this.directory = new Directory(this.models, options.workers);
  }

  get byName(): ReadonlyMap<string, StreamEntry> {
    return this.directory.byName;
  }

  /** How many workers. */
  get size(): number {
    return this.workers.length;
  }

  /** The worker (index) a stream lives on, if it is open. */
  workerOf(stream: string): number | undefined {
    return this.directory.withName(stream)?.worker;
  }

  /** The thread of worker `index` (a test terminates it to see it replaced). */
  thread(index: number): Worker {
    return this.workers[index].thread;
  }

  withId(id: number): StreamEntry | undefined {
    return this.directory.withId(id) as unknown as StreamEntry | undefined;
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------------

  async start(): Promise<number | undefined> {
    // a folder this thread cannot write is refused as the single-thread server refuses it; another layout is moved first
    if (this.parts.stateDir !== undefined) await prepareStateDir(this.parts.stateDir, { workers: this.options.workers }, this.parts.log);
    let generation: number | undefined;
    for (let index = 0; index < this.options.workers; index++) {
      this.workers.push(this.spawn(index, (restored) => (generation = restored === undefined ? generation : Math.max(generation ?? 0, restored))));
    }
    await Promise.all(this.workers.map((w) => w.ready));
    return generation;
  }

  private spawn(index: number, restoredGeneration: (generation: number | undefined) => void = () => undefined): WorkerHandle {
    const { parts } = this;
    const workers = this.options.workers;
    const setup: WorkerSetup = {
      index,
      workers,
      models: parts.models.map(({ name, model }) => ({ name, bytes: model.toSafetensors(), batchCapacity: model.host.kernel.batchCapacity })),
      // each worker enforces its share of the server-wide limits
      table: { ...parts.table, maxStreams: Math.ceil(parts.table.maxStreams / workers), maxForecastRows: Math.ceil(parts.table.maxForecastRows / workers) },
      scorer: parts.scorer,
      stateDir: parts.stateDir === undefined ? undefined : join(parts.stateDir, `worker-${index}`),
      now: parts.now(),
    };
    const thread = new Worker(this.options.workerUrl ?? WORKER_ENTRY, { workerData: setup, execArgv: workerExecArgv() });
    let ready!: () => void;
    let failed!: (err: Error) => void;
    const handle: WorkerHandle = { index, thread, batcher: new FrameBatcher(), counts: NO_COUNTS, started: false, ready: new Promise((resolve, reject) => ((ready = resolve), (failed = reject))) };
    thread.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        for (const stream of message.restored) this.directory.place(stream, index);
        handle.counts = message.counts;
        restoredGeneration(message.generation);
        handle.started = true;
        ready();
      } else if (message.type === 'failed') failed(new Error(`worker ${index} could not start: ${message.message}`));
      else this.received(handle, message);
    });
    thread.on('error', (err) => parts.log(`worker ${index} failed: ${err.stack ?? err}`));
    thread.on('exit', (code) => {
      failed(new Error(`worker ${index} stopped (exit code ${code}) before it was ready`));
      if (!this.stopping && handle.started && this.workers[index] === handle) this.died(handle, code);
    });
    return handle;
  }

  /** A worker stopped: its producers are told, its streams leave the directory, a new worker restores its folder. */
  private died(handle: WorkerHandle, code: number): void {
    const index = handle.index;
    const state = this.parts.stateDir ? 'its state is back at the last checkpoint; open it again to take it over there' : 'its state is lost; open it again to start it afresh';
    this.parts.log(`worker ${index} stopped (exit code ${code}); starting another`);
    for (const entry of this.directory.onWorker(index)) {
      const holder = entry.holder?.source;
      if (holder && isAnswerable(holder)) holder.sendError({ code: ErrorCode.internal, message: `the worker holding stream "${entry.name}" stopped; ${state}`, stream: entry.name });
      this.directory.forget(entry);
    }
    for (const [id, request] of this.pending) {
      if (request.worker !== index) continue;
      this.pending.delete(id);
      request.source.sendError({ code: ErrorCode.internal, message: `the worker this request went to stopped before it answered; ${state}` });
    }
    for (const [id, wait] of this.waiting) if (wait.worker === index) (this.waiting.delete(id), wait.done(undefined));
    this.restarts++;
    const replacement = this.spawn(index);
    this.workers[index] = replacement;
    replacement.ready.catch((err) => this.parts.log((err as Error).message));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.flushFrames();
    await Promise.all(this.workers.map((w) => w.thread.terminate()));
  }

  async checkpoint(generation: number): Promise<void> {
    const answers = await Promise.all(this.workers.map((w) => this.ask(w.index, (id) => ({ type: 'checkpoint', id, generation }))));
    const failures = answers.map((a, index) => (a === undefined ? `worker ${index} stopped` : a.type === 'checkpointed' && a.error ? `worker ${index}: ${a.error}` : undefined)).filter((f) => f);
    if (failures.length > 0) throw new Error(`checkpoint ${generation} is not whole: ${failures.join('; ')}`);
  }

  // ---- messages -----------------------------------------------------------------------------------------------------

  private post(worker: number, message: ToWorker, transfer?: ArrayBuffer[]): void {
    this.workers[worker].thread.postMessage(message, transfer);
  }

  /** Posts a message that is answered by id; resolves with the answer, or undefined if the worker died first. */
  private ask(worker: number, message: (id: number) => ToWorker): Promise<FromWorker | undefined> {
    const id = this.nextRequestId++;
    this.flushWorker(worker);
    return new Promise((done) => {
      this.waiting.set(id, { worker, done });
      this.post(worker, message(id));
    });
  }

  private received(handle: WorkerHandle, message: FromWorker): void {
    // answers go out after the predictions that came before them: one stream's answers stay in order
    if (message.type !== 'predictions' && this.arrived.length > 0) this.deliverArrived();
    switch (message.type) {
      case 'predictions':
        return this.predictions(new Float64Array(message.buffer));
      case 'rejected': {
        const source = this.sources.withId(message.sourceId);
        if (source) this.parts.rejected({ source, streamLabel: message.streamLabel, seq: message.seq, code: message.code, message: message.message });
        return;
      }
      case 'answer':
        return this.answered(handle.index, message);
      case 'report':
        handle.counts = message.counts;
        for (const id of message.forgotten) {
          const entry = this.directory.withId(id);
          if (entry?.worker === handle.index) this.directory.forget(entry);
        }
        return;
      case 'listed':
      case 'checkpointed': {
        const wait = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        return wait?.done(message);
      }
      case 'log':
        return this.parts.log(message.line);
    }
  }

  /**
   * A batch of scored frames from a worker, back to their producers and dashboards. Delivered once this turn's
   * messages are all in (setImmediate): the batches of every worker then go out in one write per connection,
   * not one per batch (a connection flushes its queue in a microtask after each delivery).
   */
  private predictions(buffer: Float64Array): void {
    const frames = unpackPredictions(buffer, (id) => this.sources.withId(id), (id) => this.directory.withId(id) as unknown as StreamEntry | undefined);
    if (frames.length === 0) return;
    this.arrived.push(frames);
    if (this.arrived.length === 1) setImmediate(this.deliverArrived);
  }

  private readonly deliverArrived = (): void => {
    const batches = this.arrived;
    if (batches.length === 0) return; // delivered early, before an answer
    this.arrived = [];
    for (const frames of batches) this.parts.deliver({ served: frames[0].entry.served, frames });
  };

  private answered(worker: number, message: Extract<FromWorker, { type: 'answer' }>): void {
    const pending = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (!pending) return;
    const { reply } = message;
    if ('code' in reply) return pending.source.sendError(reply);
    if (reply.type === 'opened' && message.placed) {
      const entry = this.directory.place(message.placed, worker);
      entry.holder = { source: pending.source, owned: pending.owned };
      pending.owned?.add(entry as unknown as StreamEntry);
    } else if (reply.type === 'closed') {
      const entry = this.directory.withName(reply.stream);
      if (entry) this.directory.forget(entry);
    }
    pending.source.send(reply);
  }

  // ---- the stream directory's surface (src/server/engine.ts) ----------------------------------------------------

  /** Sends a request to the worker of its stream, after the frames already queued for it; answered later. */
  protected request(source: FrameSource, request: StreamRequest, owned: Set<StreamEntry> | undefined): ProtocolProblem | undefined {
    if (!isAnswerable(source)) return localRefused(request.stream);
    const worker = this.directory.workerOf(request.stream);
    const id = this.nextRequestId++;
    this.pending.set(id, { source, owned, worker });
    this.flushWorker(worker);
    this.post(worker, { type: 'request', id, source: this.sources.ref(source), request, now: this.parts.now() });
    return undefined;
  }

  list(offset = 0, source?: FrameSource): StreamsMessage | undefined {
    if (!source || !isAnswerable(source)) return undefined;
    const rows = listRows(offset);
    Promise.all(this.workers.map((w) => this.ask(w.index, (id) => ({ type: 'list', id, rows })))).then((answers) => {
      const streams: ListedStream[] = [];
      let total = 0;
      for (const answer of answers) {
        if (answer?.type !== 'listed') continue;
        streams.push(...answer.streams);
        total += answer.total;
      }
      // in the order this thread placed them (the order they were opened in, as one thread lists them); unknown ones last, by id
      const rank = (id: number) => this.directory.withId(id)?.rank ?? Number.MAX_SAFE_INTEGER;
      streams.sort((a, b) => rank(a.id) - rank(b.id) || a.id - b.id);
      const page = streams.slice(offset, offset + MAX_LISTED);
      source.send(streamsPage(page, offset, total, this.models.values(), this.parts.table.detection, source));
    });
    return undefined;
  }

  orphan(source: FrameSource, owned: Set<StreamEntry>, address?: string): void {
    const id = this.sources.known(source);
    this.directory.released(owned);
    owned.clear();
    if (id === undefined) return;
    const ref = this.sources.ref(source);
    for (const w of this.workers) {
      this.flushWorker(w.index);
      this.post(w.index, { type: 'orphan', source: ref, address, now: this.parts.now() });
    }
    this.sources.forget(source);
  }

  /** Asks every worker to park its idle streams and close its expired orphans (they report what they closed). */
  parkIdle(now: number): number {
    for (const w of this.workers) this.post(w.index, { type: 'tick', now });
    return 0;
  }

  /** Done by parkIdle's tick, on the workers. */
  expireOrphans(): number {
    return 0;
  }

  /** The workers' counts as last reported (a report follows a tick, an orphan, or this call: one metrics interval late). */
  counts(): StreamCounts {
    for (const w of this.workers) this.post(w.index, { type: 'count' });
    const sum = { ...NO_COUNTS };
    for (const w of this.workers) for (const key of Object.keys(sum) as (keyof StreamCounts)[]) sum[key] += w.counts[key];
    return sum;
  }

  // ---- frames ---------------------------------------------------------------------------------------------------

  /** Routes a frame to its stream's worker, packed into that worker's batch of this turn. */
  frame(frame: IncomingFrame): void {
    const { source } = frame;
    if (!isAnswerable(source)) return this.parts.rejected({ source, streamLabel: frame.streamLabel, seq: frame.seq, code: ErrorCode.internal, message: localRefused(frame.streamLabel).message });
    const sourceId = this.sources.id(source);
    const entry = frame.entry as unknown as DirectoryEntry | undefined;
    const worker = entry?.worker ?? this.directory.workerOf(frame.streamLabel);
    const batcher = this.workers[worker].batcher;
    // a producer that gives no t gets the time its message arrived (as validateFrames would give it, in this thread's time)
    const t = frame.t ?? performance.timeOrigin + frame.receivedAt;
    // what packs: a known stream's frame with a numeric seq, and a token (token models) or values that are all numbers
    const values = entry?.served.model.isTokenModel ? (typeof frame.token === 'number' ? frame.token : undefined) : allNumbers(frame.values) ? frame.values : undefined;
    if (entry && typeof frame.seq === 'number' && values !== undefined) {
      batcher.pack({ sourceId, streamId: entry.id, label: frame.binary ? undefined : frame.streamLabel, seq: frame.seq, t, receivedAt: frame.receivedAt, values, binary: frame.binary === true });
    } else {
      batcher.add({ sourceId, streamLabel: frame.streamLabel, seq: frame.seq, t, values: frame.values, token: frame.token, receivedAt: frame.receivedAt, binary: frame.binary === true });
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushFrames());
    }
  }

  /** Sends every worker its batch of this turn. */
  private flushFrames(): void {
    this.flushScheduled = false;
    for (const w of this.workers) this.flushWorker(w.index);
  }

  private flushWorker(index: number): void {
    const batcher = this.workers[index].batcher;
    if (batcher.size === 0) return;
    const message = batcher.take();
    this.post(index, message, [message.buffer]);
  }
}
