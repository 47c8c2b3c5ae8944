// Record and restore: a stream entry's state (slot snapshot, learner, statistics, scores) and a model's weights
// and optimizer state, as checkpoints store them; the server's checkpoint files hold what these return.

import type { Model } from '../api/model.js';
import { learnerStateProblem } from '../api/learner-state.js';
import { exportOptimizerState, importOptimizerState, optimizerStateProblem } from '../api/optimizer-state.js';
import { snapshotProblem } from '../api/snapshot.js';
import { InputError, StateError } from '../errors.js';
import { ErrorScorer } from './error-scorer.js';
import { OnlineNormalizer } from './online-normalizer.js';
import { learnerSnapshot, streamSnapshot } from './slots.js';
import type { EntryRecord } from './entry-record.js';
import type { LearningConfig, ServedModel, StreamEntry } from './types.js';

/**
 * A model's state at one moment: its weights as safetensors and, when it has an Adam optimizer, that optimizer's
 * state. Nothing non-finite is recorded: weights that are not finite throw StateError (a checkpoint of them would
 * replace good weights with unusable ones; the previous checkpoint stays), and an optimizer state that is not
 * finite is left out (learning would go on after a restart with fresh Adam moments).
 */
export function recordModel(model: Model): { weights: Uint8Array; optimizer?: Uint8Array } {
  for (const name of model.parameterNames) {
    const values = model.getParameter(name);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new StateError(`the weights of ${model.describe()} are not finite (tensor ${name} element ${bad} is ${values[bad]}); they are not checkpointed`);
  }
  const optimizer = exportOptimizerState(model);
  const keep = optimizer && optimizerStateProblem(optimizer) === undefined;
  return { weights: model.toSafetensors(), ...(keep ? { optimizer } : {}) };
}

/**
 * Restores recordModel()'s optimizer bytes into `model` (Adam's hyperparameters, moments and step count): after its
 * weights, before any learner of it trains. Throws InputError for bytes of another model or a bad format.
 */
export function restoreModelOptimizer(model: Model, optimizer: Uint8Array): void {
  importOptimizerState(model, optimizer);
}

/**
 * The entry's state as a checkpoint records it, taken now (active or parked, learner included); reads its kernel
 * slot. Nothing that could not be read back is recorded: when a part of the stream's state (slot snapshot,
 * learner, online statistics, scores) is not finite, the record keeps the stream's name, sequence and settings
 * but not its state, and `report` is told why; after a restart the stream goes on from a fresh state.
 */
export function recordEntry(entry: StreamEntry, report?: (problem: string) => void): EntryRecord {
  const snapshot = streamSnapshot(entry);
  const learner = entry.learning ? learnerSnapshot(entry) : undefined;
  const normalizer = entry.normalizer?.toJSON();
  const scorer = entry.scorer.toJSON();
  const identity = {
    name: entry.name,
    id: entry.id,
    model: entry.served.name,
    lastSeq: entry.lastSeq,
    horizon: entry.horizon,
    learn: entry.learn,
    normalize: entry.normalizer ? 'online' as const : 'none' as const,
    ...(entry.valuesAsSent ? { valuesAsSent: true } : {}),
    ...(entry.learning ? { learning: entry.learning } : {}),
  };
  const problem = (snapshot && snapshotProblem(snapshot)) ?? (learner && learnerStateProblem(learner)) ??
    nonFinite('online statistics', normalizer) ?? nonFinite('scores', scorer);
  if (problem !== undefined) {
    report?.(`stream "${entry.name}": ${problem}; checkpointed without its state, so that a restart goes on with the stream from a fresh state`);
    return {
      ...identity,
      ...(entry.normalizer ? { normalizer: new OnlineNormalizer(entry.normalizer.width).toJSON() } : {}),
      scorer: new ErrorScorer(entry.scorer.options).toJSON(),
    };
  }
  return {
    ...identity,
    ...(snapshot ? { snapshot: base64(snapshot) } : {}),
    ...(normalizer ? { normalizer } : {}),
    scorer,
    ...(learner ? { learner: base64(learner) } : {}),
  };
}

/** "scores: squaredErrors[3] is Infinity" for the first number in `value` (JSON-ready state) that is not finite. */
function nonFinite(what: string, value: unknown): string | undefined {
  const pending: [string, unknown][] = [[what, value]];
  while (pending.length > 0) {
    const [path, item] = pending.pop()!;
    if (typeof item === 'number' && !Number.isFinite(item)) return `${path} is ${item}`;
    if (Array.isArray(item)) item.forEach((v, i) => pending.push([`${path}[${i}]`, v]));
    else if (typeof item === 'object' && item !== null) for (const [key, v] of Object.entries(item)) pending.push([`${path}.${key}`, v]);
  }
  return undefined;
}

/** The fields of a stream entry a record brings back: its parked slot and learner, learning, statistics, how its values are fed, and scores. */
export interface RestoredEntryState {
  parked: Uint8Array | undefined;
  parkedLearner: Uint8Array | undefined;
  learning: LearningConfig | undefined;
  learn: boolean;
  normalizer: OnlineNormalizer | undefined;
  /** Opened with normalize "none": it stays a stream whose values go to the model as sent. */
  valuesAsSent: boolean;
  scorer: ErrorScorer;
}

/**
 * Decodes a record's state for an entry on `served`, parked (its first frame brings it into the kernel). The
 * snapshot and learner bytes are tried now, on a slot opened and closed for it, so a bad record throws here
 * (InputError) rather than on the stream's next frame. A learning record needs a model that can learn online
 * (the caller checks: a learner cannot open otherwise).
 */
export function restoreEntryState(served: ServedModel, record: EntryRecord): RestoredEntryState {
  const width = record.normalizer?.mean.length;
  if (width !== undefined && width !== served.model.inputSize) {
    throw new InputError(`its online statistics are of ${width} channels; model "${served.name}" takes ${served.model.inputSize}`);
  }
  const parked = record.snapshot ? fromBase64(record.snapshot) : undefined;
  const parkedLearner = record.learner ? fromBase64(record.learner) : undefined;
  const model = served.model;
  if (record.learning) {
    const probe = model.openLearningStream({ name: record.name, every: record.learning.every, window: record.learning.window, predict: record.learning.target, learn: false });
    try {
      if (parkedLearner) probe.importState(parkedLearner);
      if (parked) probe.stream.restore(parked);
    } finally {
      probe.close();
    }
  } else if (parked) {
    const probe = model.openStream({ name: record.name });
    try {
      probe.restore(parked);
    } finally {
      probe.close();
    }
  }
  return {
    parked,
    parkedLearner,
    learning: record.learning,
    learn: record.learning !== undefined && record.learn,
    normalizer: record.normalizer ? OnlineNormalizer.fromJSON(record.normalizer) : undefined,
    valuesAsSent: record.valuesAsSent === true,
    scorer: ErrorScorer.fromJSON(record.scorer),
  };
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
