// Training's forward and backpropagation through time over T steps of B windows at once (time-major rows
// n = t·B + b), layer by layer: forward keeps each layer's trace (state.ts LayerTrace) and the head's outputs;
// backward runs from the loss gradient (Train.dOutput) down through the head (or the attention blocks,
// train/attention.ts), then each layer from the top, each step from the last, with each cell's backward beside its
// forward in cells/. Token-table models (token-table.ts) take the shortcut in layer 0 both ways.

import { CELL_GRU, CELL_LSTM, CELL_RNN_RELU, KIND_RECURRENT } from "../codes";
import { gruBackward, gruPointwise } from "../cells/gru";
import { lstmBackward, lstmPointwise } from "../cells/lstm";
import { rnnBackward, rnnPointwise } from "../cells/rnn";
import { zeroPad } from "../rows";
import { addTo, affinePacked, padTo4 } from "../simd";
import { Shape, Train, Weights, gradOf, layer, layerTrace, outputWidth, rowWidth } from "../state";
import { tokenTableGates, useTokenTable } from "../token-table";
import { attentionBackward, attentionForward } from "./attention";
import { accumulateColumnSums, accumulateOuter, accumulateOuterSplit } from "./gradients";

/** Steps all B windows through T positions, storing what backward needs; writes outputs and hN, cN. */
export function forward(T: i32, B: i32): void {
  const H = Shape.hiddenSize, Hp = padTo4(H), GH = Shape.gates * H;
  const hBytes = <usize>H << 2, hpBytes = <usize>Hp << 2;
  const gru = Shape.cell == CELL_GRU, lstm = Shape.cell == CELL_LSTM, relu = Shape.cell == CELL_RNN_RELU;
  const X = Shape.inputSize;
  const shortcut = useTokenTable(); // P is current: commitParams rebuilds it with the panels the host commits before every pass
  for (let l = 0; l < Shape.layers; l++) {
    const trace = layerTrace(l);
    for (let b = 0; b < B; b++) {
      const h = trace.hs + <usize>b * hpBytes;
      memory.copy(h, Train.h0 + (<usize>((l * B + b) * H) << 2), hBytes);
      zeroPad(h, H, Hp);
      if (lstm) memory.copy(trace.cs + <usize>b * hBytes, Train.c0 + (<usize>((l * B + b) * H) << 2), hBytes);
    }
  }
  for (let t = 0; t < T; t++) {
    for (let l = 0; l < Shape.layers; l++) {
      const cell = layer(l), trace = layerTrace(l);
      const inWidth = l == 0 ? X : H;
      const inBytes = <usize>inWidth << 2;
      const width = rowWidth(l);
      const rows = trace.rows + (<usize>(t * B * width) << 2);
      const hPrev = trace.hs + (<usize>(t * B * Hp) << 2), hNow = trace.hs + (<usize>((t + 1) * B * Hp) << 2);
      const tableRow = l == 0 && shortcut; // layer 0 reads P[token] and h_prev, not [x | h] rows
      if (!tableRow) for (let b = 0; b < B; b++) {
        const row = rows + (<usize>(b * width) << 2);
        let input: usize;
        if (l > 0) input = layerTrace(l - 1).hs + (<usize>(((t + 1) * B + b) * Hp) << 2);
        else if (Shape.vocabSize > 0) input = Weights.embed + (<usize>(load<i32>(Train.tokens + (<usize>(t * B + b) << 2)) * X) << 2);
        else input = Train.input + (<usize>((t * B + b) * X) << 2);
        memory.copy(row, input, inBytes);
        if (gru) {
          zeroPad(row, inWidth, width);
        } else {
          memory.copy(row + inBytes, hPrev + <usize>b * hpBytes, hBytes);
          zeroPad(row, inWidth + H, width);
        }
      }
      const pre = trace.pre + (<usize>(t * B * GH) << 2);
      if (gru) {
        if (tableRow) {
          tokenTableGates(pre, B, hPrev, Train.tokens + (<usize>(t * B) << 2)); // P[token]: no input-side product
        } else {
          affinePacked(pre, B, GH, rows, width, cell.panel, cell.biasIh, 0, GH);
        }
        const preH = trace.preH + (<usize>(t * B * GH) << 2);
        // GRU's hidden rows are h_prev itself: hs rows are already zero padded
        affinePacked(preH, B, GH, hPrev, Hp, cell.hiddenPanel, cell.biasHh, 0, GH);
        for (let b = 0; b < B; b++) {
          const h = hNow + <usize>b * hpBytes;
          memory.copy(h, hPrev + <usize>b * hpBytes, hpBytes);
          gruPointwise(pre + (<usize>(b * GH) << 2), preH + (<usize>(b * GH) << 2), h, H);
        }
      } else {
        if (tableRow) {
          tokenTableGates(pre, B, hPrev, Train.tokens + (<usize>(t * B) << 2)); // P[token] + W_hh h + b_hh
        } else {
          affinePacked(pre, B, GH, rows, width, cell.panel, cell.biasIh, cell.biasHh, GH);
        }
        const cs = trace.cs;
        for (let b = 0; b < B; b++) {
          const h = hNow + <usize>b * hpBytes;
          const g = pre + (<usize>(b * GH) << 2);
          if (lstm) {
            const c = cs + (<usize>(((t + 1) * B + b) * H) << 2);
            memory.copy(c, cs + (<usize>((t * B + b) * H) << 2), hBytes);
            memory.copy(h, hPrev + <usize>b * hpBytes, hpBytes);
            lstmPointwise(g, h, c, H);
          } else {
            rnnPointwise(g, h, H, relu);
            zeroPad(h, H, Hp);
          }
        }
      }
    }
  }
  if (Shape.kind != KIND_RECURRENT) {
    attentionForward(T, B);
  } else {
    // the head over every (t, b) at once
    const top = layerTrace(Shape.layers - 1).hs + (<usize>(B * Hp) << 2);
    const O = outputWidth();
    if (Shape.headSize > 0) {
      affinePacked(Train.output, T * B, O, top, Hp, Weights.headPanel, Weights.headBias, 0, O);
    } else {
      for (let n = 0; n < T * B; n++) memory.copy(Train.output + (<usize>(n * O) << 2), top + (<usize>(n * Hp) << 2), hBytes);
    }
  }
  for (let l = 0; l < Shape.layers; l++) {
    const trace = layerTrace(l);
    for (let b = 0; b < B; b++) {
      const at = <usize>((l * B + b) * H) << 2;
      memory.copy(Train.hN + at, trace.hs + (<usize>((T * B + b) * Hp) << 2), hBytes);
      if (lstm) memory.copy(Train.cN + at, trace.cs + (<usize>((T * B + b) * H) << 2), hBytes);
    }
  }
}

