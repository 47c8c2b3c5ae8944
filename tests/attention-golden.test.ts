// Every attention case in shared/golden: the ops (LayerNorm, GELU, positional
// encoding, incremental MHA) through the kernel, and the transformer cases
// stepped one position at a time through the public API.

import { describe, expect, it } from 'vitest';
import { loadModel, writeSafetensors } from '../src/index.js';
import { diagnosticKernel, type DiagnosticExports } from '../src/kernel/diagnostics.js';
import { expectClose, loadGolden, row, type GoldenCase } from './helpers/golden.js';
import { attention, layerNorm, linear } from './helpers/reference.js';

/** Writes floats into fresh kernel memory; returns the byte offset. */
function put(k: DiagnosticExports, values: ArrayLike<number>): number {
  const ptr = k.debugAlloc(Math.max(values.length, 1) * 4);
  new Float32Array(k.memory.buffer, ptr, values.length).set(values);
  return ptr;
}

function read(k: DiagnosticExports, ptr: number, length: number): Float32Array {
  return new Float32Array(k.memory.buffer, ptr, length).slice();
}

const f32 = (t: { data: number[] }) => Float32Array.from(t.data);

describe('golden layer_norm', () => {
  it('matches nn.LayerNorm (eps 1e-5, biased variance) on every row, mean and variance included', async () => {
    const g = loadGolden('layer_norm');
    const k = await diagnosticKernel();
    const { N, D } = g.shapes;
    const x = put(k, f32(g.inputs.x));
    const y = k.debugAlloc(N * D * 4), means = k.debugAlloc(N * 4), variances = k.debugAlloc(N * 4);
    k.debugLayerNorm(x, y, N, D, put(k, f32(g.params.weight)), put(k, f32(g.params.bias)), means, variances);
    expectClose(read(k, y, N * D), g.outputs.y.data, g.tolerance, 'y');
    expectClose(read(k, means, N), g.outputs.mean.data, g.tolerance, 'mean');
    expectClose(read(k, variances, N), g.outputs.var.data, g.tolerance, 'var');
  });
});

describe('golden gelu_tanh', () => {
  it('matches F.gelu(approximate="tanh") on every value', async () => {
    const g = loadGolden('gelu_tanh');
    const k = await diagnosticKernel();
    const n = g.inputs.x.data.length;
    const x = put(k, f32(g.inputs.x));
    k.debugGelu(x, n);
    expectClose(read(k, x, n), g.outputs.y.data, g.tolerance, 'y');
  });
});

describe('golden positional_encoding', () => {
  it('matches the sinusoidal formula at every position, large ones included', async () => {
    const g = loadGolden('positional_encoding');
    const k = await diagnosticKernel();
    const { D } = g.shapes;
    const out = k.debugAlloc(D * 4);
    g.inputs.positions.data.forEach((p, i) => {
      k.debugPositionalEncoding(out, D, p);
      expectClose(read(k, out, D), row(g.outputs.pe, i), g.tolerance, `pe[position ${p}]`);
    });
  });
});

describe.each([['mha_causal'], ['mha_window']])('golden %s', (name) => {
  it('is reproduced row by row by incremental attention over the KV cache', async () => {
    const g = loadGolden(name);
    const k = await diagnosticKernel();
    const { T, D, num_heads: heads } = g.shapes;
    const window = (g.config.window as number | null) ?? T;
    const keys = k.debugAlloc(window * D * 4), values = k.debugAlloc(window * D * 4);
    const out = k.debugAlloc(D * 4), weights = k.debugAlloc(heads * window * 4), scores = k.debugAlloc(window * 4 + 16), rowOffsets = k.debugAlloc(window * 4 + 16);
    for (let t = 0; t < T; t++) {
      const qkv = linear(g.params.in_proj_weight.data, g.params.in_proj_bias.data, row(g.inputs.x, t), 3 * D);
      expectClose(qkv.slice(0, D), row(g.outputs.q, t), g.tolerance, `q[${t}]`);
      const count = k.debugAttend(put(k, qkv), keys, values, out, weights, scores, rowOffsets, t, D, heads, window, 0);
      const first = Math.max(0, t - window + 1);
      expect(count).toBe(t - first + 1);
      const concat = read(k, out, D);
      expectClose(concat, row(g.outputs.concat, t), g.tolerance, `concat[${t}]`);
      const w = read(k, weights, heads * window);
      for (let h = 0; h < heads; h++) {
        const expected = g.outputs.attn_weights.data.slice((h * T + t) * T, (h * T + t + 1) * T);
        expect(expected.slice(0, first).every((v) => v === 0) && expected.slice(t + 1).every((v) => v === 0)).toBe(true);
        expectClose(w.slice(h * window, h * window + count), expected.slice(first, t + 1), g.tolerance, `attn_weights[head ${h}, ${t}]`);
      }
      const projected = linear(g.params['out_proj.weight'].data, g.params['out_proj.bias'].data, Array.from(concat), D);
      expectClose(projected, row(g.outputs.out, t), g.tolerance, `out[${t}]`);
    }
  });
});

