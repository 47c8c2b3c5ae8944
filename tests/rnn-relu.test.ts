// nn.RNN(nonlinearity="relu"): a file that says so in its metadata ("nonlinearity": "relu") gives PyTorch's numbers
// forward and backward (fixtures made by scripts/make-relu-fixtures.py with a real PyTorch 1.13); a bare PyTorch
// file without the key runs as tanh, as docs/model-format.md says, until the key is added; the key is checked once on
// the way in; createModel's `nonlinearity` records it, and it survives a save.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createModel, loadModel, ModelFormatError, modelFromSafetensors, readSafetensors, writeSafetensors, type Model } from '../src/index.js';
import { expectClose, row, type GoldenCase } from './helpers/golden.js';
import { recurrentTop, referenceForward } from './helpers/reference.js';

const FIXTURES = new URL('fixtures/pytorch/', import.meta.url);

function loadCase(name: string): GoldenCase {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as GoldenCase;
}

/** The case's params as a safetensors file, with the given `seqcast` metadata (none when undefined). */
function fileOf(golden: GoldenCase, seqcast: Record<string, unknown> | undefined): Uint8Array {
  const tensors = Object.entries(golden.params).map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) }));
  return writeSafetensors(tensors, seqcast ? { format: 'pt', seqcast: JSON.stringify(seqcast) } : { format: 'pt' });
}

const RELU = { nonlinearity: 'relu' };

function inputAt(golden: GoldenCase, t: number): number[] | number {
  return golden.inputs.tokens ? golden.inputs.tokens.data[t] : row(golden.inputs.x, t);
}

function maxDifference(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let worst = 0;
  a.forEach((r, t) => { for (let j = 0; j < r.length; j++) worst = Math.max(worst, Math.abs(r[j] - b[t][j])); });
  return worst;
}

describe('a relu RNN file (metadata "nonlinearity": "relu") gives PyTorch\'s numbers', () => {
  const golden = loadCase('rnn_relu_forward');

  it('at every step and in the final state, stepped one position at a time (bare nn.RNN names)', async () => {
    const model = await loadModel(fileOf(golden, RELU));
    expect(model.arch.nonlinearity).toBe('relu');
    expect(model.describe()).toBe('a 1-layer rnn (relu) with input 3, hidden 5, no head');
    const stream = model.openStream({ h0: golden.inputs.h0.data });
    for (let t = 0; t < golden.shapes.T; t++) expectClose(stream.step(inputAt(golden, t)), row(golden.outputs.h_seq, t), golden.tolerance, `h_seq[${t}]`);
    expectClose(stream.state().h, golden.outputs.h_n.data, golden.tolerance, 'h_n');
    expect(Array.from(stream.state().h).some((v) => v > 1)).toBe(true); // beyond tanh's range: relu ran
  });

  it('and the same through stepBatch with streams at different positions, bit for bit', async () => {
    const model = await loadModel(fileOf(golden, RELU));
    const single = model.openStream({ h0: golden.inputs.h0.data });
    const reference = Array.from({ length: golden.shapes.T }, (_, t) => Array.from(single.step(inputAt(golden, t))));
    const late = model.openStream({ h0: golden.inputs.h0.data });
    const early = model.openStream({ h0: golden.inputs.h0.data });
    early.step(inputAt(golden, 0));
    for (let t = 1; t < golden.shapes.T; t++) {
      const [a, b] = model.stepBatch([early, late], [inputAt(golden, t), inputAt(golden, t - 1)]);
      expect(Array.from(a)).toEqual(reference[t]);
      expect(Array.from(b)).toEqual(reference[t - 1]);
    }
  });
});

