// Direct (non-incremental) float64 reference of seqcast's models: every position
// recomputed from all inputs with an explicit attention mask. Slow on purpose;
// it is what the incremental kernel must equal.

import type { Model } from '../../src/index.js';

type Vec = number[];

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** y = W x + b for W [rows, cols] row-major. */
export function linear(w: ArrayLike<number>, b: ArrayLike<number> | undefined, x: Vec, rows: number): Vec {
  const cols = x.length;
  const y = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let sum = b ? b[r] : 0;
    for (let c = 0; c < cols; c++) sum += w[r * cols + c] * x[c];
    y[r] = sum;
  }
  return y;
}

export function layerNorm(x: Vec, w: ArrayLike<number>, b: ArrayLike<number>): Vec {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  const inv = 1 / Math.sqrt(variance + 1e-5);
  return x.map((v, i) => (v - mean) * inv * w[i] + b[i]);
}

export const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

export function positionalEncoding(p: number, d: number): Vec {
  return Array.from({ length: d }, (_, j) => {
    const angle = p / 10000 ** ((2 * Math.floor(j / 2)) / d);
    return j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
  });
}

/**
 * ALiBi's slope of head h of `heads` (the paper's geometric sequence): c the largest power of two ≤ heads,
 * 2^(−8(h+1)/c) for h < c, then 2^(−4(2(h−c)+1)/c).
 */
export function alibiSlope(h: number, heads: number): number {
  const c = 2 ** Math.floor(Math.log2(heads));
  return Math.fround(h < c ? 2 ** ((-8 * (h + 1)) / c) : 2 ** ((-4 * (2 * (h - c) + 1)) / c));
}

/** Query i may attend key j: causal, and a sink (j < S) or inside the window. */
export function allowed(i: number, j: number, window: number, sinks: number): boolean {
  return j <= i && (j < sinks || j >= i - window + 1);
}

/**
 * Multi-head self-attention over a whole sequence with the mask above; with `alibi`, the score of the n-th allowed
 * key (ascending) gets −m_h · (keys − 1 − n), its offset inside the cache (sinks just before the window).
 * Returns out (T, D) and per position the weights per head over the allowed keys, ascending.
 */
export function attention(
  xs: Vec[], p: (name: string) => Float32Array, prefix: string, heads: number, window: number, sinks: number, alibi = false,
): { out: Vec[]; weights: Vec[][] } {
  const d = xs[0].length;
  const headDim = d / heads;
  const qkv = xs.map((x) => linear(p(`${prefix}in_proj_weight`), p(`${prefix}in_proj_bias`), x, 3 * d));
  const out: Vec[] = [];
  const weights: Vec[][] = [];
  for (let i = 0; i < xs.length; i++) {
    const keys = xs.map((_, j) => j).filter((j) => allowed(i, j, window, sinks));
    const concat = new Array<number>(d).fill(0);
    const perHead: Vec[] = [];
    for (let h = 0; h < heads; h++) {
      const o = h * headDim;
      const slope = alibi ? alibiSlope(h, heads) : 0;
      const scores = keys.map((j, n) => {
        let s = 0;
        for (let e = 0; e < headDim; e++) s += qkv[i][o + e] * qkv[j][d + o + e];
        return s / Math.sqrt(headDim) - slope * (keys.length - 1 - n);
      });
      const max = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - max));
      const total = exps.reduce((a, v) => a + v, 0);
      const w = exps.map((e) => e / total);
      perHead.push(w);
      keys.forEach((j, n) => {
        for (let e = 0; e < headDim; e++) concat[o + e] += w[n] * qkv[j][2 * d + o + e];
      });
    }
    weights.push(perHead);
    out.push(linear(p(`${prefix}out_proj.weight`), p(`${prefix}out_proj.bias`), concat, d));
  }
  return { out, weights };
}

/** One pre-LN block over a whole sequence: a = u + MHA(LN1 u); out = a + fc2(gelu(fc1(LN2 a))). */
export function block(us: Vec[], p: (name: string) => Float32Array, prefix: string, heads: number, window: number, sinks: number, alibi = false) {
  const d = us[0].length;
  const ln1 = us.map((u) => layerNorm(u, p(`${prefix}ln1.weight`), p(`${prefix}ln1.bias`)));
  const { out: attn, weights } = attention(ln1, p, `${prefix}attn.`, heads, window, sinks, alibi);
  const a = us.map((u, t) => u.map((v, j) => v + attn[t][j]));
  const ff = p(`${prefix}fc1.bias`).length;
  const out = a.map((row) => {
    const hidden = linear(p(`${prefix}fc1.weight`), p(`${prefix}fc1.bias`), layerNorm(row, p(`${prefix}ln2.weight`), p(`${prefix}ln2.bias`)), ff).map(gelu);
    const mlp = linear(p(`${prefix}fc2.weight`), p(`${prefix}fc2.bias`), hidden, d);
    return row.map((v, j) => v + mlp[j]);
  });
  return { out, weights };
}

