// A Stream: one live sequence's recurrent state, held in a kernel slot.

import { InputError, StateError } from '../errors.js';
import { CELL_CODES, KIND_CODES } from '../kernel/kernel.js';
import { argmax, type Model, type StepInput } from './model.js';

export interface StreamOptions {
  /** A name used in error messages, e.g. "pump-7". */
  name?: string;
  /** Initial hidden state, (layers, H) row-major; default zeros. */
  h0?: ArrayLike<number>;
  /** Initial cell state for LSTM, (layers, H) row-major; default zeros. */
  c0?: ArrayLike<number>;
}

/**
 * Snapshot bytes (little-endian; docs/api.md): u32 magic, version, shape code
 * (kind·4 + cell), layers, hidden, state length S, output length O, shape hash;
 * f64 position; then f32[O] last output; f32[S] state (h, c, KV caches).
 */
const SNAPSHOT_MAGIC = 0x53534353; // "SCSS" little-endian: SeqCast Stream Snapshot
const SNAPSHOT_VERSION = 1;
const SNAPSHOT_HEADER_BYTES = 40;

/** The recurrent state of a stream, copied out. */
export interface StreamState {
  /** h for every layer, (layers, H) row-major. */
  h: Float32Array;
  /** c for every layer (LSTM only). */
  c?: Float32Array;
}

/** Latest attention weights of one block: one row per head over the attended positions, oldest first. */
export interface AttentionWeights {
  /** Number of positions attended (sinks, then the window). */
  count: number;
  /** heads × count weights; each row sums to 1. */
  heads: Float32Array[];
}

export class Stream {
  private lastOutput: Float32Array | undefined;
  private closed = false;
  /** "stream \"pump-7\"" or "stream 3" — used in messages. */
  readonly label: string;

  /** @internal Use model.openStream(). */
  constructor(
    readonly model: Model,
    /** @internal kernel slot id */ readonly slot: number,
    options: StreamOptions,
  ) {
    this.label = options.name !== undefined ? `stream "${options.name}"` : `stream ${slot}`;
    if (options.h0 !== undefined || options.c0 !== undefined) {
      try {
        this.setState(options.h0, options.c0);
      } catch (err) {
        model.kernel.closeSlot(slot);
        throw err;
      }
    }
  }

  /** Positions stepped since open or the last reset (restored by restore()). Counts past 2^24 exactly. */
  get position(): number {
    return this.model.kernel.slotPosition(this.slot);
  }

  /**
   * Steps one position: a frame (numbers) or a token id in, the head's output out
   * (original units when the model carries a normalizer; logits for token models).
   * A bad input throws InputError and leaves the state untouched.
   */
  step(input: StepInput): Float32Array {
    this.assertOpen();
    const model = this.model;
    model.writeCheckedInput(0, input, this.label);
    model.kernel.setSlot(0, this.slot);
    model.kernel.step(1);
    return this.afterStep(model.readOutput(0));
  }

  /**
   * Steps one frame given in the model's own units (no normalizer applied), and
   * returns the raw output. For callers that normalize themselves (online learning).
   */
  stepModelUnits(frame: ArrayLike<number>): Float32Array {
    this.assertOpen();
    const model = this.model;
    if (model.isTokenModel) throw new StateError('stepModelUnits takes frames; step() takes token ids');
    if (frame.length !== model.inputSize) throw new InputError(`frame for ${this.label} has ${frame.length} values, model expects ${model.inputSize}`);
    const kernel = model.kernel;
    const at = kernel.inputOffset(0);
    const f32 = kernel.f32;
    for (let i = 0; i < frame.length; i++) {
      if (!Number.isFinite(Math.fround(frame[i]))) throw new InputError(`frame for ${this.label}: value ${i} is ${frame[i]}; expected a finite number`);
      f32[at + i] = frame[i];
    }
    kernel.setSlot(0, this.slot);
    kernel.step(1);
    const raw = model.readOutput(0);
    this.lastOutput = raw;
    return raw.slice();
  }

  /** @internal Records a step's raw output; returns it in original units. */
  afterStep(raw: Float32Array): Float32Array {
    this.lastOutput = raw;
    return this.model.denormalize(raw.slice());
  }

