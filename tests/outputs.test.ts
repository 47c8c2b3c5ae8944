// What Stream.step and forecast return for each metadata `target` (docs/model-format.md, "What the outputs are"):
// next frames in original units, a delta model's frame plus change, a label model's logits as the head gives them,
// the raw head output when asked; and files of an earlier `seqcast train`, whose heads had the mapping folded in.

import { describe, expect, it } from 'vitest';
import { createModel, loadModel, modelFromSafetensors, ModelFormatError, StateError, type Model, type ModelSpec } from '../src/index.js';
import { expectWithin, readPytorchCase } from './helpers/pytorch-fixtures.js';

const NORMALIZER = { mean: [20, -3], std: [4, 0.5] };
const DELTA: ModelSpec = { cell: 'gru', inputSize: 2, hiddenSize: 8, seed: 4, metadata: { normalizer: NORMALIZER, target: 'delta' } };
const rowAt = (t: number) => [20 + 5 * Math.sin(t / 3), -3 + Math.cos(t / 5)];

/** Every output of `model` for rows 0..T−1 through one fresh stream (opened with `raw` when asked). */
function stepAll(model: Model, T: number, raw = false): Float32Array[] {
  const stream = model.openStream({ raw });
  const out = Array.from({ length: T }, (_, t) => stream.step(rowAt(t)));
  stream.close();
  return out;
}

/** A copy of `model` as safetensors bytes with its head replaced and its metadata set (a file as another writer made it). */
function withHead(model: Model, metadata: Record<string, unknown>, head: (weight: Float32Array, bias: Float32Array) => void): Uint8Array {
  const weight = model.getParameter('head.weight');
  const bias = model.getParameter('head.bias');
  head(weight, bias);
  const copy = { ...model.metadata };
  Object.assign(model.metadata, metadata);
  const saved = [model.getParameter('head.weight'), model.getParameter('head.bias')];
  model.setParameter('head.weight', weight);
  model.setParameter('head.bias', bias);
  try {
    return model.toSafetensors();
  } finally {
    model.setParameter('head.weight', saved[0]);
    model.setParameter('head.bias', saved[1]);
    for (const key of Object.keys(model.metadata)) delete model.metadata[key];
    Object.assign(model.metadata, copy);
  }
}

describe('a delta model', () => {
  it('made in PyTorch (no normalizer): step returns the frame plus PyTorch\'s predicted change, a raw stream PyTorch\'s output itself', async () => {
    const { file, rows, expected, tolerance } = readPytorchCase('lstm_delta');
    const model = await loadModel(file);
    expect(model.target).toBe('delta');
    const stream = model.openStream();
    const raw = model.openStream({ raw: true });
    const next = rows.map((row) => stream.step(row));
    const changes = rows.map((row) => raw.step(row));
    expectWithin(changes, expected, tolerance);
    expectWithin(next, expected.map((change, t) => change.map((d, j) => rows[t][j] + d)), tolerance);
    model.close();
  });

  it('with a normalizer: next = x + change · std, the change in model units', async () => {
    const model = await createModel(DELTA);
    const next = stepAll(model, 20);
    const change = stepAll(model, 20, true);
    next.forEach((row, t) => row.forEach((v, j) => expect(v).toBeCloseTo(rowAt(t)[j] + change[t][j] * NORMALIZER.std[j], 4)));
    model.close();
  });

  it('forecasts frame by frame: each row is what step returns when the row before is fed, and a snapshot keeps it', async () => {
    const model = await createModel(DELTA);
    const stream = model.openStream();
    for (let t = 0; t < 12; t++) stream.step(rowAt(t));
    const saved = stream.snapshot();
    const rows = stream.forecast(4);
    const replay = model.openStream();
    replay.restore(saved);
    expect(Array.from(replay.forecast(4)[3])).toEqual(Array.from(rows[3]));
    for (let i = 1; i < 4; i++) {
      const stepped = replay.step(rows[i - 1]);
      stepped.forEach((v, j) => expect(v).toBeCloseTo(rows[i][j], 4));
    }
    // a raw stream forecasts raw changes
    const raw = model.openStream({ raw: true });
    let last!: Float32Array;
    for (let t = 0; t < 12; t++) last = raw.step(rowAt(t));
    expect(Array.from(raw.forecast(2)[0])).toEqual(Array.from(last));
    raw.restore(raw.snapshot());
    expect(() => raw.forecast(2)).toThrow(StateError);
    model.close();
  });

  it('steps in a batch exactly as alone', async () => {
    const model = await createModel(DELTA);
    const alone = stepAll(model, 6);
    const [a, b] = [model.openStream(), model.openStream()];
    for (let t = 0; t < 6; t++) {
      const [ya, yb] = model.stepBatch([a, b], [rowAt(t), rowAt(t)]);
      expect(Array.from(ya)).toEqual(Array.from(alone[t]));
      expect(Array.from(yb)).toEqual(Array.from(alone[t]));
    }
    model.close();
  });

  it('is refused when its outputs cannot be changes of its inputs', async () => {
    await expect(createModel({ cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 2, metadata: { target: 'delta' } })).rejects.toThrow(/target "delta" .* outputs 2 values for 3 inputs/);
    await expect(createModel({ cell: 'gru', vocabSize: 5, hiddenSize: 4, metadata: { target: 'delta' } })).rejects.toThrow(/takes token ids/);
    await expect(createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, metadata: { target: 'change' } })).rejects.toThrow(ModelFormatError);
  });
});

