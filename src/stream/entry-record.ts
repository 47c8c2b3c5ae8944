// One stream entry as a checkpoint records it (JSON), and the check a record read back from disk passes before
// anything is built from it: every field of its kind and within its limits, or an InputError naming the field.

import { InputError } from '../errors.js';
import { MAX_HORIZON, MAX_LEARNING_WINDOW, MAX_STREAM_NAME } from '../protocol/messages.js';
import type { ErrorScorerState } from './error-scorer.js';
import type { OnlineNormalizerState } from './online-normalizer.js';
import type { LearningConfig, NormalizeMode } from './types.js';

/** One stream entry as a checkpoint records it (JSON-ready; the server's StreamRecord in streams.json). */
export interface EntryRecord {
  name: string;
  id: number;
  /** The served model's name. */
  model: string;
  lastSeq: number;
  horizon: number;
  learn: boolean;
  /** 'online' when the entry has an online normalizer, else 'none'. */
  normalize: NormalizeMode;
  /** true for a stream opened with normalize "none" (values as sent, never a learning stream); absent means false, as in checkpoints before it was recorded. */
  valuesAsSent?: boolean;
  /** Stream.snapshot() bytes, base64; absent for a stream never stepped. */
  snapshot?: string;
  normalizer?: OnlineNormalizerState;
  scorer: ErrorScorerState;
  /** Learning streams: their options. */
  learning?: LearningConfig;
  /** Learning streams: LearningStream.exportState() bytes, base64; absent before their first frame. */
  learner?: string;
}

/** Largest stream id: ids travel as u32 in binary frames. */
const MAX_STREAM_ID = 2 ** 32 - 1;

/**
 * Checks a value read from streams.json into an EntryRecord: every field of its kind and within the limits a
 * client's open would meet (name length, horizon, learning options), numbers finite, the scorer's arrays as long
 * as its options say (so nothing is allocated for sizes the file does not back). Throws InputError naming the
 * field. Whether its state fits a model is restoreEntryState's check.
 */
export function checkEntryRecord(value: unknown): EntryRecord {
  const record = object(value, 'the record');
  const field = (key: string) => record[key];
  const name = field('name');
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_STREAM_NAME) fail('name', `a name of 1 to ${MAX_STREAM_NAME} characters`, name);
  integer(field('id'), 'id', 1, MAX_STREAM_ID);
  if (typeof field('model') !== 'string') fail('model', 'a model name', field('model'));
  integer(field('lastSeq'), 'lastSeq', -1, Number.MAX_SAFE_INTEGER);
  integer(field('horizon'), 'horizon', 0, MAX_HORIZON);
  if (typeof field('learn') !== 'boolean') fail('learn', 'true or false', field('learn'));
  if (field('normalize') !== undefined && field('normalize') !== 'online' && field('normalize') !== 'none') fail('normalize', '"online" or "none"', field('normalize'));
  if (field('valuesAsSent') !== undefined && typeof field('valuesAsSent') !== 'boolean') fail('valuesAsSent', 'true or false', field('valuesAsSent'));
  for (const key of ['snapshot', 'learner']) {
    if (field(key) !== undefined && typeof field(key) !== 'string') fail(key, 'base64 bytes', field(key));
  }
  if (field('normalizer') !== undefined) checkNormalizer(field('normalizer'));
  checkScorer(field('scorer'));
  if (field('learning') !== undefined) {
    const learning = object(field('learning'), 'learning');
    integer(learning.every, 'learning.every', 1, MAX_LEARNING_WINDOW);
    integer(learning.window, 'learning.window', 1, MAX_LEARNING_WINDOW);
    if (learning.target !== 'delta' && learning.target !== 'value') fail('learning.target', '"delta" or "value"', learning.target);
  }
  return record as unknown as EntryRecord;
}

function checkNormalizer(value: unknown): void {
  const state = object(value, 'normalizer');
  finite(state.count, 'normalizer.count', 0);
  const mean = finiteArray(state.mean, 'normalizer.mean');
  const m2 = finiteArray(state.m2, 'normalizer.m2', 0);
  if (m2.length !== mean.length) throw new InputError(`normalizer.m2 has ${m2.length} values and normalizer.mean ${mean.length}; expected one of each per channel`);
}

/** Largest window a checkpointed scorer may ask for: its arrays are allocated at these sizes before they are filled. */
const MAX_SCORER_WINDOW = 2 ** 20;

