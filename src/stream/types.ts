// The values that flow through the stream pipeline (src/stream/pipeline.ts), from a frame as received to a scored prediction.

import type { Model } from '../api/model.js';
import type { LearningReport, LearningStream } from '../api/learning-stream.js';
import type { LearningStats } from '../api/learner-state.js';
import type { Stream } from '../api/stream.js';
import type { LearningConfig, NormalizeMode } from '../protocol/messages.js';
import type { Scale } from '../model/running-stats.js';
import type { ErrorScorer } from './error-scorer.js';
import type { OnlineNormalizer } from './online-normalizer.js';

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

/** How open asks a stream's inputs to be scaled, and how a learning stream learns: wire concepts, defined by the protocol. */
export type { LearningConfig, NormalizeMode };

/** What a learning stream's frame did to the model: LearningReport['event']. */
export type LearnEvent = NonNullable<LearningReport['event']>;

/** One open stream on the server: its kernel slot (or its parked snapshot), its scaling, scoring and sequence. */
export interface StreamEntry {
  /** The name producers and dashboards use, e.g. "pump-7". */
  readonly name: string;
  /** A server-wide handle, the u32 that binary frames carry. */
  readonly id: number;
  readonly served: ServedModel;
  /** The stream's kernel slot; undefined while it is parked (idle, snapshotted out of the kernel). A learning stream's is its learner's. */
  stream: Stream | undefined;
  /** Stream.snapshot() bytes while parked. */
  parked: Uint8Array | undefined;
  /**
   * Set once the stream is a learning stream (opened with learn: true, or learning
   * turned on later): its frames go through a LearningStream, which scales its
   * inputs itself, predicts, and trains the model when `learn` is on. It stays one
   * when learning is turned off (training pauses, predictions go on the same way).
   */
  learning: LearningConfig | undefined;
  /** The learning stream's learner while it is in the kernel (its stream is `stream`). */
  learner: LearningStream | undefined;
  /** LearningStream.exportState() bytes while the learner is parked. */
  parkedLearner: Uint8Array | undefined;
  /** Sequence number of the last frame stepped; −1 before any. Frames must come with a larger seq. */
  lastSeq: number;
  /** Forecast rows per prediction; 0 = none. */
  horizon: number;
  /** Training on (a learning stream's frames train the model) or paused. Always false for a stream that is not a learning stream. */
  learn: boolean;
  /** Online input statistics, or undefined when the model's own (or none) apply. */
  normalizer: OnlineNormalizer | undefined;
  /** Opened with normalize "none": its values go to the model as sent, and it cannot become a learning stream. */
  readonly valuesAsSent?: boolean;
  readonly scorer: ErrorScorer;
  /** The producer allowed to send frames; undefined while nobody holds the stream (after a disconnect or a restart). */
  owner: FrameSource | undefined;
  /** The server's clock (ms since the epoch) when the stream lost its producer (disconnect or restart); undefined while held. Unheld streams are closed after the server's TTL. */
  orphanedAt: number | undefined;
  /** The server's clock (ms since the epoch) at the last frame stepped (or at the open). */
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
  /** Timestamp given by the producer (any unit), or undefined (validateFrames fills in the receive time). */
  readonly t: number | undefined;
  /** Frame models: the values, unchecked. */
  readonly values?: unknown;
  /** Token models: the token id, unchecked. */
  readonly token?: unknown;
  /** performance.now() when the message holding it arrived, ms. */
  readonly receivedAt: number;
  /** It came in a binary message; its prediction goes back in one. */
  readonly binary?: boolean;
  /** `values` is a Float64Array made for this frame alone (decoded from binary): validateFrames keeps it as the frame's actual instead of copying it. */
  readonly ownedValues?: boolean;
}

/** A frame that passed validateFrames: it will be stepped. */
export interface Frame {
  readonly source: FrameSource;
  readonly entry: StreamEntry;
  readonly seq: number;
  /** The producer's t, or the server's receive time in ms since the epoch when it gave none. */
  readonly t: number;
  /** The values in the producer's units (frame models), or the token id. */
  readonly actual: Float64Array | number;
  readonly receivedAt: number;
  readonly binary?: boolean;
}

export type { LearningStats, Scale };

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
  /** Attention models: this position's attention weights in the last block, one row per head over the attended positions (oldest first); else undefined. */
  attention: Float32Array[] | undefined;
  /** Duration of the kernel call(s) that stepped this frame's batch (for a learning stream: plus its own training), µs. */
  readonly stepMicros: number;
  /** Frames in that batch. */
  readonly batchSize: number;
  /** Learning streams: the training window's loss (normalized units²) when this frame ran a training step; else undefined. */
  loss: number | undefined;
  /** Learning streams: what this frame's training step did ('trained', 'skipped-spike', 'rolled-back', 'refused'); else undefined. */
  learnEvent: LearnEvent | undefined;
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
