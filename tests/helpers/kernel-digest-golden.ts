// The digest cases built from tests/golden (every case file, through the kernel paths its golden test drives), and
// a few synthetic ones for what the golden sizes do not reach: odd sizes (SIMD tails, lone batch rows, a slot table
// that grows), the token table (embedding widths that are multiples of 8, on and off), hybrids, sinks, far positions,
// and refusals. See tests/helpers/kernel-digests.ts.

import { readdirSync, readFileSync } from 'node:fs';
import {
  ADAM, CELL, LOSS_CE, LOSS_MSE, SGD, hashOptimizer, hashSlots, hashTraining, seedParams, seeded, stepRounds, writeParams,
  type Abi, type Digest, type DigestCase,
} from './kernel-digests.js';

interface Tensor { shape: number[]; data: number[] }
interface Golden {
  name: string;
  kind: string;
  shapes: Record<string, number>;
  config: Record<string, unknown>;
  params: Record<string, Tensor>;
  inputs: Record<string, Tensor>;
  outputs: Record<string, Tensor>;
}

const GOLDEN_DIR = new URL('../golden/', import.meta.url);

function golden(name: string): Golden {
  return JSON.parse(readFileSync(new URL(`${name}.json`, GOLDEN_DIR), 'utf8')) as Golden;
}

function rowOf(t: Tensor, i: number): number[] {
  const width = t.shape.slice(1).reduce((a, d) => a * d, 1);
  return t.data.slice(i * width, (i + 1) * width);
}

interface Recurrent { cell: number; layers: number; inputSize: number; vocabSize: number; hiddenSize: number; headSize: number }

/** A recurrent golden case's shape, from its parameter names and shapes. */
function recurrentShape(g: Golden): Recurrent {
  const names = Object.keys(g.params);
  const ih0 = names.find((n) => n.endsWith('weight_ih_l0'))!;
  const prefix = ih0.split('.')[0];
  const cellName = prefix === ih0 ? String(g.config.cell) : prefix;
  const cell = cellName.startsWith('rnn') ? CELL.rnn : cellName === 'gru' ? CELL.gru : CELL.lstm;
  return {
    cell,
    layers: names.filter((n) => /weight_ih_l\d+$/.test(n)).length,
    inputSize: g.params[ih0].shape[1],
    vocabSize: g.params['embed.weight']?.shape[0] ?? 0,
    hiddenSize: g.params[names.find((n) => n.endsWith('weight_hh_l0'))!].shape[1],
    headSize: g.params['head.weight']?.shape[0] ?? 0,
  };
}

function configureRecurrent(abi: Abi, s: Recurrent, batch: number, slots: number): void {
  abi.ok('configure', s.cell, s.layers, s.inputSize, s.vocabSize, s.hiddenSize, s.headSize, batch, slots);
}

const tensorsOf = (g: Golden) => Object.values(g.params).map((t) => t.data);
const open = (abi: Abi, n: number) => Array.from({ length: n }, () => abi.ok('slotOpen'));

/** Golden input of position p for slot i (slots start at different offsets). */
function goldenInput(g: Golden, i: number, p: number): number[] | number {
  const t = (p + 3 * i) % g.shapes.T;
  return g.inputs.tokens ? g.inputs.tokens.data[t] : rowOf(g.inputs.x, t);
}

/** Steps three slots over the case's inputs, the first from the golden h0 (and c0). */
function recurrentSteps(g: Golden, abi: Abi, digest: Digest): void {
  const s = recurrentShape(g);
  configureRecurrent(abi, s, 3, 2);
  writeParams(abi, tensorsOf(g));
  const slots = open(abi, 3);
  const h0 = g.inputs.h0?.data ?? [], c0 = g.inputs.c0?.data ?? [];
  abi.write(abi.call('slotStatePtr', slots[0]), s.cell === CELL.lstm ? [...h0, ...c0] : h0);
  stepRounds(abi, digest, slots, 2 * g.shapes.T, (i, p) => goldenInput(g, i, p));
  hashSlots(abi, digest, slots);
}

