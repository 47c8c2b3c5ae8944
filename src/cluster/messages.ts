// The messages between the socket thread (pool.ts) and a worker (shard.ts): requests one way, answers and reports back.

import type { ClosedMessage, ConfigureMessage, ConfiguredMessage, ListedStream, OpenedMessage, OpenMessage, ProtocolProblem, ResetMessage } from '../protocol/messages.js';
import type { ScorerOptions } from '../stream/error-scorer.js';
import type { EngineParts } from '../server/engine.js';
import type { Role } from '../server/roles.js';
import type { FrameBatchMessage } from './frames.js';

/** A frame source as a worker knows it: the socket thread's id for it, its label and role (roles.ts checks them there). */
export interface SourceRef {
  id: number;
  label: string;
  /** undefined: a source without a role (trusted). */
  role: Role | undefined;
}

/** A stream as the socket thread's directory knows it. */
export interface PlacedStream {
  name: string;
  id: number;
  model: string;
}

/** What a worker is started with (its workerData). */
export interface WorkerSetup {
  index: number;
  workers: number;
  /** Each model's safetensors bytes (the worker's own copy) and its batch capacity. */
  models: { name: string; bytes: Uint8Array; batchCapacity: number }[];
  table: EngineParts['table'];
  scorer: ScorerOptions | undefined;
  /** This worker's own folder of checkpoints (STATE_DIR/worker-k), if any. */
  stateDir: string | undefined;
  /** The socket thread's clock when it started the worker, ms: the worker's clock runs from it. */
  now: number;
}

export type StreamRequest = OpenMessage | ConfigureMessage | { type: 'reset'; stream: string } | { type: 'close'; stream: string };

/** Socket thread → worker. */
export type ToWorker =
  | FrameBatchMessage
  | { type: 'request'; id: number; source: SourceRef; request: StreamRequest; now: number }
  | { type: 'orphan'; source: SourceRef; address: string | undefined; now: number }
  | { type: 'tick'; now: number }
  | { type: 'count' }
  | { type: 'list'; id: number; rows: number }
  | { type: 'checkpoint'; id: number; generation: number };

/** Worker → socket thread. */
export type FromWorker =
  | { type: 'ready'; restored: PlacedStream[]; generation: number | undefined; counts: StreamCounts }
  | { type: 'failed'; message: string }
  | { type: 'answer'; id: number; reply: OpenedMessage | ConfiguredMessage | ResetMessage | ClosedMessage | ProtocolProblem; placed?: PlacedStream }
  | { type: 'predictions'; buffer: ArrayBuffer }
  | { type: 'rejected'; sourceId: number; streamLabel: string; seq: unknown; code: string; message: string }
  | { type: 'report'; counts: StreamCounts; forgotten: number[] }
  | { type: 'listed'; id: number; streams: ListedStream[]; total: number }
  | { type: 'checkpointed'; id: number; error?: string }
  | { type: 'log'; line: string };

export interface StreamCounts {
  open: number;
  held: number;
  parked: number;
  learning: number;
}
