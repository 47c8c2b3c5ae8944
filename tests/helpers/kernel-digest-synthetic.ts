// Digest cases with seeded parameters for what the golden sizes do not reach: odd sizes (SIMD tails, lone batch
// rows, a slot table that grows), slot copies, resets and reuse, the token table (embedding widths that are multiples
// of 8; on in production, off through the diagnostics build), hybrids, sinks, far positions, and refusals.
// See tests/helpers/kernel-digests.ts.

import {
  ADAM, CELL, LOSS_CE, LOSS_MSE, SGD, hashOptimizer, hashSlots, hashTraining, seedParams, seeded, stepRounds,
  type Abi, type AttentionShape, type Digest, type DigestCase,
} from './kernel-digests.js';

interface Model {
  /** configure / configureTransformer / configureHybrid and its arguments (batch capacity and initial slots last). */
  configure: [string, ...number[]];
  layers: number;
  hidden: number;
  vocab: number;
  attention?: AttentionShape & { keys: number };
  slots: number;
  train: { T: number; B: number };
  seed: number;
  /** Diagnostics build with the token table turned off (debugTokenShortcut(0)). */
  tableOff?: boolean;
}

/** The ABI's CELL_RNN_RELU (not in CELL, whose entries each get token-table cases below). */
const RNN_RELU = 3;

const open = (abi: Abi, n: number) => Array.from({ length: n }, () => abi.ok('slotOpen'));

/** Seeded frames or tokens for slot i at position p. */
function inputFor(m: Model, X: number): (i: number, p: number) => number[] | number {
  return (i, p) => {
    const next = seeded(m.seed * 7919 + i * 104729 + p);
    return m.vocab > 0 ? Math.floor((next() + 0.5) * m.vocab) % m.vocab : Array.from({ length: X }, () => next() * 4);
  };
}

/** Fills the training buffers with seeded windows (tokens or frames, targets, a mask with gaps, initial state). */
function fillTraining(abi: Abi, m: Model, T: number, B: number): void {
  const X = abi.call('getInputSize'), O = abi.call('getOutputSize'), next = seeded(m.seed + 11, 1);
  for (let n = 0; n < T * B; n++) {
    if (m.vocab > 0) {
      abi.writeI32(abi.call('trainTokensPtr') + 4 * n, [Math.floor((next() + 1) * 1000) % m.vocab]);
      abi.writeI32(abi.call('trainTargetTokensPtr') + 4 * n, [Math.floor((next() + 1) * 1000) % O]);
    } else {
      abi.write(abi.call('trainInputPtr') + 4 * n * X, Array.from({ length: X }, () => next() * 3));
      abi.write(abi.call('trainTargetPtr') + 4 * n * O, Array.from({ length: O }, next));
    }
  }
  abi.write(abi.call('trainMaskPtr'), Array.from({ length: T * B }, (_, n) => (n % 5 === 4 ? 0 : 1)));
  const state = m.layers * B * m.hidden;
  abi.write(abi.call('trainH0Ptr'), Array.from({ length: state }, () => next() * 0.5));
  abi.write(abi.call('trainC0Ptr'), Array.from({ length: state }, () => next() * 0.5));
}

/** Steps, slot operations, more steps, one training pass, then Adam and SGD steps. */
function modelCase(m: Model, abi: Abi, digest: Digest): void {
  const [fn, ...args] = m.configure;
  abi.ok(fn, ...args);
  if (m.tableOff) abi.call('debugTokenShortcut', 0);
  seedParams(abi, m.seed, 0.4);
  const X = abi.call('getInputSize'), input = inputFor(m, X), keys = m.attention?.keys ?? 0;
  const slots = open(abi, m.slots);
  digest.numbers(abi.call('getSlotCapacity'));
  stepRounds(abi, digest, slots, 24, input);
  hashSlots(abi, digest, slots, m.attention, keys);
  // a fork, a reset, a slot closed and opened again, a far position
  abi.ok('slotCopy', slots[0], slots[slots.length - 1]);
  abi.ok('slotReset', slots[1]);
  abi.ok('slotClose', slots[2]);
  slots[2] = abi.ok('slotOpen');
  abi.ok('slotSetPosition', slots[0], 123_456_789);
  stepRounds(abi, digest, slots, 9, input);
  hashSlots(abi, digest, slots, m.attention, keys);
  const { T, B } = m.train, loss = m.vocab > 0 ? LOSS_CE : LOSS_MSE, state = { layers: m.layers, hidden: m.hidden };
  abi.ok('trainConfigure', T, B);
  fillTraining(abi, m, T, B);
  digest.numbers(abi.call('trainForwardBackward', T, B, loss, 0));
  hashTraining(abi, digest, T, B, state);
  abi.ok('optimizerConfigure', ADAM, 0.02, 0.9, 0.99, 1e-7, 0, 0.5, 0.05);
  for (let step = 0; step < 2; step++) {
    digest.numbers(abi.call('trainStep', T, B, loss));
    hashOptimizer(abi, digest);
  }
  abi.ok('optimizerConfigure', SGD, 0.1, 0.9, 0.999, 1e-8, 0.5, 1, 0);
  digest.numbers(abi.call('trainStep', T - 1, B - 1, loss));
  hashOptimizer(abi, digest);
  stepRounds(abi, digest, slots, 5, input);
  hashSlots(abi, digest, slots, m.attention, keys);
}

