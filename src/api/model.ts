// The library's Model: parameters in a kernel instance, streams in its slots,
// safetensors in and out. docs/api.md documents every public member.

import { writeFileAtomic } from '../io/atomic-file.js';
import { InputError, StateError } from '../errors.js';
import { Kernel, type KernelVariant } from '../kernel/kernel.js';
import type { ModelArch, TensorSpec } from '../model/layout.js';
import { metadataFormatFor, type SeqcastMetadata } from '../model/metadata.js';
import { writeSafetensors } from '../model/safetensors.js';
import { ModelHost, type StepInput } from './host.js';
import { markedAsTrained, unfoldedLegacyHead, type OutputTarget } from './outputs.js';
import { LearningStream, type LearningOptions } from './learning-stream.js';
import { partsFromSafetensors, partsFromSpec, readModelBytes, type ModelParts, type ModelSpec } from './load.js';
import { openStream, stepStreams, Stream, type StreamOptions } from './stream.js';
import { Trainer, type BackwardOptions, type BackwardResult, type LossKind, type Optimizer, type OptimizerOptions, type StepReport, type TrainingWindow } from './train.js';

export { argmax, type StepInput } from './host.js';
export type { ModelSpec } from './load.js';

export interface ModelOptions {
  /** Streams stepped per kernel call; larger batches are split. Default 64. */
  batchCapacity?: number;
  /**
   * The kernel build (docs/abi.md): `relaxed` (fused multiply-adds; needs relaxed SIMD), `baseline` (any runtime
   * with SIMD), `scalar` (no SIMD; the baseline's results bit for bit, slower), or `auto`, the default:
   * SEQCAST_KERNEL if set, else relaxed where the runtime has it, else baseline where it has SIMD, else scalar.
   */
  kernel?: KernelVariant | 'auto';
  /** @internal A kernel build's bytes instead of build/'s (tests load the diagnostics build: src/kernel/diagnostics.ts). */
  wasm?: BufferSource;
}

/** Loads a safetensors model (a path or the file's bytes). Nothing is half-loaded: any fault throws before the kernel exists. */
export async function loadModel(pathOrBytes: string | Uint8Array, options: ModelOptions = {}): Promise<Model> {
  const { bytes, source } = await readModelBytes(pathOrBytes);
  return modelFromSafetensors(bytes, source, options);
}

/** Builds a model from safetensors bytes already in memory. */
export async function modelFromSafetensors(bytes: Uint8Array, source: string, options: ModelOptions = {}): Promise<Model> {
  return Model.fromParts(partsFromSafetensors(bytes, source), options);
}

/** Creates a freshly initialised model (PyTorch's default initialisation, seeded). */
export async function createModel(spec: ModelSpec, options: ModelOptions = {}): Promise<Model> {
  return Model.fromParts(partsFromSpec(spec), options);
}

/**
 * A recurrent model held in its own WebAssembly kernel instance. Open any
 * number of streams on it; each keeps its own state in a kernel slot.
 */
export class Model {
  private readonly indexByName: Map<string, number>;
  /** @internal The model's kernel and the host-side helpers its streams share. */
  readonly host: ModelHost;
  private readonly training: Trainer;

  private constructor(
    readonly arch: ModelArch,
    readonly metadata: SeqcastMetadata,
    kernel: Kernel,
  ) {
    this.host = new ModelHost(arch, metadata, kernel);
    this.training = new Trainer(this.host);
    this.indexByName = new Map(this.host.layout.map((t, i) => [t.name, i]));
  }

  /** @internal A model of `parts` in a new kernel instance. */
  static async fromParts({ arch, metadata, tensors }: ModelParts, options: ModelOptions): Promise<Model> {
    const batchCapacity = options.batchCapacity ?? 64;
    if (!Number.isInteger(batchCapacity) || batchCapacity < 1) throw new InputError(`batchCapacity must be a positive integer, got ${batchCapacity}`);
    // a file of an earlier seqcast train had its output mapping folded into the head: unfold it once, here
    const weight = tensors.get('head.weight'), bias = tensors.get('head.bias');
    const unfolded = weight && bias ? unfoldedLegacyHead(metadata, arch, { weight, bias }) : undefined;
    if (unfolded) {
      tensors = new Map(tensors).set('head.weight', unfolded.weight).set('head.bias', unfolded.bias);
      metadata = markedAsTrained(metadata);
    }
    const kernel = await Kernel.create(arch, { batchCapacity, variant: options.kernel, wasm: options.wasm });
    const model = new Model(arch, metadata, kernel);
    for (const { name } of model.layout) model.setParameter(name, tensors.get(name)!);
    return model;
  }

