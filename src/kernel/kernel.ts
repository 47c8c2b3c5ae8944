// Host side of the kernel ABI (docs/abi.md): loads build/seqcast.wasm (or its relaxed-SIMD or scalar build), makes one
// instance per model, and keeps typed views over its memory fresh.

import { KernelError } from '../errors.js';
import { compileBuild, KERNEL_FILES, resolveVariant, type KernelVariant } from './variant.js';

export { KERNEL_FILES, kernelVariant, supportsRelaxedSimd, supportsSimd, type KernelVariant } from './variant.js';

/** Cell kinds as the ABI numbers them. */
export const CELL_CODES = { rnn: 0, lstm: 1, gru: 2 } as const;
export type CellKind = keyof typeof CELL_CODES;

/** nn.RNN's activation: the ABI's CELL_RNN_TANH (`rnn`) or CELL_RNN_RELU, same tensors and state. */
export type Nonlinearity = 'tanh' | 'relu';
const CELL_RNN_RELU = 3;
/**
 * Positional schemes of attention models as the ABI numbers them (docs/abi.md, configurePositional):
 * `sinusoidal` (the absolute encoding added to a transformer's input), `none`, `alibi` (a bias by in-cache offset).
 */
export const POSITIONAL_CODES = { sinusoidal: 0, none: 1, alibi: 2 } as const;
export type PositionalScheme = keyof typeof POSITIONAL_CODES;

/** Model kinds as the ABI numbers them. */
export const KIND_CODES = { recurrent: 0, transformer: 1, hybrid: 2 } as const;
export type ModelKind = keyof typeof KIND_CODES;

/** The production kernel's exports (docs/abi.md). Pointers are byte offsets into `memory`. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  abiVersion(): number;
  configure(kind: number, layers: number, inputSize: number, vocabSize: number, hiddenSize: number,
    headSize: number, batchCapacity: number, initialSlots: number): number;
  configureTransformer(inputSize: number, vocabSize: number, width: number, heads: number, mlpSize: number, blocks: number,
    window: number, sinks: number, headSize: number, batchCapacity: number, initialSlots: number): number;
  configureHybrid(kind: number, layers: number, inputSize: number, vocabSize: number, hiddenSize: number,
    heads: number, mlpSize: number, blocks: number, window: number, sinks: number,
    headSize: number, batchCapacity: number, initialSlots: number): number;
  configurePositional(scheme: number): number;
  getKind(): number;
  getPositional(): number;
  slotPosition(slot: number): number;
  slotSetPosition(slot: number, position: number): number;
  slotAttentionPtr(slot: number, block: number): number;
  slotAttentionCount(slot: number): number;
  trainConfigure(steps: number, windows: number): number;
  trainCommitParams(): number;
  trainInputPtr(): number; trainTokensPtr(): number; trainTargetPtr(): number; trainTargetTokensPtr(): number; trainMaskPtr(): number;
  trainH0Ptr(): number; trainC0Ptr(): number; trainHNPtr(): number; trainCNPtr(): number;
  trainDH0Ptr(): number; trainDC0Ptr(): number; trainDXPtr(): number; trainOutputPtr(): number; gradsPtr(): number;
  trainLoss(): number; trainTotalNorm(): number; trainClipCoef(): number; trainLossCount(): number;
  trainForwardBackward(steps: number, windows: number, loss: number, accumulate: number): number;
  optimizerConfigure(kind: number, lr: number, beta1: number, beta2: number, eps: number, momentum: number, clipNorm: number, clipValue: number): number;
  optimizerStep(): number;
  trainStep(steps: number, windows: number, loss: number): number;
  getOptimizerSteps(): number;
  optimizerMomentPtr(which: number): number;
  optimizerSetSteps(steps: number): number;
  getParamCount(): number;
  getParamPtr(index: number): number;
  getParamLength(index: number): number;
  getParamsPtr(): number;
  getParamsLength(): number;
  getOutputSize(): number;
  getInputSize(): number;
  getBatchCapacity(): number;
  getIoSlotsPtr(): number;
  getIoTokensPtr(): number;
  getIoInputPtr(): number;
  getIoOutputPtr(): number;
  getErrorIndex(): number;
  slotOpen(): number;
  slotClose(slot: number): number;
  slotReset(slot: number): number;
  slotCopy(dst: number, src: number): number;
  slotIsOpen(slot: number): number;
  slotStatePtr(slot: number): number;
  slotStateLength(): number;
  getSlotCapacity(): number;
  stepBatch(count: number): number;
  commitParams(): number;
}

/** ABI version this host speaks. */
export const ABI_VERSION = 1;