/** Writes B windows of T steps into the training buffers: window b reads the case's inputs from offset 3b. */
function fillWindows(g: Golden, abi: Abi, T: number, B: number, from = 0): void {
  const s = recurrentShape(g), O = abi.call('getOutputSize');
  const mask: number[] = [];
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const n = t * B + b, at = (from + t + 3 * b) % g.shapes.T;
      if (g.inputs.tokens) abi.writeI32(abi.call('trainTokensPtr') + 4 * n, [g.inputs.tokens.data[at]]);
      else abi.write(abi.call('trainInputPtr') + 4 * n * s.inputSize, rowOf(g.inputs.x, at));
      if (g.inputs.targets) abi.writeI32(abi.call('trainTargetTokensPtr') + 4 * n, [g.inputs.targets.data[at]]);
      else abi.write(abi.call('trainTargetPtr') + 4 * n * O, rowOf(g.inputs.target, at));
      mask.push(b > 0 && t % 4 === 3 ? 0 : 1);
    }
  }
  abi.write(abi.call('trainMaskPtr'), mask);
  const H = s.hiddenSize;
  for (const [name, ptr] of [['h0', 'trainH0Ptr'], ['c0', 'trainC0Ptr']] as const) {
    const initial = g.inputs[name]?.data ?? [];
    const rows: number[] = [];
    for (let l = 0; l < s.layers; l++) for (let b = 0; b < B; b++) rows.push(...initial.slice(l * H, (l + 1) * H).map((v) => v / (b + 1)));
    if (initial.length) abi.write(abi.call(ptr), rows);
  }
}

/** The BPTT cases: steps, then two windows at once, then an accumulated shorter pass of one window. */
function bpttCase(g: Golden, abi: Abi, digest: Digest): void {
  recurrentSteps(g, abi, digest);
  const s = recurrentShape(g), T = g.shapes.T, loss = g.inputs.tokens ? LOSS_CE : LOSS_MSE;
  const state = { layers: s.layers, hidden: s.hiddenSize };
  abi.ok('trainConfigure', T, 2);
  fillWindows(g, abi, T, 2);
  digest.numbers(abi.call('trainForwardBackward', T, 2, loss, 0));
  hashTraining(abi, digest, T, 2, state);
  fillWindows(g, abi, T - 3, 1, 2);
  digest.numbers(abi.call('trainForwardBackward', T - 3, 1, loss, 1));
  hashTraining(abi, digest, T - 3, 1, state);
}

function tbpttCase(g: Golden, abi: Abi, digest: Digest): void {
  const s = recurrentShape(g), H = s.hiddenSize;
  configureRecurrent(abi, s, 1, 1);
  writeParams(abi, tensorsOf(g));
  abi.ok('trainConfigure', g.shapes.T, 1);
  (g.config.chunk_bounds as [number, number][]).forEach(([from, to], chunk) => {
    fillWindows(g, abi, to - from, 1, from);
    if (chunk > 0) {
      abi.write(abi.call('trainH0Ptr'), abi.read(abi.call('trainHNPtr'), H));
      abi.write(abi.call('trainC0Ptr'), abi.read(abi.call('trainCNPtr'), H));
    }
    digest.numbers(abi.call('trainForwardBackward', to - from, 1, LOSS_MSE, chunk > 0 ? 1 : 0));
    hashTraining(abi, digest, to - from, 1, { layers: s.layers, hidden: H });
  });
}

interface AdamConfig { max_norm: number; lr: number; betas: [number, number]; eps: number; steps?: number }

