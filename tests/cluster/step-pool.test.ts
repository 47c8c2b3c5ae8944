// The library's opt-in StepPool: a large batch split over two worker threads steps exactly as model.stepBatch does,
// and a bad input is refused before any stream moves. The workers run the built dist/cluster/step-worker.js.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepPool } from '../../src/cluster/step-pool.js';
import { createModel, type Model } from '../../src/index.js';

let model: Model;
let pool: StepPool;

beforeAll(async () => {
  model = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 24, seed: 8 }, { batchCapacity: 64 });
  pool = await StepPool.start(model, { workers: 2 });
});

afterAll(async () => {
  await pool?.close();
  model?.close();
});

const inputOf = (s: number, i: number) => [Math.sin(s + i), Math.cos(0.5 * s - i), 0.1 * (s % 7)];

describe('StepPool', () => {
  it('steps 301 streams over two workers bit for bit as model.stepBatch does, batch after batch', async () => {
    const count = 301;
    const pooled = pool.open(count);
    expect(new Set(pooled.map((s) => s.worker))).toEqual(new Set([0, 1]));
    const direct = Array.from({ length: count }, () => model.openStream());
    for (let i = 0; i < 4; i++) {
      const inputs = Array.from({ length: count }, (_, s) => inputOf(s, i));
      const expected = model.stepBatch(direct, inputs);
      expect(await pool.stepBatch(pooled, inputs)).toEqual(expected);
    }
    // bad input: refused with the library's error, and no stream moved (the next step still agrees)
    const bad = Array.from({ length: count }, (_, s) => (s === 150 ? [1, 2] : inputOf(s, 9)));
    await expect(pool.stepBatch(pooled, bad)).rejects.toThrow(/pooled stream/);
    const inputs = Array.from({ length: count }, (_, s) => inputOf(s, 9));
    expect(await pool.stepBatch(pooled, inputs)).toEqual(model.stepBatch(direct, inputs));
    for (const stream of direct) stream.close();
  });
});
