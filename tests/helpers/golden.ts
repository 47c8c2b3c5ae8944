// Reads the PyTorch reference vectors in tests/golden (copied from shared/golden).

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { writeSafetensors } from '../../src/model/safetensors.js';

export interface GoldenTensor {
  shape: number[];
  dtype: 'float32' | 'float64' | 'int32';
  data: number[];
}

export interface GoldenCase {
  name: string;
  kind: string;
  shapes: Record<string, number>;
  config: Record<string, unknown>;
  params: Record<string, GoldenTensor>;
  inputs: Record<string, GoldenTensor>;
  outputs: Record<string, GoldenTensor>;
  tolerance: { abs: number; rel: number };
}

export const GOLDEN_DIR = new URL('../golden/', import.meta.url);

export function loadGolden(name: string): GoldenCase {
  return JSON.parse(readFileSync(new URL(`${name}.json`, GOLDEN_DIR), 'utf8')) as GoldenCase;
}

/** Row `t` of a [T, N] tensor. */
export function row(tensor: GoldenTensor, t: number): number[] {
  const width = tensor.shape.slice(1).reduce((a, d) => a * d, 1);
  return tensor.data.slice(t * width, (t + 1) * width);
}

/** The case's params as a safetensors file, as PyTorch's save_file would write it. */
export function goldenSafetensors(golden: GoldenCase): Uint8Array {
  return writeSafetensors(
    Object.entries(golden.params).map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) })),
    { format: 'pt' },
  );
}

/** Asserts |actual − expected| ≤ abs + rel·|expected| elementwise, naming the first failing element. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { abs: number; rel: number }, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -Infinity;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (tol.abs + tol.rel * Math.abs(expected[i]));
    if (!(excess <= worst) || Number.isNaN(actual[i])) {
      worst = Number.isNaN(actual[i]) ? Infinity : excess;
      worstAt = i;
    }
  }
  if (worst > 0) {
    expect.fail(`${what}[${worstAt}] = ${actual[worstAt]}, expected ${expected[worstAt]} (tolerance abs ${tol.abs} + rel ${tol.rel})`);
  }
}