describe('a label model', () => {
  it('returns its head\'s outputs as they are, even with as many classes as inputs and a normalizer, and cannot forecast', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 6, seed: 2, metadata: { normalizer: NORMALIZER, target: 'label', label: { type: 'class', classes: 2 } } });
    expect(model.denormalizesOutput).toBe(false);
    expect(stepAll(model, 5).map((r) => Array.from(r))).toEqual(stepAll(model, 5, true).map((r) => Array.from(r)));
    const stream = model.openStream();
    stream.step(rowAt(0));
    expect(() => stream.forecast(2)).toThrow(/label model's outputs are 2 class logits/);
    model.close();
  });
});

describe('a file of an earlier seqcast train (its training entry has no "head")', () => {
  const training = { data: 'pump.csv', task: 'many-to-many', window: 32 };

  it('delta: its head, shifted by −mean/std, is unfolded on load; it predicts as the model it was trained as, and saves as trained', async () => {
    const trained = await createModel(DELTA);
    const legacy = withHead(trained, { training }, (_w, bias) => bias.forEach((b, o) => (bias[o] = b - NORMALIZER.mean[o] / NORMALIZER.std[o])));
    const loaded = await modelFromSafetensors(legacy, 'legacy.safetensors');
    stepAll(loaded, 10).forEach((row, t) => row.forEach((v, j) => expect(v).toBeCloseTo(stepAll(trained, 10)[t][j], 4)));
    expect(loaded.metadata.training).toMatchObject({ ...training, head: 'as trained' });
    const again = await modelFromSafetensors(loaded.toSafetensors(), 'resaved.safetensors');
    expect(Array.from(again.getParameter('head.bias'))).toEqual(Array.from(loaded.getParameter('head.bias')));
    for (const m of [trained, loaded, again]) m.close();
  });

  it('label with as many classes as inputs: its pre-divided head is unfolded into the logits', async () => {
    const trained = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 5, seed: 9, metadata: { normalizer: NORMALIZER, target: 'label', label: { type: 'class', classes: 2 } } });
    const H = 5;
    const legacy = withHead(trained, { training }, (weight, bias) => {
      for (let o = 0; o < 2; o++) {
        for (let j = 0; j < H; j++) weight[o * H + j] /= NORMALIZER.std[o];
        bias[o] = (bias[o] - NORMALIZER.mean[o]) / NORMALIZER.std[o];
      }
    });
    const loaded = await modelFromSafetensors(legacy, 'legacy.safetensors');
    stepAll(loaded, 8).forEach((row, t) => row.forEach((v, j) => expect(v).toBeCloseTo(stepAll(trained, 8)[t][j], 4)));
    for (const m of [trained, loaded]) m.close();
  });

  it('is left alone when written by this seqcast train, or by anyone without a training entry', async () => {
    const trained = await createModel(DELTA);
    for (const metadata of [{ training: { ...training, head: 'as trained' } }, {}]) {
      const loaded = await modelFromSafetensors(withHead(trained, metadata, () => {}), 'file.safetensors');
      expect(Array.from(loaded.getParameter('head.bias'))).toEqual(Array.from(trained.getParameter('head.bias')));
      loaded.close();
    }
    trained.close();
  });
});

describe('an output beyond float32', () => {
  const F32_MAX = Math.fround(3.4028234663852886e38);
  const STD = Math.fround(3e38);

  it('saturates at ±3.4028235e38 when denormalizing would overflow, so a prediction is never Infinity', async () => {
    // a normalizer near float32's top: a raw output of the mean's sign overflows once scaled back
    let overflowed = 0;
    for (const mean of [3e38, -3e38]) {
      const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 4, seed: 3, metadata: { normalizer: { mean: [mean], std: [3e38] } } });
      const raw = model.openStream({ raw: true });
      const stream = model.openStream();
      for (let t = 0; t < 20; t++) {
        const row = [t % 2 === 0 ? 3.3e38 : -3.3e38];
        const unsaturated = raw.step(row)[0] * STD + Math.fround(mean);
        const next = stream.step(row)[0];
        if (Math.abs(unsaturated) > F32_MAX) {
          overflowed++;
          expect(next).toBe(Math.sign(unsaturated) * F32_MAX);
        } else {
          expect(next).toBe(Math.fround(unsaturated));
        }
      }
      model.close();
    }
    expect(overflowed).toBeGreaterThan(0);
  });

  it("keeps a delta model's forecast finite when frame plus change leaves float32's range", async () => {
    const model = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 4, seed: 9, metadata: { target: 'delta', normalizer: { mean: [0], std: [3e38] } } });
    const stream = model.openStream();
    const values = [...stream.step([F32_MAX]), ...stream.forecast(8).map((row) => row[0])];
    for (const v of values) expect(Number.isFinite(v)).toBe(true);
    model.close();
  });
});