describe.each([['rnn_relu_dense_mse_grad'], ['rnn_relu_2layer_mse_grad'], ['token_rnn_relu_ce_grad']])('relu golden %s', (name) => {
  const g = loadCase(name);
  const outputName = g.outputs.logits ? 'logits' : 'y';
  const inputs = () => (g.inputs.tokens ? g.inputs.tokens.data : Array.from({ length: g.shapes.T }, (_, t) => row(g.inputs.x, t)));
  const targets = () => (g.inputs.targets ? g.inputs.targets.data : Array.from({ length: g.shapes.T }, (_, t) => row(g.inputs.target, t)));

  it('backward (BPTT) gives PyTorch\'s loss, outputs, final state and every gradient, initial state and input included', async () => {
    const model = await loadModel(fileOf(g, RELU));
    const result = model.backward(inputs(), targets(), { loss: g.inputs.tokens ? 'ce' : 'mse', h0: g.inputs.h0.data });
    expectClose([result.loss], g.outputs.loss.data, g.tolerance, 'loss');
    result.outputs.forEach((y, t) => expectClose(y, row(g.outputs[outputName], t), g.tolerance, `${outputName}[${t}]`));
    expectClose(result.hN[0], g.outputs.h_n.data, g.tolerance, 'h_n');
    const gradients = Object.keys(g.outputs).filter((k) => k.startsWith('grad/'));
    expect(gradients.length).toBeGreaterThanOrEqual(Object.keys(g.params).length + 1);
    for (const key of gradients) {
      const mine = key.slice(5) in g.params ? result.gradients[key.slice(5)] : result.gradients[key];
      expect(mine, `${key} returned`).toBeDefined();
      expectClose(mine, g.outputs[key].data, g.tolerance, key);
    }
  });

  it('streams PyTorch\'s outputs step by step', async () => {
    const model = await loadModel(fileOf(g, RELU));
    const stream = model.openStream({ h0: g.inputs.h0.data });
    for (let t = 0; t < g.shapes.T; t++) expectClose(stream.step(inputAt(g, t)), row(g.outputs[outputName], t), g.tolerance, `${outputName}[${t}]`);
  });
});

describe('a bare PyTorch relu RNN file (a state_dict, no seqcast metadata)', () => {
  const golden = loadCase('rnn_relu_forward');
  const bare = new Uint8Array(readFileSync(new URL('rnn_relu_bare.safetensors', FIXTURES)));
  const xs = Array.from({ length: golden.shapes.T }, (_, t) => row(golden.inputs.x, t));
  const expected = Array.from({ length: golden.shapes.T }, (_, t) => row(golden.outputs.h_seq, t));
  const run = (model: Model) => {
    const stream = model.openStream({ h0: golden.inputs.h0.data });
    return xs.map((x) => Array.from(stream.step(x)));
  };

  it('runs as tanh, as documented: its tensors cannot tell, and its outputs are not PyTorch\'s', async () => {
    const model = await loadModel(bare);
    expect(model.arch.nonlinearity).toBeUndefined();
    const outputs = run(model);
    expect(maxDifference(outputs, expected)).toBeGreaterThan(0.3);
    const h0 = Float32Array.from(golden.inputs.h0.data);
    const tanh = recurrentTop(model, xs.map((x) => x.map(Math.fround)), (n) => model.getParameter(n.replace(/^rnn\./, '')), h0);
    expect(maxDifference(outputs, tanh)).toBeLessThan(1e-5);
  });

  it('gives PyTorch\'s numbers once the key is added (docs/model-format.md\'s one-liner, done here in TypeScript)', async () => {
    const file = readSafetensors(bare, 'rnn_relu_bare.safetensors');
    const tensors = [...file.tensors].map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) }));
    const model = await loadModel(writeSafetensors(tensors, { ...file.metadata, seqcast: JSON.stringify(RELU) }));
    run(model).forEach((y, t) => expectClose(y, expected[t], golden.tolerance, `h_seq[${t}]`));
  });
});

describe('the nonlinearity key is checked once, on the way in', () => {
  const golden = loadCase('rnn_relu_forward');

  it.each([
    [{ nonlinearity: 'sigmoid' }, 'rnn.safetensors: seqcast metadata "nonlinearity" is "sigmoid"; expected "tanh" or "relu" (nn.RNN\'s nonlinearity)'],
    [{ nonlinearity: null }, 'rnn.safetensors: seqcast metadata "nonlinearity" is null; expected "tanh" or "relu" (nn.RNN\'s nonlinearity)'],
    [{ nonlinearity: 'RELU' }, 'rnn.safetensors: seqcast metadata "nonlinearity" is "RELU"; expected "tanh" or "relu" (nn.RNN\'s nonlinearity)'],
  ])('refuses %j, naming the key and what it may hold', async (seqcast, message) => {
    const bytes = fileOf(golden, seqcast);
    await expect(loadModel(bytes.slice())).rejects.toThrow(ModelFormatError);
    await expect(modelFromSafetensors(bytes, 'rnn.safetensors')).rejects.toThrow(message);
  });

  it('refuses it on an LSTM file, whose activations are fixed', async () => {
    const lstm = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    const file = readSafetensors(lstm.toSafetensors(), 'lstm');
    const tensors = [...file.tensors].map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) }));
    await expect(modelFromSafetensors(writeSafetensors(tensors, { format: 'pt', seqcast: JSON.stringify(RELU) }), 'lstm.safetensors'))
      .rejects.toThrow('lstm.safetensors: seqcast metadata "nonlinearity" is "relu", which applies to an rnn cell (nn.RNN) only; this model\'s cell is lstm');
  });

  it('accepts "tanh", which computes exactly what a file without the key does', async () => {
    const a = await loadModel(fileOf(golden, { nonlinearity: 'tanh' }));
    const b = await loadModel(fileOf(golden, undefined));
    const sa = a.openStream(), sb = b.openStream();
    for (let t = 0; t < golden.shapes.T; t++) expect(Array.from(sa.step(inputAt(golden, t)))).toEqual(Array.from(sb.step(inputAt(golden, t))));
    expect(a.describe()).toBe(b.describe());
  });
});

