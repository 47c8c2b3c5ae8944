// The five 10,000-step digest streams: the demo data (demo/machine_temperature_system_failure.csv, z-scored) stepped
// through LSTM, GRU, token-RNN, hybrid and transformer models, several streams per batch, with learning on: every
// few steps each stream's last window trains the model (trainStep: forward, BPTT, clipping, Adam or SGD), and the
// streams go on with the updated weights. Every output row, then the final states, weights and moments are hashed.
// See tests/helpers/kernel-digests.ts.

import { readFileSync } from 'node:fs';
import { ADAM, CELL, LOSS_CE, LOSS_MSE, SGD, hashOptimizer, hashSlots, seedParams, type Abi, type AttentionShape, type Digest, type DigestCase } from './kernel-digests.js';

/** The demo stream's readings, z-scored in f64. */
function demoValues(): number[] {
  const lines = readFileSync(new URL('../../demo/machine_temperature_system_failure.csv', import.meta.url), 'utf8').trim().split('\n').slice(1);
  const values = lines.map((line) => Number(line.split(',')[1]));
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
  return values.map((v) => (v - mean) / std);
}

interface Stream {
  configure: [string, ...number[]];
  layers: number;
  hidden: number;
  /** Token models read the value quantized into this many bins. */
  vocab: number;
  attention?: AttentionShape & { keys: number };
  streams: number;
  /** Train every `every` steps on each stream's last T steps. */
  every: number;
  T: number;
  optimizer: number[];
  seed: number;
}

const STEPS = 10_000;

const STREAMS: Record<string, Stream> = {
  lstm: { configure: ['configure', CELL.lstm, 1, 1, 0, 32, 1, 4, 4], layers: 1, hidden: 32, vocab: 0, streams: 4, every: 20, T: 20, optimizer: [ADAM, 0.005, 0.9, 0.999, 1e-8, 0, 1, 0], seed: 31 },
  gru: { configure: ['configure', CELL.gru, 2, 1, 0, 24, 1, 3, 3], layers: 2, hidden: 24, vocab: 0, streams: 3, every: 25, T: 16, optimizer: [SGD, 0.02, 0.9, 0.999, 1e-8, 0.9, 1, 0], seed: 32 },
  'rnn-tokens': { configure: ['configure', CELL.rnn, 2, 8, 16, 16, 16, 4, 4], layers: 2, hidden: 16, vocab: 16, streams: 4, every: 25, T: 12, optimizer: [ADAM, 0.01, 0.9, 0.999, 1e-8, 0, 2, 0.5], seed: 33 },
  hybrid: {
    configure: ['configureHybrid', CELL.lstm, 1, 1, 0, 16, 2, 32, 1, 16, 2, 1, 2, 2],
    layers: 1, hidden: 16, vocab: 0, attention: { blocks: 1, heads: 2, keys: 18 }, streams: 2, every: 50, T: 16, optimizer: [ADAM, 0.003, 0.9, 0.999, 1e-8, 0, 1, 0], seed: 34,
  },
  transformer: {
    configure: ['configureTransformer', 1, 0, 16, 4, 32, 2, 24, 2, 1, 2, 2],
    layers: 0, hidden: 0, vocab: 0, attention: { blocks: 2, heads: 4, keys: 26 }, streams: 2, every: 100, T: 24, optimizer: [ADAM, 0.002, 0.9, 0.999, 1e-8, 0, 1, 0], seed: 35,
  },
};

/** Bin of a z-scored value among `vocab` bins over [−3, 3]. */
function token(value: number, vocab: number): number {
  return Math.min(vocab - 1, Math.max(0, Math.floor((value + 3) / 6 * vocab)));
}

function runStream(s: Stream, values: number[], abi: Abi, digest: Digest): void {
  const [fn, ...args] = s.configure;
  abi.ok(fn, ...args);
  seedParams(abi, s.seed, 0.3);
  abi.ok('trainConfigure', s.T, s.streams);
  abi.ok('optimizerConfigure', ...s.optimizer);
  const B = s.streams, O = abi.call('getOutputSize'), N = values.length;
  const slots = Array.from({ length: B }, () => abi.ok('slotOpen'));
  const io = { slots: abi.call('getIoSlotsPtr'), tokens: abi.call('getIoTokensPtr'), input: abi.call('getIoInputPtr'), output: abi.call('getIoOutputPtr') };
  abi.writeI32(io.slots, slots);
  const at = (b: number, step: number) => values[(step + 4999 * b) % N];
  const train = {
    input: abi.call('trainInputPtr'), tokens: abi.call('trainTokensPtr'), target: abi.call('trainTargetPtr'),
    targetTokens: abi.call('trainTargetTokensPtr'), mask: abi.call('trainMaskPtr'),
  };
  abi.write(train.mask, new Array(s.T * B).fill(1));
  const loss = s.vocab > 0 ? LOSS_CE : LOSS_MSE;
  for (let step = 0; step < STEPS; step++) {
    for (let b = 0; b < B; b++) {
      if (s.vocab > 0) abi.writeI32(io.tokens + 4 * b, [token(at(b, step), s.vocab)]);
      else abi.write(io.input + 4 * b, [at(b, step)]);
    }
    digest.numbers(abi.call('stepBatch', B));
    digest.words(abi, io.output, B * O);
    if ((step + 1) % s.every !== 0 || step + 1 < s.T + 1) continue;
    // each stream's last T steps, predicting the next value (or its bin)
    for (let t = 0; t < s.T; t++) {
      for (let b = 0; b < B; b++) {
        const n = t * B + b, from = step - s.T + t, x = at(b, from), next = at(b, from + 1);
        if (s.vocab > 0) {
          abi.writeI32(train.tokens + 4 * n, [token(x, s.vocab)]);
          abi.writeI32(train.targetTokens + 4 * n, [token(next, s.vocab)]);
        } else {
          abi.write(train.input + 4 * n, [x]);
          abi.write(train.target + 4 * n, [next]);
        }
      }
    }
    digest.numbers(abi.call('trainStep', s.T, B, loss), abi.call('trainLoss'), abi.call('trainTotalNorm'));
  }
  hashSlots(abi, digest, slots, s.attention, s.attention?.keys ?? 0);
  hashOptimizer(abi, digest);
}

let values: number[] | undefined;

export const STREAM_CASES: DigestCase[] = Object.entries(STREAMS).map(([name, s]) => ({
  name: `stream/${name}-10000`,
  build: 'production',
  run: (abi, digest) => runStream(s, (values ??= demoValues()), abi, digest),
}));
