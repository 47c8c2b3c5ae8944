// `seqcast serve --nats URL`: the WebSocket front end's StreamEngine (src/server/engine.ts) when the streams live on
// cluster workers. It publishes every stream-changing message to JetStream (acked), relays answers, predictions
// and errors from core NATS to its connections, each once (docs/cluster.md "Delivery guarantees").

import { performance } from 'node:perf_hooks';
import { createInbox, nuid, type Subscription } from 'nats';
import { ErrorCode } from '../../protocol/codes.js';
import type { ListedStream, ProtocolProblem, StreamsMessage } from '../../protocol/messages.js';
import { MAX_LISTED } from '../../protocol/messages.js';
import type { EngineParts, StreamEngine } from '../../server/engine.js';
import type { HasRole } from '../../server/roles.js';
import { streamsPage } from '../../server/stream-reports.js';
import type { FrameSource, IncomingFrame, ScoredFrame, ServedModel, StreamEntry } from '../../stream/types.js';
import { Directory, type DirectoryEntry } from '../directory.js';
import { unpackPredictions } from '../frames.js';
import type { StreamCounts, StreamRequest } from '../messages.js';
import { listRows } from '../shard.js';
import { isAnswerable, localRefused, type Answerable } from '../sources.js';
import { joinCluster, type Cluster } from './connect.js';
import type { WireAnswer, WireError } from './partition.js';
import { answersSubject, controlSubject, framesSubject, LIST_SUBJECT, parseSourceKey, partitionOf, predictionsSubject, REPORTS_SUBJECT, sourceKey } from './subjects.js';
import { encodeWire, type WireMessage } from './wire.js';
import type { WorkerReport } from './worker-node.js';
import { RemoteRequests } from '../requests.js';

/** How a front end joins its cluster. */
export interface NatsEngineOptions {
  url: string;
  /** The cluster's partition count, if the front end is told one (it must agree). */
  partitions?: number;
  /** How long `list` waits for the workers' answers at most, ms. */
  listWaitMs?: number;
}

interface Pending {
  source: Answerable;
  owned: Set<StreamEntry> | undefined;
}

const NO_COUNTS: StreamCounts = { open: 0, held: 0, parked: 0, learning: 0 };
/** A worker whose last report is older than this is left out of counts and list, ms. */
const REPORT_FRESH_MS = 10_000;

/** Makes a server's engine that serves its streams through the cluster at `options.url` (ServerOptions.engine). */
export function natsEngine(options: NatsEngineOptions): (parts: EngineParts) => NatsFrontEngine {
  return (parts) => new NatsFrontEngine(parts, options);
}

/** A front end's view of the cluster: its connections' streams, by name and id, with their partition. */
export class NatsFrontEngine extends RemoteRequests implements StreamEngine {
  /** This front end's id: its connections' source keys start with it. */
  readonly front = nuid.next();
  private cluster!: Cluster;
  private readonly directory: Directory;
  private readonly models: ReadonlyMap<string, ServedModel>;
  private readonly sourceIds = new WeakMap<FrameSource, number>();
  private readonly sources = new Map<number, FrameSource>();
  private nextSourceId = 1;
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  /** Per stream, the highest seq whose prediction was relayed; per partition, the highest sequence of a relayed error. */
  private readonly relayedSeq = new Map<string, number>();
  private readonly relayedError = new Map<number, number>();
  private readonly reports = new Map<string, { report: WorkerReport; at: number }>();
  private readonly subscriptions: Subscription[] = [];
  /** Frames published and not yet acked (a bench reads it). */
  unacked = 0;

  constructor(
    private readonly parts: EngineParts,
    private readonly options: NatsEngineOptions,
  ) {
    super();
    this.models = new Map(parts.models.map((m) => [m.name, m]));
    this.directory = new Directory(this.models, 1);
  }

  get byName(): ReadonlyMap<string, StreamEntry> {
    return this.directory.byName;
  }

  withId(id: number): StreamEntry | undefined {
    return this.directory.withId(id) as unknown as StreamEntry | undefined;
  }

  /** The cluster's partition count (once started). */
  get partitions(): number {
    return this.cluster.partitions;
  }

