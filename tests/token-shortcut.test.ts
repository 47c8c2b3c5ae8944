// The token table (assembly/token-table.ts, used by steps and by training): for token models whose embedding width is a multiple of 8,
// layer 0 adds a row of P = E·W_ihᵀ instead of multiplying its input by W_ih, and sums gate gradients per
// token. It must give the plain products' loss and gradients (to float32 rounding), for every cell it serves.

import { describe, expect, it } from 'vitest';
import { createModel, type ModelSpec } from '../src/index.js';
import { diagnosticWasm, type DiagnosticExports } from '../src/kernel/diagnostics.js';
import { seededRandom } from '../src/model/init.js';
import { linear, recurrentTop } from './helpers/reference.js';

/** A model on the diagnostics build, whose debugTokenShortcut turns the table off and on. */
async function diagnosticModel(spec: ModelSpec) {
  const model = await createModel(spec, { wasm: await diagnosticWasm() });
  return { model, exports: model.kernel.exports as DiagnosticExports };
}

describe('the token-table shortcut in training', () => {
  it.each(['lstm', 'gru', 'rnn'] as const)('%s: same loss and gradients as the plain [x | h] products, and it is the path taken', async (cell) => {
    const { model, exports } = await diagnosticModel({ cell, vocabSize: 11, embedSize: 16, hiddenSize: 13, layers: 2, seed: 3 });
    const random = seededRandom(9);
    const T = 9;
    const inputs = Array.from({ length: T }, () => Math.floor(random() * 11));
    const targets = Array.from({ length: T }, () => Math.floor(random() * 11));
    exports.debugTokenShortcut(1);
    const on = model.backward(inputs, targets, { loss: 'ce' });
    exports.debugTokenShortcut(0);
    const off = model.backward(inputs, targets, { loss: 'ce' });
    exports.debugTokenShortcut(1);
    expect(on.loss).toBeCloseTo(off.loss, 6);
    let differing = 0;
    for (const [name, plain] of Object.entries(off.gradients)) {
      const fast = on.gradients[name];
      expect(fast.length, name).toBe(plain.length);
      for (let i = 0; i < plain.length; i++) {
        expect(Math.abs(fast[i] - plain[i]), `${name}[${i}]: ${fast[i]} vs ${plain[i]}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(plain[i]));
        if (fast[i] !== plain[i]) differing++;
      }
    }
    // summing in another order changes some last bits: proof that the two runs took different paths
    expect(differing).toBeGreaterThan(0);
  });
});

describe('the token table in steps', () => {
  it.each(['lstm', 'gru', 'rnn'] as const)('%s: matches a float64 forward and the plain products, batched equal to single bit for bit', async (cell) => {
    const { model, exports } = await diagnosticModel({ cell, vocabSize: 11, embedSize: 16, hiddenSize: 13, layers: 2, seed: 4 });
    const random = seededRandom(5);
    const tokens = Array.from({ length: 12 }, () => Math.floor(random() * 11));
    const run = (on: number) => {
      exports.debugTokenShortcut(on);
      const stream = model.openStream();
      const outputs = tokens.map((token) => stream.step(token));
      stream.close();
      return outputs;
    };
    const fast = run(1), plain = run(0);
    exports.debugTokenShortcut(1);
    const embed = model.getParameter('embed.weight');
    const tops = recurrentTop(model, tokens.map((x) => Array.from(embed.slice(x * 16, (x + 1) * 16))));
    const reference = tops.map((h) => linear(model.getParameter('head.weight'), model.getParameter('head.bias'), h, model.outputSize));
    let differing = 0;
    fast.forEach((y, t) => {
      for (let i = 0; i < y.length; i++) {
        expect(Math.abs(y[i] - reference[t][i]), `step ${t} output ${i}`).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(y[i] - plain[t][i]), `step ${t} output ${i} vs the plain product`).toBeLessThanOrEqual(1e-5);
        if (y[i] !== plain[t][i]) differing++;
      }
    });
    // RNN, LSTM: W_hh h and P[token] are summed apart, so some last bits differ (the two runs took different paths).
    // GRU: its input side was already a product of its own, in the order the table uses, so the outputs are identical.
    if (cell === 'gru') expect(differing).toBe(0);
    else expect(differing).toBeGreaterThan(0);
    // three streams stepped together give each one's single-stream outputs exactly
    const streams = [0, 1, 2].map(() => model.openStream());
    const batched = tokens.map((_, t) => model.stepBatch(streams, [tokens[t], tokens[(t + 3) % tokens.length], tokens[(t + 7) % tokens.length]]));
    for (const [k, shift] of [0, 3, 7].entries()) {
      const single = model.openStream();
      tokens.forEach((_, t) => expect(Array.from(batched[t][k])).toEqual(Array.from(single.step(tokens[(t + shift) % tokens.length]))));
    }
  });
});
