// The server's options: what `SeqcastServer.start` takes, and the same with every default filled in.

import { DEFAULT_DETECTION_PROFILE, type DetectionProfile } from '../stream/detection-thresholds.js';
import type { ScorerOptions } from '../stream/error-scorer.js';
import type { LearningConfig, ServedModel } from '../stream/types.js';
import type { Clock } from './clock.js';
import type { SinkConfig } from './sinks.js';

export interface ServerOptions {
  /** The models streams can be opened on; the first is the default of `open`. */
  models: ServedModel[];
  /** Address to bind; default 127.0.0.1. Anything else exposes the server and needs a token. */
  host?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Access token every connection must present (Authorization: Bearer, or ?token=); it gives the control role (roles.ts). */
  token?: string;
  /** A second token, for producers: it gives the produce role (their own streams; no learning, no other producer's streams). Needs `token`. */
  producerToken?: string;
  /** A third token, for viewers: it gives the read role (list and subscribe). Needs `token`. */
  readToken?: string;
  /** Origins (e.g. "https://example.com") whose pages may connect, besides the server's own; "*" for any. */
  allowedOrigins?: string[];
  /**
   * Host names (e.g. "seqcast.internal") requests may carry in their Host header besides the address bound and
   * localhost, 127.0.0.1 and [::1]: the names a reverse proxy or DNS gives the server. Others are refused (403).
   */
  allowedHosts?: string[];
  /** Largest message in bytes; a larger one closes the connection with 1009. Default 1 MiB. */
  maxPayload?: number;
  /** Streams one connection may hold. Default 1024. */
  maxStreamsPerConnection?: number;
  /** Streams the server holds in all. Default 100,000. When it is full, opening a stream closes the one longest without a producer, if any. */
  maxStreams?: number;
  /** Streams a connection leaves orphaned when it goes (its most recently active ones; the others are closed). Default 1024. */
  maxOrphansPerConnection?: number;
  /** Orphaned streams the connections of one client address may leave in all (the oldest are closed first). Default 4096. */
  maxOrphansPerAddress?: number;
  /** Frames (and other messages, bad ones included) one connection may send per second; bursts up to one second's worth. Default 100,000. */
  rateLimit?: number;
  /** The same for all connections from one client address together. Default: rateLimit. */
  addressRateLimit?: number;
  /** A stream idle this long (ms) is snapshotted out of the kernel, and restored on its next frame. Default 60,000. */
  idleMs?: number;
  /** A stream nobody holds (its producer disconnected, or it came back from a checkpoint) is closed after this long (ms), freeing its slot and name. Default 600,000 (10 minutes). */
  orphanTtlMs?: number;
  /** The most forecast rows the server computes per frame, over all its streams (the sum of their horizons): what horizons may cost. Default 4096. */
  maxForecastRows?: number;
  /** Defaults for learning streams (open may override them per stream): train every 8 frames on the last 32; target 'delta' unless the model's metadata says 'value'. */
  learning?: Partial<LearningConfig>;
  /** Where every prediction also goes (sinks.ts): files appended to, webhooks POSTed to. Synced every checkpointIntervalMs and on checkpoint. */
  sinks?: SinkConfig[];
  /** Folder for checkpoints; restored from at start. */
  stateDir?: string;
  /** ms between checkpoints (with stateDir). Default 30,000. */
  checkpointIntervalMs?: number;
  /** ms between metrics messages. Default 1,000. */
  metricsIntervalMs?: number;
  /** ms a client has, from connecting (or from its last response), to send a complete request head; then it is dropped. Default 10,000. */
  headersTimeoutMs?: number;
  /** ms a request has from its head to its response. Default 30,000. */
  requestTimeoutMs?: number;
  /** ms between pings of every WebSocket; one silent (no pong, no message) from one ping to the next is dropped. Default 30,000. */
  pingIntervalMs?: number;
  /** Folder of the built dashboard; undefined = look for dist-web/ or web/dist/; null = none. */
  webRoot?: string | null;
  /** Scoring windows for new streams. */
  scorer?: ScorerOptions;
  /** The NAB profile whose threshold dashboards mark detections at (src/stream/detection-thresholds.ts). Default standard. */
  detectionProfile?: DetectionProfile;
  /** Where the server reports what happens (restores, checkpoints, failures); default nowhere. */
  log?: (line: string) => void;
  /** The time the rate limits, idle and orphan timers, checkpoint timer and metrics go by; default the system's. Tests pass one they advance. */
  clock?: Clock;
}

/** The options with their defaults filled in. */
export type ResolvedOptions = Required<Omit<ServerOptions, 'token' | 'producerToken' | 'readToken' | 'stateDir' | 'webRoot' | 'log' | 'scorer' | 'learning' | 'clock' | 'sinks'>> &
  Pick<ServerOptions, 'token' | 'producerToken' | 'readToken' | 'stateDir'> & {
    /** Learning streams' defaults; `target` undefined: the model's metadata target, else 'delta'. */
    learning: { every: number; window: number; target: LearningConfig['target'] | undefined };
  };

/** Fills in the defaults (the scorer, log, clock, web root and sinks are the server's to default). */
export function resolveOptions(options: ServerOptions): ResolvedOptions {
  return {
    models: options.models,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8080,
    token: options.token,
    producerToken: options.producerToken,
    readToken: options.readToken,
    allowedOrigins: options.allowedOrigins ?? [],
    allowedHosts: options.allowedHosts ?? [],
    maxPayload: options.maxPayload ?? 1024 * 1024,
    maxStreamsPerConnection: options.maxStreamsPerConnection ?? 1024,
    maxStreams: options.maxStreams ?? 100_000,
    maxOrphansPerConnection: options.maxOrphansPerConnection ?? 1024,
    maxOrphansPerAddress: options.maxOrphansPerAddress ?? 4096,
    rateLimit: options.rateLimit ?? 100_000,
    addressRateLimit: options.addressRateLimit ?? options.rateLimit ?? 100_000,
    idleMs: options.idleMs ?? 60_000,
    orphanTtlMs: options.orphanTtlMs ?? 600_000,
    maxForecastRows: options.maxForecastRows ?? 4096,
    learning: { every: options.learning?.every ?? 8, window: options.learning?.window ?? 32, target: options.learning?.target },
    stateDir: options.stateDir,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 30_000,
    metricsIntervalMs: options.metricsIntervalMs ?? 1000,
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    pingIntervalMs: options.pingIntervalMs ?? 30_000,
    detectionProfile: options.detectionProfile ?? DEFAULT_DETECTION_PROFILE,
  };
}