describe('createModel({ nonlinearity })', () => {
  it('records "relu" in the metadata, and a saved file loads back as the same relu model', async () => {
    const model = await createModel({ cell: 'rnn', nonlinearity: 'relu', inputSize: 3, hiddenSize: 7, layers: 2, outputSize: 3, seed: 4 });
    expect(model.metadata.nonlinearity).toBe('relu');
    expect(model.describe()).toBe('a 2-layer rnn (relu) with input 3, hidden 7, head 3');
    const again = await loadModel(model.toSafetensors());
    expect(again.arch.nonlinearity).toBe('relu');
    const a = model.openStream(), b = again.openStream();
    for (let t = 0; t < 9; t++) {
      const x = [Math.sin(t), Math.cos(t / 2) * 3, t / 4 - 1];
      expect(Array.from(b.step(x))).toEqual(Array.from(a.step(x)));
    }
  });

  it('runs what the float64 reference computes, and not what the tanh model of the same weights does', async () => {
    const relu = await createModel({ cell: 'rnn', nonlinearity: 'relu', inputSize: 3, hiddenSize: 37, outputSize: 0, seed: 8 });
    const tanh = await createModel({ cell: 'rnn', inputSize: 3, hiddenSize: 37, outputSize: 0, seed: 8 });
    const xs = Array.from({ length: 12 }, (_, t) => [Math.sin(t) * 2, Math.cos(t / 3), (t % 5) - 2].map(Math.fround));
    const reference = recurrentTop(relu, xs);
    const s = relu.openStream(), u = tanh.openStream();
    const ours = xs.map((x) => Array.from(s.step(x)));
    ours.forEach((y, t) => expectClose(y, reference[t], { abs: 1e-6, rel: 1e-5 }, `h[${t}]`));
    expect(maxDifference(ours, xs.map((x) => Array.from(u.step(x))))).toBeGreaterThan(0.1);
  });

  it('a hybrid on a relu rnn stack matches the direct reference', async () => {
    const model = await createModel({ kind: 'hybrid', cell: 'rnn', nonlinearity: 'relu', layers: 2, inputSize: 3, hiddenSize: 9, heads: 3, mlpSize: 5, blocks: 1, window: 4, seed: 6 });
    expect(model.describe()).toContain('2-layer rnn (relu)');
    const xs = Array.from({ length: 15 }, (_, t) => [Math.sin(t) * 2, Math.cos(t / 3), (t % 5) - 2]);
    const reference = referenceForward(model, xs);
    const stream = model.openStream();
    xs.forEach((x, t) => expectClose(stream.step(x), reference.outputs[t], { abs: 2e-5, rel: 1e-4 }, `output[${t}]`));
  });

  it('refuses relu for a cell that is not an rnn, and a spec whose metadata says otherwise', async () => {
    await expect(createModel({ cell: 'gru', nonlinearity: 'relu', inputSize: 2, hiddenSize: 3 }))
      .rejects.toThrow('model spec: seqcast metadata "nonlinearity" is "relu", which applies to an rnn cell (nn.RNN) only; this model\'s cell is gru');
    await expect(createModel({ cell: 'rnn', nonlinearity: 'relu', inputSize: 2, hiddenSize: 3, metadata: { nonlinearity: 'tanh' } }))
      .rejects.toThrow('model spec: nonlinearity "relu" disagrees with its metadata\'s "tanh"');
  });

  it('a relu stream\'s snapshot does not restore into the tanh model of the same shape', async () => {
    const relu = await createModel({ cell: 'rnn', nonlinearity: 'relu', inputSize: 2, hiddenSize: 3, seed: 1 });
    const tanh = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3, seed: 1 });
    const stream = relu.openStream();
    stream.step([1, 2]);
    expect(() => tanh.openStream().restore(stream.snapshot())).toThrow(/snapshot/);
  });
});
