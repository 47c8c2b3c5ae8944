// Joining a seqcast cluster: the NATS connection, and the JetStream stream, buckets and store every process uses,
// created by whichever process comes first (each step is idempotent); the partition count checked once, here.

import { connect, RetentionPolicy, StorageType, type JetStreamClient, type KV, type NatsConnection, type ObjectStore } from 'nats';
import { InputError } from '../../errors.js';
import { CHECKPOINTS_STORE, FRAMES_STREAM, LEASES_BUCKET, STATE_BUCKET } from './subjects.js';

/** What a cluster process holds once joined. */
export interface Cluster {
  nc: NatsConnection;
  js: JetStreamClient;
  leases: KV;
  state: KV;
  checkpoints: ObjectStore;
  /** The cluster's partition count (seqcast-state key `partitions`). */
  partitions: number;
}

/** Partitions when the cluster has none recorded and the process gives none. */
export const DEFAULT_PARTITIONS = 8;

/**
 * Connects to `url` and makes sure the stream and buckets exist. `partitions`: the count this process was given
 * (undefined: the cluster's, or DEFAULT_PARTITIONS for a new cluster); a count other than the cluster's is refused.
 */
export async function joinCluster(url: string, partitions: number | undefined, name: string): Promise<Cluster> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name, maxReconnectAttempts: -1 });
  } catch (err) {
    throw new InputError(`cannot reach NATS at ${url}: ${(err as Error).message}`);
  }
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.info(FRAMES_STREAM).catch(() =>
      jsm.streams.add({ name: FRAMES_STREAM, subjects: ['seqcast.frames.>'], storage: StorageType.File, retention: RetentionPolicy.Limits }).catch(() => jsm.streams.info(FRAMES_STREAM)),
    );
    const js = nc.jetstream();
    const leases = await js.views.kv(LEASES_BUCKET, { history: 1 });
    const state = await js.views.kv(STATE_BUCKET, { history: 1 });
    const checkpoints = await js.views.os(CHECKPOINTS_STORE);
    const count = await agreedPartitions(state, partitions, url);
    return { nc, js, leases, state, checkpoints, partitions: count };
  } catch (err) {
    await nc.close();
    if (err instanceof InputError) throw err;
    throw new InputError(`NATS at ${url} has no usable JetStream (start nats-server with -js): ${(err as Error).message}`);
  }
}

/** The cluster's partition count: recorded by the first process, the same for every later one. */
async function agreedPartitions(state: KV, wanted: number | undefined, url: string): Promise<number> {
  const read = async () => {
    const entry = await state.get('partitions');
    return entry && entry.operation === 'PUT' ? Number(entry.string()) : undefined;
  };
  let recorded = await read();
  if (recorded === undefined) {
    await state.create('partitions', new TextEncoder().encode(String(wanted ?? DEFAULT_PARTITIONS))).catch(() => undefined);
    recorded = await read();
  }
  if (recorded === undefined || !Number.isSafeInteger(recorded) || recorded < 1) throw new InputError(`the cluster at ${url} records no usable partition count (seqcast-state key "partitions")`);
  if (wanted !== undefined && wanted !== recorded) {
    throw new InputError(`--partitions ${wanted}, but the cluster at ${url} has ${recorded} partitions (seqcast-state key "partitions"); give --partitions ${recorded} or leave it out`);
  }
  return recorded;
}
