// `seqcast worker --nats URL`: a process that holds its fair share of the partitions (leases.ts), runs each as a
// Partition, checkpoints them on a timer, hands extras over to newcomers, and answers the front ends' `list`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nuid, type Subscription } from 'nats';
import { resolveOptions } from '../../server/options.js';
import { detectionThreshold } from '../../stream/detection-thresholds.js';
import type { ScorerOptions } from '../../stream/error-scorer.js';
import type { ServedModel } from '../../stream/types.js';
import type { StreamCounts } from '../messages.js';
import { joinCluster, type Cluster } from './connect.js';
import { Leases } from './leases.js';
import { Partition, type PartitionParts } from './partition.js';
import { LIST_SUBJECT, REPORTS_SUBJECT } from './subjects.js';

/** How a worker is started. */
export interface WorkerNodeOptions {
  url: string;
  /** Each model's name and safetensors bytes (every partition loads its own copy). */
  models: { name: string; bytes: Uint8Array }[];
  /** The cluster's partition count (undefined: the cluster's, or 8 for a new one). */
  partitions?: number;
  /** A lease not renewed for this long may be taken by another worker, ms (default 3,000). */
  leaseMs?: number;
  /** How often each partition is checkpointed, ms (default 5,000). */
  checkpointMs?: number;
  scorer?: ScorerOptions;
  log: (line: string) => void;
}

/** A worker's report on seqcast.reports. */
export interface WorkerReport {
  worker: string;
  partitions: number[];
  counts: StreamCounts;
}

/** One worker process's share of the cluster. */
export class WorkerNode {
  private readonly held = new Map<number, Partition>();
  private readonly timers: NodeJS.Timeout[] = [];
  private balancing: Promise<void> | undefined;
  private stopping = false;
  private listing: Subscription | undefined;

  private constructor(
    private readonly cluster: Cluster,
    private readonly leases: Leases,
    private readonly parts: PartitionParts,
    private readonly options: WorkerNodeOptions,
  ) {}

  /** Joins the cluster at `options.url` and starts taking partitions. */
  static async start(options: WorkerNodeOptions): Promise<WorkerNode> {
    const id = nuid.next();
    const cluster = await joinCluster(options.url, options.partitions, `seqcast worker ${id}`);
    const leaseMs = options.leaseMs ?? 3000;
    const leases = new Leases(cluster.leases, id, leaseMs);
    const served = options.models.map(({ name }) => ({ name }) as ServedModel);
    const resolved = resolveOptions({ models: served });
    const table = {
      maxStreamsPerConnection: resolved.maxStreamsPerConnection,
      maxStreams: Math.ceil(resolved.maxStreams / cluster.partitions),
      maxOrphansPerConnection: resolved.maxOrphansPerConnection,
      maxOrphansPerAddress: resolved.maxOrphansPerAddress,
      maxForecastRows: Math.ceil(resolved.maxForecastRows / cluster.partitions),
      idleMs: resolved.idleMs,
      orphanTtlMs: resolved.orphanTtlMs,
      learning: resolved.learning,
      detection: { profile: resolved.detectionProfile, threshold: detectionThreshold(resolved.detectionProfile) },
    };
    const workDir = await mkdtemp(join(tmpdir(), `seqcast-worker-${id}-`));
    const node = new WorkerNode(cluster, leases, { cluster, leases, models: options.models, table, scorer: options.scorer, workDir, log: options.log }, options);
    node.listing = cluster.nc.subscribe(LIST_SUBJECT, { callback: (err, msg) => !err && msg.respond(new TextEncoder().encode(JSON.stringify(node.list(Number(msg.string()) || 0)))) });
    await leases.heartbeat();
    node.timers.push(setInterval(() => void node.renew(), leaseMs / 3));
    node.timers.push(setInterval(() => node.balance(), leaseMs / 3));
    node.timers.push(setInterval(() => void node.checkpointAll(), options.checkpointMs ?? 5000));
    node.timers.push(setInterval(() => node.tick(), 1000));
    node.balance();
    return node;
  }

