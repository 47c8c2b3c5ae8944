// ModelHost: one model's kernel instance and the host-side work every class on it shares: checking and writing
// inputs (through the model's normalizer), reading outputs and mapping them (normalizer, delta), the forecast slot
// and the set of open streams.

import { InputError, StateError } from '../errors.js';
import type { Kernel } from '../kernel/kernel.js';
import { describeArch, parameterLayout, type ModelArch, type TensorSpec } from '../model/layout.js';
import type { SeqcastMetadata } from '../model/metadata.js';
import { outputTarget, type OutputTarget } from './outputs.js';

/** One input: a frame of floats for frame models, a token id for token models. */
export type StepInput = ArrayLike<number> | number;

/** What the host closes with its model: every open Stream. */
export interface Closable {
  close(): void;
}

/**
 * The kernel of one Model and its host-side helpers (internal: Model, Stream,
 * LearningStream and Trainer share it; users see only Model). It touches the
 * kernel's batch input and output rows, and the model's slots.
 */
export class ModelHost {
  /** Parameters in kernel (state_dict) order. */
  readonly layout: TensorSpec[];
  /** Normalizer arrays as float32 (inputs) when the metadata carries one. */
  readonly normalizer?: { mean: Float32Array; std: Float32Array };
  /** What the head predicts: the next frame, its change, or a label (docs/model-format.md, "What the outputs are"). */
  readonly target: OutputTarget;
  /** Whether outputs are mapped back through the normalizer (frame model, output size = input size, not a label model). */
  readonly denormalizesOutput: boolean;
  /** A delta model: the next frame is the input just fed plus the output, in model units. */
  readonly predictsChange: boolean;
  /** Open streams of the model, closed with it. */
  readonly streams = new Set<Closable>();
  private forkSlot = -1;
  private closed = false;
  /** Stamp of the latest public stepBatch call: a stream stamped with it appears in that batch (no Set per batch). */
  private batchStamp = 0;

  constructor(
    readonly arch: ModelArch,
    readonly metadata: SeqcastMetadata,
    readonly kernel: Kernel,
  ) {
    this.layout = parameterLayout(arch);
    if (metadata.normalizer) {
      this.normalizer = { mean: Float32Array.from(metadata.normalizer.mean), std: Float32Array.from(metadata.normalizer.std) };
    }
    this.target = outputTarget(metadata);
    this.denormalizesOutput = this.normalizer !== undefined && this.outputSize === this.inputSize && this.target !== 'label';
    this.predictsChange = this.target === 'delta';
  }

  /** True for models fed token ids through an embedding. */
  get isTokenModel(): boolean {
    return this.arch.vocabSize > 0;
  }

  /** Floats per input frame (frame models). */
  get inputSize(): number {
    return this.arch.inputSize;
  }

  /** Floats per output: the head's size, or H for a model without head. */
  get outputSize(): number {
    return this.kernel.outputSize;
  }

  /** "a 1-layer lstm with input 8, hidden 128, head 8" */
  describe(): string {
    return describeArch(this.arch);
  }

  /** A new stamp for one stepBatch call's duplicate check. */
  nextBatchStamp(): number {
    return ++this.batchStamp;
  }

  /** Throws StateError once the model is closed. */
  assertOpen(): void {
    if (this.closed) throw new StateError('this model has been closed');
  }

  /** Closes every open stream; the model cannot be used afterwards. */
  close(): void {
    for (const stream of [...this.streams]) stream.close();
    this.closed = true;
  }

  /** Throws InputError unless `input` fits this model (the check of a public method's input). */
  checkInput(input: StepInput, label: string): void {
    if (this.isTokenModel) {
      if (typeof input !== 'number' || !Number.isInteger(input)) {
        throw new InputError(`input for ${label} must be a token id (an integer), got ${describeValue(input)}`);
      }
      if (input < 0 || input >= this.arch.vocabSize) {
        throw new InputError(`token ${input} for ${label} is outside the vocabulary (0..${this.arch.vocabSize - 1})`);
      }
      return;
    }
    if (typeof input === 'number' || input === null || typeof input !== 'object' || typeof input.length !== 'number') {
      throw new InputError(`input for ${label} must be a frame of ${this.inputSize} numbers, got ${describeValue(input)}`);
    }
    if (input.length !== this.inputSize) {
      throw new InputError(`frame for ${label} has ${input.length} values, model expects ${this.inputSize}`);
    }
    for (let i = 0; i < input.length; i++) this.kernelValue(input, i, label);
  }

