// What one training step feeds the kernel: windows of T steps, in batches of B, and how validation measures the
// model the way it will run. WindowTask cuts independent windows (zero initial state) and shuffles their order each
// epoch (seeded); TbpttTextTask carries the state across consecutive chunks of each batch row (truncated BPTT), as
// char-rnn does. Attention models with S sinks see, as a stream does, sinks that lie far from the positions that
// attend them: a window's first S positions (the kernel keeps them as its sinks) come from elsewhere in the data.

import type { Model } from '../api/model.js';
import type { LossKind, TrainingWindow } from '../api/train.js';

/** The four shapes of sequence modelling; one-to-many is how a trained model is run (forecast), not a training task. */
export type TaskShape = 'many-to-many' | 'many-to-one' | 'one-to-one';

/** A sequence of positions: the input fed at position t and the target the output after it should match. */
export interface Positions {
  count: number;
  input(t: number): Float32Array | number;
  target(t: number): Float32Array | number;
}

/** One training task: batches of windows per step, and a validation loss. */
export interface TrainTask {
  readonly loss: LossKind;
  /** What a step consumes: "tokens" or "frames". */
  readonly unit: string;
  readonly stepsPerEpoch: number;
  /** Window length T and windows per step B. */
  readonly window: number;
  readonly batch: number;
  readonly hasValidation: boolean;
  /** Called before the first step of every epoch (shuffles, resets carried state). */
  startEpoch(random: () => number): void;
  /** The windows of step k of the epoch. */
  windows(k: number): TrainingWindow[];
  /** Inputs (tokens or frames) that step k feeds. */
  unitsAt(k: number): number;
  /** Hands the final state of a step back (truncated BPTT carries it). */
  afterStep(result: { hN: Float32Array[]; cN?: Float32Array[] }): void;
  /** Mean loss over the validation part, in the units the training loss uses. */
  validate(model: Model): number;
}

/** Most windows a many-to-one validation pass runs; more are thinned out evenly. */
export const MAX_VALIDATION_WINDOWS = 8192;

/**
 * Whether validation streams the validation part (one stream from zero state, its state carried from position to
 * position, as serve and predict run a model): every shape but many-to-one, whose task is one answer per window
 * from zero state.
 */
export function streamsValidation(shape: TaskShape): boolean {
  return shape !== 'many-to-one';
}

/**
 * Starts of the many-to-one validation windows over `count` positions: every position, thinned evenly to at most
 * MAX_VALIDATION_WINDOWS.
 */
export function validationStarts(count: number, window: number, shape: TaskShape): number[] {
  const stride = shape === 'many-to-many' ? window : 1;
  const all = Math.floor((count - window) / stride) + 1;
  if (all <= 0) return [];
  const n = Math.min(all, MAX_VALIDATION_WINDOWS);
  return Array.from({ length: n }, (_, i) => Math.floor((i * all) / n) * stride);
}

/** Fisher–Yates with the given uniform source. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Independent windows of T positions, each from zero state.
 * many-to-many: every step has a target; windows advance by `stride` (T by
 * default) from a seeded random phase each epoch, so every position is a
 * target once per epoch and the cuts move. many-to-one: only the last step
 * counts (the others are masked); one-to-one: T = 1.
 */
export class WindowTask implements TrainTask {
  readonly stepsPerEpoch: number;
  readonly hasValidation: boolean;
  private starts: number[] = [];
  private readonly perEpoch: number;
  private readonly mask?: Float32Array;
  private readonly blankTarget: Float32Array | number;
  private readonly validationStarts: number[];
  /** Where each window's sink rows start, by window (many-to-many with sinks); else empty. */
  private sinkStarts: number[] = [];

