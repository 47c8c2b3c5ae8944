// Frame sources as the pool sees them: connections it answers, what of a frame's values packs, and a prediction back as a ScoredFrame.

import { ErrorCode } from '../protocol/codes.js';
import type { ProtocolProblem } from '../protocol/messages.js';
import type { FrameSource, ScoredFrame, StreamEntry } from '../stream/types.js';
import type { CrossingPrediction } from './frames.js';

/** What answers go to: a connection (src/server/connection.ts). */
export interface Answerable extends FrameSource {
  send(message: unknown): void;
  sendError(problem: ProtocolProblem): void;
}

/** Whether `source` is a connection the pool can answer later (producers inside the server's process are not). */
export function isAnswerable(source: FrameSource): source is Answerable {
  return typeof (source as Partial<Answerable>).send === 'function' && typeof (source as Partial<Answerable>).sendError === 'function';
}

/** Whether a frame's values are a list of numbers (and so pack; anything else crosses as is, to be refused there). */
export function allNumbers(values: unknown): values is ArrayLike<number> {
  if (!Array.isArray(values) && !ArrayBuffer.isView(values)) return false;
  const list = values as ArrayLike<unknown>;
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'number') return false;
  return true;
}

/** Producers inside the server's process (the demo) are answered at once, which worker threads cannot do. */
export function localRefused(stream: string): ProtocolProblem {
  return { code: ErrorCode.internal, message: `"${stream}": this server's streams live on worker threads, which serve producers inside its process only with --workers 1`, stream };
}

/** A prediction from a worker as the ScoredFrame the server delivers: every field written out, in validateFrames' order (one shape for every frame; a spread would not keep it). */
export function scoredFrame(p: CrossingPrediction, source: FrameSource, entry: StreamEntry): ScoredFrame {
  return {
    source,
    entry,
    seq: p.seq,
    t: p.t,
    actual: p.actual,
    receivedAt: p.receivedAt,
    binary: p.binary,
    input: 0,
    scale: undefined,
    predicted: p.predicted,
    forecast: p.forecast,
    attention: p.attention,
    stepMicros: p.stepMicros,
    batchSize: p.batchSize,
    loss: p.loss,
    learnEvent: p.learnEvent,
    error: p.error,
    rmse: p.rmse,
    anomaly: p.anomaly,
  };
}
