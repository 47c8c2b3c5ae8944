// One partition held by this worker: a Shard (the `--workers N` worker's code) fed from the partition's JetStream
// subjects in stream order, answering on core NATS, and checkpointed into KV + the object store (state-store.ts).

import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeliverPolicy, type ConsumerMessages, type JsMsg } from 'nats';
import { loadModel } from '../../api/model.js';
import { ErrorCode } from '../../protocol/codes.js';
import { checkMessage } from '../../protocol/json.js';
import type { ListedStream, OpenMessage, ProtocolProblem } from '../../protocol/messages.js';
import type { EngineParts } from '../../server/engine.js';
import type { Role } from '../../server/roles.js';
import type { ScorerOptions } from '../../stream/error-scorer.js';
import type { ServedModel } from '../../stream/types.js';
import { FrameBatcher, regroupPredictions } from '../frames.js';
import type { FromWorker, SourceRef, StreamCounts } from '../messages.js';
import { Shard } from '../shard.js';
import type { Cluster } from './connect.js';
import type { Leases } from './leases.js';
import { commitPartitionState, fetchFiles, readPartitionState, storeFiles, type HeldBy } from './state-store.js';
import { answersSubject, CONTROL_TOKEN, errorsSubject, FRAMES_STREAM, parseFramesSubject, parseSourceKey, partitionFilter, partitionOf, predictionsSubject, streamToken, tokenStream } from './subjects.js';
import { decodeWire, type WireMessage } from './wire.js';

/** What every partition of a worker shares. */
export interface PartitionParts {
  cluster: Cluster;
  leases: Leases;
  /** Each model's file bytes: every partition loads its own copy (its weights learn on their own). */
  models: { name: string; bytes: Uint8Array }[];
  table: EngineParts['table'];
  scorer: ScorerOptions | undefined;
  /** Where partitions keep their checkpoint files while they hold them. */
  workDir: string;
  log: (line: string) => void;
}

/** An answer to a request, on seqcast.answers.<front>. */
export interface WireAnswer {
  id: number;
  reply: Extract<FromWorker, { type: 'answer' }>['reply'];
  placed?: Extract<FromWorker, { type: 'answer' }>['placed'];
  partition: number;
  worker: string;
}

/** A refused message, on seqcast.errors.<p>.<stream>. */
export interface WireError {
  stream: string | undefined;
  seq: unknown;
  code: string;
  message: string;
  source: string | undefined;
  /** The JetStream sequence of the message refused (front ends relay each once). */
  js: number;
  partition: number;
}

const encoder = new TextEncoder();

/** A partition this worker holds, from its restore to its stop. */
export class Partition {
  private shard!: Shard;
  private served: ServedModel[] = [];
  private stateDir!: string;
  private readonly batcher = new FrameBatcher();
  private readonly sourceIds = new Map<string, number>();
  private readonly sourceRefs = new Map<number, SourceRef & { key: string }>();
  private nextSourceId = 1;
  /** The JetStream sequence of the last message applied, and of the last one committed. */
  private applied = 0;
  private committed = 0;
  private generation = 0;
  private object: string | undefined;
  /** The message being applied: where an answer or a refusal of it goes. */
  private current: { front: string | undefined; id: number; js: number } = { front: undefined, id: 0, js: 0 };
  private messages: ConsumerMessages | undefined;
  /** No message is applied once halted; nothing is published once stopped. */
  private halted = false;
  private stopped = false;
  private checkpointing: Promise<void> | undefined;
  private waiting: ((message: FromWorker) => void) | undefined;
  counts: StreamCounts = { open: 0, held: 0, parked: 0, learning: 0 };

  private constructor(
    private readonly parts: PartitionParts,
    readonly index: number,
  ) {}

  /** Restores partition `index` from its last commit and starts consuming right after it. */
  static async open(parts: PartitionParts, index: number): Promise<Partition> {
    const partition = new Partition(parts, index);
    await partition.restore();
    return partition;
  }