  /** This worker's id (its leases' `worker`, the `worker` of its streams in `list`). */
  get id(): string {
    return this.leases.worker;
  }

  /** The partitions held now, ascending. */
  partitions(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Renews every lease; a partition whose lease was taken over stops at once, without a checkpoint. */
  private async renew(): Promise<void> {
    if (this.stopping) return;
    await this.leases.heartbeat().catch((err) => this.options.log(`heartbeat failed: ${(err as Error).message}`));
    for (const p of this.leases.partitions()) {
      if (await this.leases.renew(p)) continue;
      this.options.log(`partition ${p}: lease lost to another worker; stopping it`);
      const partition = this.held.get(p);
      this.held.delete(p);
      await partition?.stop(false);
    }
    this.report();
  }

  /** Takes or hands over partitions towards ⌈P / live workers⌉ (one pass at a time). */
  private balance(): void {
    if (this.stopping || this.balancing) return;
    this.balancing = this.balanceOnce()
      .catch((err) => this.options.log(`balancing failed: ${(err as Error).message}`))
      .finally(() => (this.balancing = undefined));
  }

  private async balanceOnce(): Promise<void> {
    const P = this.cluster.partitions;
    const share = Math.ceil(P / (await this.leases.liveWorkers()));
    const held = this.partitions();
    for (const p of held.slice(share).reverse()) {
      if (this.stopping) return;
      this.options.log(`partition ${p}: handing over (fair share ${share})`);
      const partition = this.held.get(p)!;
      this.held.delete(p);
      await partition.stop(true).catch((err) => this.options.log(`partition ${p}: hand-over checkpoint failed: ${(err as Error).message}`));
      await this.leases.release(p);
    }
    // start the scan at a place of our own, so that workers starting together try different partitions first
    const offset = Number.parseInt(this.id.slice(-6), 36) % P;
    for (let k = 0; k < P && this.held.size < share && !this.stopping; k++) {
      const p = (offset + k) % P;
      if (this.leases.holds(p) || !(await this.leases.take(p))) continue;
      try {
        this.held.set(p, await Partition.open(this.parts, p));
      } catch (err) {
        this.options.log(`partition ${p}: could not restore: ${(err as Error).stack ?? err}`);
        await this.leases.release(p);
      }
    }
  }

  private async checkpointAll(): Promise<void> {
    for (const [p, partition] of this.held) await partition.checkpoint().catch((err) => this.options.log(`partition ${p}: ${(err as Error).message}`));
  }

  private tick(): void {
    const now = Date.now();
    for (const partition of this.held.values()) partition.tick(now);
  }

  private list(rows: number): { worker: string; streams: unknown[]; total: number } {
    const streams: unknown[] = [];
    let total = 0;
    for (const partition of this.held.values()) {
      const part = partition.list(rows);
      streams.push(...part.streams);
      total += part.total;
    }
    return { worker: this.id, streams, total };
  }

  private report(): void {
    const counts: StreamCounts = { open: 0, held: 0, parked: 0, learning: 0 };
    for (const partition of this.held.values()) for (const key of Object.keys(counts) as (keyof StreamCounts)[]) counts[key] += partition.counts[key];
    const report: WorkerReport = { worker: this.id, partitions: this.partitions(), counts };
    this.cluster.nc.publish(REPORTS_SUBJECT, new TextEncoder().encode(JSON.stringify(report)));
  }

  /** Hands every partition over (checkpoint, then release) and leaves the cluster. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.balancing;
    this.listing?.unsubscribe();
    for (const [p, partition] of this.held) {
      await partition.stop(true).catch((err) => this.options.log(`partition ${p}: last checkpoint failed: ${(err as Error).message}`));
      await this.leases.release(p);
    }
    this.held.clear();
    await this.cluster.leases.delete(`w.${this.id}`).catch(() => undefined);
    await this.cluster.nc.drain();
    await rm(this.parts.workDir, { recursive: true, force: true });
  }
}
