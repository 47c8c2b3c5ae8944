// The seam between the socket thread and whatever holds the streams: the stream table and pipeline in this thread
// (the default), or an engine from above the server (src/cluster/: worker threads) that answers later.

import { ErrorCode } from '../protocol/codes.js';
import type { ClosedMessage, ConfigureMessage, ConfiguredMessage, OpenedMessage, OpenMessage, ProtocolProblem, ResetMessage, StreamsMessage } from '../protocol/messages.js';
import type { ScorerOptions } from '../stream/error-scorer.js';
import type { FrameSource, IncomingFrame, Rejection, ScoredBatch, ServedModel, StreamEntry } from '../stream/types.js';
import type { StreamTableOptions } from './streams.js';

/**
 * What dispatch and the server's lifecycle ask of the streams: the stream table's surface. An answer of `undefined`
 * means "answered later": the engine sends the answer to the source itself (a worker's reply arrives a turn later).
 */
export interface StreamDirectory {
  /** Open streams by name, as far as this thread knows them (an engine's entries carry name, id and model only). */
  readonly byName: ReadonlyMap<string, StreamEntry>;
  withId(id: number): StreamEntry | undefined;
  open(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem | undefined;
  configure(source: FrameSource, request: ConfigureMessage): ConfiguredMessage | ProtocolProblem | undefined;
  reset(source: FrameSource, stream: string): ResetMessage | ProtocolProblem | undefined;
  close(source: FrameSource, stream: string, owned?: Set<StreamEntry>): ClosedMessage | ProtocolProblem | undefined;
  list(offset?: number, source?: FrameSource): StreamsMessage | undefined;
  orphan(source: FrameSource, owned: Set<StreamEntry>, address?: string): void;
  parkIdle(now: number): number;
  expireOrphans(now: number): number;
  counts(): { open: number; held: number; parked: number; learning: number };
}

/** A stream engine the server hands frames to instead of its own pipeline; it owns the streams' state and checkpoints. */
export interface StreamEngine extends StreamDirectory {
  /** A frame as dispatch built it (its `entry` is this thread's directory entry, or undefined). */
  frame(frame: IncomingFrame): void;
  /** Starts (restoring the state directory's streams, if any); the generation to count checkpoints on from. */
  start(): Promise<number | undefined>;
  /** Checkpoints every stream and model as generation `generation`. */
  checkpoint(generation: number): Promise<void>;
  /** Stops (after the server's last checkpoint). */
  stop(): Promise<void>;
}

/** What the server gives an engine it starts. */
export interface EngineParts {
  models: readonly ServedModel[];
  /** The stream table's limits and defaults, resolved (clock, flush and log are this thread's). */
  table: Omit<StreamTableOptions, 'clock' | 'flush' | 'log' | 'scorer'>;
  scorer: ScorerOptions | undefined;
  stateDir: string | undefined;
  /** The server's clock, ms. */
  now: () => number;
  /** Scored frames, to go back to their producers and dashboards (their `source` is the one the frame came from). */
  deliver: (batch: ScoredBatch) => void;
  /** A refused frame, to be answered. */
  rejected: (rejection: Rejection) => void;
  log: (line: string) => void;
}

/**
 * What the server's own open/configure/reset/close methods (for producers inside its process) answer when the engine
 * answers later: such producers are answered at once, so an engine that cannot refuses them itself first.
 */
export function answeredLater(stream: string): ProtocolProblem {
  return { code: ErrorCode.internal, message: `"${stream}": this server's streams live on worker threads, which serve producers inside its process only with --workers 1`, stream };
}

/** Makes the engine of a server (ServerOptions.engine). */
export type EngineFactory = (parts: EngineParts) => StreamEngine;