  /** The workers' last reports that are fresh: who is alive and which partitions each holds. */
  workers(): WorkerReport[] {
    const now = Date.now();
    return [...this.reports.values()].filter(({ at }) => now - at <= REPORT_FRESH_MS).map(({ report }) => report);
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------------

  async start(): Promise<number | undefined> {
    this.cluster = await joinCluster(this.options.url, this.options.partitions, `seqcast front end ${this.front}`);
    const { nc } = this.cluster;
    const on = (subject: string, handle: (data: Uint8Array) => void) =>
      this.subscriptions.push(
        nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err) return this.parts.log(`NATS subscription ${subject}: ${err.message}`);
            try {
              handle(msg.data);
            } catch (failure) {
              this.parts.log(`a message on ${msg.subject} could not be relayed: ${(failure as Error).stack ?? failure}`);
            }
          },
        }),
      );
    on(answersSubject(this.front), (data) => this.answered(JSON.parse(new TextDecoder().decode(data)) as WireAnswer));
    on(predictionsSubject(this.front), (data) => this.predictions(data));
    on('seqcast.errors.>', (data) => this.refused(JSON.parse(new TextDecoder().decode(data)) as WireError));
    on(REPORTS_SUBJECT, (data) => {
      const report = JSON.parse(new TextDecoder().decode(data)) as WorkerReport;
      this.reports.set(report.worker, { report, at: Date.now() });
    });
    await nc.flush();
    return undefined;
  }

  /** Workers checkpoint their partitions themselves (`seqcast worker --checkpoint-every`). */
  async checkpoint(): Promise<void> {}

  async stop(): Promise<void> {
    for (const sub of this.subscriptions) sub.unsubscribe();
    await this.cluster?.nc.drain();
  }

  // ---- publishing -----------------------------------------------------------------------------------------------

  private publish(partition: number, stream: string | undefined, message: WireMessage): Promise<unknown> {
    const subject = stream === undefined ? controlSubject(partition) : framesSubject(partition, stream);
    return this.cluster.js.publish(subject, encodeWire(message));
  }

  /** Publishes a frame for its stream's partition; a publish JetStream did not ack is answered with an error. */
  frame(frame: IncomingFrame): void {
    const { source } = frame;
    if (!isAnswerable(source)) return this.parts.rejected({ source, streamLabel: frame.streamLabel, seq: frame.seq, code: ErrorCode.internal, message: localRefused(frame.streamLabel).message });
    const entry = frame.entry as unknown as DirectoryEntry | undefined;
    const stream = entry?.name ?? frame.streamLabel;
    // a producer that gives no t gets the time its message arrived, written into the frame: a replay computes the same
    const t = frame.t ?? performance.timeOrigin + frame.receivedAt;
    const values = ArrayBuffer.isView(frame.values) ? Array.from(frame.values as unknown as ArrayLike<number>) : frame.values;
    const message: WireMessage = { kind: 'frame', source: this.sourceKeyOf(source), frame: { type: 'frame', stream, seq: frame.seq, t, values, token: frame.token }, binary: frame.binary === true, at: frame.receivedAt };
    this.unacked++;
    this.publish(partitionOf(stream, this.cluster.partitions), stream, message).then(
      () => this.unacked--,
      (err) => {
        this.unacked--;
        this.parts.rejected({ source, streamLabel: stream, seq: frame.seq, code: ErrorCode.internal, message: `frame of "${stream}" was not stored in JetStream (${(err as Error).message}); send it again` });
      },
    );
  }

  /** Publishes a request in its stream's order; its worker answers on this front end's answers subject. */
  protected request(source: FrameSource, request: StreamRequest, owned: Set<StreamEntry> | undefined): ProtocolProblem | undefined {
    if (!isAnswerable(source)) return localRefused(request.stream);
    const id = this.nextRequestId++;
    this.pending.set(id, { source, owned });
    const message: WireMessage = { kind: 'request', source: this.sourceKeyOf(source), label: source.label, role: (source as Partial<HasRole>).role, id, request };
    this.publish(partitionOf(request.stream, this.cluster.partitions), request.stream, message).catch((err) => {
      if (!this.pending.delete(id)) return;
      source.sendError({ code: ErrorCode.internal, message: `${request.type} "${request.stream}" was not stored in JetStream (${(err as Error).message}); send it again`, stream: request.stream });
    });
    return undefined;
  }

  orphan(source: FrameSource, owned: Set<StreamEntry>, address?: string): void {
    const id = this.sourceIds.get(source);
    const partitions = new Set([...owned].map((entry) => partitionOf(entry.name, this.cluster.partitions)));
    this.directory.released(owned);
    owned.clear();
    if (id === undefined) return;
    for (const p of partitions) void this.publish(p, undefined, { kind: 'orphan', source: sourceKey(this.front, id), address }).catch((err) => this.parts.log(`orphan of ${source.label} not published: ${(err as Error).message}`));
    this.sources.delete(id);
    this.sourceIds.delete(source);
  }

  /** Done by the workers, on their own timers. */
  parkIdle(): number {
    return 0;
  }

  expireOrphans(): number {
    return 0;
  }

  /** The workers' counts as last reported. */
  counts(): StreamCounts {
    const sum = { ...NO_COUNTS };
    const now = Date.now();
    for (const { report, at } of this.reports.values()) {
      if (now - at > REPORT_FRESH_MS) continue;
      for (const key of Object.keys(sum) as (keyof StreamCounts)[]) sum[key] += report.counts[key];
    }
    return sum;
  }

  /** Asks every worker for its streams (each naming its worker), and answers one page of them sorted by id. */
  list(offset = 0, source?: FrameSource): StreamsMessage | undefined {
    if (!source || !isAnswerable(source)) return undefined;
    const { nc } = this.cluster;
    const live = this.workers().length;
    const inbox = createInbox();
    const streams: ListedStream[] = [];
    let total = 0;
    let answers = 0;
    let timer: NodeJS.Timeout | undefined;
    const answer = () => {
      clearTimeout(timer);
      sub.unsubscribe();
      streams.sort((a, b) => a.id - b.id);
      const page = streams.slice(offset, offset + MAX_LISTED);
      source.send(streamsPage(page, offset, total, this.models.values(), this.parts.table.detection, source));
    };
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err) return;
        const part = JSON.parse(msg.string()) as { streams: ListedStream[]; total: number };
        streams.push(...part.streams);
        total += part.total;
        if (++answers >= live) answer();
      },
    });
    timer = setTimeout(answer, this.options.listWaitMs ?? 1000);
    nc.publish(LIST_SUBJECT, new TextEncoder().encode(String(listRows(offset))), { reply: inbox });
    return undefined;
  }

  // ---- what comes back ------------------------------------------------------------------------------------------

  private answered(answer: WireAnswer): void {
    const pending = this.pending.get(answer.id);
    // answered already (a new owner replays the requests after its partition's last checkpoint)
    if (!pending) return;
    this.pending.delete(answer.id);
    const { reply } = answer;
    if ('code' in reply) return pending.source.sendError(reply);
    if (reply.type === 'opened' && answer.placed) {
      const entry = this.directory.place(answer.placed, answer.partition);
      entry.holder = { source: pending.source, owned: pending.owned };
      pending.owned?.add(entry as unknown as StreamEntry);
      // a stream opened afresh (after a close or an expiry) starts its seqs again
      const relayed = this.relayedSeq.get(reply.stream);
      if (relayed !== undefined && reply.lastSeq < relayed) this.relayedSeq.set(reply.stream, reply.lastSeq);
    } else if (reply.type === 'closed') {
      const entry = this.directory.withName(reply.stream);
      if (entry) this.directory.forget(entry);
      this.relayedSeq.delete(reply.stream);
    }
    pending.source.send(reply);
  }

  /** A batch of scored frames, each relayed once (a replay's are dropped: their seq was relayed before). */
  private predictions(data: Uint8Array): void {
    const copy = new Float64Array(data.byteLength / 8);
    new Uint8Array(copy.buffer).set(data);
    const frames: ScoredFrame[] = [];
    const unpacked = unpackPredictions(copy, (id) => this.sources.get(id), (id) => this.directory.withId(id) as unknown as StreamEntry | undefined);
    for (const frame of unpacked) {
      const relayed = this.relayedSeq.get(frame.entry.name);
      if (relayed !== undefined && frame.seq <= relayed) continue;
      this.relayedSeq.set(frame.entry.name, frame.seq);
      frames.push(frame);
    }
    if (frames.length > 0) this.parts.deliver({ served: frames[0].entry.served, frames });
  }

  /** A refused frame of one of this front end's connections, relayed once. */
  private refused(error: WireError): void {
    const key = error.source === undefined ? undefined : parseSourceKey(error.source);
    if (!key || key.front !== this.front) return;
    if (error.js <= (this.relayedError.get(error.partition) ?? 0)) return;
    this.relayedError.set(error.partition, error.js);
    const source = this.sources.get(key.id);
    if (source) this.parts.rejected({ source, streamLabel: error.stream ?? '', seq: error.seq, code: error.code, message: error.message });
  }

  private sourceKeyOf(source: FrameSource): string {
    let id = this.sourceIds.get(source);
    if (id === undefined) {
      id = this.nextSourceId++;
      this.sourceIds.set(source, id);
      this.sources.set(id, source);
    }
    return sourceKey(this.front, id);
  }
}
