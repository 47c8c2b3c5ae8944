// brain.js `recurrent.LSTMTimeStep`, through its public API: the network is
// built from a JSON model (`net.fromJSON(json)`, the documented way to load
// saved weights) holding the shared weights, and run with `net.run(frames)`.
//
// What brain.js can and cannot do here:
// - The weights can be made identical: per gate a [H, X] input matrix, a [H, H]
//   hidden matrix and one bias (b_ih + b_hh); gates input = i, forget = f,
//   cellActivation = g, output = o; head outputConnector [O, H] + output [O].
// - Its LSTM is not PyTorch's beyond the first step: brain.js 1.x keeps no cell
//   state and uses the previous *hidden* state in its place
//   (`retainCell = forgetGate ⊙ previousResult`, dist/recurrent/lstm.js).
//   From zero state the first step is identical (c₀ = h₀ = 0), later ones differ.
// - `run` always starts from zero state: no state is carried from one call to
//   the next, and after the frames it runs one extra step on a zero input
//   (`end()`). So W1 is `net.run([x])` (one step from zero state per call; the
//   outputs match seqcast's first step from zero exactly), W2 has no batched
//   form (skipped), and W3 (`net.run(frames)`, 256 steps) is timed but its
//   outputs are not comparable.

import { createRequire } from 'node:module';
import { installedVersion, Skip, summedBias, type BenchModel, type Frames, type Peer, type SequenceRunner, type Stepper } from './types.js';

interface MatrixJson {
  rows: number;
  columns: number;
  weights: ArrayLike<number>;
}

interface LstmTimeStepJson {
  type: string;
  options: Record<string, unknown>;
  hiddenLayers: Record<string, MatrixJson>[];
  outputConnector: MatrixJson;
  output: MatrixJson;
}

interface LstmTimeStep {
  run(input: ArrayLike<number>[]): Float32Array;
  toJSON(): LstmTimeStepJson;
  fromJSON(json: LstmTimeStepJson): void;
}

interface Brain {
  recurrent: { LSTMTimeStep: new (options: { inputSize: number; hiddenLayers: number[]; outputSize: number }) => LstmTimeStep };
}

const require = createRequire(import.meta.url);

export const BRAIN_MULTI_STEP_REASON = 'brain.js 1.x LSTM keeps no cell state: it uses h(t−1) where an LSTM uses c(t−1) (retainCell = forgetGate ⊙ previousResult), so only the first step from zero state matches';

/** An LSTMTimeStep holding the shared weights. */
export function brainNetwork(m: BenchModel): LstmTimeStep {
  const brain = require('brain.js') as Brain;
  const H = m.hidden, X = m.inputSize, O = m.outputSize, w = m.weights;
  const net = new brain.recurrent.LSTMTimeStep({ inputSize: X, hiddenLayers: [H], outputSize: O });
  const json = net.toJSON(); // brain's own layout and options; the weights are replaced below
  const bias = summedBias(w);
  const rows = (src: Float32Array, gate: number, width: number): MatrixJson =>
    ({ rows: H, columns: width, weights: src.slice(gate * H * width, (gate + 1) * H * width) });
  const gateBias = (gate: number): MatrixJson => ({ rows: H, columns: 1, weights: bias.slice(gate * H, (gate + 1) * H) });
  // PyTorch gate order i, f, g, o
  const gates = { input: 0, forget: 1, cellActivation: 2, output: 3 } as const;
  const layer: Record<string, MatrixJson> = {};
  for (const [name, g] of Object.entries(gates)) {
    layer[`${name}Matrix`] = rows(w.weightIh, g, X);
    layer[`${name}Hidden`] = rows(w.weightHh, g, H);
    layer[`${name}Bias`] = gateBias(g);
  }
  const expected = Object.keys(json.hiddenLayers[0]).sort().join(',');
  if (Object.keys(layer).sort().join(',') !== expected) throw new Skip(`brain.js LSTM layer has matrices ${expected}, not the 12 this adapter fills`);
  json.hiddenLayers = [layer];
  json.outputConnector = { rows: O, columns: H, weights: w.headWeight.slice() };
  json.output = { rows: O, columns: 1, weights: w.headBias.slice() };
  net.fromJSON(json);
  return net;
}

export function brainPeer(): Peer {
  return {
    id: 'brain.js',
    library: 'brain.js',
    version: installedVersion('brain.js'),
    backend: '`recurrent.LSTMTimeStep`, plain JS (CPU)',
    async: false,
    async init() {
      require('brain.js');
    },

    async streams(m: BenchModel, batch: number): Promise<Stepper> {
      if (batch !== 1) throw new Skip('brain.js has no batched stepping (64 separate `run` calls would be W1 × 64)');
      const net = brainNetwork(m);
      let y: Float32Array = new Float32Array(0);
      return {
        carriesState: false,
        note: '`net.run([x])` per step: starts from zero state every call (cannot carry state), plus brain\'s extra `end()` step',
        step: (frames: Frames) => {
          y = net.run([frames.rows[0]]);
          return y[0];
        },
        last: () => y.slice(),
        reset: () => {},
        dispose: () => {},
      };
    },

    async sequence(m: BenchModel, length: number): Promise<SequenceRunner> {
      const net = brainNetwork(m);
      let y: Float32Array = new Float32Array(0);
      return {
        lastOnly: true,
        notComparable: BRAIN_MULTI_STEP_REASON,
        note: `\`net.run(frames)\` over the ${length} frames; returns only the last output`,
        run: (sequence: Frames) => {
          y = net.run(sequence.rows);
          return y[0];
        },
        last: () => y.slice(),
        dispose: () => {},
      };
    },
  };
}
