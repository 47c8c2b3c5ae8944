// One worker's share of the streams: a stream table and the stream pipeline, driven by messages (messages.ts) and
// answering by messages. It runs inside a worker thread (worker.ts), or in this thread for a test.

import { Subject } from 'rxjs';
import { MAX_LISTED } from '../protocol/messages.js';
import { recordCheckpoint, restoreCheckpoint } from '../server/checkpoint.js';
import type { Clock } from '../server/clock.js';
import type { Role } from '../server/roles.js';
import { listedStream } from '../server/stream-reports.js';
import { StreamTable } from '../server/streams.js';
import { streamPipeline } from '../stream/pipeline.js';
import type { FrameSource, IncomingFrame, Rejection, ScoredBatch, ServedModel, StreamEntry } from '../stream/types.js';
import { packPredictions, readFrames, type FrameBatchMessage } from './frames.js';
import type { FromWorker, PlacedStream, SourceRef, StreamCounts, ToWorker, WorkerSetup } from './messages.js';

/** A frame source as a worker holds it: the stand-in of a socket-thread source, one object per id (ownership compares them). */
interface ShardSource extends FrameSource {
  readonly id: number;
  role?: Role;
}

/** Sends a message to the socket thread, transferring `transfer`. */
export type Post = (message: FromWorker, transfer?: ArrayBuffer[]) => void;

/** A worker's streams: touches its stream table, its models' kernel slots and weights, and nothing else. */
export class Shard {
  private readonly table: StreamTable;
  private readonly models: Map<string, ServedModel>;
  private readonly sources = new Map<number, ShardSource>();
  private readonly owned = new Map<number, Set<StreamEntry>>();
  /** Streams the socket thread was told of, by id: those closed since are reported as forgotten. */
  private readonly known = new Map<number, StreamEntry>();
  private readonly frames$ = new Subject<IncomingFrame>();
  private readonly flushes$ = new Subject<void>();
  /** The socket thread's clock minus this one's, ms: the worker's clock follows the server's (a test's included). */
  private skew: number;
  private readonly clock: Clock;

  constructor(
    served: readonly ServedModel[],
    private readonly setup: Omit<WorkerSetup, 'models'>,
    private readonly post: Post,
  ) {
    this.models = new Map(served.map((m) => [m.name, m]));
    this.skew = setup.now - Date.now();
    this.clock = { now: () => Date.now() + this.skew, every: () => () => undefined };
    this.table = new StreamTable(this.models, served[0], {
      ...setup.table,
      scorer: setup.scorer,
      clock: this.clock,
      flush: () => this.flushes$.next(),
      log: (line) => this.log(line),
      streamIds: { first: setup.index + 1, step: setup.workers },
    });
    this.frames$.pipe(streamPipeline({ reject: (r) => this.rejected(r), flushes: this.flushes$, now: () => this.clock.now() })).subscribe({
      next: (batch) => this.deliver(batch),
      // the pipeline isolates its stages' failures; one that still escapes ends this worker, which the pool replaces
      error: (err) => {
        throw err;
      },
    });
  }

  /** The streams this shard holds (a cluster worker records who holds each with its checkpoints: src/cluster/nats/). */
  get streams(): Iterable<StreamEntry> {
    return this.table.byName.values();
  }

  /** Restores this worker's checkpoint folder (if any), then says it is ready with the streams it brought back. */
  async start(): Promise<void> {
    let restored: PlacedStream[] = [];
    let generation: number | undefined;
    if (this.setup.stateDir) {
      const state = await restoreCheckpoint(this.setup.stateDir, this.models, this.clock.now(), (line) => this.log(line));
      if (state) {
        generation = state.generation;
        for (const entry of state.streams) {
          this.table.add(entry);
          this.known.set(entry.id, entry);
        }
        restored = state.streams.map(placed);
      }
    }
    this.post({ type: 'ready', restored, generation, counts: this.counts() });
  }

  /** Handles one message of the socket thread. */
  handle(message: ToWorker): void {
    if ('now' in message) this.skew = message.now - Date.now();
    switch (message.type) {
      case 'frames':
        return this.receivedFrames(message);
      case 'request':
        return this.request(message.id, this.source(message.source), message.request);
      case 'orphan': {
        const source = this.source(message.source);
        this.table.orphan(source, this.ownedBy(source), message.address);
        this.owned.delete(source.id);
        this.sources.delete(source.id);
        return this.report();
      }
      case 'tick':
        this.table.parkIdle(message.now);
        this.table.expireOrphans(message.now);
        return this.report();
      case 'count':
        return this.report();
      case 'list': {
        const streams = [];
        for (const entry of this.table.byName.values()) {
          if (streams.length === message.rows) break;
          streams.push(listedStream(entry));
        }
        return this.post({ type: 'listed', id: message.id, streams, total: this.table.byName.size });
      }
      case 'checkpoint':
        this.flushes$.next();
        recordCheckpoint(this.setup.stateDir!, message.generation, this.models.values(), this.table.byName.values(), (line) => this.log(line)).then(
          () => this.post({ type: 'checkpointed', id: message.id }),
          (err) => this.post({ type: 'checkpointed', id: message.id, error: (err as Error).message }),
        );
        return;
    }
  }

