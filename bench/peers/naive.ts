// The plain TypeScript baseline (bench/naive-lstm.ts): Float32Array nested
// loops in PyTorch layout, what a user writes in an hour. W2 loops over the
// streams; W3 loops over the frames.

import { NaiveLstm, NaiveLstmBatch } from '../naive-lstm.js';
import type { BenchModel, Frames, Peer, SequenceRunner, Stepper } from './types.js';

export function naivePeer(): Peer {
  return {
    id: 'naive',
    library: 'plain TypeScript',
    version: 'bench/naive-lstm.ts',
    backend: 'Float32Array loops, JS engine',
    async: false,
    async init() {},

    async streams(m: BenchModel, batch: number): Promise<Stepper> {
      const net = new NaiveLstmBatch(m.weights, batch);
      const single = net.streams[0];
      return {
        carriesState: true,
        note: batch === 1 ? '`NaiveLstm.step(x)`' : '`NaiveLstmBatch.step(frames)` (a loop over the streams)',
        step: batch === 1
          ? (frames: Frames) => single.step(frames.rows[0])[0]
          : (frames: Frames) => net.step(frames.rows)[0][0],
        last: () => {
          const flat = new Float32Array(batch * m.outputSize);
          net.streams.forEach((s, b) => flat.set(s.y, b * m.outputSize));
          return flat;
        },
        reset: () => {
          for (const s of net.streams) s.setState();
        },
        dispose: () => {},
      };
    },

    async sequence(m: BenchModel, length: number): Promise<SequenceRunner> {
      const net = new NaiveLstm(m.weights);
      const outputs = new Float32Array(length * m.outputSize);
      return {
        note: '`setState()`, then `step(x)` for each of the T frames',
        run: (sequence: Frames) => {
          net.setState();
          const rows = sequence.rows;
          for (let t = 0; t < rows.length; t++) outputs.set(net.step(rows[t]), t * m.outputSize);
          return outputs[0];
        },
        last: () => outputs.slice(),
        dispose: () => {},
      };
    },
  };
}