  /**
   * `sinks`: an attention model's S. Many-to-many windows then begin with S rows from a random place of the
   * training part (a stream's sinks are its first positions, soon far behind; the model must not read them as the
   * rows just before), followed by T − S contiguous rows; validation streams, sinks and all, as serve runs it.
   */
  constructor(
    readonly shape: TaskShape,
    readonly loss: LossKind,
    readonly unit: string,
    private readonly train: Positions,
    private readonly validation: Positions | undefined,
    readonly window: number,
    readonly batch: number,
    private readonly stride: number,
    outputSize: number,
    private readonly sinks = 0,
  ) {
    this.perEpoch = Math.floor((train.count - window) / stride) + 1;
    this.stepsPerEpoch = Math.ceil(this.perEpoch / batch);
    this.hasValidation = validation !== undefined;
    if (shape === 'many-to-one' && window > 1) {
      this.mask = new Float32Array(window);
      this.mask[window - 1] = 1;
    }
    this.blankTarget = loss === 'ce' ? 0 : new Float32Array(outputSize);
    this.validationStarts = validation && !streamsValidation(shape) ? validationStarts(validation.count, window, shape) : [];
  }

  startEpoch(random: () => number): void {
    const { window: T, stride } = this;
    const count = this.train.count;
    const phase = stride > 1 ? Math.floor(random() * Math.min(stride, count - T + 1)) : 0;
    const starts: number[] = [];
    for (let s = phase; s + T <= count; s += stride) starts.push(s);
    // a late phase can leave one window fewer: keep every epoch the same length
    while (starts.length < this.perEpoch) starts.push(Math.floor(random() * (count - T + 1)));
    this.starts = shuffle(starts, random);
    const S = this.sinks;
    this.sinkStarts = this.shape === 'many-to-many' && S > 0 && S < T ? this.starts.map(() => Math.floor(random() * (count - S + 1))) : [];
  }

  windows(k: number): TrainingWindow[] {
    const from = k * this.batch;
    return this.starts.slice(from, from + this.batch).map((s, i) => {
      const window = this.windowAt(this.train, s);
      const sinkStart = this.sinkStarts[from + i];
      if (sinkStart !== undefined) {
        for (let t = 0; t < this.sinks; t++) {
          window.inputs[t] = this.train.input(sinkStart + t);
          window.targets[t] = this.train.target(sinkStart + t);
        }
      }
      return window;
    });
  }

  unitsAt(k: number): number {
    return Math.min(this.batch, this.perEpoch - k * this.batch) * this.window;
  }

  afterStep(): void {}

  private windowAt(source: Positions, start: number): TrainingWindow & { inputs: unknown[]; targets: unknown[] } {
    const T = this.window;
    const inputs = new Array(T);
    const targets = new Array(T);
    for (let t = 0; t < T; t++) {
      inputs[t] = source.input(start + t);
      targets[t] = this.mask && t < T - 1 ? this.blankTarget : source.target(start + t);
    }
    return { inputs, targets, mask: this.mask };
  }

  /** Streamed (streamsValidation) or, for many-to-one, the mean over windows from zero state. */
  validate(model: Model): number {
    const validation = this.validation;
    if (!validation) return NaN;
    if (streamsValidation(this.shape)) return streamedLoss(model, validation, this.loss);
    let sum = 0;
    const starts = this.validationStarts;
    for (let i = 0; i < starts.length; i += this.batch) {
      const chunk = starts.slice(i, i + this.batch).map((s) => this.windowAt(validation, s));
      // every window counts the same number of steps, so the mean of batch means weighs them alike
      sum += model.backwardBatch(chunk, { loss: this.loss }).loss * chunk.length;
    }
    return sum / starts.length;
  }
}

/**
 * Mean loss of one stream run over every position of `positions` from zero state, its state carried (how serve,
 * predict and replay run a model), forward only, in model units: MSE over every output of every position, or the
 * mean cross-entropy.
 */
