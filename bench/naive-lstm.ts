// The baseline for bench/kernel.ts: a plain TypeScript LSTM + dense head, the
// way a user would write it in an hour. PyTorch layouts and names (gate order
// i, f, g, o; weight_ih [4H, X], weight_hh [4H, H], both biases; head [O, H]),
// Math.exp sigmoid and Math.tanh, nested loops over Float32Arrays. Everything is
// preallocated (no allocation per step) and the state is carried, so the
// comparison is fair. No SIMD, no unrolling, no blocking, no batching tricks.

/** One LSTM layer and its dense head, as PyTorch lays them out. */
export interface LstmWeights {
  inputSize: number; // X
  hiddenSize: number; // H
  outputSize: number; // O
  weightIh: Float32Array; // [4H, X]
  weightHh: Float32Array; // [4H, H]
  biasIh: Float32Array; // [4H]
  biasHh: Float32Array; // [4H]
  headWeight: Float32Array; // [O, H]
  headBias: Float32Array; // [O]
}

/**
 * Reads the weights by PyTorch state_dict name (`lstm.weight_ih_l0`, ...,
 * `head.weight`, `head.bias`), e.g. `lstmWeights((name) => model.getParameter(name))`.
 */
export function lstmWeights(get: (name: string) => ArrayLike<number>): LstmWeights {
  const weightIh = Float32Array.from(get('lstm.weight_ih_l0'));
  const weightHh = Float32Array.from(get('lstm.weight_hh_l0'));
  const biasIh = Float32Array.from(get('lstm.bias_ih_l0'));
  const biasHh = Float32Array.from(get('lstm.bias_hh_l0'));
  const headWeight = Float32Array.from(get('head.weight'));
  const headBias = Float32Array.from(get('head.bias'));
  const hiddenSize = biasIh.length / 4;
  const inputSize = weightIh.length / (4 * hiddenSize);
  const outputSize = headBias.length;
  if (!Number.isInteger(hiddenSize) || !Number.isInteger(inputSize) || weightHh.length !== 4 * hiddenSize * hiddenSize
    || biasHh.length !== 4 * hiddenSize || headWeight.length !== outputSize * hiddenSize) {
    throw new Error('lstmWeights: tensor sizes do not form an LSTM [4H,X], [4H,H], [4H], [4H] with head [O,H], [O]');
  }
  return { inputSize, hiddenSize, outputSize, weightIh, weightHh, biasIh, biasHh, headWeight, headBias };
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** One stream: its own h, c and output buffers over shared weights. */
export class NaiveLstm {
  readonly h: Float32Array;
  readonly c: Float32Array;
  /** The last step's output; step() returns this buffer (overwritten by the next step). */
  readonly y: Float32Array;
  private readonly gates: Float32Array;

  constructor(readonly w: LstmWeights) {
    this.h = new Float32Array(w.hiddenSize);
    this.c = new Float32Array(w.hiddenSize);
    this.y = new Float32Array(w.outputSize);
    this.gates = new Float32Array(4 * w.hiddenSize);
  }

  /** Sets the state (zeros when omitted). */
  setState(h?: ArrayLike<number>, c?: ArrayLike<number>): void {
    this.h.fill(0);
    this.c.fill(0);
    if (h) this.h.set(h);
    if (c) this.c.set(c);
  }

  /** One position: x [X] in, y [O] out (the internal buffer), h and c carried. */
  step(x: ArrayLike<number>): Float32Array {
    const { inputSize: X, hiddenSize: H, outputSize: O, weightIh, weightHh, biasIh, biasHh, headWeight, headBias } = this.w;
    const h = this.h, c = this.c, y = this.y, gates = this.gates;

    // gates = W_ih x + b_ih + W_hh h + b_hh, rows i, f, g, o
    for (let r = 0; r < 4 * H; r++) {
      let sum = biasIh[r] + biasHh[r];
      for (let k = 0; k < X; k++) sum += weightIh[r * X + k] * x[k];
      for (let k = 0; k < H; k++) sum += weightHh[r * H + k] * h[k];
      gates[r] = sum;
    }

    // c = f*c + i*g; h = o*tanh(c)
    for (let j = 0; j < H; j++) {
      const i = sigmoid(gates[j]);
      const f = sigmoid(gates[H + j]);
      const g = Math.tanh(gates[2 * H + j]);
      const o = sigmoid(gates[3 * H + j]);
      c[j] = f * c[j] + i * g;
      h[j] = o * Math.tanh(c[j]);
    }

    // y = head.weight h + head.bias
    for (let r = 0; r < O; r++) {
      let sum = headBias[r];
      for (let k = 0; k < H; k++) sum += headWeight[r * H + k] * h[k];
      y[r] = sum;
    }
    return y;
  }
}

/** B streams over the same weights, stepped together by looping over the streams. */
export class NaiveLstmBatch {
  readonly streams: NaiveLstm[];
  private readonly outputs: Float32Array[];

  constructor(w: LstmWeights, batch: number) {
    this.streams = Array.from({ length: batch }, () => new NaiveLstm(w));
    this.outputs = this.streams.map((s) => s.y);
  }

  /** One position for every stream: xs[b] in, outputs[b] (internal buffers) out. */
  step(xs: ArrayLike<number>[]): Float32Array[] {
    const streams = this.streams;
    for (let b = 0; b < streams.length; b++) streams[b].step(xs[b]);
    return this.outputs;
  }
}