function checkScorer(value: unknown): void {
  const state = object(value, 'scorer');
  const options = object(state.options, 'scorer.options');
  // the scorer's windows size its arrays: the arrays in the file must fit them, so a corrupt window allocates nothing
  for (const key of ['rmseWindow', 'shortWindow', 'longWindow']) integer(options[key], `scorer.options.${key}`, 1, MAX_SCORER_WINDOW);
  integer(options.probation, 'scorer.options.probation', 0, Number.MAX_SAFE_INTEGER);
  for (const key of ['suppress', 'seasonDays', 'seasonNeighbours']) {
    if (options[key] !== undefined) integer(options[key], `scorer.options.${key}`, 0, key === 'suppress' ? Number.MAX_SAFE_INTEGER : 366);
  }
  if (options.rangeTolerance !== undefined) finite(options.rangeTolerance, 'scorer.options.rangeTolerance', 0);
  const squared = finiteArray(state.squaredErrors, 'scorer.squaredErrors', 0);
  if (squared.length !== options.rmseWindow) throw new InputError(`scorer.squaredErrors has ${squared.length} values; scorer.options.rmseWindow says ${options.rmseWindow}`);
  if (state.previous !== null) finiteArray(state.previous, 'scorer.previous');
  integer(state.scored, 'scorer.scored', 0, Number.MAX_SAFE_INTEGER);
  if (state.squaredSum !== undefined) finite(state.squaredSum, 'scorer.squaredSum', 0);
  // checkpoints before the detector carried the older likelihood's fields, which are read no more; a detector's state is checked whole
  if (state.detector !== undefined) checkDetector(object(state.detector, 'scorer.detector'), options);
}

function checkDetector(detector: Record<string, unknown>, options: Record<string, unknown>): void {
  for (const key of ['prediction', 'seasonal']) checkLikelihood(object(detector[key], `scorer.detector.${key}`), `scorer.detector.${key}`, options);
  if (detector.memory !== null) checkMemory(object(detector.memory, 'scorer.detector.memory'), Number(options.seasonDays ?? 0));
  for (const key of ['low', 'high']) if (detector[key] !== null) finiteArray(detector[key], `scorer.detector.${key}`);
  if (detector.previousZ !== null && typeof detector.previousZ !== 'number') fail('scorer.detector.previousZ', 'a number', detector.previousZ);
  if (typeof detector.lastDetection !== 'number' || Number.isNaN(detector.lastDetection)) fail('scorer.detector.lastDetection', 'a number', detector.lastDetection);
}

function checkLikelihood(state: Record<string, unknown>, field: string, options: Record<string, unknown>): void {
  const recent = finiteArray(state.recent, `${field}.recent`);
  if (recent.length > Number(options.shortWindow)) throw new InputError(`${field}.recent has ${recent.length} values; scorer.options.shortWindow is ${options.shortWindow}`);
  integer(state.recentPushed, `${field}.recentPushed`, recent.length, Number.MAX_SAFE_INTEGER);
  finite(state.recentSum, `${field}.recentSum`);
  const history = finiteArray(state.history, `${field}.history`);
  if (history.length > Number(options.longWindow)) throw new InputError(`${field}.history has ${history.length} values; scorer.options.longWindow is ${options.longWindow}`);
  finite(state.mean, `${field}.mean`);
  finite(state.std, `${field}.std`, 0);
  integer(state.sinceEstimate, `${field}.sinceEstimate`, 0, Number.MAX_SAFE_INTEGER);
  if (typeof state.estimated !== 'boolean') fail(`${field}.estimated`, 'true or false', state.estimated);
}

function checkMemory(state: Record<string, unknown>, days: number): void {
  const times = finiteArray(state.times, 'scorer.detector.memory.times');
  if (times.length > MAX_SCORER_WINDOW) throw new InputError(`scorer.detector.memory.times has ${times.length} values; at most ${MAX_SCORER_WINDOW}`);
  if (!Array.isArray(state.values)) fail('scorer.detector.memory.values', 'an array of channels', state.values);
  state.values.forEach((channel, c) => {
    const values = finiteArray(channel, `scorer.detector.memory.values[${c}]`);
    if (values.length !== times.length) throw new InputError(`scorer.detector.memory.values[${c}] has ${values.length} values for ${times.length} times`);
  });
  integer(state.pushed, 'scorer.detector.memory.pushed', times.length, Number.MAX_SAFE_INTEGER);
  const cursors = finiteArray(state.cursors, 'scorer.detector.memory.cursors', 0);
  if (cursors.length > Math.max(days, 366)) throw new InputError(`scorer.detector.memory.cursors has ${cursors.length} values; scorer.options.seasonDays is ${days}`);
}

function fail(field: string, expected: string, got: unknown): never {
  const shown = JSON.stringify(got) ?? String(got);
  throw new InputError(`${field} is ${shown.length > 60 ? `${shown.slice(0, 60)}…` : shown}; expected ${expected}`);
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'an object', value);
  return value as Record<string, unknown>;
}

function integer(value: unknown, field: string, low: number, high: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) fail(field, `an integer from ${low} to ${high}`, value);
}

function finite(value: unknown, field: string, low = -Infinity): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < low) fail(field, low === -Infinity ? 'a finite number' : `a finite number of at least ${low}`, value);
}

function finiteArray(value: unknown, field: string, low = -Infinity): number[] {
  if (!Array.isArray(value)) fail(field, 'an array of numbers', value);
  value.forEach((v, i) => finite(v, `${field}[${i}]`, low));
  return value as number[];
}