const RECURRENT: Record<string, Model> = {
  'lstm-odd': { configure: ['configure', CELL.lstm, 2, 5, 0, 37, 3, 5, 2], layers: 2, hidden: 37, vocab: 0, slots: 5, train: { T: 7, B: 3 }, seed: 1 },
  'gru-odd': { configure: ['configure', CELL.gru, 2, 3, 0, 13, 0, 3, 3], layers: 2, hidden: 13, vocab: 0, slots: 3, train: { T: 6, B: 3 }, seed: 2 },
  'rnn-odd': { configure: ['configure', CELL.rnn, 3, 6, 0, 6, 2, 4, 1], layers: 3, hidden: 6, vocab: 0, slots: 4, train: { T: 5, B: 2 }, seed: 3 },
  // CELL_RNN_RELU (nn.RNN nonlinearity "relu"), added with it: odd sizes, and the token table on and off
  'rnn-relu-odd': { configure: ['configure', RNN_RELU, 3, 6, 0, 7, 2, 4, 1], layers: 3, hidden: 7, vocab: 0, slots: 4, train: { T: 5, B: 2 }, seed: 4 },
  'rnn-relu-token-table': { configure: ['configure', RNN_RELU, 2, 16, 11, 13, 11, 3, 3], layers: 2, hidden: 13, vocab: 11, slots: 3, train: { T: 9, B: 2 }, seed: 13 },
  'rnn-relu-token-table-off': { configure: ['configure', RNN_RELU, 2, 16, 11, 13, 11, 3, 3], layers: 2, hidden: 13, vocab: 11, slots: 3, train: { T: 9, B: 2 }, seed: 13, tableOff: true },
};

for (const [cell, code] of Object.entries(CELL)) {
  const model: Model = { configure: ['configure', code, 2, 16, 11, 13, 11, 3, 3], layers: 2, hidden: 13, vocab: 11, slots: 3, train: { T: 9, B: 2 }, seed: 10 + code };
  RECURRENT[`${cell}-token-table`] = model;
  RECURRENT[`${cell}-token-table-off`] = { ...model, tableOff: true };
}

const ATTENTION: Record<string, Model> = {
  'hybrid-lstm': {
    configure: ['configureHybrid', CELL.lstm, 1, 3, 0, 12, 3, 20, 2, 5, 1, 2, 3, 3],
    layers: 1, hidden: 12, vocab: 0, attention: { blocks: 2, heads: 3, keys: 6 }, slots: 3, train: { T: 9, B: 2 }, seed: 20,
  },
  'hybrid-rnn-relu': {
    configure: ['configureHybrid', RNN_RELU, 2, 3, 0, 9, 3, 11, 1, 4, 1, 2, 3, 3],
    layers: 2, hidden: 9, vocab: 0, attention: { blocks: 1, heads: 3, keys: 5 }, slots: 3, train: { T: 7, B: 2 }, seed: 24,
  },
  'hybrid-gru-token': {
    configure: ['configureHybrid', CELL.gru, 2, 8, 9, 8, 2, 8, 1, 4, 0, 9, 3, 3],
    layers: 2, hidden: 8, vocab: 9, attention: { blocks: 1, heads: 2, keys: 4 }, slots: 3, train: { T: 6, B: 2 }, seed: 21,
  },
  'transformer-frames': {
    configure: ['configureTransformer', 3, 0, 12, 3, 10, 2, 6, 2, 0, 3, 3],
    layers: 0, hidden: 0, vocab: 0, attention: { blocks: 2, heads: 3, keys: 8 }, slots: 3, train: { T: 8, B: 2 }, seed: 22,
  },
  'transformer-tokens': {
    configure: ['configureTransformer', 0, 13, 8, 2, 12, 1, 5, 1, 13, 3, 3],
    layers: 0, hidden: 0, vocab: 13, attention: { blocks: 1, heads: 2, keys: 6 }, slots: 3, train: { T: 7, B: 2 }, seed: 23,
  },
};

