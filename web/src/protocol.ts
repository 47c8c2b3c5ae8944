// The dashboard's side of the seqcast wire protocol (docs/protocol.md): the messages it reads and the ones it sends.

/** The WebSocket endpoint, relative to the page's origin. */
export const WS_PATH = '/ws';

/** A `prediction` message: the answer to one frame of a stream. */
export interface PredictionMessage {
  type: 'prediction';
  stream: string;
  seq: number;
  /** The frame's time as the producer sent it (milliseconds since the epoch suggested), or null. */
  t: number | null;
  /** The frame's values in the producer's units (a number for token models). */
  actual: number[] | number;
  /** The prediction of the next frame (logits for token models). */
  predicted: number[];
  /** Token models: the most likely next token. */
  next?: number;
  /** With a horizon k: k rows for t+1 … t+k, row 0 equal to `predicted`. */
  forecast?: number[][];
  /** RMS over channels of actual − the previous prediction; null for a stream's first frame. */
  error: number | null;
  /** RMS of the last 100 errors. */
  rmse: number | null;
  /** Anomaly likelihood in [0, 1]. */
  anomaly: number;
  /** Kernel call duration, µs. */
  stepMicros: number;
  batch: number;
  /** Learning streams, when this frame ran a training step: trained, rolled-back, skipped-spike or refused. */
  learnEvent?: string;
  /** With learnEvent: the training window's mean squared error (normalized units). */
  loss?: number;
  /**
   * The latest attention weights (last block) of attention models,
   * one row per head over the positions in the window, oldest first.
   */
  attention?: number[][];
}

/** A `metrics` message, once a second. */
export interface MetricsMessage {
  type: 'metrics';
  /** Server time, ms since the epoch. */
  t: number;
  interval: number;
  framesPerSecond: number;
  batchesPerSecond: number;
  errorsPerSecond: number;
  totalFrames: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Kernel step (`stepBatch`) latency, µs. */
  stepMicros: { p50: number; p99: number };
  streams: { open: number; held: number; parked: number };
  connections: number;
  memory: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  /** Online learning over the interval: streams learning, mean loss of the applied updates (null: none), updates. */
  learning: { available: boolean; streams?: number; loss: number | null; updates?: number; skipped?: number; rolledBack?: number };
}

/** A learning stream's options and, while it is in the kernel, its learner's running totals. */
export interface StreamLearning {
  every: number;
  window: number;
  target: 'delta' | 'value';
  stats?: { frames: number; updates: number; skipped: number; rollbacks: number; mse: number | null; persistenceMse: number | null; runningLoss: number | null };
}

/** One stream in the answer to `list`. */
export interface ListedStream {
  stream: string;
  id: number;
  model: string;
  lastSeq: number;
  horizon: number;
  learn: boolean;
  /** null for a stream that does not learn. */
  learning?: StreamLearning | null;
  normalize: 'model' | 'online' | 'none';
  held: boolean;
  parked: boolean;
  /** Not in protocol v1 (proposed): the frame's shape for image streams, e.g. [16, 16]. */
  shape?: number[];
}

/** One model in the answer to `list`. */
export interface ListedModel {
  name: string;
  description: string;
  /** rnn, lstm or gru; absent for a transformer. */
  cell?: string;
  layers: number;
  hiddenSize: number;
  inputSize: number;
  outputSize: number;
  vocabSize?: number;
  channels?: string[];
  /** recurrent, transformer or hybrid (servers before it was listed leave it out). */
  kind?: string;
  /** Attention blocks of transformer and hybrid models. */
  attention?: { width: number; heads: number; blocks: number; window: number; sinks: number };
  /** Image models: the frame's [rows, cols] (the model's metadata `shape`). */
  shape?: number[];
}

export interface StreamsMessage {
  type: 'streams';
  streams: ListedStream[];
  models: ListedModel[];
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
  stream?: string;
  seq?: unknown;
}

/** Replies to the dashboard's own requests. */
export interface ReplyMessage {
  type: 'subscribed' | 'unsubscribed' | 'reset' | 'configured';
  stream?: string;
  streams?: string[] | '*';
  [field: string]: unknown;
}

export type ServerMessage = PredictionMessage | MetricsMessage | StreamsMessage | ErrorMessage | ReplyMessage;

// ---- dashboard → server ------------------------------------------------------------------------------------------

/** Watch these streams (and get metrics once a second). */
export function subscribeMessage(streams: string[]): object {
  return { type: 'subscribe', streams, metrics: true };
}

/** Stop watching these streams; metrics go on. */
export function unsubscribeMessage(streams: string[]): object {
  return { type: 'unsubscribe', streams };
}

export function listMessage(): object {
  return { type: 'list' };
}

/** Zero the stream's state, statistics and scores. Protocol v1 accepts it only from the connection holding the stream. */
export function resetMessage(stream: string): object {
  return { type: 'reset', stream };
}

/**
 * Change a stream's horizon or online learning while it runs; any connection
 * may send it. Answered with {"type":"configured","stream","horizon","learn",...}.
 * An older server answers `unknown_type`, which the dashboard shows.
 */
export function configureMessage(stream: string, change: { horizon?: number; learn?: boolean }): object {
  return { type: 'configure', stream, ...change };
}

/** The messages of one text message: the server sends single objects or arrays of them. */
export function parseServerText(text: string): ServerMessage[] {
  const value = JSON.parse(text) as ServerMessage | ServerMessage[];
  return Array.isArray(value) ? value : [value];
}
