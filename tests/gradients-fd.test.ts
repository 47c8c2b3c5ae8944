// Backward passes against finite differences of a float64 reference forward, at
// odd sizes (1, 3, 37): every cell (the relu RNN too), stacked layers, embeddings, heads, masks,
// several windows at once, and the gradients w.r.t. the initial state and input.

import { describe, expect, it } from 'vitest';
import { createModel, type LossKind, type Model, type ModelSpec, type TrainingWindow } from '../src/index.js';
import { seededRandom } from '../src/model/init.js';
import { linear, recurrentTop } from './helpers/reference.js';

type Params = Map<string, Float64Array>;

/** The mean loss of a batch of windows, computed directly in float64 from `params` (and given initial states / inputs). */
function referenceLoss(model: Model, params: Params, windows: TrainingWindow[], loss: LossKind, h0s: number[][], c0s: number[][], xs: number[][][]): number {
  const { vocabSize, inputSize } = model.arch;
  const p = (name: string) => params.get(name)!;
  let total = 0, count = 0;
  windows.forEach((w, b) => {
    const T = w.inputs.length;
    const inputs = Array.from({ length: T }, (_, t) => (vocabSize > 0
      ? Array.from(p('embed.weight').subarray((w.inputs[t] as number) * inputSize, ((w.inputs[t] as number) + 1) * inputSize))
      : xs[b][t]));
    recurrentTop(model, inputs, p, h0s[b], c0s[b]).forEach((h, t) => {
      const m = w.mask ? w.mask[t] : 1;
      const y = model.arch.headSize > 0 ? linear(p('head.weight'), p('head.bias'), h, model.arch.headSize) : h;
      if (loss === 'ce') {
        const max = Math.max(...y);
        const logSum = max + Math.log(y.reduce((a, v) => a + Math.exp(v - max), 0));
        total += m * (logSum - y[w.targets[t] as number]);
        count += m;
      } else {
        const target = w.targets[t] as number[];
        y.forEach((v, j) => { total += m * (v - target[j]) ** 2; });
        count += m * y.length;
      }
    });
  });
  return total / count;
}

interface Case { name: string; spec: ModelSpec; T: number; B: number; loss: LossKind; masked?: boolean }

const CASES: Case[] = [
  { name: 'lstm H=1', spec: { cell: 'lstm', inputSize: 1, hiddenSize: 1 }, T: 6, B: 1, loss: 'mse' },
  { name: 'gru H=1', spec: { cell: 'gru', inputSize: 1, hiddenSize: 1 }, T: 6, B: 1, loss: 'mse' },
  { name: 'rnn H=1', spec: { cell: 'rnn', inputSize: 1, hiddenSize: 1 }, T: 6, B: 1, loss: 'mse' },
  { name: '2-layer lstm H=3, 3 windows, masked', spec: { cell: 'lstm', inputSize: 3, hiddenSize: 3, layers: 2, outputSize: 2 }, T: 5, B: 3, loss: 'mse', masked: true },
  { name: '2-layer gru H=3, 3 windows', spec: { cell: 'gru', inputSize: 3, hiddenSize: 3, layers: 2, outputSize: 3 }, T: 5, B: 3, loss: 'mse' },
  { name: '3-layer rnn H=3', spec: { cell: 'rnn', inputSize: 2, hiddenSize: 3, layers: 3, outputSize: 1 }, T: 7, B: 2, loss: 'mse' },
  { name: 'token lstm H=3, cross-entropy, masked', spec: { cell: 'lstm', vocabSize: 5, embedSize: 3, hiddenSize: 3 }, T: 6, B: 2, loss: 'ce', masked: true },
  { name: 'token gru H=37, cross-entropy', spec: { cell: 'gru', vocabSize: 7, embedSize: 5, hiddenSize: 37 }, T: 4, B: 2, loss: 'ce' },
  // embedding widths that are multiples of 8 take layer 0's token-table shortcut (assembly/token-table.ts)
  { name: 'token lstm E=8 H=3, 2 layers, token table, masked', spec: { cell: 'lstm', vocabSize: 5, embedSize: 8, hiddenSize: 3, layers: 2 }, T: 6, B: 3, loss: 'ce', masked: true },
  { name: 'token rnn E=16 H=37, token table', spec: { cell: 'rnn', vocabSize: 9, embedSize: 16, hiddenSize: 37 }, T: 4, B: 2, loss: 'ce' },
  { name: 'token gru E=8 H=3, 2 layers, token table', spec: { cell: 'gru', vocabSize: 6, embedSize: 8, hiddenSize: 3, layers: 2 }, T: 5, B: 2, loss: 'ce' },
  { name: 'lstm H=37, no head', spec: { cell: 'lstm', inputSize: 3, hiddenSize: 37, outputSize: 0 }, T: 4, B: 1, loss: 'mse' },
  { name: '2-layer rnn H=37', spec: { cell: 'rnn', inputSize: 37, hiddenSize: 37, layers: 2, outputSize: 5 }, T: 3, B: 2, loss: 'mse' },
  // nn.RNN(nonlinearity="relu"): the kernel's CELL_RNN_RELU, forward and backward
  { name: 'relu rnn H=3, 3 windows', spec: { cell: 'rnn', nonlinearity: 'relu', inputSize: 1, hiddenSize: 3 }, T: 6, B: 3, loss: 'mse' },
  { name: '3-layer relu rnn H=5, 2 windows, masked', spec: { cell: 'rnn', nonlinearity: 'relu', inputSize: 3, hiddenSize: 5, layers: 3, outputSize: 2 }, T: 7, B: 2, loss: 'mse', masked: true },
  { name: 'token relu rnn E=16 H=37, token table', spec: { cell: 'rnn', nonlinearity: 'relu', vocabSize: 9, embedSize: 16, hiddenSize: 37 }, T: 4, B: 2, loss: 'ce' },
  { name: '2-layer relu rnn H=37, no head', spec: { cell: 'rnn', nonlinearity: 'relu', inputSize: 37, hiddenSize: 37, layers: 2, outputSize: 0 }, T: 3, B: 2, loss: 'mse' },
];

