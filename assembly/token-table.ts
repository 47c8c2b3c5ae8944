// The token table: for token models whose embedding width E is a multiple of 8, layer 0's input is a row of the
// embedding, so W_ih x + b_ih is a row of P = E·W_ihᵀ + b_ih, f32 (V, G·H) (state.ts Weights.tokenTable), rebuilt
// with the panels. A step (and training's forward) adds P[token] to W_hh h + b_hh (GRU: P[token] is its whole input
// side) instead of multiplying [x | h] by [W_ih | W_hh]; training's backward sums the gate gradients per token
// (train/bptt.ts). For a char model (V = 65, E = 64, H = 256, T·B = 2048) that is about a fifth of a step's
// arithmetic not done.

import { CELL_GRU } from "./codes";
import { Shape, Weights, layer } from "./state";
import { addTo, affinePacked, padTo4 } from "./simd";

/** Whether layer 0 takes its input through the token table. */
// @ts-ignore: decorator
@inline export function tokenTableFits(): bool {
  return Shape.vocabSize > 0 && Shape.layers > 0 && Shape.inputSize % 8 == 0;
}

/** Whether the step and training use it (always where it fits, unless the diagnostics build turned it off). */
// @ts-ignore: decorator
@inline export function useTokenTable(): bool {
  return Weights.tokenTableOn && Weights.tokenTable != 0;
}

/**
 * P[v, :] = b_ih + W_ih E[v, :] for layer 0, into the token table: the batched product over the V rows of E, reading
 * the W_ih columns of layer 0's panel ([W_ih | W_hh] for RNN and LSTM, whose tiles are padTo4(E + H) · 32 bytes
 * apart; GRU's own W_ih panel). A GRU's row is then what its plain input-side product gives, bit for bit.
 */
export function buildTokenTable(): void {
  const GH = Shape.gates * Shape.hiddenSize;
  const first = layer(0);
  const tileStride = Shape.cell == CELL_GRU ? 0 : padTo4(Shape.inputSize + Shape.hiddenSize) << 5;
  affinePacked(Weights.tokenTable, Shape.vocabSize, GH, Weights.embed, Shape.inputSize, first.panel, first.biasIh, 0, GH, tileStride);
}

/**
 * Layer 0's gate pre-activations of a token model through the token table:
 * pre[b] = P[tokens[b]] + W_hh h[b] + b_hh (GRU: pre[b] = P[tokens[b]], its
 * hidden side being the caller's).
 *   pre (B, G·H) written   hRows (B, Hp) zero padded   tokens i32 (B)
 */
export function tokenTableGates(pre: usize, B: i32, hRows: usize, tokens: usize): void {
  const E = Shape.inputSize, H = Shape.hiddenSize, GH = Shape.gates * H, Hp = padTo4(H);
  const gru = Shape.cell == CELL_GRU;
  if (!gru) {
    // W_hh h + b_hh from the hidden columns of the [W_ih | W_hh] panel: its tiles are padTo4(E + H) · 32 bytes apart
    const first = layer(0);
    affinePacked(pre, B, GH, hRows, Hp, first.panel + (<usize>E << 5), first.biasHh, 0, GH, padTo4(E + H) << 5);
  }
  for (let b = 0; b < B; b++) {
    const row = pre + (<usize>(b * GH) << 2);
    const tableRow = Weights.tokenTable + (<usize>(load<i32>(tokens + (<usize>b << 2)) * GH) << 2);
    if (gru) memory.copy(row, tableRow, <usize>GH << 2);
    else addTo(row, tableRow, GH);
  }
}