  /** @internal The kernel instance (benches and ABI tests read it). */
  get kernel(): Kernel {
    return this.host.kernel;
  }

  /** @internal The model's training state (optimizer-state checkpoints reach it). */
  get trainer(): Trainer {
    this.host.assertOpen();
    return this.training;
  }

  /** Parameters in kernel (state_dict) order. */
  get layout(): TensorSpec[] {
    return this.host.layout;
  }

  /** Normalizer arrays as float32 (inputs) when the metadata carries one. */
  get normalizer(): { mean: Float32Array; std: Float32Array } | undefined {
    return this.host.normalizer;
  }

  /** True for models fed token ids through an embedding. */
  get isTokenModel(): boolean {
    return this.host.isTokenModel;
  }

  /** Floats per input frame (frame models). */
  get inputSize(): number {
    return this.host.inputSize;
  }

  /** Floats per output: the head's size, or H for a model without head. */
  get outputSize(): number {
    return this.host.outputSize;
  }

  /** Whether outputs are mapped back through the normalizer (frame model, output size = input size, not a label model). */
  get denormalizesOutput(): boolean {
    return this.host.denormalizesOutput;
  }

  /**
   * What the head predicts (metadata `target`): `next` frames, a `delta` (the change, which Stream.step adds to
   * the frame just fed), or a `label` (class logits or a value, returned as they are). docs/model-format.md.
   */
  get target(): OutputTarget {
    return this.host.target;
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

  /**
   * A stream that learns while it predicts: each observed frame scores the last
   * prediction, steps the model, and every K frames trains the (shared) weights
   * by truncated BPTT over the last N frames. See docs/api.md.
   */
  openLearningStream(options: LearningOptions = {}): LearningStream {
    return new LearningStream(this.host, this.trainer, options);
  }

  /** Opens a stream with zero state (or the given initial state). */
  openStream(options: StreamOptions = {}): Stream {
    return openStream(this.host, options);
  }

  /** Open streams of this model. */
  get openStreams(): number {
    return this.host.streams.size;
  }

  /**
   * Steps several streams by one position each, in one kernel call per
   * batchCapacity streams (one matrix-matrix product per layer). Everything is
   * validated first: on error no stream moves.
   */
  stepBatch(streams: Stream[], inputs: StepInput[]): Float32Array[] {
    const host = this.host;
    host.assertOpen();
    if (streams.length !== inputs.length) {
      throw new InputError(`stepBatch got ${streams.length} streams but ${inputs.length} inputs`);
    }
    // one kernel call: each input is checked as it is written (nothing is stepped until all are in);
    // several calls: every input is checked first, so that a bad one steps none
    const oneCall = streams.length <= this.kernel.batchCapacity;
    const stamp = host.nextBatchStamp();
    streams.forEach((stream, b) => {
      if (stream.host !== host) throw new StateError(`stepBatch entry ${b}: ${stream.label} belongs to another model`);
      stream.assertOpen();
      if (stream.batchStamp === stamp) throw new InputError(`stepBatch entry ${b}: ${stream.label} appears twice in one batch`);
      stream.batchStamp = stamp;
      if (oneCall) host.writeCheckedInput(b, inputs[b], stream.label);
      else host.checkInput(inputs[b], stream.label);
    });
    return stepStreams(streams, inputs, { written: oneCall });
  }

  /** The model as safetensors bytes: state_dict names, float32, metadata under `seqcast`. */
  toSafetensors(): Uint8Array {
    const tensors = this.layout.map((t, i) => ({ name: t.name, shape: t.shape, data: this.kernel.param(i).slice() }));
    const metadata: Record<string, string> = {
      format: 'pt',
      seqcast: JSON.stringify({ ...this.metadata, format: metadataFormatFor(this.arch), ...attentionHints(this.arch) }),
    };
    return writeSafetensors(tensors, metadata);
  }

  /** Saves atomically (src/io/atomic-file.ts): a crash leaves the old file or the new one, never a mix. */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, this.toSafetensors());
  }

  /** "a 1-layer lstm with input 8, hidden 128, head 8" */
  describe(): string {
    return this.host.describe();
  }

  /** Closes every stream; the model cannot be used afterwards. */
  close(): void {
    this.host.close();
  }
}

/** The metadata keys an attention model's file needs (shapes cannot tell them). */
function attentionHints(arch: ModelArch): Record<string, unknown> {
  const a = arch.attention;
  return a ? { kind: arch.kind, heads: a.heads, window: a.window, sinks: a.sinks, positional: a.positional } : {};
}