/** The recurrent stack's top h at every step, from h0/c0 ((layers, H); default zeros). */
export function recurrentTop(model: Model, inputs: Vec[], params?: (name: string) => ArrayLike<number>, h0?: ArrayLike<number>, c0?: ArrayLike<number>): Vec[] {
  const { cell, layers, hiddenSize: H } = model.arch;
  const p = (params ?? ((name: string) => model.getParameter(name))) as (name: string) => Float32Array;
  let xs = inputs;
  for (let l = 0; l < layers; l++) {
    const name = (n: string) => `${cell}.${n}_l${l}`;
    const wih = p(name('weight_ih')), whh = p(name('weight_hh')), bih = p(name('bias_ih')), bhh = p(name('bias_hh'));
    const G = cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1;
    let h = Array.from({ length: H }, (_, j) => (h0 ? h0[l * H + j] : 0));
    let c = Array.from({ length: H }, (_, j) => (c0 ? c0[l * H + j] : 0));
    const next: Vec[] = [];
    for (const x of xs) {
      const gi = linear(wih, bih, x, G * H);
      const gh = linear(whh, bhh, h, G * H);
      if (cell === 'lstm') {
        const z = gi.map((v, r) => v + gh[r]);
        c = c.map((cv, j) => sigmoid(z[H + j]) * cv + sigmoid(z[j]) * Math.tanh(z[2 * H + j]));
        h = c.map((cv, j) => sigmoid(z[3 * H + j]) * Math.tanh(cv));
      } else if (cell === 'gru') {
        h = h.map((hv, j) => {
          const r = sigmoid(gi[j] + gh[j]);
          const zg = sigmoid(gi[H + j] + gh[H + j]);
          const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
          return (1 - zg) * n + zg * hv;
        });
      } else if (model.arch.nonlinearity === 'relu') {
        h = gi.map((v, j) => Math.max(0, v + gh[j]));
      } else {
        h = gi.map((v, j) => Math.tanh(v + gh[j]));
      }
      next.push(h);
    }
    xs = next;
  }
  return xs;
}

/**
 * A transformer's or hybrid's outputs at every position, recomputed directly.
 * `inputs`: frames, or token ids for token models. Also returns every block's weights.
 */
export function referenceForward(model: Model, inputs: (Vec | number)[], startPosition = 0, params?: (name: string) => ArrayLike<number>): { outputs: Vec[]; weights: Vec[][][] } {
  const arch = model.arch;
  const a = arch.attention!;
  const p = (params ?? ((name: string) => model.getParameter(name))) as (name: string) => Float32Array;
  let us: Vec[];
  if (arch.kind === 'hybrid') {
    const xs = inputs.map((x) => (typeof x === 'number' ? Array.from(p('embed.weight').slice(x * arch.inputSize, (x + 1) * arch.inputSize)) : x));
    us = recurrentTop(model, xs, params);
  } else {
    us = inputs.map((x, t) => {
      const e = typeof x === 'number'
        ? Array.from(p('embed.weight').slice(x * a.width, (x + 1) * a.width))
        : linear(p('proj_in.weight'), p('proj_in.bias'), x, a.width);
      if (a.positional !== 'sinusoidal') return e;
      const pe = positionalEncoding(startPosition + t, a.width);
      return e.map((v, j) => v + pe[j]);
    });
  }
  const weights: Vec[][][] = [];
  for (let i = 0; i < a.blocks; i++) {
    const result = block(us, p, `blocks.${i}.`, a.heads, a.window, a.sinks, a.positional === 'alibi');
    us = result.out;
    weights.push(result.weights);
  }
  const final = us.map((u) => layerNorm(u, p('ln_f.weight'), p('ln_f.bias')));
  const outputs = arch.headSize > 0 ? final.map((u) => linear(p('head.weight'), p('head.bias'), u, arch.headSize)) : final;
  return { outputs, weights };
}