function trainStepsCase(g: Golden, abi: Abi, digest: Digest): void {
  const s = recurrentShape(g), c = g.config as unknown as AdamConfig;
  configureRecurrent(abi, s, 1, 1);
  writeParams(abi, tensorsOf(g));
  abi.ok('trainConfigure', g.shapes.T, 1);
  abi.ok('optimizerConfigure', ADAM, c.lr, c.betas[0], c.betas[1], c.eps, 0, c.max_norm, 0);
  fillWindows(g, abi, g.shapes.T, 1);
  for (let step = 0; step < (c.steps ?? 1); step++) {
    digest.numbers(abi.call('trainStep', g.shapes.T, 1, LOSS_MSE), abi.call('trainLoss'));
    hashOptimizer(abi, digest);
  }
}

/** The case's gradients written into the gradient block. */
function writeGrads(g: Golden, abi: Abi, poison = false): void {
  const names = Object.keys(g.params), base = abi.call('getParamsPtr'), grads = abi.call('gradsPtr');
  names.forEach((name, i) => abi.write(grads + abi.call('getParamPtr', i) - base, g.inputs[`grad/${name}`].data));
  if (poison) abi.write(grads + 4 * 5, [NaN]);
}

/** Clipping and Adam as the golden case, then SGD with momentum and value clipping, then a refused NaN gradient. */
function clipAdamCase(g: Golden, abi: Abi, digest: Digest): void {
  const s = recurrentShape(g), c = g.config as unknown as AdamConfig, n = abi.call.bind(abi);
  configureRecurrent(abi, s, 1, 1);
  writeParams(abi, tensorsOf(g));
  abi.ok('trainConfigure', 1, 1);
  abi.ok('optimizerConfigure', ADAM, c.lr, c.betas[0], c.betas[1], c.eps, 0, c.max_norm, 0);
  writeGrads(g, abi);
  digest.numbers(n('optimizerStep'));
  digest.words(abi, n('gradsPtr'), n('getParamsLength'));
  hashOptimizer(abi, digest);
  abi.ok('optimizerConfigure', SGD, 0.05, 0.9, 0.999, 1e-8, 0.9, 0, 0.01);
  for (let step = 0; step < 3; step++) {
    writeGrads(g, abi);
    digest.numbers(n('optimizerStep'));
    hashOptimizer(abi, digest);
  }
  writeGrads(g, abi, true);
  digest.numbers(n('optimizerStep'), n('trainTotalNorm'));
  hashOptimizer(abi, digest);
}

function alloc(abi: Abi, values: ArrayLike<number> | number): number {
  const floats = typeof values === 'number' ? values : values.length;
  const ptr = abi.call('debugAlloc', Math.max(floats, 4) * 4 + 16);
  if (typeof values !== 'number') abi.write(ptr, values);
  return ptr;
}

/** q, k, v of a row: in_proj (3D, D) times x plus bias, in f64 rounded once. */
function inProj(g: Golden, x: number[], D: number): number[] {
  const w = g.params.in_proj_weight.data, b = g.params.in_proj_bias.data;
  return Array.from({ length: 3 * D }, (_, r) => b[r] + x.reduce((sum, v, j) => sum + w[r * D + j] * v, 0));
}

/** Incremental attention on the diagnostics build: the golden window, then with two sinks and a window of 3. */
function attendCase(g: Golden, abi: Abi, digest: Digest): void {
  const { T, D, num_heads: heads } = g.shapes;
  for (const [window, sinks] of [[(g.config.window as number | null) ?? T, 0], [3, 2]]) {
    const keys = window + sinks;
    const cacheK = alloc(abi, keys * D), cacheV = alloc(abi, keys * D), out = alloc(abi, D);
    const weights = alloc(abi, heads * keys), scores = alloc(abi, keys), rowOffsets = alloc(abi, keys);
    for (let t = 0; t < 2 * T; t++) {
      const qkv = alloc(abi, inProj(g, rowOf(g.inputs.x, t % T), D));
      const count = abi.call('debugAttend', qkv, cacheK, cacheV, out, weights, scores, rowOffsets, t, D, heads, window, sinks);
      digest.numbers(count);
      digest.words(abi, out, D);
      for (let h = 0; h < heads; h++) digest.words(abi, weights + 4 * h * keys, count);
    }
  }
}