  private request(id: number, source: ShardSource, request: Extract<ToWorker, { type: 'request' }>['request']): void {
    const owned = this.ownedBy(source);
    const reply =
      request.type === 'open'
        ? this.table.open(source, request, owned)
        : request.type === 'configure'
          ? this.table.configure(source, request)
          : request.type === 'reset'
            ? this.table.reset(source, request.stream)
            : this.table.close(source, request.stream, owned);
    if ('type' in reply && reply.type === 'opened') {
      const entry = this.table.byName.get(reply.stream)!;
      this.known.set(entry.id, entry);
      this.post({ type: 'answer', id, reply, placed: placed(entry) });
    } else this.post({ type: 'answer', id, reply });
    // the counts changed (opened, closed, learning on or off): the socket thread's metrics see it at once
    this.report();
  }

  /** Every frame of a turn's batch into the pipeline, in order, each as dispatch would have built it. */
  private receivedFrames(message: FrameBatchMessage): void {
    readFrames(message, (frame) => {
      const source = this.source({ id: frame.sourceId, label: `source ${frame.sourceId}`, role: undefined }, false);
      if (frame.packed) {
        const entry = frame.streamId !== undefined ? this.table.withId(frame.streamId) : this.table.byName.get(frame.label!);
        this.frames$.next({
          source,
          streamLabel: frame.label ?? entry?.name ?? `#${frame.streamId}`,
          entry,
          seq: frame.seq,
          t: frame.t,
          values: frame.values,
          token: frame.token,
          receivedAt: frame.receivedAt,
          binary: frame.binary,
          ownedValues: frame.binary,
        });
      } else {
        const { streamLabel, seq, t, values, token, receivedAt, binary } = frame;
        this.frames$.next({ source, streamLabel, entry: this.table.byName.get(streamLabel), seq, t, values, token, receivedAt, binary, ownedValues: false });
      }
    });
  }

  private deliver(batch: ScoredBatch): void {
    const packed = packPredictions(batch.frames, (f) => (f.source as ShardSource).id, (f) => f.entry.id);
    this.post({ type: 'predictions', buffer: packed.buffer as ArrayBuffer }, [packed.buffer as ArrayBuffer]);
  }

  private rejected(rejection: Rejection): void {
    const { source, streamLabel, seq, code, message } = rejection;
    this.post({ type: 'rejected', sourceId: (source as ShardSource).id, streamLabel, seq: typeof seq === 'object' ? undefined : seq, code, message });
  }

  /** The stand-in of socket-thread source `ref` (a request's ref updates its label and role; a frame's does not). */
  private source(ref: SourceRef, fromRequest = true): ShardSource {
    let source = this.sources.get(ref.id);
    if (!source) {
      source = ref.role === undefined ? { id: ref.id, label: ref.label } : { id: ref.id, label: ref.label, role: ref.role };
      // a frame from a source no request introduced cannot hold a stream here: it is refused, and is not kept
      if (fromRequest) this.sources.set(ref.id, source);
    }
    return source;
  }

  private ownedBy(source: ShardSource): Set<StreamEntry> {
    let owned = this.owned.get(source.id);
    if (!owned) this.owned.set(source.id, (owned = new Set()));
    return owned;
  }

  /** Counts, and the streams closed since the last report (expired, evicted): the socket thread's directory drops them. */
  private report(): void {
    const forgotten: number[] = [];
    for (const [id, entry] of this.known) {
      if (entry.closed) {
        forgotten.push(id);
        this.known.delete(id);
      }
    }
    this.post({ type: 'report', counts: this.counts(), forgotten });
  }

  private counts(): StreamCounts {
    return this.table.counts();
  }

  private log(line: string): void {
    this.post({ type: 'log', line: `worker ${this.setup.index}: ${line}` });
  }
}

function placed(entry: StreamEntry): PlacedStream {
  return { name: entry.name, id: entry.id, model: entry.served.name };
}

/** The rows a list page from `offset` needs of each worker: its first offset + MAX_LISTED. */
export function listRows(offset: number): number {
  return offset + MAX_LISTED;
}
