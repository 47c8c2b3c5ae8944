// Training's token-table shortcut (assembly/train.ts): for token models whose embedding width is a multiple of 8,
// layer 0 adds a row of P = E·W_ihᵀ instead of multiplying its input by W_ih, and sums gate gradients per
// token. It must give the plain products' loss and gradients (to float32 rounding), for every cell it serves.

import { describe, expect, it } from 'vitest';
import { createModel } from '../src/index.js';
import { seededRandom } from '../src/model/init.js';

describe('the token-table shortcut in training', () => {
  it.each(['lstm', 'gru', 'rnn'] as const)('%s: same loss and gradients as the plain [x | h] products, and it is the path taken', async (cell) => {
    const model = await createModel({ cell, vocabSize: 11, embedSize: 16, hiddenSize: 13, layers: 2, seed: 3 });
    const random = seededRandom(9);
    const T = 9;
    const inputs = Array.from({ length: T }, () => Math.floor(random() * 11));
    const targets = Array.from({ length: T }, () => Math.floor(random() * 11));
    const exports = model.kernel.exports;
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
