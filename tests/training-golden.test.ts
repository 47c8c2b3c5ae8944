// Every gradient, clipping, Adam, train_steps and truncated-BPTT case in
// shared/golden, through the public training API.

import { describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { expectClose, goldenSafetensors, loadGolden, row, type GoldenCase } from './helpers/golden.js';

function frames(g: GoldenCase, name: string, from = 0, to = g.shapes.T): number[][] {
  return Array.from({ length: to - from }, (_, t) => row(g.inputs[name], from + t));
}

function inputsOf(g: GoldenCase, from = 0, to = g.shapes.T): number[][] | number[] {
  return g.inputs.tokens ? g.inputs.tokens.data.slice(from, to) : frames(g, 'x', from, to);
}

function targetsOf(g: GoldenCase, from = 0, to = g.shapes.T): number[][] | number[] {
  return g.inputs.targets ? g.inputs.targets.data.slice(from, to) : frames(g, 'target', from, to);
}

const params = (g: GoldenCase) => Object.keys(g.params);

describe.each([['lstm_dense_mse_grad'], ['gru_dense_mse_grad'], ['rnn_dense_mse_grad'], ['token_lstm_ce_grad']])('golden %s', (name) => {
  it('backward gives PyTorch loss, outputs, final state and every gradient, initial state and input included', async () => {
    const g = loadGolden(name);
    const model = await loadModel(goldenSafetensors(g));
    const loss = g.inputs.tokens ? 'ce' : 'mse';
    const result = model.backward(inputsOf(g), targetsOf(g), { loss, h0: g.inputs.h0.data, c0: g.inputs.c0?.data });
    expectClose([result.loss], g.outputs.loss.data, g.tolerance, 'loss');
    const outputName = g.outputs.logits ? 'logits' : 'y';
    result.outputs.forEach((y, t) => expectClose(y, row(g.outputs[outputName], t), g.tolerance, `${outputName}[${t}]`));
    expectClose(result.hN[0], g.outputs.h_n.data, g.tolerance, 'h_n');
    if (g.outputs.c_n) expectClose(result.cN![0], g.outputs.c_n.data, g.tolerance, 'c_n');
    for (const key of Object.keys(g.outputs).filter((k) => k.startsWith('grad/'))) {
      const mine = key.startsWith('grad/') && params(g).includes(key.slice(5)) ? result.gradients[key.slice(5)] : result.gradients[key];
      expect(mine, `${key} returned`).toBeDefined();
      expectClose(mine, g.outputs[key].data, g.tolerance, key);
    }
  });
});

describe.each([['lstm_dense_mse_clip_adam'], ['gru_dense_mse_clip_adam'], ['rnn_dense_mse_clip_adam'], ['token_lstm_ce_clip_adam']])('golden %s', (name) => {
  it('clips by global norm exactly as clip_grad_norm_ and takes one Adam step', async () => {
    const g = loadGolden(name);
    const model = await loadModel(goldenSafetensors(g));
    const c = g.config as { max_norm: number; lr: number; betas: [number, number]; eps: number };
    const optimizer = model.optimizer({ kind: 'adam', lr: c.lr, betas: c.betas, eps: c.eps, clipNorm: c.max_norm });
    const grads = Object.fromEntries(params(g).map((p) => [p, Float32Array.from(g.inputs[`grad/${p}`].data)]));
    const report = optimizer.step(grads);
    expectClose([report.totalNorm], g.outputs.total_norm.data, g.tolerance, 'total_norm');
    expectClose([report.clipCoef], g.outputs.clip_coef.data, g.tolerance, 'clip_coef');
    expect(report.clipCoef).toBeLessThan(1);
    for (const p of params(g)) expectClose(model.getParameter(p), g.outputs[`updated/${p}`].data, g.tolerance, `updated/${p}`);
    // a parameter whose gradient is exactly 0 (an embedding row never used) does not move
    if (g.params['embed.weight']) {
      const before = g.params['embed.weight'].data, after = model.getParameter('embed.weight'), grad = grads['embed.weight'];
      for (let i = 0; i < grad.length; i++) if (grad[i] === 0) expect(after[i]).toBe(Math.fround(before[i]));
    }
  });
});

describe('golden lstm_dense_train_steps', () => {
  const g = loadGolden('lstm_dense_train_steps');
  const c = g.config as { steps: number; max_norm: number; lr: number; betas: [number, number]; eps: number };
  const check = (model: Model, step: number, loss: number, totalNorm: number) => {
    expectClose([loss], g.outputs[`step${step}/loss`].data, g.tolerance, `step${step}/loss`);
    expectClose([totalNorm], g.outputs[`step${step}/total_norm`].data, g.tolerance, `step${step}/total_norm`);
    for (const p of params(g)) expectClose(model.getParameter(p), g.outputs[`after_step${step}/${p}`].data, g.tolerance, `after_step${step}/${p}`);
  };

  it('three steps of the fused trainWindow match PyTorch (loss, norm, every parameter after every step)', async () => {
    const model = await loadModel(goldenSafetensors(g));
    model.optimizer({ kind: 'adam', lr: c.lr, betas: c.betas, eps: c.eps, clipNorm: c.max_norm });
    for (let step = 1; step <= c.steps; step++) {
      const report = model.trainWindow(inputsOf(g), targetsOf(g), { h0: g.inputs.h0.data, c0: g.inputs.c0.data });
      check(model, step, report.loss, report.totalNorm);
    }
  });

  it('backward + optimizer.step gives the same, bit for bit', async () => {
    const fused = await loadModel(goldenSafetensors(g));
    const split = await loadModel(goldenSafetensors(g));
    fused.optimizer({ kind: 'adam', lr: c.lr, betas: c.betas, eps: c.eps, clipNorm: c.max_norm });
    const optimizer = split.optimizer({ kind: 'adam', lr: c.lr, betas: c.betas, eps: c.eps, clipNorm: c.max_norm });
    for (let step = 1; step <= c.steps; step++) {
      const a = fused.trainWindow(inputsOf(g), targetsOf(g), { h0: g.inputs.h0.data, c0: g.inputs.c0.data });
      const result = split.backward(inputsOf(g), targetsOf(g), { h0: g.inputs.h0.data, c0: g.inputs.c0.data });
      const b = optimizer.step(result.gradients);
      expect(result.loss).toBe(a.loss);
      expect(b.totalNorm).toBe(a.totalNorm);
      check(split, step, result.loss, b.totalNorm);
      for (const p of params(g)) expect(Array.from(split.getParameter(p))).toEqual(Array.from(fused.getParameter(p)));
    }
  });
});

describe('golden lstm_dense_tbptt', () => {
  it('chunks carry the state detached; per-chunk and accumulated gradients match', async () => {
    const g = loadGolden('lstm_dense_tbptt');
    const model = await loadModel(goldenSafetensors(g));
    const bounds = g.config.chunk_bounds as [number, number][];
    let h0 = Float32Array.from(g.inputs.h0.data), c0 = Float32Array.from(g.inputs.c0.data);
    bounds.forEach(([from, to], chunk) => {
      const result = model.backward(inputsOf(g, from, to), targetsOf(g, from, to), { h0, c0 });
      const p = `chunk${chunk}/`;
      expectClose([result.loss], g.outputs[`${p}loss`].data, g.tolerance, `${p}loss`);
      result.outputs.forEach((y, t) => expectClose(y, row(g.outputs[`${p}y`], t), g.tolerance, `${p}y[${t}]`));
      expectClose(result.hN[0], g.outputs[`${p}h_end`].data, g.tolerance, `${p}h_end`);
      expectClose(result.cN![0], g.outputs[`${p}c_end`].data, g.tolerance, `${p}c_end`);
      for (const name of params(g)) expectClose(result.gradients[name], g.outputs[`${p}grad/${name}`].data, g.tolerance, `${p}grad/${name}`);
      h0 = Float32Array.from(result.hN[0]); c0 = Float32Array.from(result.cN![0]);
    });
    // the same chunks without zeroing in between: gradients add up
    h0 = Float32Array.from(g.inputs.h0.data); c0 = Float32Array.from(g.inputs.c0.data);
    let last;
    for (const [index, [from, to]] of bounds.entries()) {
      last = model.backwardBatch([{ inputs: inputsOf(g, from, to), targets: targetsOf(g, from, to), h0, c0 }], { accumulate: index > 0 });
      h0 = Float32Array.from(last.hN[0]); c0 = Float32Array.from(last.cN![0]);
    }
    for (const name of params(g)) expectClose(last!.gradients[name], g.outputs[`accumulated/grad/${name}`].data, g.tolerance, `accumulated/grad/${name}`);
  });
});