/** What the kernel refuses, and how: each code, each error index, and nothing moved. */
function refusalsCase(abi: Abi, digest: Digest): void {
  digest.numbers(abi.call('stepBatch', 1), abi.call('slotOpen'), abi.call('trainConfigure', 2, 2));
  digest.numbers(abi.call('configure', 5, 1, 2, 0, 4, 1, 2, 1), abi.call('configureTransformer', 4, 0, 6, 4, 8, 1, 2, 0, 0, 2, 1));
  abi.ok('configure', CELL.lstm, 1, 2, 0, 5, 1, 3, 2);
  digest.numbers(abi.call('configure', CELL.lstm, 1, 2, 0, 5, 1, 3, 2));
  seedParams(abi, 5, 0.3);
  const slots = open(abi, 2), io = abi.call('getIoSlotsPtr'), input = abi.call('getIoInputPtr');
  const attempt = (entries: number[], frames: number[]) => {
    abi.writeI32(io, entries);
    abi.write(input, frames);
    digest.numbers(abi.call('stepBatch', entries.length), abi.call('getErrorIndex'));
  };
  attempt([slots[0], slots[0]], [1, 2, 3, 4]);
  attempt([slots[1], 7], [1, 2, 3, 4]);
  attempt([slots[0], slots[1]], [1, NaN, 3, 4]);
  attempt([slots[0], slots[1]], [1, 2, Infinity, 4]);
  digest.numbers(abi.call('stepBatch', 0), abi.call('stepBatch', 4), abi.call('optimizerStep'));
  attempt([slots[1], slots[0]], [0.5, -1, 2, 0.25]);
  hashSlots(abi, digest, slots);
  digest.numbers(abi.call('slotClose', 9), abi.call('slotSetPosition', slots[0], -1), abi.call('slotSetPosition', slots[0], 0.5));
  digest.numbers(abi.call('trainForwardBackward', 1, 1, LOSS_MSE, 0), abi.call('optimizerConfigure', ADAM, 0.1, 0.9, 0.999, 1e-8, 0, 0, 0));
  abi.ok('trainConfigure', 3, 1);
  digest.numbers(abi.call('trainForwardBackward', 4, 1, LOSS_MSE, 0), abi.call('trainForwardBackward', 3, 1, 7, 0), abi.call('trainStep', 3, 1, LOSS_MSE));
  abi.write(abi.call('trainInputPtr'), [1, 2, NaN, 4, 5, 6]);
  digest.numbers(abi.call('trainForwardBackward', 3, 1, LOSS_MSE, 0));
  digest.numbers(abi.call('optimizerConfigure', 7, 0.1, 0.9, 0.999, 1e-8, 0, 0, 0), abi.call('optimizerConfigure', ADAM, -1, 0.9, 0.999, 1e-8, 0, 0, 0));
  digest.numbers(abi.call('optimizerSetSteps', 3));
  abi.ok('optimizerConfigure', ADAM, 0.1, 0.9, 0.999, 1e-8, 0, 0, 0);
  digest.numbers(abi.call('optimizerSetSteps', -2), abi.call('optimizerSetSteps', 41), abi.call('getOptimizerSteps'));
  digest.numbers(abi.call('getParamPtr', -1), abi.call('getParamPtr', 99), abi.call('getParamLength', 99), abi.call('slotAttentionPtr', slots[0], 0));
}

export const SYNTHETIC_CASES: DigestCase[] = [
  ...Object.entries({ ...RECURRENT, ...ATTENTION }).map(([name, m]): DigestCase => ({
    name: `synthetic/${name}`, build: m.tableOff ? 'diagnostics' : 'production', run: (abi, digest) => modelCase(m, abi, digest),
  })),
  { name: 'synthetic/refusals', build: 'production', run: refusalsCase },
];
