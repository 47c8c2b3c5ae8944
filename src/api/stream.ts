// A Stream: one live sequence's recurrent state, held in a kernel slot.

import { InputError, StateError } from '../errors.js';
import { argmax, type ModelHost, type StepInput } from './host.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';

export interface StreamOptions {
  /** A name used in error messages, e.g. "pump-7". */
  name?: string;
  /** Initial hidden state, (layers, H) row-major; default zeros. */
  h0?: ArrayLike<number>;
  /** Initial cell state for LSTM, (layers, H) row-major; default zeros. */
  c0?: ArrayLike<number>;
  /**
   * true: step and forecast return the head's raw outputs (kernel units: no normalizer mapping, a delta model's
   * change not added to the input). Default false: outputs as the model's metadata says (docs/model-format.md,
   * "What the outputs are"): next frames in original units, a delta model's input + change, logits or label values.
   */
  raw?: boolean;
}

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
  /**
   * After the last step, the next frame in model units (a delta model's input + change), or the raw output (token
   * and label models), [O]: what forecast feeds back and snapshots keep. A buffer of this stream's, rewritten by every step.
   */
  private readonly lastOutput: Float32Array;
  /** Raw streams of delta models: the last step's raw output (the change), which lastOutput no longer shows. */
  private readonly lastChange?: Float32Array;
  /** Whether lastOutput holds a step's output (false after open and reset). */
  private stepped = false;
  /** Whether lastChange is the last step's (false after a restore, which does not carry it). */
  private changeKnown = false;
  /** Outputs as the head gives them (StreamOptions.raw). */
  readonly raw: boolean;
  private closed = false;
  /** @internal The stamp of the last public stepBatch call this stream was in (ModelHost.nextBatchStamp). */
  batchStamp = 0;
  /** "stream \"pump-7\"" or "stream 3" — used in messages. */
  readonly label: string;

  /** @internal Use model.openStream(). Takes `slot` (opened for it) and joins the host's open streams. */
  constructor(
    /** @internal */ readonly host: ModelHost,
    /** @internal kernel slot id */ readonly slot: number,
    options: StreamOptions,
  ) {
    this.label = options.name !== undefined ? `stream "${options.name}"` : `stream ${slot}`;
    this.lastOutput = new Float32Array(host.outputSize);
    this.raw = options.raw === true;
    if (this.raw && host.predictsChange) this.lastChange = new Float32Array(host.outputSize);
    if (options.h0 !== undefined || options.c0 !== undefined) {
      try {
        this.setState(options.h0, options.c0);
      } catch (err) {
        host.kernel.closeSlot(slot);
        throw err;
      }
    }
    host.streams.add(this);
  }

  /** Positions stepped since open or the last reset (restored by restore()). Counts past 2^24 exactly. */
  get position(): number {
    return this.host.kernel.slotPosition(this.slot);
  }

  /**
   * Steps one position: a frame (numbers) or a token id in, the model's prediction out: the next frame (in
   * original units when the model carries a normalizer; for a delta model, the frame just fed plus the predicted
   * change), logits for token models, class logits or the label value for label models; the raw head output for
   * a stream opened with `raw`. A bad input throws InputError and leaves the state untouched.
   */
  step(input: StepInput): Float32Array {
    this.assertOpen();
    const host = this.host;
    host.writeCheckedInput(0, input, this.label);
    const modelInput = host.predictsChange ? host.readInput(0) : undefined;
    host.kernel.setSlot(0, this.slot);
    host.kernel.step(1);
    return this.afterStep(0, modelInput);
  }

  /**
   * Steps one frame given in the model's own units (no normalizer applied), and
   * returns the raw output. For callers that normalize themselves (online learning).
   */
  stepModelUnits(frame: ArrayLike<number>): Float32Array {
    this.assertOpen();
    const host = this.host;
    if (host.isTokenModel) throw new StateError('stepModelUnits takes frames; step() takes token ids');
    if (frame.length !== host.inputSize) throw new InputError(`frame for ${this.label} has ${frame.length} values, model expects ${host.inputSize}`);
    for (let i = 0; i < frame.length; i++) {
      if (!Number.isFinite(Math.fround(frame[i]))) throw new InputError(`frame for ${this.label}: value ${i} is ${frame[i]}; expected a finite number`);
    }
    return this.stepModelUnitsUnchecked(frame);
  }

  /**
   * @internal stepModelUnits for a frame its caller made finite and of the model's width (a LearningStream's
   * clamped frame); the kernel's own check is the last guard.
   */
  stepModelUnitsUnchecked(frame: ArrayLike<number>): Float32Array {
    const kernel = this.host.kernel;
    kernel.f32.set(frame, kernel.inputOffset(0));
    kernel.setSlot(0, this.slot);
    kernel.step(1);
    return this.afterStepModelUnits(0, frame);
  }

  /**
   * @internal afterStep for a frame stepped in model units: the raw output (kernel units), read once into a new
   * array. `input` is the frame it stepped (model units; read for delta models only).
   */
  afterStepModelUnits(b: number, input: ArrayLike<number> | undefined): Float32Array {
    const raw = this.host.readOutput(b);
    this.keep(raw, input);
    return raw;
  }

  /**
   * @internal After a kernel step of this stream as batch entry b: reads its output once into a new array, keeps
   * the next frame in model units for forecast, and returns the prediction step() documents. `input` is the frame
   * it stepped, as the kernel held it (model units; needed by delta models only).
   */
  afterStep(b: number, input: ArrayLike<number> | undefined): Float32Array {
    const host = this.host;
    const out = host.readOutput(b);
    this.keep(out, input);
    if (this.raw) return out;
    if (host.predictsChange) out.set(this.lastOutput);
    return host.denormalize(out);
  }

  /** Keeps a step's raw output: lastOutput becomes the next frame in model units (and lastChange the change). */
  private keep(raw: Float32Array, input: ArrayLike<number> | undefined): void {
    this.lastOutput.set(raw);
    if (this.host.predictsChange) {
      this.host.nextInModelUnits(this.lastOutput, input);
      if (this.lastChange) this.lastChange.set(raw);
      this.changeKnown = true;
    }
    this.stepped = true;
  }

  /**
   * The next k predictions, feeding each predicted frame back as the next input, from a copy of the state: row 0
   * is the last step's prediction (what step returned), row i the prediction after feeding row i−1's frame back
   * (a delta model's frames are built up change by change). Rows are in step()'s units (raw outputs for a `raw`
   * stream). Frame models need output size = input size and a next-frame or delta target; token models feed back
   * the most likely token. The stream's own state does not move.
   */
  forecast(k: number): Float32Array[] {
    this.assertOpen();
    const host = this.host;
    if (!Number.isInteger(k) || k < 1) throw new InputError(`forecast horizon must be a positive integer, got ${k}`);
    if (host.target === 'label') throw new StateError(`forecast feeds outputs back as inputs, but a label model's outputs are ${host.describeLabel()}, not a frame`);
    if (!host.isTokenModel && host.outputSize !== host.inputSize) {
      throw new StateError(`forecast feeds outputs back as inputs, but this model outputs ${host.outputSize} values for ${host.inputSize} inputs`);
    }
    if (!this.stepped) throw new StateError(`${this.label} has not been stepped yet; forecast starts from its last output`);
    if (this.lastChange && !this.changeKnown) throw new StateError(`${this.label} was restored from a snapshot, which keeps its next frame but not the raw change; step it once before a raw forecast`);
    const kernel = host.kernel;
    const fork = host.acquireForkSlot();
    kernel.copySlot(fork, this.slot);
    let next: Float32Array = this.lastOutput.slice(); // the frame to feed, in model units (logits for token models)
    const rows: Float32Array[] = [this.raw ? (this.lastChange ?? next).slice() : host.denormalize(next.slice())];
    for (let i = 1; i < k; i++) {
      kernel.setSlot(0, fork);
      if (host.isTokenModel) kernel.setToken(0, argmax(next));
      else kernel.f32.set(next, kernel.inputOffset(0));
      kernel.step(1);
      const out = host.readOutput(0);
      if (this.raw) rows.push(out.slice());
      next = host.nextInModelUnits(out, next);
      if (!this.raw) rows.push(host.denormalize(next.slice()));
    }
    return rows;
  }

  /** Zeroes the state, as if the stream had just been opened. */
  reset(): void {
    this.assertOpen();
    this.host.kernel.resetSlot(this.slot);
    this.stepped = false;
    this.changeKnown = false;
  }

  /**
   * The latest position's attention weights in block `block` (attention models),
   * copied out of the kernel without touching the KV cache.
   */
  attention(block = 0): AttentionWeights {
    this.assertOpen();
    const a = this.host.arch.attention;
    if (!a) throw new StateError(`${this.label}: a ${this.host.arch.kind} model has no attention`);
    if (!Number.isInteger(block) || block < 0 || block >= a.blocks) throw new InputError(`block ${block} does not exist; this model has blocks 0..${a.blocks - 1}`);
    const { weights, count } = this.host.kernel.slotAttention(this.slot, block);
    const stride = a.window + a.sinks;
    return { count, heads: Array.from({ length: a.heads }, (_, h) => weights.slice(h * stride, h * stride + count)) };
  }

  /** A copy of the recurrent state (empty h for a transformer, whose state is its KV cache). */
  state(): StreamState {
    this.assertOpen();
    const { layers, hiddenSize, cell } = this.host.arch;
    const state = this.host.kernel.slotState(this.slot);
    const n = layers * hiddenSize;
    return cell === 'lstm' ? { h: state.slice(0, n), c: state.slice(n, 2 * n) } : { h: state.slice(0, n) };
  }

  /** Sets h (and c for LSTM), each (layers, H) row-major; omitted parts become zero. */
  setState(h?: ArrayLike<number>, c?: ArrayLike<number>): void {
    this.assertOpen();
    const { layers, hiddenSize, cell, kind } = this.host.arch;
    const n = layers * hiddenSize;
    if (c !== undefined && cell !== 'lstm') throw new InputError(`a ${cell ?? kind} has no cell state c`);
    for (const [part, values] of [['h', h], ['c', c]] as const) {
      if (values === undefined) continue;
      if (values.length !== n) throw new InputError(`${part} for ${this.label} has ${values.length} values, expected layers × hidden = ${n}`);
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(values[i])) throw new InputError(`${part} for ${this.label}: value ${i} is ${values[i]}; expected a finite number`);
      }
    }
    const state = this.host.kernel.slotState(this.slot);
    state.fill(0, 0, cell === 'lstm' ? 2 * n : n);
    if (h) state.set(h, 0);
    if (c) state.set(c, n);
  }

  /** The state, position and last output as bytes, for restore() on a stream of the same model shape. */
  snapshot(): Uint8Array {
    this.assertOpen();
    const state = this.host.kernel.slotState(this.slot);
    return encodeSnapshot(this.host, { position: this.position, lastOutput: this.stepped ? this.lastOutput : undefined, state });
  }

  /** Restores a snapshot taken from a stream of a model with the same cell, layers and hidden size. */
  restore(bytes: Uint8Array): void {
    this.assertOpen();
    const { position, lastOutput, state } = decodeSnapshot(this.host, bytes);
    this.stepped = lastOutput !== undefined;
    this.changeKnown = false;
    if (lastOutput) this.lastOutput.set(lastOutput);
    this.host.kernel.setSlotPosition(this.slot, position);
    this.host.kernel.slotState(this.slot).set(state);
  }

  /** Frees the stream's kernel slot. Further use throws StateError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.kernel.closeSlot(this.slot);
    this.host.streams.delete(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  assertOpen(): void {
    if (this.closed) throw new StateError(`${this.label} is closed`);
  }
}

/** Opens a stream on `host`'s model in a fresh kernel slot (model.openStream; a LearningStream's own stream). */
export function openStream(host: ModelHost, options: StreamOptions = {}): Stream {
  host.assertOpen();
  return new Stream(host, host.kernel.openSlot(), options);
}