/** Kernel error codes (assembly/codes.ts), by value. */
export const KERNEL_ERRORS: Record<number, string> = {
  [-1]: 'kernel not configured',
  [-2]: 'kernel already configured',
  [-3]: 'bad model configuration',
  [-4]: 'out of WebAssembly memory',
  [-5]: 'slot is not open',
  [-6]: 'batch size out of range',
  [-7]: 'the same slot appears twice in one batch',
  [-8]: 'token id outside the vocabulary',
  [-9]: 'input frame holds NaN or Infinity',
  [-10]: 'this model kind cannot be trained yet',
  [-11]: 'the loss is not finite',
  [-12]: 'a gradient is not finite',
  [-13]: 'no optimizer configured',
};

/**
 * The compiled kernel: the given bytes, or a build (default `auto`: SEQCAST_KERNEL, then
 * build/seqcast-relaxed.wasm where relaxed SIMD runs, else build/seqcast.wasm, else build/seqcast-scalar.wasm on a
 * runtime without SIMD), compiled once per process.
 */
export async function kernelModule(bytes?: BufferSource, variant: KernelVariant | 'auto' = 'auto'): Promise<WebAssembly.Module> {
  if (bytes) return WebAssembly.compile(bytes);
  return compileBuild(KERNEL_FILES[resolveVariant(variant)]);
}

/** Attention blocks of a transformer or hybrid model. */
export interface AttentionArch {
  /** D, the residual width (= hiddenSize for hybrids). */
  width: number;
  heads: number;
  /** FF, the MLP's inner width (fc1 outputs). */
  mlpSize: number;
  blocks: number;
  /** W: each position attends to itself and the previous W − 1 positions... */
  window: number;
  /** ...and to the stream's first S positions, which are never evicted. */
  sinks: number;
  /**
   * How attention knows order: `alibi` (each head's scores biased by the key's offset inside the cache, so any
   * stream position behaves as the trained ones), `sinusoidal` (a transformer's absolute encoding, files before
   * format 2) or `none` (a hybrid's files before format 2: its recurrent state carries order).
   */
  positional: PositionalScheme;
}

/** Shape of one model as the kernel sees it. */
export interface KernelArch {
  kind: ModelKind;
  /** The recurrent cell (recurrent and hybrid models). */
  cell?: CellKind;
  /** An `rnn` cell's activation; absent means tanh (metadata `nonlinearity`, docs/model-format.md). */
  nonlinearity?: Nonlinearity;
  /** Stacked recurrent layers; 0 for transformers. */
  layers: number;
  /** Frame width X; for token models the embedding width (E, or D for transformers). */
  inputSize: number;
  /** 0 for frame models. */
  vocabSize: number;
  /** H; 0 for transformers. */
  hiddenSize: number;
  /** O; 0 for no head. */
  headSize: number;
  attention?: AttentionArch;
}

/**
 * One kernel instance holding one model: its parameters, its stream slots and
 * its batch buffers. Views are rebuilt whenever the memory has grown.
 */
export class Kernel {
  private buffer!: ArrayBuffer;
  private f32View!: Float32Array;
  private i32View!: Int32Array;
  readonly batchCapacity: number;
  readonly outputSize: number;
  readonly inputWidth: number;
  readonly stateLength: number;
  private readonly ioSlots: number;
  private readonly ioTokens: number;
  private readonly ioInput: number;
  private readonly ioOutput: number;
  private paramsDirty = true;

  private constructor(readonly exports: KernelExports) {
    this.batchCapacity = exports.getBatchCapacity();
    this.outputSize = exports.getOutputSize();
    this.inputWidth = exports.getInputSize();
    this.stateLength = exports.slotStateLength();
    this.ioSlots = exports.getIoSlotsPtr() >>> 2;
    this.ioTokens = exports.getIoTokensPtr() >>> 2;
    this.ioInput = exports.getIoInputPtr() >>> 2;
    this.ioOutput = exports.getIoOutputPtr() >>> 2;
    this.refresh();
  }

  /** Instantiates the kernel and lays out a model of the given shape. */
  static async create(
    arch: KernelArch,
    options: { batchCapacity?: number; initialSlots?: number; wasm?: BufferSource; variant?: KernelVariant | 'auto' } = {},
  ): Promise<Kernel> {
    const module = await kernelModule(options.wasm, options.variant);
    const instance = await WebAssembly.instantiate(module, {});
    const exports = instance.exports as unknown as KernelExports;
    if (exports.abiVersion() !== ABI_VERSION) {
      throw new KernelError(0, `kernel ABI version ${exports.abiVersion()} is not the ${ABI_VERSION} this host speaks`);
    }
    const batch = options.batchCapacity ?? 64;
    const slots = options.initialSlots ?? 4;
    const a = arch.attention;
    const cell = arch.cell === undefined ? -1 : arch.cell === 'rnn' && arch.nonlinearity === 'relu' ? CELL_RNN_RELU : CELL_CODES[arch.cell];
    let code: number;
    if (arch.kind === 'recurrent') {
      code = exports.configure(cell, arch.layers, arch.inputSize, arch.vocabSize, arch.hiddenSize, arch.headSize, batch, slots);
    } else if (arch.kind === 'transformer') {
      code = exports.configureTransformer(arch.inputSize, arch.vocabSize, a!.width, a!.heads, a!.mlpSize, a!.blocks, a!.window, a!.sinks, arch.headSize, batch, slots);
    } else {
      code = exports.configureHybrid(cell, arch.layers, arch.inputSize, arch.vocabSize, arch.hiddenSize,
        a!.heads, a!.mlpSize, a!.blocks, a!.window, a!.sinks, arch.headSize, batch, slots);
    }
    check(code, `configure (${arch.kind})`);
    if (a) check(exports.configurePositional(POSITIONAL_CODES[a.positional]), `configurePositional (${a.positional})`);
    return new Kernel(exports);
  }