  private async restore(): Promise<void> {
    const { cluster, models } = this.parts;
    const state = await readPartitionState(cluster, this.index);
    this.stateDir = await mkdtemp(join(this.parts.workDir, `p${this.index}-`));
    if (state) {
      await fetchFiles(cluster, state, this.stateDir);
      this.applied = this.committed = state.applied;
      this.object = state.object;
    }
    for (const { name, bytes } of models) this.served.push({ name, model: await loadModel(bytes) });
    const { partitions } = cluster;
    let ready!: (generation: number | undefined) => void;
    const started = new Promise<number | undefined>((resolve) => (ready = resolve));
    this.shard = new Shard(this.served, { index: this.index, workers: partitions, table: this.parts.table, scorer: this.parts.scorer, stateDir: this.stateDir, now: Date.now() }, (message) =>
      message.type === 'ready' ? ready(message.generation) : this.fromShard(message),
    );
    await this.shard.start();
    this.generation = (await started) ?? 0;
    // each restored stream goes back to the connection that held it at the checkpoint (an open takes it over as it was)
    for (const [stream, held] of Object.entries(state?.owners ?? {})) {
      const request = checkMessage({ type: 'open', stream }) as OpenMessage;
      this.current = { front: undefined, id: 0, js: this.applied };
      this.shard.handle({ type: 'request', id: 0, source: this.ref(held.source, held.label, held.role as Role | undefined), request, now: Date.now() });
    }
    const consumer = await cluster.js.consumers.get(FRAMES_STREAM, { filterSubjects: partitionFilter(this.index), deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.applied + 1 });
    this.messages = await consumer.consume({ max_messages: 1024 });
    this.parts.log(`partition ${this.index}: restored generation ${this.generation} (${Object.keys(state?.owners ?? {}).length} held streams), consuming from sequence ${this.applied + 1}`);
    void this.consume(this.messages);
  }