/** How stepStreams takes its inputs. */
export interface StepStreamsOptions {
  /** Batch entries 0..n−1 already hold the inputs (n ≤ batchCapacity): Model.stepBatch wrote them as it checked them. */
  written?: boolean;
  /**
   * Per stream: true where the input is a frame already in the model's units (a LearningStream's prepared
   * frame), written as it is and answered with the raw output; elsewhere the model's normalizer applies both ways.
   */
  modelUnits?: readonly boolean[];
}

/**
 * Steps `streams` (all of one model, each open and at most once, each input already checked) by one position,
 * batchCapacity streams per kernel call, and returns each one's output (what Stream.step returns, or raw for
 * modelUnits entries). No check here: Model.stepBatch checks its arguments first, and the pipeline's validateFrames checked
 * its frames; the kernel's check is the last guard. Touches the streams' kernel slots.
 */
export function stepStreams(streams: Stream[], inputs: StepInput[], options: StepStreamsOptions = {}): Float32Array[] {
  const outputs: Float32Array[] = new Array(streams.length);
  if (streams.length === 0) return outputs;
  const { written = false, modelUnits } = options;
  const host = streams[0].host;
  const kernel = host.kernel;
  const capacity = kernel.batchCapacity;
  for (let start = 0; start < streams.length; start += capacity) {
    const count = Math.min(capacity, streams.length - start);
    for (let b = 0; b < count; b++) {
      kernel.setSlot(b, streams[start + b].slot);
      if (written) continue;
      const input = inputs[start + b];
      if (modelUnits?.[start + b]) kernel.f32.set(input as ArrayLike<number>, kernel.inputOffset(b));
      else host.writeInput(b, input);
    }
    // a delta model adds its output to the input it followed, as the kernel holds it (model units)
    const stepped = host.predictsChange ? Array.from({ length: count }, (_, b) => host.readInput(b)) : undefined;
    kernel.step(count);
    for (let b = 0; b < count; b++) {
      const stream = streams[start + b];
      outputs[start + b] = modelUnits?.[start + b] ? stream.afterStepModelUnits(b, stepped?.[b]) : stream.afterStep(b, stepped?.[b]);
    }
  }
  return outputs;
}