/**
 * Backpropagation through time. Gradients are added to the gradient block (so
 * truncated-BPTT chunks can accumulate); dH0, dC0 and dX are overwritten.
 */
export function backward(T: i32, B: i32): void {
  const H = Shape.hiddenSize, Hp = padTo4(H), GH = Shape.gates * H, GHp = padTo4(GH);
  const O = outputWidth(), Op = padTo4(O);
  const TB = T * B, X = Shape.inputSize, V = Shape.vocabSize;
  const gru = Shape.cell == CELL_GRU, lstm = Shape.cell == CELL_LSTM, relu = Shape.cell == CELL_RNN_RELU;

  if (Shape.kind != KIND_RECURRENT) {
    attentionBackward(T, B); // fills Train.dTop for a hybrid's recurrent stack
  } else if (Shape.headSize > 0) {
    // head: dTop = dOutput · W_head; dW_head += dOutputᵀ · top; db_head += Σ dOutput
    const top = layerTrace(Shape.layers - 1).hs + (<usize>(B * Hp) << 2);
    affinePacked(Train.dTop, TB, Hp, Train.dOutput, Op, Weights.headPanelT, Train.zeros, 0, Hp);
    accumulateOuter(gradOf(Weights.headWeight), O, H, Train.dOutput, Op, top, Hp, 0, TB);
    accumulateColumnSums(gradOf(Weights.headBias), O, Train.dOutput, Op, TB);
  } else {
    for (let n = 0; n < TB; n++) {
      memory.copy(Train.dTop + (<usize>(n * Hp) << 2), Train.dOutput + (<usize>(n * Op) << 2), <usize>H << 2);
      zeroPad(Train.dTop + (<usize>(n * Hp) << 2), H, Hp);
    }
  }

  const shortcut = useTokenTable();
  for (let l = Shape.layers - 1; l >= 0; l--) {
    const cell = layer(l), trace = layerTrace(l);
    const inWidth = l == 0 ? X : H;
    const width = rowWidth(l);
    const tableRow = l == 0 && shortcut;
    const pre = trace.pre, preH = trace.preH, hs = trace.hs, cs = trace.cs;
    const panelA = cell.panelT;
    const panelB = cell.hiddenPanelT;
    memory.fill(Train.dH, 0, <usize>(B * Hp) << 2);
    memory.fill(Train.dC, 0, <usize>(B * H) << 2);
    for (let t = T - 1; t >= 0; t--) {
      const dPre = Train.dPre + (<usize>(t * B * GHp) << 2);
      for (let b = 0; b < B; b++) {
        const n = t * B + b;
        const dh = Train.dH + (<usize>(b * Hp) << 2);
        // dL/dh_t: from above (head or the layer above) plus from step t+1
        for (let j = 0; j < H; j++) {
          const at = dh + (<usize>j << 2);
          store<f32>(at, load<f32>(at) + load<f32>(Train.dTop + (<usize>(n * Hp + j) << 2)));
        }
        const z = pre + (<usize>(n * GH) << 2);
        const dz = dPre + (<usize>(b * GHp) << 2);
        const hPrev = hs + (<usize>(n * Hp) << 2);
        if (lstm) {
          lstmBackward(z, cs + (<usize>(n * H) << 2), cs + (<usize>((n + B) * H) << 2), dh, Train.dC + (<usize>(b * H) << 2), dz, H);
        } else if (gru) {
          gruBackward(z, preH + (<usize>(n * GH) << 2), hPrev, dh, dz, Train.dPreH + (<usize>((t * B + b) * GHp) << 2), H);
        } else {
          rnnBackward(hs + (<usize>((n + B) * Hp) << 2), dh, dz, H, relu);
        }
        zeroPad(dz, GH, GHp);
      }
      // d[x | h_prev] = dz · W for every window at once (the token shortcut: dh_prev = dz · W_hh alone,
      // from the transposed panel's rows past the E input columns, straight into Train.dH)
      const dIn = Train.dIn + (<usize>(t * B * width) << 2);
      // (GRU: dx only feeds dE, which the shortcut forms per token; dh_prev comes from the hidden side below)
      if (tableRow) {
        if (!gru) affinePacked(Train.dH, B, H, dPre, GHp, panelA + <usize>(X >> 3) * (<usize>GHp << 5), Train.zeros, 0, Hp);
      } else {
        affinePacked(dIn, B, gru ? inWidth : inWidth + H, dPre, GHp, panelA, Train.zeros, 0, width);
      }
      if (gru) {
        // dh_prev = dh ⊙ z (kept in Train.dH by gruBackward) + dGh · W_hh
        const dHidden = Train.dTop; // reuse: rows of step t of dTop were consumed above
        affinePacked(dHidden + (<usize>(t * B * Hp) << 2), B, H, Train.dPreH + (<usize>(t * B * GHp) << 2), GHp, panelB, Train.zeros, 0, Hp);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) {
            const at = Train.dH + (<usize>(b * Hp + j) << 2);
            store<f32>(at, load<f32>(at) + load<f32>(dHidden + (<usize>((t * B + b) * Hp + j) << 2)));
          }
        }
      } else if (!tableRow) {
        for (let b = 0; b < B; b++) {
          memory.copy(Train.dH + (<usize>(b * Hp) << 2), dIn + (<usize>(b * width + inWidth) << 2), <usize>H << 2);
        }
      }
    }
    // gradients w.r.t. the initial state
    for (let b = 0; b < B; b++) {
      const at = <usize>((l * B + b) * H) << 2;
      memory.copy(Train.dH0 + at, Train.dH + (<usize>(b * Hp) << 2), <usize>H << 2);
      if (lstm) memory.copy(Train.dC0 + at, Train.dC + (<usize>(b * H) << 2), <usize>H << 2);
    }
    // weights and biases, over every (t, b) at once
    const rows = trace.rows;
    if (tableRow) {
      // the gate gradients summed per token: dW_ih = Σ_v agg_v ⊗ E_v over V rows instead of T·B
      memory.fill(Train.tokenAgg, 0, <usize>(V * GHp) << 2);
      for (let n = 0; n < TB; n++) {
        const token = load<i32>(Train.tokens + (<usize>n << 2));
        addTo(Train.tokenAgg + (<usize>(token * GHp) << 2), Train.dPre + (<usize>(n * GHp) << 2), GH);
      }
      accumulateOuter(gradOf(cell.weightIh), GH, X, Train.tokenAgg, GHp, Weights.embed, X, 0, V);
    }
    if (gru) {
      if (!tableRow) accumulateOuter(gradOf(cell.weightIh), GH, inWidth, Train.dPre, GHp, rows, width, 0, TB);
      accumulateOuter(gradOf(cell.weightHh), GH, H, Train.dPreH, GHp, hs, Hp, 0, TB);
      accumulateColumnSums(gradOf(cell.biasIh), GH, Train.dPre, GHp, TB);
      accumulateColumnSums(gradOf(cell.biasHh), GH, Train.dPreH, GHp, TB);
    } else if (tableRow) {
      accumulateOuter(gradOf(cell.weightHh), GH, H, Train.dPre, GHp, hs, Hp, 0, TB);
      accumulateColumnSums(gradOf(cell.biasIh), GH, Train.dPre, GHp, TB);
      accumulateColumnSums(gradOf(cell.biasHh), GH, Train.dPre, GHp, TB);
    } else {
      accumulateOuterSplit(gradOf(cell.weightIh), inWidth, gradOf(cell.weightHh), H, GH, Train.dPre, GHp, rows, width, TB);
      accumulateColumnSums(gradOf(cell.biasIh), GH, Train.dPre, GHp, TB);
      accumulateColumnSums(gradOf(cell.biasHh), GH, Train.dPre, GHp, TB);
    }
    // what flows into the layer below (or to the input)
    if (l > 0) {
      for (let n = 0; n < TB; n++) {
        memory.copy(Train.dTop + (<usize>(n * Hp) << 2), Train.dIn + (<usize>(n * width) << 2), <usize>H << 2);
        zeroPad(Train.dTop + (<usize>(n * Hp) << 2), H, Hp);
      }
    } else if (tableRow) {
      // dE_v = W_ihᵀ agg_v: the transposed panel's first E rows
      affinePacked(Train.tokenGrad, V, X, Train.tokenAgg, GHp, panelA, Train.zeros, 0, X);
      addTo(gradOf(Weights.embed), Train.tokenGrad, V * X);
    } else if (V > 0) {
      const embedGrad = gradOf(Weights.embed);
      for (let n = 0; n < TB; n++) {
        const token = load<i32>(Train.tokens + (<usize>n << 2));
        addTo(embedGrad + (<usize>(token * X) << 2), Train.dIn + (<usize>(n * width) << 2), X);
      }
    } else {
      for (let n = 0; n < TB; n++) memory.copy(Train.dX + (<usize>(n * X) << 2), Train.dIn + (<usize>(n * width) << 2), <usize>X << 2);
    }
  }
}
