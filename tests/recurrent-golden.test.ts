// Every recurrent case in shared/golden, stepped one position at a time through
// the public API, then again through stepBatch with streams at different positions.

import { describe, expect, it } from 'vitest';
import { loadModel, type Model, type Stream } from '../src/index.js';
import { expectClose, goldenSafetensors, loadGolden, row, type GoldenCase } from './helpers/golden.js';

/** Case name → the output tensor holding the per-step model output. */
const CASES: Record<string, string> = {
  rnn_tanh_forward: 'h_seq',
  lstm_forward: 'h_seq',
  lstm_forward_2layer: 'h_seq',
  gru_forward: 'h_seq',
  gru_forward_2layer: 'h_seq',
  lstm_dense_forward: 'y',
  token_lstm_forward: 'logits',
  // the forward halves of the gradient cases are more references for the same step
  rnn_dense_mse_grad: 'y',
  gru_dense_mse_grad: 'y',
  lstm_dense_mse_grad: 'y',
  token_lstm_ce_grad: 'logits',
};

function inputAt(golden: GoldenCase, t: number): number[] | number {
  return golden.inputs.tokens ? golden.inputs.tokens.data[t] : row(golden.inputs.x, t);
}

function steps(golden: GoldenCase): number {
  return golden.shapes.T;
}

function open(model: Model, golden: GoldenCase): Stream {
  return model.openStream({ h0: golden.inputs.h0?.data, c0: golden.inputs.c0?.data });
}

function expectFinalState(stream: Stream, golden: GoldenCase, name: string): void {
  const state = stream.state();
  expectClose(state.h, golden.outputs.h_n.data, golden.tolerance, `${name} h_n`);
  if (golden.outputs.c_n) expectClose(state.c!, golden.outputs.c_n.data, golden.tolerance, `${name} c_n`);
}

describe.each(Object.entries(CASES))('golden %s', (name, outputName) => {
  const golden = loadGolden(name);

  it('matches PyTorch at every step and in the final state, stepped one position at a time', async () => {
    const model = await loadModel(goldenSafetensors(golden));
    const stream = open(model, golden);
    for (let t = 0; t < steps(golden); t++) {
      const out = stream.step(inputAt(golden, t));
      expectClose(out, row(golden.outputs[outputName], t), golden.tolerance, `${name} ${outputName}[${t}]`);
      if (golden.outputs.layer0_h_seq) {
        const H = golden.shapes.H;
        expectClose(stream.state().h.subarray(0, H), row(golden.outputs.layer0_h_seq, t), golden.tolerance, `${name} layer0_h_seq[${t}]`);
      }
    }
    expectFinalState(stream, golden, name);
  });

  it('gives identical results through stepBatch with streams at different positions', async () => {
    const model = await loadModel(goldenSafetensors(golden));
    const single = open(model, golden);
    const reference = Array.from({ length: steps(golden) }, (_, t) => single.step(inputAt(golden, t)));
    // stream k joins k steps late, so one batch holds streams at up to four positions
    const lanes = 4;
    const streams = Array.from({ length: lanes }, () => open(model, golden));
    const position = new Array(lanes).fill(0);
    for (let tick = 0; tick < steps(golden) + lanes; tick++) {
      const active = streams.filter((_, k) => tick >= k && position[k] < steps(golden));
      if (active.length === 0) continue;
      const outs = model.stepBatch(active, active.map((s) => inputAt(golden, position[streams.indexOf(s)])));
      active.forEach((s, b) => {
        const k = streams.indexOf(s);
        expect(Array.from(outs[b]), `${name} lane ${k} position ${position[k]}`).toEqual(Array.from(reference[position[k]]));
        position[k]++;
      });
    }
    for (const s of streams) expect(Array.from(s.state().h)).toEqual(Array.from(single.state().h));
    expectFinalState(streams[lanes - 1], golden, name);
  });
});
