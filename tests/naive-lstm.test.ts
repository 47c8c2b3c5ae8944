// The benchmark's baseline (bench/naive-lstm.ts) must compute the same LSTM as
// PyTorch and as seqcast, so the speed comparison in bench/kernel.ts is fair.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lstmWeights, NaiveLstm, NaiveLstmBatch } from '../bench/naive-lstm.js';
import { loadModel } from '../src/index.js';
import { expectClose, loadGolden, row } from './helpers/golden.js';

const BENCH_MODEL = fileURLToPath(new URL('../bench/models/lstm_h32.safetensors', import.meta.url));

/** Deterministic inputs in [-2, 2). */
function frames(count: number, width: number, seed: number): Float32Array[] {
  let a = seed >>> 0;
  const next = () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return (a / 4294967296) * 4 - 2;
  };
  return Array.from({ length: count }, () => Float32Array.from({ length: width }, next));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Number.isNaN(a[i] - b[i]) ? Infinity : Math.abs(a[i] - b[i]));
  return worst;
}

describe('naive TypeScript LSTM (benchmark baseline)', () => {
  it('matches the PyTorch golden lstm_dense_forward at every step and in the final state', () => {
    const golden = loadGolden('lstm_dense_forward');
    const weights = lstmWeights((name) => Float32Array.from(golden.params[name].data));
    expect([weights.inputSize, weights.hiddenSize, weights.outputSize]).toEqual([golden.shapes.X, golden.shapes.H, golden.shapes.O]);
    const naive = new NaiveLstm(weights);
    naive.setState(Float32Array.from(golden.inputs.h0.data), Float32Array.from(golden.inputs.c0.data));
    for (let t = 0; t < golden.shapes.T; t++) {
      const y = naive.step(Float32Array.from(row(golden.inputs.x, t)));
      expectClose(y, row(golden.outputs.y, t), golden.tolerance, `naive y[${t}]`);
      expectClose(naive.h, row(golden.outputs.h_seq, t), golden.tolerance, `naive h_seq[${t}]`);
    }
    expectClose(naive.h, golden.outputs.h_n.data, golden.tolerance, 'naive h_n');
    expectClose(naive.c, golden.outputs.c_n.data, golden.tolerance, 'naive c_n');
  });

  it('agrees with seqcast on bench/models/lstm_h32.safetensors over 20 steps to 1e-4', async () => {
    const model = await loadModel(BENCH_MODEL);
    const naive = new NaiveLstm(lstmWeights((name) => model.getParameter(name)));
    const stream = model.openStream();
    const inputs = frames(20, model.inputSize, 7);
    for (let t = 0; t < inputs.length; t++) {
      const y = stream.step(inputs[t]);
      const yNaive = naive.step(inputs[t]);
      const state = stream.state();
      expect(maxAbsDiff(y, yNaive), `y at step ${t}`).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(state.h, naive.h), `h at step ${t}`).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(state.c!, naive.c), `c at step ${t}`).toBeLessThanOrEqual(1e-4);
    }
    model.close();
  });

  it('steps a batch of streams like the same streams stepped one by one, and like seqcast stepBatch', async () => {
    const model = await loadModel(BENCH_MODEL);
    const weights = lstmWeights((name) => model.getParameter(name));
    const B = 5, T = 20;
    const batch = new NaiveLstmBatch(weights, B);
    const singles = Array.from({ length: B }, () => new NaiveLstm(weights));
    const streams = Array.from({ length: B }, () => model.openStream());
    for (let t = 0; t < T; t++) {
      const xs = frames(B, model.inputSize, 100 + t);
      const ys = batch.step(xs);
      const ySeq = model.stepBatch(streams, xs);
      for (let b = 0; b < B; b++) {
        expect(Array.from(ys[b]), `stream ${b} step ${t}`).toEqual(Array.from(singles[b].step(xs[b])));
        expect(maxAbsDiff(ys[b], ySeq[b]), `stream ${b} step ${t} vs stepBatch`).toBeLessThanOrEqual(1e-4);
      }
    }
    model.close();
  });
});