  /** Rebuilds typed views if memory grew (growth detaches the old ArrayBuffer). */
  private refresh(): void {
    const buffer = this.exports.memory.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.f32View = new Float32Array(buffer);
      this.i32View = new Int32Array(buffer);
    }
  }

  /** All of memory as floats; index = byte offset / 4. Valid until the next call that may grow. */
  get f32(): Float32Array {
    this.refresh();
    return this.f32View;
  }

  get i32(): Int32Array {
    this.refresh();
    return this.i32View;
  }

  /** Records that parameters were written; the packed panels are rebuilt before the next step. */
  paramsChanged(): void {
    this.paramsDirty = true;
  }

  /** Rebuilds the packed panels (forward and, once training is set up, transposed) if parameters changed. */
  commitIfChanged(): void {
    if (this.paramsDirty) {
      check(this.exports.trainCommitParams(), 'trainCommitParams');
      this.paramsDirty = false;
    }
  }

  /** A live view of parameter tensor `index` (kernel order). Call paramsChanged() after writing through it. */
  param(index: number): Float32Array {
    const ptr = this.exports.getParamPtr(index) >>> 2;
    return this.f32.subarray(ptr, ptr + this.exports.getParamLength(index));
  }

  /** A live view of the whole parameter block. */
  params(): Float32Array {
    const ptr = this.exports.getParamsPtr() >>> 2;
    return this.f32.subarray(ptr, ptr + this.exports.getParamsLength());
  }

  openSlot(): number {
    const slot = this.exports.slotOpen();
    check(slot, 'slotOpen');
    this.refresh();
    return slot;
  }

  closeSlot(slot: number): void {
    check(this.exports.slotClose(slot), 'slotClose');
  }

  resetSlot(slot: number): void {
    check(this.exports.slotReset(slot), 'slotReset');
  }

  copySlot(dst: number, src: number): void {
    check(this.exports.slotCopy(dst, src), 'slotCopy');
  }

  /** Positions a slot has stepped since open or reset. */
  slotPosition(slot: number): number {
    return this.exports.slotPosition(slot);
  }

  setSlotPosition(slot: number, position: number): void {
    check(this.exports.slotSetPosition(slot, position), 'slotSetPosition');
  }

  /** A live view of a slot's latest attention weights in one block: (heads, S + W); the first `count` of each row are valid. */
  slotAttention(slot: number, block: number): { weights: Float32Array; count: number } {
    const ptr = this.exports.slotAttentionPtr(slot, block) >>> 2;
    if (ptr === 0) throw new KernelError(-5, `slot ${slot} has no attention block ${block}`);
    return { weights: this.f32.subarray(ptr), count: this.exports.slotAttentionCount(slot) };
  }

  /** A live view of a slot's state: h (L, H), then c (L, H) for LSTM, then each block's KV cache. */
  slotState(slot: number): Float32Array {
    const ptr = this.exports.slotStatePtr(slot) >>> 2;
    if (ptr === 0) throw new KernelError(-5, `slot ${slot} is not open`);
    return this.f32.subarray(ptr, ptr + this.stateLength);
  }

  /** Float index of batch entry `b`'s input row. */
  inputOffset(b: number): number {
    return this.ioInput + b * this.inputWidth;
  }

  /** Float index of batch entry `b`'s output row. */
  outputOffset(b: number): number {
    return this.ioOutput + b * this.outputSize;
  }

  setSlot(b: number, slot: number): void {
    this.i32[this.ioSlots + b] = slot;
  }

  setToken(b: number, token: number): void {
    this.i32[this.ioTokens + b] = token;
  }

  /** Steps the first `count` io entries; throws KernelError naming the entry on refusal. */
  step(count: number): void {
    this.commitIfChanged();
    const code = this.exports.stepBatch(count);
    if (code !== 0) {
      const index = this.exports.getErrorIndex();
      throw new KernelError(code, `stepBatch refused batch entry ${index}: ${KERNEL_ERRORS[code] ?? `error ${code}`}`);
    }
  }

  /** Bytes of linear memory in use by this model. */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }
}

export function check(code: number, call: string): void {
  if (code < 0) throw new KernelError(code, `kernel ${call} failed: ${KERNEL_ERRORS[code] ?? `error ${code}`}`);
}
