// The dashboard's side of the seqcast wire protocol (docs/protocol.md): the messages it reads (types from src/protocol/messages.ts) and the ones it sends.

import type {
  ClosedMessage,
  ConfiguredMessage,
  ErrorMessage,
  HistoryMessage,
  ListedModel as WireListedModel,
  ListedStream as WireListedStream,
  MetricsMessage,
  OpenedMessage,
  PredictionMessage,
  ResetMessage,
  StreamsMessage as WireStreamsMessage,
  SubscribedMessage,
} from '../../src/protocol/messages.js';

export type { ErrorMessage, HistoryMessage, LearnerStats, MetricsMessage, PredictionMessage, StreamLearning } from '../../src/protocol/messages.js';

/** The WebSocket endpoint, relative to the page's origin (the same as src/protocol's WS_PATH; the dashboard imports only types from there). */
export const WS_PATH = '/ws';


/** One stream in the answer to `list`. */
export interface ListedStream extends WireListedStream {
  /** Not in protocol v1 (proposed): the frame's shape for image streams, e.g. [16, 16]. */
  shape?: number[];
}

/** One model in the answer to `list`; `kind` may be absent (servers before it was listed leave it out). */
export interface ListedModel extends Omit<WireListedModel, 'kind'> {
  kind?: string;
}

/** The answer to `list`, as the dashboard reads it; `detection` may be absent (servers before it was listed leave it out). */
export interface StreamsMessage extends Omit<WireStreamsMessage, 'streams' | 'models' | 'detection'> {
  streams: ListedStream[];
  models: ListedModel[];
  detection?: WireStreamsMessage['detection'];
}

/** Replies to the dashboard's own requests (and the ones a producer's connection gets). */
export type ReplyMessage = SubscribedMessage | ResetMessage | ConfiguredMessage | OpenedMessage | ClosedMessage;

export type ServerMessage = PredictionMessage | MetricsMessage | StreamsMessage | HistoryMessage | ErrorMessage | ReplyMessage;

// ---- dashboard → server ------------------------------------------------------------------------------------------

/** Watch these streams (and get metrics once a second). */
export function subscribeMessage(streams: string[]): object {
  return { type: 'subscribe', streams, metrics: true };
}

/** Stop watching these streams; metrics go on. */
export function unsubscribeMessage(streams: string[]): object {
  return { type: 'unsubscribe', streams };
}

/**
 * Ask for a stream's recorded past: the last `lastSeconds` before its newest frame, at most `maxPoints` rows
 * (decimated to min/max pairs beyond). Answered with {"type":"history",...} (docs/protocol.md); an older server
 * answers unknown_type, and the page shows only what arrives live.
 */
export function historyMessage(stream: string, lastSeconds: number, maxPoints: number): object {
  return { type: 'history', stream, last: lastSeconds, maxPoints };
}

export function listMessage(): object {
  return { type: 'list' };
}

/** Zero the stream's state, statistics and scores; who may is the server's rule (docs/protocol.md, Roles). */
export function resetMessage(stream: string): object {
  return { type: 'reset', stream };
}

/**
 * Change a stream's horizon or online learning while it runs (the page's role permitting: permissions.ts);
 * answered with {"type":"configured","stream","horizon","learn",...}.
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
