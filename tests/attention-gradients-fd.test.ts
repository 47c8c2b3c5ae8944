// Backward passes of attention models (LayerNorm, GELU, multi-head attention
// with window and sinks, MLP, transformer and hybrid blocks) against float64
// central differences of a direct (non-incremental) reference forward.

import { describe, expect, it } from 'vitest';
import { createModel, type LossKind, type ModelSpec, type TrainingWindow } from '../src/index.js';
import { seededRandom } from '../src/model/init.js';
import { referenceForward } from './helpers/reference.js';

interface Case { name: string; spec: ModelSpec; T: number; B: number; loss: LossKind }

// T > window + sinks where there are sinks, so that eviction (and ALiBi's sinks at their cached offsets) is crossed
const CASES: Case[] = [
  { name: 'frame transformer, ALiBi, 2 blocks, window 3 + 1 sink', spec: { kind: 'transformer', inputSize: 3, width: 6, heads: 2, mlpSize: 5, blocks: 2, window: 3, sinks: 1, outputSize: 2, positional: 'alibi' }, T: 7, B: 2, loss: 'mse' },
  { name: 'frame transformer, sinusoidal, window 3 + 1 sink', spec: { kind: 'transformer', inputSize: 3, width: 6, heads: 2, mlpSize: 5, window: 3, sinks: 1, outputSize: 2, positional: 'sinusoidal' }, T: 7, B: 2, loss: 'mse' },
  { name: 'token transformer, ALiBi, cross-entropy, odd width', spec: { kind: 'transformer', vocabSize: 5, width: 3, heads: 1, mlpSize: 7, window: 4, positional: 'alibi' }, T: 5, B: 2, loss: 'ce' },
  { name: 'frame transformer, ALiBi, 5 heads (not a power of two), window 4 + 2 sinks', spec: { kind: 'transformer', inputSize: 2, width: 5, heads: 5, mlpSize: 3, window: 4, sinks: 2, outputSize: 1, positional: 'alibi' }, T: 9, B: 1, loss: 'mse' },
  { name: 'hybrid lstm, ALiBi, 3 heads', spec: { kind: 'hybrid', cell: 'lstm', inputSize: 2, hiddenSize: 6, heads: 3, mlpSize: 4, window: 3, sinks: 1, outputSize: 2, positional: 'alibi' }, T: 6, B: 2, loss: 'mse' },
  { name: 'hybrid 2-layer gru, no positional encoding, no head', spec: { kind: 'hybrid', cell: 'gru', layers: 2, inputSize: 3, hiddenSize: 4, heads: 2, mlpSize: 3, window: 2, outputSize: 0, positional: 'none' }, T: 5, B: 1, loss: 'mse' },
];

function expectGradient(analytic: number, numeric: number, what: string): void {
  const allowed = 2e-6 + 2e-4 * Math.abs(numeric);
  if (!(Math.abs(analytic - numeric) <= allowed)) expect.fail(`${what}: backward ${analytic}, finite difference ${numeric}`);
}

describe.each(CASES)('finite differences: $name', ({ spec, T, B, loss }) => {
  it('every checked gradient matches a float64 central difference of the direct forward', async () => {
    const model = await createModel({ ...spec, seed: 17 });
    const random = seededRandom(3);
    const O = model.outputSize, X = model.inputSize;
    const windows: TrainingWindow[] = Array.from({ length: B }, () => ({
      inputs: model.isTokenModel
        ? Array.from({ length: T }, () => Math.floor(random() * model.arch.vocabSize))
        : Array.from({ length: T }, () => Array.from({ length: X }, () => Math.fround(random() * 2 - 1))),
      targets: loss === 'ce'
        ? Array.from({ length: T }, () => Math.floor(random() * O))
        : Array.from({ length: T }, () => Array.from({ length: O }, () => random() - 0.5)),
    }));
    const result = model.backwardBatch(windows, { loss });
    const params = new Map(model.parameterNames.map((n) => [n, Float64Array.from(model.getParameter(n))]));
    const lossOf = () => {
      let total = 0, count = 0;
      for (const w of windows) {
        const { outputs } = referenceForward(model, w.inputs as (number[] | number)[], 0, (n) => params.get(n)!);
        outputs.forEach((y, t) => {
          if (loss === 'ce') {
            const max = Math.max(...y);
            total += max + Math.log(y.reduce((a, v) => a + Math.exp(v - max), 0)) - y[w.targets[t] as number];
            count++;
          } else {
            y.forEach((v, j) => { total += (v - (w.targets[t] as number[])[j]) ** 2; });
            count += y.length;
          }
        });
      }
      return total / count;
    };
    expect(result.loss).toBeCloseTo(lossOf(), 5);
    const eps = 1e-6;
    const central = (values: { [i: number]: number }, i: number) => {
      const v = values[i];
      values[i] = v + eps; const up = lossOf();
      values[i] = v - eps; const down = lossOf();
      values[i] = v;
      return (up - down) / (2 * eps);
    };
    for (const [name, values] of params) {
      const picks = values.length <= 12 ? values.map((_, i) => i) : Array.from({ length: 12 }, () => Math.floor(random() * values.length));
      for (const i of picks) expectGradient(result.gradients[name][i], central(values, i), `${name}[${i}]`);
    }
    if (!model.isTokenModel) {
      const dx = result.gradients['grad/x'];
      windows.forEach((w, b) => {
        const frames = w.inputs as number[][];
        for (let t = 0; t < T; t += 2) expectGradient(dx[(b * T + t) * X], central(frames[t], 0), `grad/x[window ${b}][${t}][0]`);
      });
    }
  });
});

describe('training attention models', () => {
  it('a transformer learns a sine with trainBatch', async () => {
    const model = await createModel({ kind: 'transformer', inputSize: 1, width: 8, heads: 2, mlpSize: 16, window: 8, seed: 2 });
    model.optimizer({ kind: 'adam', lr: 0.01, clipNorm: 1 });
    const wave = (n: number, phase: number) => Array.from({ length: n }, (_, t) => [Math.sin(0.4 * (t + phase))]);
    const windows = Array.from({ length: 8 }, (_, b) => { const w = wave(17, b * 2); return { inputs: w.slice(0, 16), targets: w.slice(1) }; });
    const first = model.trainBatch(windows).loss;
    let last = first;
    for (let step = 0; step < 400; step++) last = model.trainBatch(windows).loss;
    expect(first).toBeGreaterThan(0.1);
    expect(last).toBeLessThan(0.01);
  });
});