export function streamedLoss(model: Model, positions: Positions, loss: LossKind): number {
  const stream = model.openStream({ raw: true });
  let sum = 0;
  let width = 1;
  try {
    for (let t = 0; t < positions.count; t++) {
      const input = positions.input(t);
      const output = typeof input === 'number' ? stream.step(input) : stream.stepModelUnits(input);
      const target = positions.target(t);
      if (loss === 'ce') {
        sum += crossEntropy(output, target as number);
        continue;
      }
      const values = target as Float32Array;
      width = values.length;
      for (let j = 0; j < width; j++) sum += (output[j] - values[j]) ** 2;
    }
  } finally {
    stream.close();
  }
  return sum / (positions.count * width);
}

/**
 * Char-level next-token training with truncated BPTT: the training ids are cut
 * into B contiguous rows; step k trains on chunk k (T characters) of every
 * row, starting from the state the previous chunk ended in (detached). The
 * state starts at zero every epoch. Validation runs the validation ids the
 * same way (B rows, state carried), forward only. A transformer with S sinks
 * (nothing carried between chunks) reads each chunk after the first with its
 * row's first S characters in place of its own first S, as a stream over the
 * row keeps its first positions as sinks.
 */
export class TbpttTextTask implements TrainTask {
  readonly loss = 'ce' as const;
  readonly unit = 'tokens';
  readonly stepsPerEpoch: number;
  readonly hasValidation: boolean;
  private readonly rowLength: number;
  private h?: Float32Array[];
  private c?: Float32Array[];

  constructor(
    private readonly train: Int32Array,
    private readonly validation: Int32Array | undefined,
    readonly window: number,
    readonly batch: number,
    private readonly sinks = 0,
  ) {
    this.rowLength = Math.floor((train.length - 1) / batch);
    this.stepsPerEpoch = Math.floor(this.rowLength / window);
    this.hasValidation = validation !== undefined;
  }

  startEpoch(): void {
    this.h = undefined;
    this.c = undefined;
  }

  windows(k: number): TrainingWindow[] {
    const T = this.window, L = this.rowLength;
    const S = this.sinks;
    return Array.from({ length: this.batch }, (_, b) => {
      const at = b * L + k * T;
      let inputs = this.train.subarray(at, at + T), targets = this.train.subarray(at + 1, at + T + 1);
      if (S > 0 && S < T && k > 0) {
        // the row's first S ids and targets, then the chunk's own from position S on
        const row = b * L;
        inputs = Int32Array.from(inputs);
        targets = Int32Array.from(targets);
        inputs.set(this.train.subarray(row, row + S));
        targets.set(this.train.subarray(row + 1, row + S + 1));
      }
      return { inputs, targets, h0: this.h?.[b], c0: this.c?.[b] };
    });
  }

  unitsAt(): number {
    return this.batch * this.window;
  }

  afterStep(result: { hN: Float32Array[]; cN?: Float32Array[] }): void {
    this.h = result.hN;
    this.c = result.cN;
  }

  validate(model: Model): number {
    return this.validation ? textLoss(model, this.validation, this.batch) : NaN;
  }
}

/**
 * Mean next-character cross-entropy (nats) of `ids` cut into `rows` contiguous
 * rows, each run from zero state through one stream (forward only, state carried).
 */
export function textLoss(model: Model, ids: Int32Array, rows: number): number {
  const B = Math.max(1, Math.min(rows, ids.length - 1));
  const L = Math.floor((ids.length - 1) / B);
  const streams = Array.from({ length: B }, () => model.openStream());
  const inputs = new Array<number>(B);
  let sum = 0;
  try {
    for (let t = 0; t < L; t++) {
      for (let b = 0; b < B; b++) inputs[b] = ids[b * L + t];
      const logits = model.stepBatch(streams, inputs);
      for (let b = 0; b < B; b++) sum += crossEntropy(logits[b], ids[b * L + t + 1]);
    }
  } finally {
    for (const s of streams) s.close();
  }
  return sum / (B * L);
}

/** −log softmax(logits)[target], in float64. */
export function crossEntropy(logits: ArrayLike<number>, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.log(sum) + max - logits[target];
}
