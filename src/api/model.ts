// The library's Model: parameters in a kernel instance, streams in its slots,
// safetensors in and out. docs/api.md documents every public member.

import { readFile, rename, writeFile, open as openFile } from 'node:fs/promises';
import { InputError, ModelFormatError, StateError } from '../errors.js';
import { Kernel, type AttentionArch, type CellKind, type KernelVariant, type ModelKind } from '../kernel/kernel.js';
import { initTensor, seededRandom } from '../model/init.js';
import { describeArch, inferArch, parameterLayout, validateArch, type ModelArch, type TensorSpec } from '../model/layout.js';
import { METADATA_FORMAT, parseMetadata, validateMetadata, type SeqcastMetadata } from '../model/metadata.js';
import { readSafetensors, writeSafetensors } from '../model/safetensors.js';
import { Stream, type StreamOptions } from './stream.js';
import { LearningStream, type LearningOptions } from './online.js';
import { Trainer, type BackwardOptions, type BackwardResult, type LossKind, type Optimizer, type OptimizerOptions, type StepReport, type TrainingWindow } from './train.js';

/** One input: a frame of floats for frame models, a token id for token models. */
export type StepInput = ArrayLike<number> | number;

/** What `createModel` needs: the architecture, plus optional seed and metadata. */
export interface ModelSpec {
  /** 'recurrent' (default), 'transformer' or 'hybrid'. */
  kind?: ModelKind;
  /** The recurrent cell (recurrent and hybrid models). */
  cell?: CellKind;
  /** Frame width X (frame models). */
  inputSize?: number;
  /** Vocabulary size V (token models; input is a token id through an embedding). */
  vocabSize?: number;
  /** Embedding width E for recurrent token models; default = hiddenSize. */
  embedSize?: number;
  /** H (recurrent and hybrid). */
  hiddenSize?: number;
  /** Stacked recurrent layers; default 1. */
  layers?: number;
  /** Transformer residual width D (a hybrid's is H). */
  width?: number;
  /** Attention heads (must divide D). */
  heads?: number;
  /** MLP inner width; default 4·D. */
  mlpSize?: number;
  /** Attention blocks; default 1. */
  blocks?: number;
  /** Positions each step attends to, itself included. */
  window?: number;
  /** The stream's first positions kept forever (StreamingLLM sinks); default 0. */
  sinks?: number;
  /** Head outputs; default inputSize (frames, so forecast works) or vocabSize (tokens); 0 for no head. */
  outputSize?: number;
  /** Seed for the PyTorch-style initialisation; default 0. */
  seed?: number;
  metadata?: SeqcastMetadata;
}

export interface ModelOptions {
  /** Streams stepped per kernel call; larger batches are split. Default 64. */
  batchCapacity?: number;
  /**
   * The kernel build (docs/abi.md): `relaxed` (fused multiply-adds; needs relaxed SIMD), `baseline` (any runtime
   * with SIMD), or `auto`, the default: SEQCAST_KERNEL if set, else relaxed where the runtime has it.
   */
  kernel?: KernelVariant | 'auto';
}

