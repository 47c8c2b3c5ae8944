// A stream entry of the server's table: how one is built (open and restore), and what its model allows it.

import { ErrorCode } from '../protocol/codes.js';
import type { ProtocolProblem } from '../protocol/messages.js';
import type { ErrorScorer } from '../stream/error-scorer.js';
import type { OnlineNormalizer } from '../stream/online-normalizer.js';
import type { FrameSource, LearningConfig, ServedModel, StreamEntry } from '../stream/types.js';

/** Why a model cannot learn online on this server, or undefined when it can. */
export function cannotLearn(model: ServedModel['model']): string | undefined {
  if (model.isTokenModel) return 'it is a token model, and online learning learns frame models';
  if (model.target === 'label') return 'it is a label model, and online learning predicts the next frame';
  if (model.outputSize !== model.inputSize) return `it outputs ${model.outputSize} values for ${model.inputSize} inputs, and online learning predicts the next frame`;
  return undefined;
}

/** Why a model's outputs cannot be fed back as its inputs (Stream.forecast), or undefined when they can. */
export function cannotForecast(model: ServedModel['model']): string | undefined {
  if (model.target === 'label') return 'is a label model (its outputs are classes or a value, not a frame)';
  if (!model.isTokenModel && model.outputSize !== model.inputSize) return `outputs ${model.outputSize} values for ${model.inputSize} inputs`;
  return undefined;
}

/** What a stream entry starts with; everything else starts empty (no slot, not closed). */
export interface StreamEntryFields {
  name: string;
  id: number;
  served: ServedModel;
  learning: LearningConfig | undefined;
  learn: boolean;
  lastSeq: number;
  horizon: number;
  normalizer: OnlineNormalizer | undefined;
  /** Opened with normalize "none" (default false). */
  valuesAsSent?: boolean;
  scorer: ErrorScorer;
  owner: FrameSource | undefined;
  /** ms (the server's clock); undefined while held. */
  orphanedAt: number | undefined;
  /** ms (the server's clock). */
  lastActive: number;
  /** Stream.snapshot() bytes to start from (a restored stream). */
  parked?: Uint8Array;
  /** LearningStream.exportState() bytes to start from (a restored learning stream). */
  parkedLearner?: Uint8Array;
}

/** Builds a stream entry: the one place its fields are written out (open and restore both come here). */
export function streamEntry(fields: StreamEntryFields): StreamEntry {
  return {
    name: fields.name,
    id: fields.id,
    served: fields.served,
    stream: undefined,
    parked: fields.parked,
    learning: fields.learning,
    learner: undefined,
    parkedLearner: fields.parkedLearner,
    lastSeq: fields.lastSeq,
    horizon: fields.horizon,
    learn: fields.learning !== undefined && fields.learn,
    normalizer: fields.normalizer,
    valuesAsSent: fields.valuesAsSent ?? false,
    scorer: fields.scorer,
    owner: fields.owner,
    orphanedAt: fields.orphanedAt,
    lastActive: fields.lastActive,
    closed: false,
  };
}

/** The target a learning stream on `model` gets by default: the model's metadata target when it names one, else the server's, else 'delta'. */
export function defaultTarget(model: ServedModel['model'], serverDefault: LearningConfig['target'] | undefined): LearningConfig['target'] {
  const target = model.metadata.target;
  if (target === 'delta' || target === 'value') return target;
  if (target === 'next') return 'value'; // seqcast train's name for a next-value model
  return serverDefault ?? 'delta';
}

/** Why a stream that is not a learning stream cannot become one (opened with normalize "none"), or undefined. */
export function plainCannotLearn(entry: StreamEntry, what: string): ProtocolProblem | undefined {
  if (!entry.valuesAsSent) return undefined;
  return {
    code: ErrorCode.badField,
    message: `${what}: the stream was opened with normalize "none", and a learning stream scales its inputs with its own running statistics; close it and open it again with learn: true`,
    stream: entry.name,
  };
}

