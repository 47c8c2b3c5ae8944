// A model's row in `list` says what a client needs to run it the same way: an rnn's activation, attention's positions.

import { describe, expect, it } from 'vitest';
import { createModel } from '../../src/index.js';
import { listedModel } from '../../src/server/stream-reports.js';

describe('listedModel', () => {
  it('says an rnn cell runs relu or tanh (nn.RNN nonlinearity)', async () => {
    const relu = await createModel({ cell: 'rnn', nonlinearity: 'relu', inputSize: 2, hiddenSize: 3, seed: 1 });
    const tanh = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3, seed: 1 });
    expect(listedModel({ name: 'r', model: relu })).toMatchObject({ cell: 'rnn', nonlinearity: 'relu' });
    expect(listedModel({ name: 't', model: tanh })).toMatchObject({ cell: 'rnn', nonlinearity: 'tanh' });
  });

  it('gives no nonlinearity to lstm and gru cells, whose activations are fixed', async () => {
    const lstm = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    expect(listedModel({ name: 'l', model: lstm })).not.toHaveProperty('nonlinearity');
  });

  it("lists an attention model's positional scheme", async () => {
    const model = await createModel({ kind: 'transformer', inputSize: 2, width: 8, heads: 2, mlpSize: 8, blocks: 1, window: 4, positional: 'sinusoidal', seed: 2 });
    expect(listedModel({ name: 'a', model }).attention).toEqual({ width: 8, heads: 2, blocks: 1, window: 4, sinks: 0, positional: 'sinusoidal' });
  });
});