/** Loads a safetensors model (a path or the file's bytes). Nothing is half-loaded: any fault throws before the kernel exists. */
export async function loadModel(pathOrBytes: string | Uint8Array, options: ModelOptions = {}): Promise<Model> {
  let bytes: Uint8Array;
  let source: string;
  if (typeof pathOrBytes === 'string') {
    source = pathOrBytes;
    try {
      bytes = await readFile(pathOrBytes);
    } catch (err) {
      throw new ModelFormatError(`cannot read model file ${pathOrBytes}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else {
    source = '<model bytes>';
    bytes = pathOrBytes;
  }
  return modelFromSafetensors(bytes, source, options);
}

/** Builds a model from safetensors bytes already in memory. */
export async function modelFromSafetensors(bytes: Uint8Array, source: string, options: ModelOptions = {}): Promise<Model> {
  const file = readSafetensors(bytes, source);
  const shapes = new Map([...file.tensors].map(([name, t]) => [name, t.shape]));
  const metadata = parseMetadata(file.metadata.seqcast, source);
  const arch = inferArch(shapes, source, metadata);
  validateMetadata(metadata, arch, source);
  for (const [name, { data }] of file.tensors) {
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new ModelFormatError(`${source}: tensor "${name}" element ${bad} is ${data[bad]}; weights must be finite`);
  }
  const model = await Model.create(arch, metadata, options);
  for (const { name } of parameterLayout(arch)) model.setParameter(name, file.tensors.get(name)!.data);
  return model;
}

/** Creates a freshly initialised model (PyTorch's default initialisation, seeded). */
export async function createModel(spec: ModelSpec, options: ModelOptions = {}): Promise<Model> {
  const kind = spec.kind ?? 'recurrent';
  const tokens = spec.vocabSize !== undefined && spec.vocabSize > 0;
  if (!tokens && spec.inputSize === undefined) throw new ModelFormatError('a model spec needs inputSize (frames) or vocabSize (tokens)');
  const width = kind === 'hybrid' ? spec.hiddenSize : spec.width;
  const attention: AttentionArch | undefined = kind === 'recurrent' ? undefined : {
    width: width ?? NaN,
    heads: spec.heads ?? NaN,
    mlpSize: spec.mlpSize ?? 4 * (width ?? NaN),
    blocks: spec.blocks ?? 1,
    window: spec.window ?? NaN,
    sinks: spec.sinks ?? 0,
  };
  const recurrent = kind !== 'transformer';
  const headInput = attention ? attention.width : spec.hiddenSize;
  const arch: ModelArch = {
    kind,
    cell: recurrent ? spec.cell : undefined,
    layers: recurrent ? (spec.layers ?? 1) : 0,
    inputSize: tokens ? (kind === 'transformer' ? (width ?? NaN) : (spec.embedSize ?? spec.hiddenSize ?? NaN)) : spec.inputSize!,
    vocabSize: tokens ? spec.vocabSize! : 0,
    hiddenSize: recurrent ? (spec.hiddenSize ?? NaN) : 0,
    headSize: spec.outputSize ?? (tokens ? spec.vocabSize! : spec.inputSize!),
    attention,
    naming: 'module',
  };
  if (headInput === undefined) throw new ModelFormatError(`a ${kind} model spec needs ${kind === 'transformer' ? 'width' : 'hiddenSize'}`);
  validateArch(arch);
  const metadata = { ...(spec.metadata ?? {}) };
  validateMetadata(metadata, arch, 'model spec');
  const model = await Model.create(arch, metadata, options);
  const random = seededRandom(spec.seed ?? 0);
  for (const tensor of parameterLayout(arch)) model.setParameter(tensor.name, initTensor(tensor, arch, random));
  return model;
}

/**
 * A recurrent model held in its own WebAssembly kernel instance. Open any
 * number of streams on it; each keeps its own state in a kernel slot.
 */
export class Model {
  /** Parameters in kernel (state_dict) order. */
  readonly layout: TensorSpec[];
  private readonly indexByName: Map<string, number>;
  private readonly streams = new Set<Stream>();
  private forkSlot = -1;
  private closed = false;
  /** Normalizer arrays as float32 (inputs) when the metadata carries one. */
  readonly normalizer?: { mean: Float32Array; std: Float32Array };

  private constructor(
    readonly arch: ModelArch,
    readonly metadata: SeqcastMetadata,
    /** @internal */ readonly kernel: Kernel,
  ) {
    this.layout = parameterLayout(arch);
    this.indexByName = new Map(this.layout.map((t, i) => [t.name, i]));
    if (metadata.normalizer) {
      this.normalizer = { mean: Float32Array.from(metadata.normalizer.mean), std: Float32Array.from(metadata.normalizer.std) };
    }
  }

  /** @internal */
  static async create(arch: ModelArch, metadata: SeqcastMetadata, options: ModelOptions): Promise<Model> {
    const batchCapacity = options.batchCapacity ?? 64;
    if (!Number.isInteger(batchCapacity) || batchCapacity < 1) throw new InputError(`batchCapacity must be a positive integer, got ${batchCapacity}`);
    const kernel = await Kernel.create(arch, { batchCapacity, variant: options.kernel });
    return new Model(arch, metadata, kernel);
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

  /** Whether outputs are mapped back through the normalizer (frame model, output size = input size). */
  get denormalizesOutput(): boolean {
    return this.normalizer !== undefined && this.outputSize === this.inputSize;
  }

  /** Names of every parameter, in state_dict order. */
  get parameterNames(): string[] {
    return this.layout.map((t) => t.name);
  }

  /** A copy of one parameter tensor (row-major, PyTorch layout). */
  getParameter(name: string): Float32Array {
    return this.kernel.param(this.parameterIndex(name)).slice();
  }

  /** Overwrites one parameter tensor; refuses wrong sizes and non-finite values, leaving the weights as they were. */
  setParameter(name: string, data: ArrayLike<number>): void {
    const index = this.parameterIndex(name);
    const target = this.kernel.param(index);
    if (data.length !== target.length) {
      throw new InputError(`parameter "${name}" has ${target.length} values (shape [${this.layout[index].shape}]), got ${data.length}`);
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new InputError(`parameter "${name}" element ${i} is ${data[i]}; weights must be finite`);
    }
    target.set(data);
    this.kernel.paramsChanged();
  }

  private parameterIndex(name: string): number {
    const index = this.indexByName.get(name);
    if (index === undefined) throw new InputError(`no parameter "${name}"; this model has ${this.parameterNames.join(', ')}`);
    return index;
  }

  private trainerState?: Trainer;

  private get trainer(): Trainer {
    this.assertOpen();
    this.trainerState ??= new Trainer(this, this.kernel);
    return this.trainerState;
  }

  /**
   * Backpropagation through time over one window: inputs [T][X] (or T token ids),
   * targets [T][O] (MSE) or T ids (cross-entropy). Returns the loss, the gradients
   * by PyTorch name (plus grad/h0, grad/c0, grad/x), the outputs and the final state.
   * Works in the model's own units (no normalizer applied).
   */
  backward(inputs: TrainingWindow['inputs'], targets: TrainingWindow['targets'], options: BackwardOptions = {}): BackwardResult {
    return this.trainer.backward([{ inputs, targets, mask: options.mask, h0: options.h0, c0: options.c0 }], options.loss ?? 'mse', false, true);
  }

  /** backward for B windows of equal length at once (one matrix-matrix product per layer and step); the loss is their mean. */
  backwardBatch(windows: TrainingWindow[], options: { loss?: LossKind; accumulate?: boolean } = {}): BackwardResult {
    return this.trainer.backward(windows, options.loss ?? 'mse', options.accumulate ?? false, true);
  }

  /** Configures this model's optimizer (one per model; its moments live in the kernel). */
  optimizer(options: OptimizerOptions): Optimizer {
    return this.trainer.configureOptimizer(options);
  }

  /**
   * The fused fast path: forward, backward and one step of the model's optimizer,
   * without leaving the kernel. Same result as backward + optimizer.step.
   */
  trainWindow(inputs: TrainingWindow['inputs'], targets: TrainingWindow['targets'], options: BackwardOptions = {}): StepReport & { loss: number } {
    return this.trainer.trainWindows([{ inputs, targets, mask: options.mask, h0: options.h0, c0: options.c0 }], options.loss ?? 'mse');
  }

  /** trainWindow over B windows at once; returns the mean loss and each window's final state (for truncated BPTT). */
  trainBatch(windows: TrainingWindow[], options: { loss?: LossKind } = {}): StepReport & { loss: number; hN: Float32Array[]; cN?: Float32Array[] } {
    return this.trainer.trainWindows(windows, options.loss ?? 'mse');
  }

  /** @internal Configures the optimizer unless one exists (online learners share the model's). */
  ensureOptimizer(options: OptimizerOptions): Optimizer {
    return this.trainer.optimizer ?? this.trainer.configureOptimizer(options);
  }

  /** @internal The configured optimizer's options (defaults filled in), or undefined. */
  optimizerSettings(): Required<OptimizerOptions> | undefined {
    return this.trainerState?.settings;
  }

  /**
   * @internal One guarded update: forward and backward over `window`; the
   * optimizer step is applied only if the loss is at most `maxLoss`.
   */
  guardedTrainWindow(window: TrainingWindow, maxLoss: number): { loss: number; applied: boolean } {
    const { loss } = this.trainer.backward([window], 'mse', false, false);
    if (!(loss <= maxLoss)) return { loss, applied: false };
    this.trainer.optimizerStep();
    return { loss, applied: true };
  }

  /** @internal A copy of the whole parameter block (for rollback). */
  parameterBlock(): Float32Array {
    return this.kernel.params().slice();
  }

  /** @internal Restores a copy taken by parameterBlock(). */
  restoreParameterBlock(block: Float32Array): void {
    this.kernel.params().set(block);
    this.kernel.paramsChanged();
  }

  /**
   * A stream that learns while it predicts: each observed frame scores the last
   * prediction, steps the model, and every K frames trains the (shared) weights
   * by truncated BPTT over the last N frames. See docs/api.md.
   */
  openLearningStream(options: LearningOptions = {}): LearningStream {
    this.assertOpen();
    return new LearningStream(this, options);
  }

  /** Opens a stream with zero state (or the given initial state). */
  openStream(options: StreamOptions = {}): Stream {
    this.assertOpen();
    const stream = new Stream(this, this.kernel.openSlot(), options);
    this.streams.add(stream);
    return stream;
  }

  /** Open streams of this model. */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Steps several streams by one position each, in one kernel call per
   * batchCapacity streams (one matrix-matrix product per layer). Everything is
   * validated first: on error no stream moves.
   */
  stepBatch(streams: Stream[], inputs: StepInput[]): Float32Array[] {
    this.assertOpen();
    if (streams.length !== inputs.length) {
      throw new InputError(`stepBatch got ${streams.length} streams but ${inputs.length} inputs`);
    }
    const capacity = this.kernel.batchCapacity;
    // one kernel call: each input is checked as it is written (nothing is stepped until all are in);
    // several calls: every input is checked first, so that a bad one steps none
    const oneCall = streams.length <= capacity;
    const seen = new Set<Stream>();
    streams.forEach((stream, b) => {
      if (stream.model !== this) throw new StateError(`stepBatch entry ${b}: ${stream.label} belongs to another model`);
      stream.assertOpen();
      if (seen.has(stream)) throw new InputError(`stepBatch entry ${b}: ${stream.label} appears twice in one batch`);
      seen.add(stream);
      if (oneCall) this.writeCheckedInput(b, inputs[b], stream.label);
      else this.checkInput(inputs[b], stream.label);
    });
    const outputs: Float32Array[] = new Array(streams.length);
    for (let start = 0; start < streams.length; start += capacity) {
      const count = Math.min(capacity, streams.length - start);
      for (let b = 0; b < count; b++) {
        this.kernel.setSlot(b, streams[start + b].slot);
        if (!oneCall) this.writeInput(b, inputs[start + b]);
      }
      this.kernel.step(count);
      for (let b = 0; b < count; b++) outputs[start + b] = streams[start + b].afterStep(this.readOutput(b));
    }
    return outputs;
  }

  /** @internal Throws InputError unless `input` fits this model. */
  checkInput(input: StepInput, label: string): void {
    if (this.isTokenModel) {
      if (typeof input !== 'number' || !Number.isInteger(input)) {
        throw new InputError(`input for ${label} must be a token id (an integer), got ${describe(input)}`);
      }
      if (input < 0 || input >= this.arch.vocabSize) {
        throw new InputError(`token ${input} for ${label} is outside the vocabulary (0..${this.arch.vocabSize - 1})`);
      }
      return;
    }
    if (typeof input === 'number' || input === null || typeof input !== 'object' || typeof input.length !== 'number') {
      throw new InputError(`input for ${label} must be a frame of ${this.inputSize} numbers, got ${describe(input)}`);
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
      throw new InputError(`frame for ${label}: value ${i} is ${describe(v)}; expected a finite number`);
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
   * @internal Checks `input` and writes it into batch entry b in one pass (normalized when the model carries
   * statistics); throws InputError, as checkInput does, before anything is stepped. For a single entry: a batch
   * checks every input first (checkInput) so that a bad one steps none.
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

  /** @internal Writes a checked input into batch entry b, normalized when the model carries statistics. */
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

  /** @internal A copy of batch entry b's raw output (kernel units). */
  readOutput(b: number): Float32Array {
    const at = this.kernel.outputOffset(b);
    return this.kernel.f32.slice(at, at + this.outputSize);
  }

  /** @internal Maps a raw output to original units (in place) when the model has a normalizer. */
  denormalize(raw: Float32Array): Float32Array {
    const norm = this.normalizer;
    if (norm && this.denormalizesOutput) {
      for (let i = 0; i < raw.length; i++) raw[i] = raw[i] * norm.std[i] + norm.mean[i];
    }
    return raw;
  }

  /** @internal A spare slot for forecasts, kept open so forecasting allocates nothing after the first time. */
  acquireForkSlot(): number {
    if (this.forkSlot < 0) this.forkSlot = this.kernel.openSlot();
    return this.forkSlot;
  }

  /** @internal */
  forgetStream(stream: Stream): void {
    this.streams.delete(stream);
  }

  /** The model as safetensors bytes: state_dict names, float32, metadata under `seqcast`. */
  toSafetensors(): Uint8Array {
    const tensors = this.layout.map((t, i) => ({ name: t.name, shape: t.shape, data: this.kernel.param(i).slice() }));
    const metadata: Record<string, string> = {
      format: 'pt',
      seqcast: JSON.stringify({ ...this.metadata, format: METADATA_FORMAT, ...attentionHints(this.arch) }),
    };
    return writeSafetensors(tensors, metadata);
  }

  /** Saves atomically: writes a temporary file beside `path`, fsyncs it, renames it over `path`. */
  async save(path: string): Promise<void> {
    const bytes = this.toSafetensors();
    const temp = `${path}.tmp-${process.pid}-${Date.now()}`;
    await writeFile(temp, bytes);
    const handle = await openFile(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  }

  /** "a 1-layer lstm with input 8, hidden 128, head 8" */
  describe(): string {
    return describeArch(this.arch);
  }

  /** Closes every stream; the model cannot be used afterwards. */
  close(): void {
    for (const stream of [...this.streams]) stream.close();
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StateError('this model has been closed');
  }
}

/** The metadata keys an attention model's file needs (shapes cannot tell them). */
function attentionHints(arch: ModelArch): Record<string, unknown> {
  const a = arch.attention;
  return a ? { kind: arch.kind, heads: a.heads, window: a.window, sinks: a.sinks } : {};
}

/** Index of the largest value (the most likely token of a logits row). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return String(value);
}
