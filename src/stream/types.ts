// The values that flow through the stream pipeline (src/stream/pipeline.ts), from a frame as received to a scored prediction.

import type { Model } from '../api/model.js';
import type { Stream } from '../api/stream.js';
import type { OnlineNormalizer } from './normalize.js';
import type { ErrorScorer } from './score.js';

/** A model the server holds, under the name producers open streams with. */
export interface ServedModel {
  readonly name: string;
  readonly model: Model;
}

/** Who sent a frame: a connection or an in-process producer. The pipeline only compares and passes it on. */
export interface FrameSource {
  /** "connection 12 (127.0.0.1)" — for messages and logs. */
  readonly label: string;
}

/** How a stream's inputs are scaled before they reach the model. */
export type NormalizeMode =
  /** The model's own statistics (metadata.normalizer; Stream.step applies them) when it has some, else online statistics. */
  | 'auto'
  /** Online per-channel mean and variance of this stream (Welford), even if the model carries statistics. Not allowed then: it would normalize twice. */
  | 'online'
  /** Values go to the model as they are (or through the model's own statistics, which the library always applies). */
  | 'none';

/** One open stream on the server: its kernel slot (or its parked snapshot), its scaling, scoring and sequence. */
export interface StreamEntry {
  /** The name producers and dashboards use, e.g. "pump-7". */
  readonly name: string;
  /** A server-wide handle, the u32 that binary frames carry. */
  readonly id: number;
  readonly served: ServedModel;
  /** The stream's kernel slot; undefined while it is parked (idle, snapshotted out of the kernel). */
  stream: Stream | undefined;
  /** Stream.snapshot() bytes while parked. */
  parked: Uint8Array | undefined;
  /** Sequence number of the last frame stepped; −1 before any. Frames must come with a larger seq. */
  lastSeq: number;
  /** Forecast rows per prediction; 0 = none. */
  horizon: number;
  /** Online learning requested. Always false until the library can train (open refuses learn:true with learning_unavailable). */
  learn: boolean;
  /** Online input statistics, or undefined when the model's own (or none) apply. */
  normalizer: OnlineNormalizer | undefined;
  readonly scorer: ErrorScorer;
  /** The producer allowed to send frames; undefined while nobody holds the stream (after a disconnect or a restart). */
  owner: FrameSource | undefined;
  /** Date.now() of the last frame stepped (or of the open). */
  lastActive: number;
  /** Set by close; frames still in flight for it are refused. */
  closed: boolean;
}

/** A frame as received, before any check. `entry` is undefined when the named stream is not open. */
export interface IncomingFrame {
  readonly source: FrameSource;
  /** The stream as the producer named it (name, or "#id" for binary frames). */
  readonly streamLabel: string;
  readonly entry: StreamEntry | undefined;
  /** Unchecked: validateFrames refuses anything but a safe non-negative integer. */
  readonly seq: unknown;
  /** Timestamp given by the producer (any unit), or undefined. */
  readonly t: number | undefined;
  /** Frame models: the values, unchecked. */
  readonly values?: unknown;
  /** Token models: the token id, unchecked. */
  readonly token?: unknown;
  /** performance.now() when the message holding it arrived, ms. */
  readonly receivedAt: number;
  /** It came in a binary message; its prediction goes back in one. */
  readonly binary?: boolean;
}

/** A frame that passed validateFrames: it will be stepped. */
export interface Frame {
  readonly source: FrameSource;
  readonly entry: StreamEntry;
  readonly seq: number;
  readonly t: number | undefined;
  /** The values in the producer's units (frame models), or the token id. */
  readonly actual: Float64Array | number;
  readonly receivedAt: number;
  readonly binary?: boolean;
}

/** Per-channel scale a frame was normalized with: model units = (x − mean) / std. */
export interface Scale {
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

/** A frame ready for the model: `input` is what stepBatch gets. */
export interface NormalizedFrame extends Frame {
  readonly input: Float64Array | number;
  /** The online scale applied, kept so outputs can be mapped back with the same numbers; undefined when none was. */
  readonly scale: Scale | undefined;
}

/** Frames of one model, each stream at most once, stepped by one stepBatch call. */
export interface FrameBatch {
  readonly served: ServedModel;
  readonly frames: NormalizedFrame[];
}

/** A frame after the model stepped it. */
export interface SteppedFrame extends NormalizedFrame {
  /** The model's output after this frame: its prediction of the next frame (logits for token models). Original units after denormalize. */
  predicted: Float32Array;
  /** Rows t+1 … t+horizon (row 0 equals `predicted`), from a forked state; undefined when horizon is 0. */
  forecast: Float32Array[] | undefined;
  /** Duration of the stepBatch call that stepped this frame, µs. */
  readonly stepMicros: number;
  /** Frames in that call. */
  readonly batchSize: number;
}

/** A stepped frame with its scores: what producers and dashboards receive. */
export interface ScoredFrame extends SteppedFrame {
  /** Error of the prediction made one frame earlier against this frame: RMS over channels (frames) or cross-entropy in nats (tokens). undefined for a stream's first frame. */
  error: number | undefined;
  /** Root mean square of the last `rmseWindow` errors. */
  rmse: number | undefined;
  /** Anomaly likelihood in [0, 1] (0.5 while there is too little history). */
  anomaly: number;
}

/** One batch of steps as it leaves the pipeline. */
export interface ScoredBatch {
  readonly served: ServedModel;
  readonly frames: ScoredFrame[];
}

/**
 * The pipeline's operators fill in one frame object as it goes (validateFrames
 * creates it with every field, so its shape never changes): the types above are
 * views of it at each stage, and an operator writes its fields through this.
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Why a frame was refused; the codes are the protocol's (docs/protocol.md). */
export interface Rejection {
  readonly source: FrameSource;
  readonly streamLabel: string;
  readonly seq: unknown;
  readonly code: string;
  readonly message: string;
}
