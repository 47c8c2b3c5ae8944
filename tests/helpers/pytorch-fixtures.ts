// The PyTorch-made fixtures of tests/fixtures/pytorch/ (scripts/make-pytorch-fixtures.py): a model file, the test
// stream it was run on, and PyTorch's outputs, compared under the golden rule |actual − expected| ≤ abs + rel·|expected|.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const FIXTURES = new URL('../fixtures/pytorch/', import.meta.url);

export interface Tolerance {
  abs: number;
  rel: number;
}

export interface PytorchCase {
  /** Path of the .safetensors file. */
  file: string;
  /** The test stream, [T][X], float32 values. */
  rows: number[][];
  /** PyTorch's head output after each row, [T][O] (float64 from the float32 weights). */
  expected: number[][];
  tolerance: Tolerance;
}

type Tensor = { shape: number[]; data: number[] };

function rowsOf({ shape: [T, X], data }: Tensor): number[][] {
  return Array.from({ length: T }, (_, t) => data.slice(t * X, (t + 1) * X));
}

/** Reads fixture `name` (lstm_raw_units, lstm_delta). */
export function readPytorchCase(name: string): PytorchCase {
  const c = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as { inputs: Tensor; outputs: Tensor; tolerance: Tolerance };
  return { file: fileURLToPath(new URL(`${name}.safetensors`, FIXTURES)), rows: rowsOf(c.inputs), expected: rowsOf(c.outputs), tolerance: c.tolerance };
}

/** Fails naming the first element outside |actual − expected| ≤ abs + rel·|expected|. */
export function expectWithin(actual: ArrayLike<number>[], expected: number[][], { abs, rel }: Tolerance): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, t) => {
    expect(row.length, `step ${t}: outputs`).toBe(expected[t].length);
    for (let j = 0; j < row.length; j++) {
      const e = expected[t][j];
      if (!(Math.abs(row[j] - e) <= abs + rel * Math.abs(e))) expect.fail(`step ${t} output ${j}: ${row[j]}, PyTorch ${e}`);
    }
  });
}