/** A one-block transformer of the golden block (proj_in = I, ln_f = identity LN): steps, far positions, training. */
function blockCase(g: Golden, abi: Abi, digest: Digest, window: number, sinks: number): void {
  const { T, D, num_heads: heads, FF } = g.shapes;
  abi.ok('configureTransformer', D, 0, D, heads, FF, 1, window, sinks, 0, 2, 2);
  const identity = Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0));
  writeParams(abi, [identity, new Array(D).fill(0), ...tensorsOf(g), new Array(D).fill(1), new Array(D).fill(0)]);
  const slots = open(abi, 2);
  const attention = { blocks: 1, heads };
  stepRounds(abi, digest, slots, 2 * T, (i, p) => rowOf(g.inputs.x, (p + 5 * i) % T));
  hashSlots(abi, digest, slots, attention, window + sinks);
  abi.ok('slotSetPosition', slots[1], 10_000_019);
  stepRounds(abi, digest, slots, 4, (i, p) => rowOf(g.inputs.x, (p + i) % T));
  hashSlots(abi, digest, slots, attention, window + sinks);
  abi.ok('trainConfigure', T, 2);
  for (let n = 0; n < 2 * T; n++) {
    abi.write(abi.call('trainInputPtr') + 4 * n * D, rowOf(g.inputs.x, (n >> 1) % T));
    abi.write(abi.call('trainTargetPtr') + 4 * n * D, rowOf(g.outputs.out, (n + 3) % T));
  }
  abi.write(abi.call('trainMaskPtr'), Array.from({ length: 2 * T }, (_, n) => (n % 7 === 6 ? 0 : 1)));
  digest.numbers(abi.call('trainForwardBackward', T, 2, LOSS_MSE, 0));
  hashTraining(abi, digest, T, 2, { layers: 0, hidden: 0 });
  abi.ok('optimizerConfigure', ADAM, 0.01, 0.9, 0.999, 1e-8, 0, 0.5, 0);
  for (let step = 0; step < 2; step++) {
    digest.numbers(abi.call('trainStep', T, 2, LOSS_MSE));
    hashOptimizer(abi, digest);
  }
}

function languageModelCase(g: Golden, abi: Abi, digest: Digest): void {
  const { T, V, D, num_heads: heads, FF } = g.shapes;
  abi.ok('configureTransformer', D, V, D, heads, FF, 1, g.config.window as number, 0, V, 2, 2);
  writeParams(abi, tensorsOf(g));
  const slots = open(abi, 2);
  stepRounds(abi, digest, slots, 2 * T, (i, p) => g.inputs.tokens.data[(p + 4 * i) % T]);
  hashSlots(abi, digest, slots, { blocks: 1, heads }, g.config.window as number);
  abi.ok('trainConfigure', T, 2);
  for (let n = 0; n < 2 * T; n++) {
    abi.writeI32(abi.call('trainTokensPtr') + 4 * n, [g.inputs.tokens.data[(n >> 1) % T]]);
    abi.writeI32(abi.call('trainTargetTokensPtr') + 4 * n, [g.inputs.targets.data[((n >> 1) + (n & 1)) % T]]);
  }
  abi.write(abi.call('trainMaskPtr'), new Array(2 * T).fill(1));
  digest.numbers(abi.call('trainForwardBackward', T, 2, LOSS_CE, 0));
  hashTraining(abi, digest, T, 2, { layers: 0, hidden: 0 });
}

