// Transformer and hybrid models through the public API: incremental stepping
// equals a direct recomputation, sinks included, at odd sizes; batching,
// snapshots, forecasts and positions past 2^24; bad configurations refused.

import { describe, expect, it } from 'vitest';
import { createModel, InputError, loadModel, ModelFormatError, readSafetensors, writeSafetensors, type Model, type ModelSpec, type Stream } from '../src/index.js';
import { diagnosticKernel } from '../src/kernel/diagnostics.js';
import { seededRandom } from '../src/model/init.js';
import { expectClose } from './helpers/golden.js';
import { positionalEncoding, referenceForward } from './helpers/reference.js';

const TOLERANCE = { abs: 2e-5, rel: 1e-4 };

function frames(count: number, width: number, seed: number): number[][] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Array.from({ length: width }, () => random() * 4 - 2));
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Steps a stream through inputs and checks every output (and every block's weights) against the direct reference. */
function expectMatchesReference(model: Model, inputs: (number[] | number)[], what: string): void {
  const reference = referenceForward(model, inputs);
  const stream = model.openStream();
  inputs.forEach((x, t) => {
    expectClose(stream.step(x), reference.outputs[t], TOLERANCE, `${what} output[${t}]`);
    for (let b = 0; b < model.arch.attention!.blocks; b++) {
      const weights = stream.attention(b);
      weights.heads.forEach((w, h) => expectClose(w, reference.weights[b][t][h], TOLERANCE, `${what} block ${b} head ${h} weights[${t}]`));
    }
  });
}

const ODD: ModelSpec = { kind: 'transformer', inputSize: 3, width: 9, heads: 3, mlpSize: 7, blocks: 2, window: 5, sinks: 3, outputSize: 3, seed: 11 };

describe.each(['alibi', 'sinusoidal'] as const)('incremental attention equals direct recomputation (%s positions)', (positional) => {
  // a hybrid never had an absolute encoding: its legacy scheme is none
  const hybridPositional = positional === 'alibi' ? 'alibi' : 'none';

  it('sinks plus a sliding window: a frame transformer at odd sizes (D 9, 3 heads, W 5, S 3, 37 steps)', async () => {
    const model = await createModel({ ...ODD, positional });
    expectMatchesReference(model, frames(37, 3, 1), 'transformer');
  });

  it.each([
    ['no sinks, window 1', { window: 1, sinks: 0 }],
    ['window 1 with one sink', { window: 1, sinks: 1 }],
    ['sinks longer than the run', { window: 2, sinks: 50 }],
    ['a window longer than the run (full causal)', { window: 64, sinks: 0 }],
  ])('%s', async (_, override) => {
    const model = await createModel({ ...ODD, ...override, blocks: 1, positional });
    expectMatchesReference(model, frames(13, 3, 2), 'transformer');
  });

  it('a token transformer with sinks', async () => {
    const model = await createModel({ kind: 'transformer', vocabSize: 7, width: 6, heads: 2, mlpSize: 5, window: 3, sinks: 2, seed: 5, positional });
    const random = seededRandom(9);
    expectMatchesReference(model, Array.from({ length: 21 }, () => Math.floor(random() * 7)), 'token transformer');
  });

  it.each([['lstm'], ['gru'], ['rnn']] as const)('a hybrid: a 2-layer %s whose top h feeds attention blocks (no PE)', async (cell) => {
    const model = await createModel({ kind: 'hybrid', cell, layers: 2, inputSize: 3, hiddenSize: 9, heads: 3, mlpSize: 5, blocks: 2, window: 4, sinks: 1, seed: 6, positional: hybridPositional });
    expectMatchesReference(model, frames(23, 3, 3), `hybrid ${cell}`);
  });
});

describe('streams of attention models', () => {
  it('step identically alone and batched, at different positions', async () => {
    const model = await createModel({ ...ODD, blocks: 1 }, { batchCapacity: 3 });
    const inputs = frames(12, 3, 4);
    const single = model.openStream();
    const reference = inputs.map((x) => single.step(x));
    const streams = Array.from({ length: 5 }, () => model.openStream());
    const position = streams.map(() => 0);
    for (let tick = 0; tick < 12 + 5; tick++) {
      const active = streams.filter((_, k) => tick >= k && position[k] < 12);
      const outs = model.stepBatch(active, active.map((s) => inputs[position[streams.indexOf(s)]]));
      active.forEach((s, b) => {
        const k = streams.indexOf(s);
        expect(bits(outs[b]), `stream ${k} position ${position[k]}`).toEqual(bits(reference[position[k]]));
        position[k]++;
      });
    }
  });

  it('snapshot and restore mid-stream continue bit-identically, KV cache and position included', async () => {
    const model = await createModel(ODD);
    const inputs = frames(30, 3, 5);
    const a = model.openStream();
    inputs.slice(0, 17).forEach((x) => a.step(x));
    const snap = a.snapshot();
    const b = model.openStream();
    b.restore(snap);
    expect(b.position).toBe(17);
    for (const x of inputs.slice(17)) expect(bits(b.step(x))).toEqual(bits(a.step(x)));
    expect(bits(b.attention(1).heads[2])).toEqual(bits(a.attention(1).heads[2]));
  });

  it('forecast works for transformers and leaves the live state (cache included) untouched', async () => {
    const model = await createModel(ODD);
    const inputs = frames(9, 3, 6);
    const a = model.openStream(), twin = model.openStream();
    inputs.forEach((x) => { a.step(x); twin.step(x); });
    const ahead = a.forecast(4);
    expect(ahead).toHaveLength(4);
    const copy = model.openStream();
    copy.restore(twin.snapshot());
    expect(bits(copy.step(ahead[0]))).toEqual(bits(ahead[1]));
    expect(a.position).toBe(9);
    expect(bits(a.step([0.5, 0, -0.5]))).toEqual(bits(twin.step([0.5, 0, -0.5])));
  });

  it('counts positions past 2^24 exactly and encodes them in float64', async () => {
    const k = await diagnosticKernel();
    const out = k.debugAlloc(8 * 4);
    const p = 2 ** 24 + 1; // a float32 position would round this to 2^24
    k.debugPositionalEncoding(out, 8, p);
    const pe = new Float32Array(k.memory.buffer, out, 8);
    expectClose(pe, positionalEncoding(p, 8), { abs: 1e-6, rel: 0 }, 'PE(2^24 + 1)');
    expect(Math.abs(pe[0] - Math.sin(2 ** 24))).toBeGreaterThan(0.1);
    // and everywhere up to 3·10^9 positions (range reduction past 2^20·π/2 included)
    for (let q = 1; q < 3e9; q = Math.floor(q * 1.37) + 1) {
      k.debugPositionalEncoding(out, 8, q);
      expectClose(new Float32Array(k.memory.buffer, out, 8), positionalEncoding(q, 8), { abs: 2e-7, rel: 0 }, `PE(${q})`);
    }

    // window 1: each output depends only on its own frame and position, so a restored far position is checkable
    const model = await createModel({ ...ODD, window: 1, sinks: 0, positional: 'sinusoidal' });
    const start = 2 ** 24 - 2;
    const fresh = model.openStream();
    const snap = fresh.snapshot();
    new DataView(snap.buffer).setFloat64(32, start, true);
    const far = model.openStream();
    far.restore(snap);
    const inputs = frames(6, 3, 7);
    const reference = referenceForward(model, inputs, start);
    inputs.forEach((x, t) => expectClose(far.step(x), reference.outputs[t], TOLERANCE, `output at position ${start + t}`));
    expect(far.position).toBe(2 ** 24 + 4);
  });
});

describe('bad attention configurations are refused, naming the value', () => {
  it.each([
    ['heads that do not divide D', { heads: 4 }, /heads = 4 does not divide the model width D = 9/],
    ['a window below 1', { window: 0 }, /window must be an integer of at least 1, got 0/],
    ['negative sinks', { sinks: -1 }, /sinks must be an integer of at least 0, got -1/],
  ])('%s (createModel)', async (_, override, pattern) => {
    await expect(createModel({ ...ODD, ...override })).rejects.toThrow(pattern);
  });

  async function saved(): Promise<{ tensors: { name: string; shape: number[]; data: Float32Array }[]; meta: Record<string, unknown> }> {
    const model = await createModel(ODD);
    const file = readSafetensors(model.toSafetensors(), 'model');
    return { tensors: [...file.tensors].map(([name, t]) => ({ name, ...t })), meta: JSON.parse(file.metadata.seqcast) };
  }
  const write = (tensors: { name: string; shape: number[]; data: Float32Array }[], meta: object) =>
    writeSafetensors(tensors, { seqcast: JSON.stringify(meta) });

  it('a saved transformer loads back with its kind, heads, window and sinks', async () => {
    const { tensors, meta } = await saved();
    const model = await loadModel(write(tensors, meta));
    expect(model.arch.attention).toEqual({ width: 9, heads: 3, mlpSize: 7, blocks: 2, window: 5, sinks: 3, positional: 'alibi' });
  });

  it.each([
    ['a missing block tensor', (t: { name: string }[]) => t.filter((x) => x.name !== 'blocks.1.fc2.bias'), {}, /missing tensor "blocks\.1\.fc2\.bias"/],
    ['block indices with gaps', (t: { name: string }[]) => t.map((x) => ({ ...x, name: x.name.replace(/^blocks\.1\./, 'blocks.2.') })), {}, /gap: "blocks\.1\.\*" is missing but "blocks\.2\.\*" exists/],
    ['heads missing from the metadata', (t: { name: string }[]) => t, { heads: undefined }, /needs "heads" in its seqcast metadata/],
    ['heads that do not divide D', (t: { name: string }[]) => t, { heads: 2 }, /heads = 2 does not divide/],
    ['a window below 1', (t: { name: string }[]) => t, { window: 0 }, /window must be an integer of at least 1, got 0/],
    ['negative sinks', (t: { name: string }[]) => t, { sinks: -2 }, /sinks must be an integer of at least 0, got -2/],
  ])('%s (loadModel)', async (_, edit, metaEdit, pattern) => {
    const { tensors, meta } = await saved();
    const error = await loadModel(write(edit(tensors) as typeof tensors, { ...meta, ...metaEdit })).catch((e) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect(error.message).toMatch(pattern);
  });

  it('a frame of the wrong size leaves a transformer stream untouched', async () => {
    const model = await createModel(ODD);
    const a: Stream = model.openStream(), twin = model.openStream();
    a.step([1, 2, 3]); twin.step([1, 2, 3]);
    expect(() => a.step([1, 2])).toThrow(InputError);
    expect(bits(a.step([0, 1, 0]))).toEqual(bits(twin.step([0, 1, 0])));
  });
});
