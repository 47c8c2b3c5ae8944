// Every message of the wire protocol (docs/protocol.md is the contract), as types: what clients send, what the server answers.
// Imports nothing but history-messages.ts's types: the server, the replay CLI, the tests and (as types) the dashboard all
// read the protocol from here.

import type { HistoryMessage, HistoryRequest } from './history-messages.js';

export type { HistoryMessage, HistoryRequest } from './history-messages.js';

/** The WebSocket endpoint. */
export const WS_PATH = '/ws';
/** Most forecast rows a stream may ask for. */
export const MAX_HORIZON = 256;
/** Longest stream name, in characters. */
export const MAX_STREAM_NAME = 200;
/** Largest `every` and `window` a learning stream may ask for. */
export const MAX_LEARNING_WINDOW = 1024;
/** Most streams one answer to `list` holds; `next` pages on. */
export const MAX_LISTED = 1000;
/** Most stream names one connection may watch ("*" watches every stream and counts as none). */
export const MAX_SUBSCRIBED = 1024;

/** How `open` asks for a stream's inputs to be scaled before they reach the model. */
export type NormalizeMode =
  /** What the model was trained with: its own statistics (metadata.normalizer; Stream.step applies them), else values as sent (a learning stream scales itself). */
  | 'auto'
  /** Online per-channel mean and variance of this stream (Welford), even if the model carries statistics. Not allowed then: it would normalize twice. */
  | 'online'
  /** Values go to the model as they are (or through the model's own statistics, which the library always applies). */
  | 'none';

/** How a stream's inputs are scaled, as open, configure and list report it. */
export type NormalizeReport = 'model' | 'online' | 'none';

/** How a learning stream learns; fixed when the stream becomes a learning stream. */
export interface LearningConfig {
  /** Train every K frames. */
  readonly every: number;
  /** Truncated-BPTT window N, in frames. */
  readonly window: number;
  /** 'delta': the model predicts x[t+1] − x[t]; 'value': x[t+1]. */
  readonly target: 'delta' | 'value';
}

/** How a learning stream learns, as open and configure may give it; absent fields take the server's defaults. */
export interface LearningRequest {
  every?: number;
  window?: number;
  target?: 'delta' | 'value';
}

// ---- client → server ----------------------------------------------------------------------------------------------

/** Opens a stream, or takes over one nobody holds. */
export interface OpenMessage {
  type: 'open';
  stream: string;
  model?: string;
  /** Absent: 0 for a new stream, unchanged for one taken over. */
  horizon: number | undefined;
  /** Absent: false for a new stream, unchanged for one taken over. */
  learn: boolean | undefined;
  normalize: NormalizeMode;
  /** Learning options (with learn: true). */
  learning?: LearningRequest;
}

/** Changes a held stream's learning or horizon; absent fields stay as they are. */
export interface ConfigureMessage {
  type: 'configure';
  stream: string;
  learn: boolean | undefined;
  horizon: number | undefined;
  learning?: LearningRequest;
}

/** One frame as JSON; its seq, values and token are checked by the stream pipeline, not by the codec. */
export interface FrameMessage {
  type: 'frame';
  stream: string;
  seq?: unknown;
  t?: number;
  values?: unknown;
  token?: unknown;
}

export interface StreamOpMessage {
  type: 'reset' | 'close';
  stream: string;
}

export interface SubscribeMessage {
  type: 'subscribe' | 'unsubscribe';
  /** Stream names, or '*' for every stream, present and future. */
  streams: string[] | '*';
  /** Also (or no longer) receive metrics once a second; subscribe defaults to true. */
  metrics: boolean | undefined;
}

export interface ListMessage {
  type: 'list';
  /** Streams to skip (the `next` of the previous page); default 0. */
  offset?: number;
}

/** A client's message once checked (checkMessage). */
export type ClientMessage = OpenMessage | ConfigureMessage | FrameMessage | StreamOpMessage | SubscribeMessage | ListMessage | HistoryRequest;

// ---- server → client ----------------------------------------------------------------------------------------------

/** What is wrong with a message; `stream` and `seq` name the offender when known. Sent as an ErrorMessage. */
export interface ProtocolProblem {
  code: string;
  message: string;
  stream?: string;
  seq?: unknown;
  /** For rate_limited: how many frames (from `seq` on) the error answers. */
  count?: number;
}

/** An `error` message: a ProtocolProblem on the wire. */
export interface ErrorMessage extends ProtocolProblem {
  type: 'error';
}

/** What `open` answers. */
export interface OpenedMessage {
  type: 'opened';
  stream: string;
  /** The u32 binary frames carry for this stream. */
  id: number;
  model: string;
  inputSize: number;
  outputSize: number;
  vocabSize?: number;
  channels?: string[];
  horizon: number;
  learn: boolean;
  normalize: NormalizeReport;
  lastSeq: number;
  resumed: boolean;
  /** A learning stream's options (null for a stream that does not learn). */
  learning: LearningConfig | null;
}

/** What `configure` answers. */
export interface ConfiguredMessage {
  type: 'configured';
  stream: string;
  horizon: number;
  learn: boolean;
  learning: LearningConfig | null;
  lastSeq: number;
}

/** What `reset` answers. */
export interface ResetMessage {
  type: 'reset';
  stream: string;
  lastSeq: number;
}

/** What `close` answers. */
export interface ClosedMessage {
  type: 'closed';
  stream: string;
}

