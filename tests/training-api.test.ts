// The training API's behaviour: it learns, it refuses what would poison the
// weights, and its optimizers and clipping follow PyTorch's formulas.

import { describe, expect, it } from 'vitest';
import { createModel, InputError, StateError, TrainingError } from '../src/index.js';

const sine = (n: number, phase = 0) => Array.from({ length: n }, (_, t) => [Math.sin(0.3 * (t + phase))]);

describe('training', () => {
  it('drives a sine to low loss with the fused step (8 windows of 24 steps, Adam)', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 16, seed: 2 });
    model.optimizer({ kind: 'adam', lr: 0.01, clipNorm: 1 });
    const windows = Array.from({ length: 8 }, (_, b) => {
      const wave = sine(25, b * 3);
      return { inputs: wave.slice(0, 24), targets: wave.slice(1) };
    });
    const first = model.trainBatch(windows).loss;
    let last = first;
    for (let step = 0; step < 600; step++) last = model.trainBatch(windows).loss;
    expect(first).toBeGreaterThan(0.1);
    expect(last).toBeLessThan(0.002);
    // and the trained stream predicts the next value of an unseen phase
    const stream = model.openStream();
    const wave = sine(60, 100);
    let error = 0;
    wave.slice(0, 59).forEach((x, t) => {
      const y = stream.step(x);
      if (t >= 20) error += (y[0] - wave[t + 1][0]) ** 2;
    });
    expect(error / 39).toBeLessThan(0.005);
  });

  it('SGD with momentum follows PyTorch: buf = g on the first step, then momentum·buf + g', async () => {
    const model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 2, outputSize: 1, seed: 4 });
    const optimizer = model.optimizer({ kind: 'sgd', lr: 0.5, momentum: 0.9 });
    const p0 = model.getParameter('head.bias')[0];
    const g1 = { ...Object.fromEntries(model.parameterNames.map((n) => [n, new Float32Array(model.getParameter(n).length)])), 'head.bias': Float32Array.of(0.2) };
    optimizer.step(g1);
    expect(model.getParameter('head.bias')[0]).toBeCloseTo(p0 - 0.5 * 0.2, 6);
    const g2 = { ...g1, 'head.bias': Float32Array.of(-0.1) };
    optimizer.step(g2);
    expect(model.getParameter('head.bias')[0]).toBeCloseTo(p0 - 0.1 - 0.5 * (0.9 * 0.2 - 0.1), 6);
    expect(optimizer.steps).toBe(2);
  });

  it('clips by value before the norm', async () => {
    const model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 1, outputSize: 1, seed: 4 });
    const optimizer = model.optimizer({ kind: 'sgd', lr: 1, clipValue: 0.5 });
    const zeros = Object.fromEntries(model.parameterNames.map((n) => [n, new Float32Array(model.getParameter(n).length)]));
    const before = model.getParameter('head.bias')[0];
    const report = optimizer.step({ ...zeros, 'head.bias': Float32Array.of(3) });
    expect(report.totalNorm).toBeCloseTo(0.5, 6);
    expect(model.getParameter('head.bias')[0]).toBeCloseTo(before - 0.5, 6);
  });

  it('refuses a non-finite gradient: TrainingError, weights and moments unchanged', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 8 });
    const optimizer = model.optimizer({ kind: 'adam', lr: 0.1, clipNorm: 1 });
    const before = model.parameterNames.map((n) => Array.from(model.getParameter(n)));
    const grads = Object.fromEntries(model.parameterNames.map((n) => [n, new Float32Array(model.getParameter(n).length).fill(0.01)]));
    grads['gru.weight_hh_l0'][4] = NaN;
    expect(() => optimizer.step(grads)).toThrow(TrainingError);
    expect(model.parameterNames.map((n) => Array.from(model.getParameter(n)))).toEqual(before);
    expect(optimizer.steps).toBe(0);
    grads['gru.weight_hh_l0'][4] = Infinity;
    expect(() => optimizer.step(grads)).toThrow(/not finite.*unchanged/);
    expect(model.parameterNames.map((n) => Array.from(model.getParameter(n)))).toEqual(before);
  });

  it('refuses a step whose loss overflows, leaving the weights as they were', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 2, outputSize: 1, seed: 1 });
    model.setParameter('head.weight', [3e38, 3e38]);
    model.setParameter('head.bias', [3e38]);
    model.optimizer({ kind: 'adam', lr: 0.1 });
    const before = model.parameterNames.map((n) => Array.from(model.getParameter(n)));
    expect(() => model.trainWindow([[1], [1]], [[0], [0]])).toThrow(TrainingError);
    expect(model.parameterNames.map((n) => Array.from(model.getParameter(n)))).toEqual(before);
  });

  it('names what is wrong with a training window, and changes nothing', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    expect(() => model.backward([[1, 2], [3]], [[0, 0], [0, 0]])).toThrow(/window 0 step 1: input has 1 values, the model takes 2/);
    expect(() => model.backward([[1, 2], [3, NaN]], [[0, 0], [0, 0]])).toThrow(/window 0 step 1: input value 1 is NaN/);
    expect(() => model.backward([[1, 2]], [[0, 0], [0, 0]])).toThrow(/1 inputs but 2 targets/);
    expect(() => model.backward([[1, 2]], [[0, Infinity]])).toThrow(/target value 1 is Infinity/);
    expect(() => model.backward([[1, 2]], [[0, 0]], { h0: [1, 2] })).toThrow(/h0 must hold layers × hidden = 3/);
    expect(() => model.optimizer({ lr: 0 })).toThrow(/lr must be a number above 0, got 0/);
    expect(() => model.optimizer({ lr: -1 })).toThrow(InputError);
    expect(() => model.trainWindow([[1, 2]], [[0, 0]])).toThrow(StateError);
    const tokens = await createModel({ cell: 'gru', vocabSize: 4, hiddenSize: 3, seed: 1 });
    expect(() => tokens.backward([1, 9], [1, 2], { loss: 'ce' })).toThrow(/input token 9 is outside the vocabulary \(0\.\.3\)/);
    expect(() => tokens.backward([1, 2], [1, 7], { loss: 'ce' })).toThrow(/target 7 is not a class id in 0\.\.3/);
    // a masked step needs no valid target: many-to-one
    expect(tokens.backward([1, 2, 3], [-1, -1, 2], { loss: 'ce', mask: [0, 0, 1] }).loss).toBeGreaterThan(0);
  });
});
