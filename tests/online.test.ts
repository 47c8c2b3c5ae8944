// Online learning: a learning stream predicts each next frame, trains the shared
// weights as it goes, beats persistence on real data, and survives bad bursts.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createModel, InputError } from '../src/index.js';

function nab(name: string): number[] {
  const text = readFileSync(new URL(`./fixtures/nab/${name}.csv`, import.meta.url), 'utf8');
  return text.trim().split('\n').slice(1).map((line) => Number(line.split(',')[1]));
}

describe('online learning', () => {
  it('beats persistence on NAB nyc_taxi over the second half, by a wide margin (recipe: LSTM 32, every 8, window 32, Adam 3e-3, clip 1, delta)', async () => {
    const values = nab('nyc_taxi');
    const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 32, seed: 1 });
    const learner = model.openLearningStream();
    let model2 = 0, persistence = 0;
    values.forEach((v, i) => {
      const report = learner.observe([v]);
      if (i >= values.length / 2) {
        model2 += report.error!;
        persistence += report.persistenceError!;
      }
    });
    // measured 0.47 (PyTorch with the same recipe: 0.50)
    expect(model2 / persistence).toBeLessThan(0.7);
    expect(learner.stats.updates).toBeGreaterThan(1000);
    expect(learner.stats.frames).toBe(values.length);
  });

  it("shares one model's weights between streams, and learn:false leaves them alone", async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 8, seed: 3 });
    const a = model.openLearningStream({ every: 4, window: 8 });
    const b = model.openLearningStream({ every: 4, window: 8 });
    const watcher = model.openLearningStream({ learn: false });
    const before = model.getParameter('gru.weight_hh_l0');
    for (let t = 0; t < 40; t++) {
      a.observe([Math.sin(t / 3), Math.cos(t / 3)]);
      b.observe([Math.cos(t / 5), 1]);
    }
    expect(a.stats.updates + b.stats.updates).toBeGreaterThan(10);
    const after = model.getParameter('gru.weight_hh_l0');
    expect(Array.from(after)).not.toEqual(Array.from(before));
    for (let t = 0; t < 40; t++) watcher.observe([t, -t]);
    expect(watcher.stats.updates).toBe(0);
    expect(Array.from(model.getParameter('gru.weight_hh_l0'))).toEqual(Array.from(after));
  });

  it('survives a burst of wild values: updates are skipped or rolled back, weights stay finite, and it recovers', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 16, seed: 2 });
    const learner = model.openLearningStream({ every: 4, window: 16 });
    const wave = (t: number) => Math.sin(t / 4) * 10 + 50;
    for (let t = 0; t < 1500; t++) learner.observe([wave(t)]);
    let calm = 0;
    for (let t = 1500; t < 1600; t++) calm += learner.observe([wave(t)]).error!;
    for (let t = 1600; t < 1640; t++) learner.observe([t % 2 ? 1e7 : -1e7]);
    expect(learner.stats.skipped + learner.stats.rollbacks).toBeGreaterThan(0);
    for (const name of model.parameterNames) expect(model.getParameter(name).every(Number.isFinite)).toBe(true);
    for (let t = 1640; t < 2600; t++) learner.observe([wave(t)]);
    let after = 0;
    for (let t = 2600; t < 2700; t++) after += learner.observe([wave(t)]).error!;
    // the running normalizer has seen ±1e7, so recovery is partial, but predictions are usable again
    expect(after / 100).toBeLessThan(25 * Math.max(calm / 100, 1));
  });

  it('refuses a bad frame and changes nothing', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 4, seed: 1 });
    const learner = model.openLearningStream({ name: 'pump-7' });
    learner.observe([1, 2]);
    expect(() => learner.observe([1, NaN])).toThrow(InputError);
    expect(() => learner.observe([1])).toThrow(/stream "pump-7" has 1 values, model expects 2/);
    expect(learner.stats.frames).toBe(1);
  });
});