  /**
   * The next k outputs, feeding each back as the next input, from a copy of the
   * state: row 0 is the last step's output, row i the output after feeding row
   * i−1 back. Frame models need output size = input size; token models feed back
   * the most likely token. The stream's own state does not move.
   */
  forecast(k: number): Float32Array[] {
    this.assertOpen();
    const model = this.model;
    if (!Number.isInteger(k) || k < 1) throw new InputError(`forecast horizon must be a positive integer, got ${k}`);
    if (!model.isTokenModel && model.outputSize !== model.inputSize) {
      throw new StateError(`forecast feeds outputs back as inputs, but this model outputs ${model.outputSize} values for ${model.inputSize} inputs`);
    }
    if (!this.lastOutput) throw new StateError(`${this.label} has not been stepped yet; forecast starts from its last output`);
    const kernel = model.kernel;
    const fork = model.acquireForkSlot();
    kernel.copySlot(fork, this.slot);
    const rows: Float32Array[] = [model.denormalize(this.lastOutput.slice())];
    let raw = this.lastOutput;
    for (let i = 1; i < k; i++) {
      kernel.setSlot(0, fork);
      if (model.isTokenModel) {
        kernel.setToken(0, argmax(raw));
      } else {
        kernel.f32.set(raw, kernel.inputOffset(0)); // raw output is already in the model's (normalized) units
      }
      kernel.step(1);
      raw = model.readOutput(0);
      rows.push(model.denormalize(raw.slice()));
    }
    return rows;
  }

  /** Zeroes the state, as if the stream had just been opened. */
  reset(): void {
    this.assertOpen();
    this.model.kernel.resetSlot(this.slot);
    this.lastOutput = undefined;
  }

  /**
   * The latest position's attention weights in block `block` (attention models),
   * copied out of the kernel without touching the KV cache.
   */
  attention(block = 0): AttentionWeights {
    this.assertOpen();
    const a = this.model.arch.attention;
    if (!a) throw new StateError(`${this.label}: a ${this.model.arch.kind} model has no attention`);
    if (!Number.isInteger(block) || block < 0 || block >= a.blocks) throw new InputError(`block ${block} does not exist; this model has blocks 0..${a.blocks - 1}`);
    const { weights, count } = this.model.kernel.slotAttention(this.slot, block);
    const stride = a.window + a.sinks;
    return { count, heads: Array.from({ length: a.heads }, (_, h) => weights.slice(h * stride, h * stride + count)) };
  }

  /** A copy of the recurrent state (empty h for a transformer, whose state is its KV cache). */
  state(): StreamState {
    this.assertOpen();
    const { layers, hiddenSize } = this.model.arch;
    const state = this.model.kernel.slotState(this.slot);
    const n = layers * hiddenSize;
    return this.model.arch.cell === 'lstm' ? { h: state.slice(0, n), c: state.slice(n, 2 * n) } : { h: state.slice(0, n) };
  }

