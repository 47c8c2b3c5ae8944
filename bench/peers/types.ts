// The interface every peer adapter in bench/peers/ implements, so bench/peers.ts
// (and tests/peers-agree.test.ts) can drive seqcast and the other libraries the
// same way: the same weights, the same inputs, outputs compared before timing.

import { readFileSync } from 'node:fs';
import type { LstmWeights } from '../naive-lstm.js';

/** One shared benchmark model: `nn.LSTM(X, H)` + `nn.Linear(H, O)` (bench/models, bench/onnx). */
export interface BenchModel {
  hidden: number; // H
  inputSize: number; // X
  outputSize: number; // O
  /** The PyTorch tensors, read from lstm_hH.safetensors. */
  weights: LstmWeights;
  safetensorsPath: string;
  /** torch.onnx.export of the same model (opset 14): x [T,B,X], h0/c0 [1,B,H] in; y [T,B,O], hn/cn [1,B,H] out. */
  onnxPath: string;
}

/** Frames prepared once, in both shapes a library may want: flat (row-major) and one view per row. */
export interface Frames {
  /** rows × X floats, row-major. */
  flat: Float32Array;
  /** Views into `flat`, one per row. */
  rows: Float32Array[];
}

export function framesOf(rows: Float32Array[], width: number): Frames {
  const flat = new Float32Array(rows.length * width);
  rows.forEach((row, i) => flat.set(row, i * width));
  return { flat, rows: rows.map((_, i) => flat.subarray(i * width, (i + 1) * width)) };
}

/** B streams stepped together, one position per call (B = 1 for W1). */
export interface Stepper {
  /** One position for all B streams (rows = B frames); returns the first output value (so the output is really read). */
  step(frames: Frames): number | Promise<number>;
  /** A copy of the last step's outputs, B × O row-major. */
  last(): Float32Array;
  /** Zero state for every stream. */
  reset(): void | Promise<void>;
  dispose(): void | Promise<void>;
  /**
   * False when the library cannot carry state from one call to the next (each
   * call starts from zero state); its outputs are then compared with one
   * seqcast step from zero state.
   */
  carriesState: boolean;
  /** Extra words for the results table (what one call does). */
  note?: string;
}

/** One whole sequence per call, from zero state (W3). */
export interface SequenceRunner {
  /** rows = T frames of one stream; returns the first output value read. */
  run(sequence: Frames): number | Promise<number>;
  /** The last call's outputs: T × O row-major, or only the last step's O values when `lastOnly`. */
  last(): Float32Array;
  dispose(): void | Promise<void>;
  /** The library returns only the last position's output. */
  lastOnly?: boolean;
  /** Set when the outputs cannot be compared with seqcast's (the reason). */
  notComparable?: string;
  note?: string;
}

export interface Peer {
  /** Short id, e.g. 'tfjs-cpu'. */
  id: string;
  /** npm package (or 'seqcast', 'plain TypeScript'). */
  library: string;
  version: string;
  /** Backend and how it is driven, for the table. */
  backend: string;
  /** True when its calls return promises (await per call). */
  async: boolean;
  /** Called once before any model is built. */
  init(): Promise<void>;
  /** Called before each timed slice (e.g. tfjs selects its backend); optional. */
  activate?(): Promise<void>;
  /** W1/W2: B streams stepped together per call. Throws Skip when the library has no such mode. */
  streams(model: BenchModel, batch: number): Promise<Stepper>;
  /** W3: a T-step sequence per call. Throws Skip when the library has no such mode. */
  sequence(model: BenchModel, length: number): Promise<SequenceRunner>;
  /** Frees what init() made. */
  close?(): Promise<void>;
}

/** Thrown by an adapter for a workload its library cannot run; the message is the reason shown. */
export class Skip extends Error {}

/** Row-major [rows, cols] → [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** b_ih + b_hh: libraries with one bias per gate row (Keras, brain.js). */
export function summedBias(w: LstmWeights): Float32Array {
  return w.biasIh.map((v, i) => v + w.biasHh[i]);
}

/** The installed version of an npm package (read from node_modules, so it is what actually ran). */
export function installedVersion(name: string): string {
  const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