  /** Value i of a frame as the kernel takes it (normalized when the model carries statistics), or InputError naming it. */
  private kernelValue(input: ArrayLike<unknown>, i: number, label: string): number {
    const v = input[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InputError(`frame for ${label}: value ${i} is ${describeValue(v)}; expected a finite number`);
    }
    const norm = this.normalizer;
    const value = norm ? (v - norm.mean[i]) / norm.std[i] : v;
    // the kernel holds it as float32: it must still be finite there
    if (!Number.isFinite(Math.fround(value))) {
      throw new InputError(`frame for ${label}: value ${i} is ${v}, which overflows float32${norm ? ' once normalized' : ''}`);
    }
    return value;
  }

  /**
   * Checks `input` and writes it into batch entry b in one pass (normalized when the model carries
   * statistics); throws InputError, as checkInput does, before anything is stepped.
   */
  writeCheckedInput(b: number, input: StepInput, label: string): void {
    if (this.isTokenModel || typeof input === 'number' || input === null || typeof input !== 'object' || input.length !== this.inputSize) {
      this.checkInput(input, label); // throws for each of these but a valid token, which is then written
      this.writeInput(b, input);
      return;
    }
    const f32 = this.kernel.f32;
    const at = this.kernel.inputOffset(b);
    for (let i = 0; i < input.length; i++) f32[at + i] = this.kernelValue(input, i, label);
  }

  /** Writes an input already checked (checkInput, or the pipeline's validate) into batch entry b, normalized when the model carries statistics. */
  writeInput(b: number, input: StepInput): void {
    if (typeof input === 'number') {
      this.kernel.setToken(b, input);
      return;
    }
    const f32 = this.kernel.f32;
    const at = this.kernel.inputOffset(b);
    const norm = this.normalizer;
    if (norm) {
      for (let i = 0; i < input.length; i++) f32[at + i] = (input[i] - norm.mean[i]) / norm.std[i];
    } else {
      for (let i = 0; i < input.length; i++) f32[at + i] = input[i];
    }
  }

  /** A copy of batch entry b's raw output (kernel units), [outputSize]. */
  readOutput(b: number): Float32Array {
    const at = this.kernel.outputOffset(b);
    return this.kernel.f32.slice(at, at + this.outputSize);
  }

  /** A copy of batch entry b's input frame as the kernel holds it (model units), [inputSize]; frame models. */
  readInput(b: number): Float32Array {
    const at = this.kernel.inputOffset(b);
    return this.kernel.f32.slice(at, at + this.inputSize);
  }

  /**
   * The next frame in model units from a raw output and the input it followed (model units), in place in `raw`:
   * input + raw for a delta model (saturated to float32's range), raw itself otherwise. This is what forecast feeds back.
   */
  nextInModelUnits(raw: Float32Array, input: ArrayLike<number> | undefined): Float32Array {
    if (this.predictsChange) for (let i = 0; i < raw.length; i++) raw[i] = saturateF32(raw[i] + input![i]);
    return raw;
  }

  /**
   * Maps an output in model units (a next frame) to original units (in place) when the model has a normalizer; returns
   * it. A value beyond float32's range saturates at ±3.4028235e38 rather than becoming Infinity.
   */
  denormalize(raw: Float32Array): Float32Array {
    const norm = this.normalizer;
    if (norm && this.denormalizesOutput) {
      for (let i = 0; i < raw.length; i++) raw[i] = saturateF32(raw[i] * norm.std[i] + norm.mean[i]);
    }
    return raw;
  }

  /** A label model's outputs in words, for messages: "3 class logits" or "label values". */
  describeLabel(): string {
    const label = this.metadata.label as { type?: unknown } | undefined;
    return label?.type === 'value' ? 'label values' : `${this.outputSize} class logits`;
  }

  /** A spare slot for forecasts, kept open so forecasting allocates nothing after the first time. */
  acquireForkSlot(): number {
    if (this.forkSlot < 0) this.forkSlot = this.kernel.openSlot();
    return this.forkSlot;
  }

  /** A copy of the whole parameter block (for rollback). */
  parameterBlock(): Float32Array {
    return this.kernel.params().slice();
  }

  /** Restores a copy taken by parameterBlock(). */
  restoreParameterBlock(block: Float32Array): void {
    this.kernel.params().set(block);
    this.kernel.paramsChanged();
  }
}

/** Index of the largest value (the most likely token of a logits row). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** A value as an error message shows it: strings quoted and cut, arrays by length. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return String(value);
}

/** The largest finite float32. */
const F32_MAX = 3.4028234663852886e38;

/** x clamped to float32's finite range, so a sum or a scaling that overflows float32 stays a number. */
function saturateF32(x: number): number {
  return x > F32_MAX ? F32_MAX : x < -F32_MAX ? -F32_MAX : x;
}
