// The batched product (assembly/simd.ts affinePacked, through the diagnostics build's debugAffine): every stream's
// output is the same bits whatever batch it is in, also when the batch is cut into L1-sized chunks under each weight
// tile, and it is the affine map the panel layout says (rows of 8 × 4 columns per group), at odd sizes. Runs on each
// build (vitest.config.ts KERNEL_SUITES: baseline, relaxed, scalar).

import { describe, expect, it } from 'vitest';
import { diagnosticKernel, type DiagnosticExports } from '../src/kernel/diagnostics.js';

/** A deterministic value in [-1, 1) for index i and a seed (no Math.random: the test is the same every run). */
function value(i: number, seed: number): number {
  const x = Math.sin(i * 12.9898 + seed * 78.233) * 43758.5453;
  return 2 * (x - Math.floor(x)) - 1;
}

interface Case { rows: number; k: number; batch: number }

/** Runs debugAffine on fresh buffers; returns the outputs (batch, rows), the panel and the input it used. */
function product(d: DiagnosticExports, { rows, k, batch }: Case, twoBiases: boolean) {
  const width = (k + 3) & ~3, tiles = Math.ceil(rows / 8);
  const alloc = (floats: number) => d.debugAlloc(floats * 4);
  const panelAt = alloc(tiles * 8 * width), inputAt = alloc(batch * width), outAt = alloc(batch * rows);
  const bias1At = alloc(rows + 4), bias2At = twoBiases ? alloc(rows + 4) : 0;
  const f32 = new Float32Array(d.memory.buffer);
  const panel = f32.subarray(panelAt / 4, panelAt / 4 + tiles * 8 * width);
  const input = f32.subarray(inputAt / 4, inputAt / 4 + batch * width);
  // a panel row past `rows` is zero (packPanel), and an input row's padding lanes too
  for (let t = 0; t < tiles; t++) for (let g = 0; g < width / 4; g++) for (let i = 0; i < 8; i++) for (let lane = 0; lane < 4; lane++) {
    const at = ((t * (width / 4) + g) * 8 + i) * 4 + lane;
    panel[at] = t * 8 + i < rows && g * 4 + lane < k ? value(at, 1) * 0.5 : 0;
  }
  for (let b = 0; b < batch; b++) for (let c = 0; c < width; c++) input[b * width + c] = c < k ? value(b * 1000 + c, 2) : 0;
  for (let r = 0; r < rows; r++) {
    f32[bias1At / 4 + r] = value(r, 3);
    if (bias2At) f32[bias2At / 4 + r] = value(r, 4);
  }
  d.debugAffine(outAt, batch, rows, inputAt, width, panelAt, bias1At, bias2At);
  const out = new Float32Array(d.memory.buffer, outAt, batch * rows).slice();
  const bias = (r: number) => f32[bias1At / 4 + r] + (bias2At ? f32[bias2At / 4 + r] : 0);
  return { out, panel: panel.slice(), input: input.slice(), width, bias };
}

const CASES: Case[] = [
  { rows: 13, k: 37, batch: 1 }, { rows: 13, k: 37, batch: 2 }, { rows: 13, k: 37, batch: 3 },
  { rows: 21, k: 137, batch: 31 }, { rows: 21, k: 137, batch: 67 }, { rows: 9, k: 301, batch: 130 },
  { rows: 512, k: 136, batch: 64 },
];

describe('the batched product', () => {
  for (const c of CASES) {
    it(`gives each of ${c.batch} streams (rows ${c.rows}, k ${c.k}) the very bits it gets as a batch of one`, async () => {
      const batched = product(await diagnosticKernel(), c, true);
      const bits = new Uint32Array(batched.out.buffer);
      for (const b of [0, c.batch >> 1, c.batch - 1]) {
        // the same input row alone, in a fresh instance
        const one = await diagnosticKernel();
        const rows1 = oneRow(one, c, batched.panel, batched.input.subarray(b * batched.width, (b + 1) * batched.width));
        expect(Array.from(new Uint32Array(rows1.buffer))).toEqual(Array.from(bits.subarray(b * c.rows, (b + 1) * c.rows)));
      }
    });
  }

  it('is bias1 + bias2 + panel · input at odd sizes (float64 reference, panel of 8-row tiles × 4 columns)', async () => {
    const c = { rows: 21, k: 137, batch: 67 };
    const { out, panel, input, width, bias } = product(await diagnosticKernel(), c, true);
    let worst = 0;
    for (let b = 0; b < c.batch; b++) for (let r = 0; r < c.rows; r++) {
      let s = bias(r);
      for (let col = 0; col < c.k; col++) s += panel[((Math.floor(r / 8) * (width / 4) + (col >> 2)) * 8 + (r % 8)) * 4 + (col & 3)] * input[b * width + col];
      worst = Math.max(worst, Math.abs(out[b * c.rows + r] - s));
    }
    expect(worst).toBeLessThan(1e-5);
  });
});

/** The product of one input row (width floats) with a given panel and the case's biases, as a batch of one. */
function oneRow(d: DiagnosticExports, c: Case, panel: Float32Array, row: Float32Array): Float32Array {
  const width = row.length;
  const alloc = (floats: number) => d.debugAlloc(floats * 4);
  const panelAt = alloc(panel.length), inputAt = alloc(width), outAt = alloc(c.rows), bias1At = alloc(c.rows + 4), bias2At = alloc(c.rows + 4);
  const f32 = new Float32Array(d.memory.buffer);
  f32.set(panel, panelAt / 4);
  f32.set(row, inputAt / 4);
  for (let r = 0; r < c.rows; r++) { f32[bias1At / 4 + r] = value(r, 3); f32[bias2At / 4 + r] = value(r, 4); }
  d.debugAffine(outAt, 1, c.rows, inputAt, width, panelAt, bias1At, bias2At);
  return new Float32Array(d.memory.buffer, outAt, c.rows).slice();
}