/** What `subscribe` and `unsubscribe` answer: what the connection watches now. */
export interface SubscribedMessage {
  type: 'subscribed' | 'unsubscribed';
  streams: string[] | '*';
  metrics: boolean;
}

/** A `prediction` message: the answer to one frame of a stream (keys in this order; non-finite numbers as null). */
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
  /** The latest attention weights (last block) of attention models, one row per head over the positions in the window, oldest first. */
  attention?: number[][];
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
}

/** Stream counts of a metrics message. */
export interface StreamCounts {
  /** Streams the server holds. */
  open: number;
  /** Of those, with a producer connected. */
  held: number;
  /** Of those, parked out of the kernel (idle). */
  parked: number;
}

/** A `metrics` message, once per metrics interval: counts and latency quantiles over the interval (null: no sample). */
export interface MetricsMessage {
  type: 'metrics';
  /** Server time, ms since the epoch. */
  t: number;
  /** Seconds the message covers. */
  interval: number | null;
  framesPerSecond: number | null;
  batchesPerSecond: number | null;
  errorsPerSecond: number | null;
  /** Frames stepped since the server started. */
  totalFrames: number;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null; max: number | null };
  /** Kernel step (`stepBatch`) latency, µs. */
  stepMicros: { p50: number | null; p99: number | null };
  streams: StreamCounts;
  connections: number;
  memory: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  /** Online learning over the interval: streams learning, mean loss of the applied updates (null: none), updates. */
  learning: {
    available: boolean;
    streams: number;
    loss: number | null;
    updates: number;
    skipped: number;
    rolledBack: number;
    /** Since the server started. */
    total: { updates: number; skipped: number; rolledBack: number };
  };
}

/** A learner's running totals as list reports them (NaN as null). */
export interface LearnerStats {
  frames: number;
  updates: number;
  skipped: number;
  rollbacks: number;
  mse: number | null;
  persistenceMse: number | null;
  runningLoss: number | null;
}

/** A learning stream's options and, while it is in the kernel, its learner's running totals. */
export interface StreamLearning extends LearningConfig {
  stats?: LearnerStats;
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
  learning: StreamLearning | null;
  normalize: NormalizeReport;
  held: boolean;
  parked: boolean;
  /** `serve --nats`: the cluster worker holding the stream (docs/cluster.md); absent on a single server. */
  worker?: string;
}

/** One model in the answer to `list`. */
export interface ListedModel {
  name: string;
  description: string;
  /** recurrent, transformer or hybrid. */
  kind: string;
  /** rnn, lstm or gru; absent for a transformer. */
  cell?: string;
  /** An rnn cell's activation (nn.RNN's nonlinearity): tanh or relu; absent for other cells. */
  nonlinearity?: string;
  layers: number;
  hiddenSize: number;
  inputSize: number;
  outputSize: number;
  vocabSize?: number;
  channels?: string[];
  /** Image models: the frame's [rows, cols] (the model's metadata `shape`). */
  shape?: number[];
  /** Attention blocks of transformer and hybrid models. */
  attention?: { width: number; heads: number; blocks: number; window: number; sinks: number; positional: string };
}

/** How the server's anomaly scores become detections: the NAB profile it runs with and that profile's threshold. */
export interface DetectionReport {
  /** standard, low-fp or low-fn (`seqcast serve --detection-profile`). */
  profile: string;
  /** A frame whose anomaly score is at or above it is a detection (NAB's rule), chosen by NAB's optimiser for the profile. */
  threshold: number;
}

/** What `list` answers: a page of at most MAX_LISTED streams, in the order they were opened. */
export interface StreamsMessage {
  type: 'streams';
  streams: ListedStream[];
  models: ListedModel[];
  /** The threshold dashboards draw and mark detections at (servers before it was listed leave it out). */
  detection: DetectionReport;
  /** Streams the server holds in all. */
  total: number;
  /** The offset of the next page, when there are more streams after this one. */
  next?: number;
  /** The asking connection's role (docs/protocol.md, Roles), so a dashboard offers only what it may do. */
  role?: 'control' | 'produce' | 'read' | 'local';
}

/** Any message the server sends as JSON. */
export type ServerMessage =
  | OpenedMessage
  | ConfiguredMessage
  | ResetMessage
  | ClosedMessage
  | SubscribedMessage
  | PredictionMessage
  | MetricsMessage
  | StreamsMessage
  | HistoryMessage
  | ErrorMessage;

// ---- what the prediction codecs read --------------------------------------------------------------------------------

/**
 * A scored frame as the prediction codecs (JSON and binary) read it: the stream pipeline's ScoredFrame has this shape.
 * Declared here so the protocol needs nothing from the layers above it.
 */
export interface PredictionSource {
  readonly entry: { readonly name: string; readonly id: number; readonly served: { readonly model: { readonly isTokenModel: boolean } } };
  readonly seq: number;
  readonly t: number;
  readonly actual: ArrayLike<number> | number;
  readonly predicted: ArrayLike<number>;
  readonly forecast: readonly ArrayLike<number>[] | undefined;
  readonly attention: readonly ArrayLike<number>[] | undefined;
  readonly error: number | undefined;
  readonly rmse: number | undefined;
  readonly anomaly: number;
  readonly stepMicros: number;
  readonly batchSize: number;
  readonly learnEvent: string | undefined;
  readonly loss: number | undefined;
}