  private async consume(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        if (this.halted) break;
        this.apply(m);
      }
    } catch (err) {
      if (!this.stopped) this.parts.log(`partition ${this.index}: consuming stopped: ${(err as Error).message}`);
    }
  }

  /** Applies one message of the partition, in stream order; what is wrong with it is answered on its error subject. */
  private apply(m: JsMsg): void {
    this.applied = m.seq;
    const subject = parseFramesSubject(m.subject);
    const stream = subject && subject.token !== CONTROL_TOKEN ? tokenStream(subject.token) : undefined;
    const token = subject?.token ?? 'unknown';
    this.current = { front: undefined, id: 0, js: m.seq };
    if (!subject || subject.partition !== this.index || (stream === undefined && subject.token !== CONTROL_TOKEN)) {
      return this.refuse({ code: ErrorCode.badMessage, message: `subject ${m.subject} is not seqcast.frames.${this.index}.<stream token> (docs/cluster.md); nothing was applied` }, token, undefined);
    }
    if (stream !== undefined && this.shardOf(stream) !== this.index) {
      return this.refuse({ code: ErrorCode.badMessage, message: `stream "${stream}" belongs to partition ${this.shardOf(stream)}, not ${this.index}; nothing was applied`, stream }, token, undefined);
    }
    const message = decodeWire(m.data, stream);
    if ('code' in message) return this.refuse(message, token, undefined);
    this.applyWire(message);
  }

  private applyWire(message: WireMessage): void {
    const front = parseSourceKey(message.source)!.front;
    if (message.kind === 'frame') {
      const { frame } = message;
      this.batcher.add({ sourceId: this.sourceIdOf(message.source), streamLabel: frame.stream, seq: frame.seq, t: frame.t, values: frame.values, token: frame.token, receivedAt: message.at, binary: message.binary });
      this.shard.handle(this.batcher.take());
    } else if (message.kind === 'request') {
      this.current = { front, id: message.id, js: this.current.js };
      this.shard.handle({ type: 'request', id: message.id, source: this.ref(message.source, message.label, message.role), request: message.request, now: Date.now() });
    } else {
      const id = this.sourceIds.get(message.source);
      if (id === undefined) return;
      this.shard.handle({ type: 'orphan', source: this.sourceRefs.get(id)!, address: message.address, now: Date.now() });
      this.sourceIds.delete(message.source);
      this.sourceRefs.delete(id);
    }
  }

  private shardOf(stream: string): number {
    return partitionOf(stream, this.parts.cluster.partitions);
  }

  private fromShard(message: FromWorker): void {
    const { nc } = this.parts.cluster;
    switch (message.type) {
      case 'answer': {
        const { front, id } = this.current;
        if (front === undefined) return; // a restore's own open
        const answer: WireAnswer = { id, reply: message.reply, partition: this.index, worker: this.parts.leases.worker, ...(message.placed ? { placed: message.placed } : {}) };
        return nc.publish(answersSubject(front), encoder.encode(JSON.stringify(answer)));
      }
      case 'predictions':
        return this.publishPredictions(new Float64Array(message.buffer));
      case 'rejected': {
        const ref = this.sourceRefs.get(message.sourceId);
        return this.refuse({ code: message.code, message: message.message, stream: message.streamLabel, seq: message.seq as ProtocolProblem['seq'] }, streamToken(message.streamLabel), ref?.key);
      }
      case 'report':
        this.counts = message.counts;
        return;
      case 'listed':
      case 'checkpointed':
        return this.waiting?.(message);
      case 'log':
        return this.parts.log(`partition ${this.index}: ${message.line.replace(/^worker \d+: /, '')}`);
    }
  }

  /** Each front end gets its connections' predictions, packed as the thread pool packs them, with its own source ids. */
  private publishPredictions(batch: Float64Array): void {
    if (this.stopped) return;
    const groups = regroupPredictions(batch, (sourceId) => {
      const ref = this.sourceRefs.get(sourceId);
      const key = ref && parseSourceKey(ref.key);
      return key ? { group: key.front, sourceId: key.id } : undefined;
    });
    for (const [front, packed] of groups) this.parts.cluster.nc.publish(predictionsSubject(front), new Uint8Array(packed.buffer));
  }

  private refuse(problem: ProtocolProblem, token: string, source: string | undefined): void {
    if (this.stopped) return;
    const error: WireError = { stream: problem.stream, seq: problem.seq, code: problem.code, message: problem.message, source, js: this.current.js, partition: this.index };
    this.parts.cluster.nc.publish(errorsSubject(this.index, token), encoder.encode(JSON.stringify(error)));
  }

  private sourceIdOf(key: string): number {
    return this.sourceIds.get(key) ?? this.ref(key, `connection ${key}`, undefined).id;
  }

  /** The shard's source for key `key` (a request's label and role update it). */
  private ref(key: string, label: string, role: Role | undefined): SourceRef & { key: string } {
    let id = this.sourceIds.get(key);
    if (id === undefined) {
      id = this.nextSourceId++;
      this.sourceIds.set(key, id);
    }
    const ref = { id, label, role, key };
    this.sourceRefs.set(id, ref);
    return ref;
  }

  // ---- what the worker asks of it -----------------------------------------------------------------------------------

  /** Parks idle streams and closes expired orphans (the server's timer, here the worker's). */
  tick(now: number): void {
    this.shard.handle({ type: 'tick', now });
  }

  /** Its streams for `list`, each naming this worker. */
  list(rows: number): { streams: (ListedStream & { worker: string })[]; total: number } {
    let answer: FromWorker | undefined;
    this.waiting = (message) => (answer = message);
    this.shard.handle({ type: 'list', id: 0, rows });
    this.waiting = undefined;
    if (answer?.type !== 'listed') return { streams: [], total: 0 };
    return { streams: answer.streams.map((s) => ({ ...s, worker: this.parts.leases.worker })), total: answer.total };
  }

  /** Checkpoints and commits (docs/cluster.md "State", steps 1–4); nothing to do when nothing was applied since. */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.writeCheckpoint().finally(() => (this.checkpointing = undefined));
    return this.checkpointing;
  }

  private async writeCheckpoint(): Promise<void> {
    if (this.applied === this.committed) return;
    const applied = this.applied;
    const generation = this.generation + 1;
    const owners: Record<string, HeldBy> = {};
    for (const entry of this.shard.streams) {
      const ref = entry.owner ? this.sourceRefs.get((entry.owner as unknown as { id: number }).id) : undefined;
      if (ref) owners[entry.name] = { source: ref.key, label: ref.label, role: ref.role };
    }
    // the shard takes every stream and model synchronously, here, between two messages
    const written = new Promise<FromWorker>((resolve) => (this.waiting = resolve));
    this.shard.handle({ type: 'checkpoint', id: 0, generation });
    const done = await written;
    if (done.type === 'checkpointed' && done.error) throw new Error(`partition ${this.index}: checkpoint ${generation}: ${done.error}`);
    // every answer of the applied messages has reached the server before the commit says they were applied
    await this.parts.cluster.nc.flush();
    const object = `p${this.index}.g${generation}.${this.parts.leases.worker}`;
    await storeFiles(this.parts.cluster, object, this.stateDir);
    if (!(await this.parts.leases.renew(this.index))) throw new Error(`partition ${this.index}: its lease was taken over; checkpoint ${generation} not committed`);
    await commitPartitionState(this.parts.cluster, this.index, { generation, applied, object, owners }, this.object);
    this.generation = generation;
    this.object = object;
    this.committed = applied;
  }

  /** Stops consuming; with `handOver`, checkpoints first (the caller then releases the lease). */
  async stop(handOver: boolean): Promise<void> {
    this.halted = true;
    this.stopped = !handOver;
    await this.messages?.close().catch(() => undefined);
    if (handOver) {
      await this.checkpointing?.catch(() => undefined);
      await this.checkpoint();
      this.stopped = true;
    }
    for (const { model } of this.served) model.close();
    await rm(this.stateDir, { recursive: true, force: true });
  }
}
