// From data and flags to a training plan: the split, the normalizer (computed
// on the training part only), targets in model units, the model's spec and
// metadata, and the task that feeds the kernel.

import type { Model, ModelSpec } from '../api/model.js';
import type { LossKind } from '../api/train.js';
import { InputError } from '../errors.js';
import type { SeqcastMetadata } from '../model/metadata.js';
import { channelStats, type CsvData, type TextData } from './data.js';
import { streamsValidation, TbpttTextTask, validationStarts, WindowTask, type Positions, type TaskShape, type TrainTask } from './tasks.js';

export interface PlanOptions {
  shape: TaskShape;
  window: number;
  batch: number;
  /** Fraction of the data (its last part) kept for validation; 0 = none. */
  valSplit: number;
  /** Window starts advance by this much; default T for many-to-many, 1 otherwise. */
  stride?: number;
  /** CSV next-frame targets: predict x[t+1] − x[t] instead of x[t+1]. */
  delta?: boolean;
  /** How to read the label column: classes (cross-entropy), values (MSE), or decide from the values. */
  labelType?: 'auto' | 'class' | 'value';
  /** An attention model's S sinks (tasks.ts: the windows show them as a stream does); 0 or absent otherwise. */
  sinks?: number;
  /** Whether the model carries state between text chunks (recurrent, hybrid): then chunks are never edited. */
  carriesState?: boolean;
}

export interface TrainingPlan {
  task: TrainTask;
  /** createModel's spec without cell, sizes of the recurrent part and seed. */
  spec: Pick<ModelSpec, 'inputSize' | 'vocabSize' | 'outputSize'>;
  metadata: SeqcastMetadata;
  /** Lines describing the data and the split, for the log. */
  notes: string[];
  /**
   * How the saved head maps the trained output: the file's head computes scale·y + shift per output (a value
   * label's standardization undone, so the head returns the label in its own units).
   */
  outputMap?: { scale: number[]; shift: number[] };
  /** Validation loss of a trivial forecaster (persistence, or the mean), for scale; undefined when it does not apply. */
  baseline?: { name: string; loss: number };
}