function layerNormCase(g: Golden, abi: Abi, digest: Digest): void {
  const next = seeded(7, 3);
  for (const [rows, d, x, w, b] of [
    [g.shapes.N, g.shapes.D, g.inputs.x.data, g.params.weight.data, g.params.bias.data],
    [5, 37, Array.from({ length: 5 * 37 }, next), Array.from({ length: 37 }, next), Array.from({ length: 37 }, next)],
  ] as [number, number, number[], number[], number[]][]) {
    const y = alloc(abi, rows * d), means = alloc(abi, rows), variances = alloc(abi, rows);
    abi.call('debugLayerNorm', alloc(abi, x), y, rows, d, alloc(abi, w), alloc(abi, b), means, variances);
    digest.words(abi, y, rows * d);
    digest.words(abi, means, rows);
    digest.words(abi, variances, rows);
  }
}

function geluCase(g: Golden, abi: Abi, digest: Digest): void {
  for (const x of [g.inputs.x.data, Array.from({ length: 1001 }, (_, i) => -8 + i * 0.016)]) {
    const ptr = alloc(abi, x);
    abi.call('debugGelu', ptr, x.length);
    digest.words(abi, ptr, x.length);
  }
}

function positionalCase(g: Golden, abi: Abi, digest: Digest): void {
  const positions = [...g.inputs.positions.data, 1e7, 2 ** 40 + 3, 9007199254740991];
  for (const d of [g.shapes.D, 37]) {
    const out = alloc(abi, d);
    for (const p of positions) {
      abi.call('debugPositionalEncoding', out, d, p);
      digest.words(abi, out, d);
    }
  }
}

function activationCase(abi: Abi, digest: Digest): void {
  for (let kind = 0; kind < 3; kind++) {
    const values: number[] = [];
    for (let i = 0; i <= 20_000; i++) values.push(abi.call('activation', kind, -100 + i * 0.01));
    values.push(abi.call('activation', kind, 1e-20), abi.call('activation', kind, -1e30), abi.call('activation', kind, 1e30));
    digest.numbers(...values);
  }
}

const RECURRENT_KINDS = new Set(['rnn_tanh_forward', 'lstm_forward', 'gru_forward', 'lstm_dense_forward', 'token_lstm_forward']);

/** The case (or cases) of one golden file. */
function casesOf(g: Golden): DigestCase[] {
  const one = (build: DigestCase['build'], run: (abi: Abi, digest: Digest) => void, suffix = ''): DigestCase =>
    ({ name: `golden/${g.name}${suffix}`, build, run });
  if (RECURRENT_KINDS.has(g.kind)) return [one('production', (a, d) => recurrentSteps(g, a, d))];
  switch (g.kind) {
    case 'bptt_grad': return [one('production', (a, d) => bpttCase(g, a, d))];
    case 'tbptt': return [one('production', (a, d) => tbpttCase(g, a, d))];
    case 'train_steps': return [one('production', (a, d) => trainStepsCase(g, a, d))];
    case 'clip_adam': return [one('production', (a, d) => clipAdamCase(g, a, d))];
    case 'mha_causal': case 'mha_window': return [one('diagnostics', (a, d) => attendCase(g, a, d))];
    case 'transformer_block': {
      const window = (g.config.window as number | null) ?? g.shapes.T;
      return [one('production', (a, d) => blockCase(g, a, d, window, 0)), one('production', (a, d) => blockCase(g, a, d, 3, 2), '/sinks')];
    }
    case 'transformer_lm': return [one('production', (a, d) => languageModelCase(g, a, d))];
    case 'layer_norm': return [one('diagnostics', (a, d) => layerNormCase(g, a, d))];
    case 'gelu': return [one('diagnostics', (a, d) => geluCase(g, a, d))];
    case 'positional_encoding': return [one('diagnostics', (a, d) => positionalCase(g, a, d))];
    default: throw new Error(`no digest case for golden kind ${g.kind} (${g.name})`);
  }
}

/** Every golden file's cases, in file-name order, then the kernel's activations. */
export const GOLDEN_CASES: DigestCase[] = [
  ...readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.json')).sort().flatMap((f) => casesOf(golden(f.slice(0, -5)))),
  { name: 'diagnostics/activations', build: 'diagnostics', run: activationCase },
];
