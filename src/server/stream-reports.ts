// How the stream table's streams and the server's models look on the wire: the `opened` answer and the rows of `list`.

import type { DetectionReport, LearnerStats, ListedModel, ListedStream, NormalizeReport, OpenedMessage, StreamsMessage } from '../protocol/messages.js';
import type { FrameSource, ServedModel, StreamEntry } from '../stream/types.js';
import type { HasRole } from './roles.js';

/** The `opened` answer for a stream (`resumed`: taken over rather than created). */
export function openedMessage(entry: StreamEntry, resumed: boolean): OpenedMessage {
  const model = entry.served.model;
  const message: OpenedMessage = {
    type: 'opened',
    stream: entry.name,
    id: entry.id,
    model: entry.served.name,
    inputSize: model.isTokenModel ? 1 : model.inputSize,
    outputSize: model.outputSize,
    horizon: entry.horizon,
    learn: entry.learn,
    learning: entry.learning ?? null,
    normalize: normalizeMode(entry),
    lastSeq: entry.lastSeq,
    resumed,
  };
  if (model.isTokenModel) message.vocabSize = model.arch.vocabSize;
  if (model.metadata.channels) message.channels = model.metadata.channels;
  return message;
}

/** A stream's row in the answer to `list`. */
export function listedStream(entry: StreamEntry): ListedStream {
  return {
    stream: entry.name,
    id: entry.id,
    model: entry.served.name,
    lastSeq: entry.lastSeq,
    horizon: entry.horizon,
    learn: entry.learn,
    learning: entry.learning ? { ...entry.learning, ...(entry.learner ? { stats: learnerStats(entry.learner.stats) } : {}) } : null,
    normalize: normalizeMode(entry),
    held: entry.owner !== undefined,
    parked: entry.stream === undefined,
  };
}

/**
 * The `streams` answer to `list`: `page` (at most MAX_LISTED streams, from `offset` on) of `total`, the models, how
 * detections are made, and the asking connection's role (docs/protocol.md, Roles), whoever keeps the streams.
 */
export function streamsPage(page: ListedStream[], offset: number, total: number, models: Iterable<ServedModel>, detection: DetectionReport, source: FrameSource | undefined): StreamsMessage {
  const next = offset + page.length;
  const role = (source as Partial<HasRole> | undefined)?.role;
  return { type: 'streams', streams: page, models: [...models].map(listedModel), detection, total, ...(next < total ? { next } : {}), ...(role ? { role } : {}) };
}

/** A model's row in the answer to `list`. */
export function listedModel({ name, model }: ServedModel): ListedModel {
  const attention = model.arch.attention;
  return {
    name,
    description: model.describe(),
    kind: model.arch.kind,
    cell: model.arch.cell,
    ...(model.arch.cell === 'rnn' ? { nonlinearity: model.arch.nonlinearity ?? 'tanh' } : {}),
    layers: model.arch.layers,
    hiddenSize: model.arch.hiddenSize,
    inputSize: model.isTokenModel ? 1 : model.inputSize,
    outputSize: model.outputSize,
    ...(model.isTokenModel ? { vocabSize: model.arch.vocabSize } : {}),
    ...(model.metadata.channels ? { channels: model.metadata.channels } : {}),
    ...(model.metadata.shape ? { shape: model.metadata.shape } : {}),
    ...(attention ? { attention: { width: attention.width, heads: attention.heads, blocks: attention.blocks, window: attention.window, sinks: attention.sinks, positional: attention.positional } } : {}),
  };
}

/** How a stream's inputs are scaled, as open, configure and list report it. */
function normalizeMode(entry: StreamEntry): NormalizeReport {
  if (entry.served.model.normalizer) return 'model';
  return entry.normalizer || entry.learning ? 'online' : 'none';
}

/** A learner's running totals for list (NaN as null). */
function learnerStats(stats: NonNullable<StreamEntry['learner']>['stats']): LearnerStats {
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  return { frames: stats.frames, updates: stats.updates, skipped: stats.skipped, rollbacks: stats.rollbacks, mse: finite(stats.mse), persistenceMse: finite(stats.persistenceMse), runningLoss: finite(stats.runningLoss) };
}