function rowsWord(n: number, what: string): string {
  return `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;
}

/** Rows kept for training: the first ⌊N·(1 − split)⌋. */
export function trainingRows(total: number, valSplit: number): number {
  return Math.floor(total * (1 - valSplit));
}

/** Largest class id that still reads as a class label under --label-type auto. */
const MAX_AUTO_CLASSES = 1000;

export function planCsv(data: CsvData, options: PlanOptions): TrainingPlan {
  const { shape, window: T, batch: B, valSplit } = options;
  const X = data.channels.length;
  const N = data.rows;
  const hasLabel = data.labels !== undefined;
  const notes: string[] = [];
  if (hasLabel && options.delta) throw new InputError('--delta changes next-frame targets; it does not apply with a --label column');
  // a next-frame target needs one row after the window; a label sits on the window's last row
  const extra = hasLabel ? 0 : 1;
  const need = T + extra;
  const what = `one window of ${T} step${T === 1 ? '' : 's'} needs ${rowsWord(need, 'row')}${extra ? ' (the row after the window is the last target)' : ''}`;
  const skippedNote = data.skipped ? ` (after skipping ${rowsWord(data.skipped, 'row')} with missing values)` : '';
  if (N < need) throw new InputError(`${data.file} is too short: it has ${rowsWord(N, 'data row')}${skippedNote}, and ${what}; use a smaller --window`);
  const nTrain = valSplit > 0 ? trainingRows(N, valSplit) : N;
  const nVal = N - nTrain;
  if (nTrain < need) {
    throw new InputError(`the training part of ${data.file} (its first ${rowsWord(nTrain, 'row')}, with --val-split ${valSplit}) is too short: ${what}; use a smaller --window or --val-split`);
  }
  if (valSplit > 0 && nVal < need) {
    throw new InputError(`the validation part of ${data.file} (its last ${rowsWord(nVal, 'row')}, --val-split ${valSplit}) is too short: ${what}; use a larger --val-split, a smaller --window, or --val-split 0`);
  }

  // normalizer from the training rows only
  const stats = channelStats(data.values, X, 0, nTrain);
  const z = new Float32Array(N * X);
  for (let r = 0; r < N; r++) for (let c = 0; c < X; c++) z[r * X + c] = (data.values[r * X + c] - stats.mean[c]) / stats.std[c];
  const rowOf = (r: number) => z.subarray(r * X, (r + 1) * X);

  const metadata: SeqcastMetadata = { normalizer: stats, channels: data.channels, task: shape };
  let loss: LossKind = 'mse';
  let outputSize = X;
  let positions: (from: number, to: number) => Positions;
  let baseline: TrainingPlan['baseline'];
  let outputMap: TrainingPlan['outputMap'];

  if (!hasLabel) {
    // next frame: the head outputs X values, which Stream.step maps back to original units
    let deltas: Float32Array | undefined;
    if (options.delta) {
      deltas = new Float32Array(N * X);
      for (let r = 0; r + 1 < N; r++) for (let c = 0; c < X; c++) deltas[r * X + c] = (data.values[(r + 1) * X + c] - data.values[r * X + c]) / stats.std[c];
      // trained on (x[t+1] − x[t]) / std, the change in model units: the stream adds it to the frame and maps the sum back
      metadata.target = 'delta';
    } else {
      metadata.target = 'next';
    }
    const targetOf = deltas ? (r: number) => deltas!.subarray(r * X, (r + 1) * X) : (r: number) => rowOf(r + 1);
    positions = (from, to) => ({ count: to - from - 1, input: (t) => rowOf(from + t), target: (t) => targetOf(from + t) });
    if (nVal > 0) {
      // persistence (x̂[t+1] = x[t], i.e. a predicted change of 0), over the targets validation counts
      let sum = 0, n = 0;
      for (const r of validationRows(nTrain, N - 1, T, shape)) {
        for (let c = 0; c < X; c++) {
          const d = z[(r + 1) * X + c] - z[r * X + c];
          sum += d * d;
          n++;
        }
      }
      baseline = { name: 'persistence', loss: sum / n };
    }
  } else {
    const labels = data.labels!;
    const integral = labels.every((v) => Number.isInteger(v) && v >= 0);
    const largest = labels.reduce((m, v) => Math.max(m, v), 0);
    const type = options.labelType ?? 'auto';
    const classes = type === 'class' || (type === 'auto' && integral && largest < MAX_AUTO_CLASSES);
    if (classes) {
      if (!integral) {
        const bad = labels.findIndex((v) => !(Number.isInteger(v) && v >= 0));
        throw new InputError(`${data.file} line ${data.lines[bad]}: label ${labels[bad]} is not a class id (an integer ≥ 0)`);
      }
      loss = 'ce';
      const count = largest + 1;
      outputSize = count;
      metadata.target = 'label';
      // the head's outputs are the logits, as they are (a label model's outputs are never mapped through the normalizer)
      metadata.label = { column: data.labelName, type: 'class', classes: count };
      positions = (from, to) => ({ count: to - from, input: (t) => rowOf(from + t), target: (t) => labels[from + t] });
      if (nVal > 0) baseline = { name: 'class frequencies', loss: frequencyBaseline(labels, nTrain, count, validationRows(nTrain, N, T, shape)) };
    } else {
      outputSize = 1;
      // trained on the label standardized with its own training statistics; the saved head returns original units
      const labelStats = channelStats(labels, 1, 0, nTrain);
      outputMap = { scale: [labelStats.std[0]], shift: [labelStats.mean[0]] };
      metadata.target = 'label';
      metadata.label = { column: data.labelName, type: 'value', mean: labelStats.mean[0], std: labelStats.std[0] };
      const scaled = Float32Array.from(labels, (v) => (v - labelStats.mean[0]) / labelStats.std[0]);
      positions = (from, to) => ({ count: to - from, input: (t) => rowOf(from + t), target: (t) => scaled.subarray(from + t, from + t + 1) });
      if (nVal > 0) {
        const mean = scaled.subarray(0, nTrain).reduce((a, v) => a + v, 0) / nTrain;
        let sum = 0;
        const lasts = validationRows(nTrain, N, T, shape);
        for (const r of lasts) sum += (scaled[r] - mean) ** 2;
        baseline = { name: 'training mean', loss: sum / lasts.length };
      }
    }
  }

  const train = positions(0, nTrain);
  const validation = nVal > 0 ? positions(nTrain, N) : undefined;
  const stride = options.stride ?? (shape === 'many-to-many' ? T : 1);
  const task = new WindowTask(shape, loss, 'frames', train, validation, T, B, stride, outputSize, options.sinks ?? 0);
  notes.unshift(
    `${data.file}: ${rowsWord(N, 'row')} × ${rowsWord(X, 'channel')} (${data.channels.join(', ')})` +
      (data.timeColumn ? `; time column ${JSON.stringify(data.timeColumn.name)} skipped` : '') +
      (data.labelName !== undefined ? `; label ${JSON.stringify(data.labelName)} (${loss === 'ce' ? `${(metadata.label as { classes: number }).classes} classes, cross-entropy` : 'values, MSE'})` : ''),
  );
  if (data.skipped) notes.push(`skipped ${rowsWord(data.skipped, 'row')} with missing values (lines ${data.skippedLines.join(', ')}${data.skipped > data.skippedLines.length ? ', …' : ''})`);
  notes.push(`split: ${rowsWord(nTrain, 'row')} for training, ${rowsWord(nVal, 'row')} for validation; normalizer from the training rows`);
  if (nVal > 0) notes.push(validationNote(shape, T));
  return { task, spec: { inputSize: X, outputSize }, metadata, notes, baseline, outputMap };
}

/**
 * The rows of [nTrain, end) whose target validation counts: every one when validation streams the part, else each
 * many-to-one window's last row. Baselines are measured on exactly these.
 */
function validationRows(nTrain: number, end: number, T: number, shape: TaskShape): number[] {
  if (streamsValidation(shape)) return Array.from({ length: end - nTrain }, (_, i) => nTrain + i);
  return validationStarts(end - nTrain, T, shape).map((s) => nTrain + s + T - 1);
}

/** How validation runs, for the log. */
function validationNote(shape: TaskShape, T: number): string {
  return streamsValidation(shape)
    ? 'validation: one stream over the validation part from zero state, its state carried, every prediction counted (as serve and predict run the model); the baseline on the same rows'
    : `validation: windows of ${T} from zero state, the last step of each counted (the task); the baseline on the same rows`;
}

/** Cross-entropy of predicting the training class frequencies (add-one smoothed) on the given rows. */
function frequencyBaseline(labels: Float64Array, nTrain: number, classes: number, rows: number[]): number {
  const counts = new Array<number>(classes).fill(1);
  for (let r = 0; r < nTrain; r++) counts[labels[r]]++;
  const total = nTrain + classes;
  return rows.reduce((sum, r) => sum - Math.log(counts[labels[r]] / total), 0) / rows.length;
}

export function planText(data: TextData, options: PlanOptions): TrainingPlan {
  const { shape, window: T, valSplit } = options;
  const N = data.ids.length;
  const V = data.vocab.length;
  const notes: string[] = [];
  const need = T + 1;
  const what = `one window of ${T} step${T === 1 ? '' : 's'} needs ${need} characters (the character after each step is its target)`;
  if (N < need) throw new InputError(`${data.file} is too short: it has ${rowsWord(N, 'character')}, and ${what}; use a smaller --window`);
  const nTrain = valSplit > 0 ? trainingRows(N, valSplit) : N;
  const nVal = N - nTrain;
  if (nTrain < need) throw new InputError(`the training part of ${data.file} (its first ${rowsWord(nTrain, 'character')}) is too short: ${what}; use a smaller --window or --val-split`);
  const train = data.ids.subarray(0, nTrain);
  const validation = nVal > 0 ? data.ids.subarray(nTrain) : undefined;
  let task: TrainTask;
  let batch = options.batch;
  if (shape === 'many-to-many') {
    if (validation && validation.length < 2) throw new InputError(`the validation part of ${data.file} has ${rowsWord(nVal, 'character')}; it needs 2 or more (use a larger --val-split or --val-split 0)`);
    // B rows of at least T + 1 characters each
    batch = Math.min(batch, Math.floor((nTrain - 1) / T));
    if (batch < options.batch) notes.push(`--batch lowered to ${batch}: the training text holds only ${batch} row${batch === 1 ? '' : 's'} of ${T + 1} characters`);
    task = new TbpttTextTask(train, validation, T, batch, options.carriesState === false ? (options.sinks ?? 0) : 0);
  } else {
    if (validation && nVal < need) {
      throw new InputError(`the validation part of ${data.file} (its last ${rowsWord(nVal, 'character')}, --val-split ${valSplit}) is too short: ${what}; use a larger --val-split, a smaller --window, or --val-split 0`);
    }
    const positions = (ids: Int32Array): Positions => ({ count: ids.length - 1, input: (t) => ids[t], target: (t) => ids[t + 1] });
    task = new WindowTask(shape, 'ce', 'tokens', positions(train), validation && positions(validation), T, batch, options.stride ?? 1, V, options.sinks ?? 0);
  }
  notes.unshift(`${data.file}: ${rowsWord(N, 'character')}, vocabulary of ${V} (${JSON.stringify(data.vocab.join('').slice(0, 40))}${V > 40 ? '…' : ''})`);
  notes.push(`split: ${rowsWord(nTrain, 'character')} for training, ${rowsWord(nVal, 'character')} for validation`);
  let baseline: TrainingPlan['baseline'];
  if (validation) {
    // unigram frequencies of the training text, add-one smoothed
    const counts = new Array<number>(V).fill(1);
    for (const id of train) counts[id]++;
    const total = nTrain + V;
    let sum = 0;
    for (let i = 1; i < validation.length; i++) sum -= Math.log(counts[validation[i]] / total);
    baseline = { name: 'character frequencies', loss: sum / (validation.length - 1) };
  }
  return { task, spec: { vocabSize: V, outputSize: V }, metadata: { vocab: data.vocab.join(''), task: shape, target: 'next' }, notes, baseline };
}

/**
 * Saves `model` to `path` with its head mapped by `map` (see TrainingPlan.outputMap),
 * leaving the model's own weights exactly as they were.
 */
export async function saveCheckpoint(model: Model, path: string, map: TrainingPlan['outputMap']): Promise<void> {
  if (!map) return model.save(path);
  const weight = model.getParameter('head.weight');
  const bias = model.getParameter('head.bias');
  const O = bias.length, H = weight.length / O;
  const mappedWeight = new Float32Array(weight.length);
  const mappedBias = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    for (let j = 0; j < H; j++) mappedWeight[o * H + j] = map.scale[o] * weight[o * H + j];
    mappedBias[o] = map.scale[o] * bias[o] + map.shift[o];
  }
  model.setParameter('head.weight', mappedWeight);
  model.setParameter('head.bias', mappedBias);
  try {
    await model.save(path);
  } finally {
    model.setParameter('head.weight', weight);
    model.setParameter('head.bias', bias);
  }
}