  /** Sets h (and c for LSTM), each (layers, H) row-major; omitted parts become zero. */
  setState(h?: ArrayLike<number>, c?: ArrayLike<number>): void {
    this.assertOpen();
    const { layers, hiddenSize, cell } = this.model.arch;
    const n = layers * hiddenSize;
    if (c !== undefined && cell !== 'lstm') throw new InputError(`a ${cell ?? this.model.arch.kind} has no cell state c`);
    for (const [part, values] of [['h', h], ['c', c]] as const) {
      if (values === undefined) continue;
      if (values.length !== n) throw new InputError(`${part} for ${this.label} has ${values.length} values, expected layers × hidden = ${n}`);
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(values[i])) throw new InputError(`${part} for ${this.label}: value ${i} is ${values[i]}; expected a finite number`);
      }
    }
    const state = this.model.kernel.slotState(this.slot);
    state.fill(0, 0, this.model.arch.cell === 'lstm' ? 2 * n : n);
    if (h) state.set(h, 0);
    if (c) state.set(c, n);
  }

  /** The state, position and last output as bytes, for restore() on a stream of the same model shape. */
  snapshot(): Uint8Array {
    this.assertOpen();
    const { layers, hiddenSize } = this.model.arch;
    const state = this.model.kernel.slotState(this.slot);
    const outputLength = this.lastOutput?.length ?? 0;
    const bytes = new Uint8Array(SNAPSHOT_HEADER_BYTES + (outputLength + state.length) * 4);
    const view = new DataView(bytes.buffer);
    const header = [SNAPSHOT_MAGIC, SNAPSHOT_VERSION, shapeCode(this.model), layers, hiddenSize, state.length, outputLength, archHash(this.model)];
    header.forEach((v, i) => view.setUint32(i * 4, v, true));
    view.setFloat64(32, this.position, true);
    const floats = new Float32Array(bytes.buffer, SNAPSHOT_HEADER_BYTES);
    if (this.lastOutput) floats.set(this.lastOutput, 0);
    floats.set(state, outputLength);
    return bytes;
  }

  /** Restores a snapshot taken from a stream of a model with the same cell, layers and hidden size. */
  restore(bytes: Uint8Array): void {
    this.assertOpen();
    const { layers, hiddenSize } = this.model.arch;
    if (bytes.byteLength < SNAPSHOT_HEADER_BYTES) throw new InputError(`snapshot is ${bytes.byteLength} bytes, shorter than its ${SNAPSHOT_HEADER_BYTES}-byte header`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const u32 = (i: number) => view.getUint32(i * 4, true);
    if (u32(0) !== SNAPSHOT_MAGIC) throw new InputError('not a seqcast stream snapshot (bad magic)');
    if (u32(1) !== SNAPSHOT_VERSION) throw new InputError(`snapshot version ${u32(1)} is not supported (this version reads ${SNAPSHOT_VERSION})`);
    const expected = [shapeCode(this.model), layers, hiddenSize];
    if (u32(2) !== expected[0] || u32(3) !== expected[1] || u32(4) !== expected[2] || u32(7) !== archHash(this.model)) {
      const { kind, cell } = this.model.arch;
      throw new InputError(
        `snapshot is of cell ${u32(2)}, ${u32(3)} layers, hidden ${u32(4)}, shape hash ${u32(7).toString(16)}; ` +
        `this model is ${cell ?? kind} (${expected[0]}), ${layers} layers, hidden ${hiddenSize}, shape hash ${archHash(this.model).toString(16)}: ${this.model.describe()}`,
      );
    }
    const stateLength = u32(5), outputLength = u32(6);
    if (stateLength !== this.model.kernel.stateLength || (outputLength !== 0 && outputLength !== this.model.outputSize)) {
      throw new InputError(`snapshot holds ${stateLength} state and ${outputLength} output values; expected ${this.model.kernel.stateLength} and ${this.model.outputSize}`);
    }
    if (bytes.byteLength !== SNAPSHOT_HEADER_BYTES + (stateLength + outputLength) * 4) {
      throw new InputError(`snapshot is ${bytes.byteLength} bytes; its header implies ${SNAPSHOT_HEADER_BYTES + (stateLength + outputLength) * 4}`);
    }
    const floats = new Float32Array(outputLength + stateLength);
    for (let i = 0; i < floats.length; i++) {
      floats[i] = view.getFloat32(SNAPSHOT_HEADER_BYTES + i * 4, true);
      if (!Number.isFinite(floats[i])) throw new InputError(`snapshot value ${i} is ${floats[i]}; state must be finite`);
    }
    const position = view.getFloat64(32, true);
    if (!Number.isSafeInteger(position) || position < 0) throw new InputError(`snapshot position ${position} is not a non-negative integer`);
    this.lastOutput = outputLength > 0 ? floats.slice(0, outputLength) : undefined;
    this.model.kernel.setSlotPosition(this.slot, position);
    this.model.kernel.slotState(this.slot).set(floats.subarray(outputLength));
  }

  /** Frees the stream's kernel slot. Further use throws StateError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.model.kernel.closeSlot(this.slot);
    this.model.forgetStream(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  assertOpen(): void {
    if (this.closed) throw new StateError(`${this.label} is closed`);
  }
}

/** kind · 4 + cell (3 for none): the model family a snapshot belongs to. */
function shapeCode(model: Model): number {
  const { kind, cell } = model.arch;
  return KIND_CODES[kind] * 4 + (cell === undefined ? 3 : CELL_CODES[cell]);
}

/** FNV-1a of the model's description: two models share it only if every size matches. */
function archHash(model: Model): number {
  let hash = 0x811c9dc5;
  for (const ch of model.describe()) {
    hash ^= ch.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