/** A golden block's params renamed into a seqcast transformer file. */
function transformerFile(g: GoldenCase, extra: Record<string, { shape: number[]; data: Float32Array<ArrayBuffer> }>, meta: object): Uint8Array {
  const tensors = Object.entries(g.params).map(([name, t]) => ({
    name: name.startsWith('block.') ? `blocks.0.${name.slice(6)}` : /^(ln1|ln2|attn|fc1|fc2)\./.test(name) ? `blocks.0.${name}` : name,
    shape: t.shape,
    data: Float32Array.from(t.data),
  }));
  for (const [name, t] of Object.entries(extra)) tensors.push({ name, ...t });
  return writeSafetensors(tensors, { format: 'pt', seqcast: JSON.stringify({ format: 1, kind: 'transformer', ...meta }) });
}

describe.each([['transformer_block_causal'], ['transformer_block_window']])('golden %s', (name) => {
  it('every position, through a transformer stepped one frame at a time (proj_in = I, ln_f = LayerNorm with weight 1)', async () => {
    const g = loadGolden(name);
    const { T, D, num_heads: heads } = g.shapes;
    for (const window of g.config.window === null ? [T, T + 7] : [g.config.window as number]) {
      const identity = new Float32Array(D * D).map((_, i) => (i % (D + 1) === 0 ? 1 : 0));
      const ones = new Float32Array(D).fill(1), zeros = new Float32Array(D);
      const model = await loadModel(transformerFile(g, {
        'proj_in.weight': { shape: [D, D], data: identity },
        'proj_in.bias': { shape: [D], data: zeros },
        'ln_f.weight': { shape: [D], data: ones },
        'ln_f.bias': { shape: [D], data: zeros },
      }, { heads, window, sinks: 0 }));
      expect(model.arch.kind).toBe('transformer');
      const ln1 = Array.from({ length: T }, (_, t) => row(g.outputs.ln1, t));
      const reference = attention(ln1, (n) => Float32Array.from(g.params[`attn.${n}`].data), '', heads, window, 0);
      const stream = model.openStream();
      for (let t = 0; t < T; t++) {
        const y = stream.step(row(g.inputs.x, t));
        const expected = layerNorm(row(g.outputs.out, t), ones, zeros);
        expectClose(y, expected, g.tolerance, `ln_f(out)[${t}] (window ${window})`);
        const first = Math.max(0, t - window + 1);
        const attention = stream.attention(0);
        expect(attention.count).toBe(t - first + 1);
        // the weights the dashboard reads: PyTorch's attention over the golden LN1 rows
        attention.heads.forEach((w, h) => expectClose(w, reference.weights[t][h], g.tolerance, `attention weights [head ${h}, ${t}]`));
      }
    }
  });
});

describe('golden transformer_lm_window', () => {
  it('gives PyTorch logits at every position, stepped one token at a time', async () => {
    const g = loadGolden('transformer_lm_window');
    const { T, num_heads: heads } = g.shapes;
    const model = await loadModel(transformerFile(g, {}, { heads, window: g.config.window, sinks: 0 }));
    expect(model.isTokenModel).toBe(true);
    const stream = model.openStream();
    for (let t = 0; t < T; t++) {
      expectClose(stream.step(g.inputs.tokens.data[t]), row(g.outputs.logits, t), g.tolerance, `logits[${t}]`);
    }
    expect(stream.position).toBe(T);
  });
});
