// The protocol's encoders: predictionJson writes exactly what JSON.stringify(predictionMessage(frame)) would.

import { describe, expect, it } from 'vitest';
import { createModel } from '../../src/index.js';
import { predictionJson, predictionMessage } from '../../src/protocol/json.js';
import { ErrorScorer } from '../../src/stream/score.js';
import type { ScoredFrame, StreamEntry } from '../../src/stream/types.js';

describe('predictionJson', () => {
  it('is JSON.stringify(predictionMessage(frame)), for frames, forecasts, learning streams, tokens and odd numbers', async () => {
    const frames = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 4, seed: 1 });
    const tokens = await createModel({ cell: 'gru', vocabSize: 4, hiddenSize: 4, seed: 1 });
    const entry = (name: string, model = frames): StreamEntry => ({
      name, id: 1, served: { name: 'm', model }, stream: undefined, parked: undefined, learning: undefined, learner: undefined, parkedLearner: undefined,
      lastSeq: 0, horizon: 0, learn: false, normalizer: undefined, scorer: new ErrorScorer(), owner: undefined, orphanedAt: undefined, lastActive: 0, closed: false,
    });
    const frame = (overrides: Partial<ScoredFrame>): ScoredFrame => ({
      source: { label: 'p' }, entry: entry('pump "7"\n\u2028'), seq: 12, t: 1732871400000.25, actual: Float64Array.of(1.5, -0, 1e21), receivedAt: 0, input: 0, scale: undefined,
      predicted: Float32Array.of(0.1, -3.4028234663852886e38, 1e-45), forecast: undefined, stepMicros: 38.4567, batchSize: 17, loss: undefined, learnEvent: undefined,
      error: undefined, rmse: undefined, anomaly: 0.5, ...overrides,
    } as ScoredFrame);
    const cases = [
      frame({}),
      frame({ error: 0.093, rmse: 0.151, anomaly: 0.62, forecast: [Float32Array.of(1, 2, 3), Float32Array.of(NaN, Infinity, -1)] }),
      frame({ learnEvent: 'trained', loss: 1.2345678901234567, batchSize: 1 }),
      frame({ learnEvent: 'refused', error: NaN }),
      frame({ entry: entry('chat', tokens), actual: 2, predicted: Float32Array.of(0.1, 0.7, -2, 0.3) }),
    ];
    for (const c of cases) expect(predictionJson(c)).toBe(JSON.stringify(predictionMessage(c)));
  });
});