/** |analytic − numeric| ≤ 1e-6 + 1e-4·|numeric|: float32 backward against an exact float64 difference. */
function expectGradient(analytic: number, numeric: number, what: string): void {
  const allowed = 1e-6 + 1e-4 * Math.abs(numeric);
  if (!(Math.abs(analytic - numeric) <= allowed)) expect.fail(`${what}: backward ${analytic}, finite difference ${numeric}`);
}

describe.each(CASES)('finite differences: $name', ({ spec, T, B, loss, masked }) => {
  it('every checked gradient (parameters, h0, c0, inputs) matches a float64 central difference', async () => {
    const model = await createModel({ ...spec, seed: 21 });
    const random = seededRandom(5);
    const { layers, hiddenSize: H, vocabSize, cell } = model.arch;
    const O = model.outputSize, X = model.inputSize;
    const h0s = Array.from({ length: B }, () => Array.from({ length: layers * H }, () => random() - 0.5));
    const c0s = Array.from({ length: B }, () => Array.from({ length: layers * H }, () => (cell === 'lstm' ? random() - 0.5 : 0)));
    const xs = Array.from({ length: B }, () => Array.from({ length: T }, () => Array.from({ length: X }, () => random() * 2 - 1)));
    const windows: TrainingWindow[] = xs.map((x, b) => ({
      inputs: vocabSize > 0 ? Array.from({ length: T }, () => Math.floor(random() * vocabSize)) : x,
      targets: loss === 'ce'
        ? Array.from({ length: T }, () => Math.floor(random() * O))
        : Array.from({ length: T }, () => Array.from({ length: O }, () => random() - 0.5)),
      mask: masked ? Array.from({ length: T }, (_, t) => (t === 0 || (t + b) % 3 !== 0 ? 1 : 0)) : undefined,
      h0: h0s[b],
      c0: cell === 'lstm' ? c0s[b] : undefined,
    }));
    // the inputs as the kernel sees them (float32)
    const xs32 = xs.map((w) => w.map((x) => x.map(Math.fround)));
    const h32 = h0s.map((h) => h.map(Math.fround)), c32 = c0s.map((c) => c.map(Math.fround));
    const result = model.backwardBatch(windows, { loss });
    const params: Params = new Map(model.parameterNames.map((n) => [n, Float64Array.from(model.getParameter(n))]));
    const lossAt = () => referenceLoss(model, params, windows, loss, h32, c32, xs32);
    expect(result.loss).toBeCloseTo(lossAt(), 5);
    const eps = 1e-6;
    const central = (set: (v: number) => void, value: number) => {
      set(value + eps); const up = lossAt();
      set(value - eps); const down = lossAt();
      set(value);
      return (up - down) / (2 * eps);
    };
    for (const [name, values] of params) {
      const grad = result.gradients[name];
      const picks = values.length <= 60 ? values.map((_, i) => i) : Array.from({ length: 60 }, () => Math.floor(random() * values.length));
      for (const i of picks) expectGradient(grad[i], central((v) => { values[i] = v; }, values[i]), `${name}[${i}]`);
    }
    const dh0 = result.gradients['grad/h0'];
    for (let b = 0; b < B; b++) for (let i = 0; i < layers * H; i += Math.max(1, Math.floor(H / 4))) {
      expectGradient(dh0[b * layers * H + i], central((v) => { h32[b][i] = v; }, h32[b][i]), `grad/h0[window ${b}][${i}]`);
      if (cell === 'lstm') {
        expectGradient(result.gradients['grad/c0'][b * layers * H + i], central((v) => { c32[b][i] = v; }, c32[b][i]), `grad/c0[window ${b}][${i}]`);
      }
    }
    if (vocabSize === 0) {
      const dx = result.gradients['grad/x'];
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let j = 0; j < X; j += Math.max(1, Math.floor(X / 3))) {
        expectGradient(dx[(b * T + t) * X + j], central((v) => { xs32[b][t][j] = v; }, xs32[b][t][j]), `grad/x[window ${b}][${t}][${j}]`);
      }
    }
  });
});
