// The kernel's SIMD activations against float64 Math, over their whole useful range.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_FILES } from '../src/kernel/diagnostics.js';

// the diagnostics build (it exports `activation`) of the variant the kernel-relaxed or kernel-scalar project asks for
// (vitest.config.ts), else the plain one
const requested = process.env.SEQCAST_KERNEL;
const file = `../build/${DIAGNOSTIC_FILES[requested === 'relaxed' || requested === 'scalar' ? requested : 'baseline']}`;
const wasm = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(file, import.meta.url))), {});
const activation = wasm.exports.activation as (kind: number, x: number) => number;
const TANH = 0, SIGMOID = 1, EXP = 2;

/** Largest |f(x) − ref(x)| (or relative error) over float32 x in [lo, hi]. */
function worstError(kind: number, ref: (x: number) => number, lo: number, hi: number, relative: boolean): { error: number; at: number } {
  let error = 0, at = NaN;
  for (let x = lo; x <= hi; x += (hi - lo) / 200_003) {
    const xf = Math.fround(x);
    const expected = ref(xf);
    const diff = Math.abs(activation(kind, xf) - expected) / (relative ? Math.abs(expected) : 1);
    if (!(diff <= error)) { error = diff; at = xf; }
  }
  return { error, at };
}

describe('kernel activations', () => {
  it('exp has relative error below 2e-7 on [-87, 88]', () => {
    const { error, at } = worstError(EXP, Math.exp, -87, 88, true);
    expect(error, `worst at x = ${at}`).toBeLessThan(2e-7);
  });

  it('tanh has absolute error below 1.5e-7 on [-20, 20] and is exactly ±1 far out', () => {
    const { error, at } = worstError(TANH, Math.tanh, -20, 20, false);
    expect(error, `worst at x = ${at}`).toBeLessThan(1.5e-7);
    expect(activation(TANH, 1e4)).toBe(1);
    expect(activation(TANH, -1e4)).toBe(-1);
  });

  it('tanh keeps its relative accuracy near zero (e^{2x} − 1 is formed without cancellation)', () => {
    const { error, at } = worstError(TANH, Math.tanh, -0.6, 0.6, true);
    expect(error, `worst at x = ${at}`).toBeLessThan(2e-7);
    expect(activation(TANH, 1e-20)).toBeCloseTo(1e-20, 25);
  });

  it('sigmoid has absolute error below 1.5e-7 on [-30, 30] and saturates without NaN', () => {
    const { error, at } = worstError(SIGMOID, (x) => 1 / (1 + Math.exp(-x)), -30, 30, false);
    expect(error, `worst at x = ${at}`).toBeLessThan(1.5e-7);
    expect(activation(SIGMOID, 1e30)).toBe(1);
    expect(activation(SIGMOID, -1e30)).toBeGreaterThanOrEqual(0);
    expect(activation(SIGMOID, -1e30)).toBeLessThan(1e-37);
  });

  it('exp stays finite at the ends of the float range', () => {
    expect(Number.isFinite(activation(EXP, 1e6))).toBe(true);
    expect(activation(EXP, -1e6)).toBeGreaterThanOrEqual(0);
  });
});
