// The step: `stepBatch(n)` advances n streams (slots) by one position in place, every layer one matrix-matrix
// product over the batch's rows. Nothing allocates; a stream's result does not depend on the batch it is in.
//
//   recurrent    rows [x | h | 0] → gates = rows · [W_ih | W_hh]ᵀ + b → cell (h, c in the slot) → head
//   attention    residual rows (embed or proj_in [+ sinusoidal PE], or a hybrid's top h) → blocks (attention-block.ts) → ln_f → head

import { OK, ERR_BAD_BATCH_SIZE, ERR_BAD_SLOT, ERR_BAD_TOKEN, ERR_DUPLICATE_SLOT, ERR_NONFINITE_INPUT, ERR_NOT_CONFIGURED,
  CELL_GRU, CELL_LSTM, CELL_RNN_RELU, KIND_HYBRID, KIND_RECURRENT, KIND_TRANSFORMER, POSITIONAL_SINUSOIDAL } from "./codes";
import { Shape, Slots, Step, Weights, layer, slotState } from "./state";
import { affinePacked, padTo4 } from "./simd";
import { addPositionalEncoding } from "./attention";
import { blockStep } from "./attention-block";
import { gruPointwise } from "./cells/gru";
import { lstmPointwise } from "./cells/lstm";
import { rnnPointwise } from "./cells/rnn";
import { layerNormRows } from "./layer-norm";
import { copyPaddedRows, embedTokens, zeroPad, zeroPadRows } from "./rows";
import { validSlot } from "./slots";
import { tokenTableGates, useTokenTable } from "./token-table";

/**
 * Steps the `count` slots listed in io slots by one position.
 * Input per entry: frames in io input (count, inputSize), or token ids in io
 * tokens (count) for embedding models. Output: io output (count, outputSize).
 * Everything is validated before any state moves; on error nothing changes
 * and getErrorIndex() names the offending entry.
 */
export function stepBatch(count: i32): i32 {
  Step.errorIndex = -1;
  if (!Shape.configured) return ERR_NOT_CONFIGURED;
  if (count < 1 || count > Shape.batchCapacity) return ERR_BAD_BATCH_SIZE;
  const check = validateBatch(count);
  if (check != OK) return check;

  if (Shape.kind != KIND_TRANSFORMER) recurrentLayers(count);
  if (Shape.kind == KIND_RECURRENT) {
    headOverRows(count, topHiddenRows(count), padTo4(Shape.hiddenSize));
  } else {
    const rows = residualInput(count);
    for (let i = 0; i < Shape.blocks; i++) blockStep(i, count);
    const d = Shape.width, width = padTo4(d);
    layerNormRows(Step.residual, Step.rows, count, d, width, Weights.lnFinalWeight, Weights.lnFinalBias);
    zeroPadRows(Step.rows, count, d, width);
    headOverRows(count, rows, width);
  }
  for (let b = 0; b < count; b++) {
    const at = Slots.positions + (<usize>load<i32>(Step.slots + (<usize>b << 2)) << 3);
    store<f64>(at, load<f64>(at) + 1);
  }
  return OK;
}

/** Slots open and distinct, tokens in range, frames finite; sets Step.errorIndex. */
function validateBatch(count: i32): i32 {
  if (++Slots.markStamp == 0x7fffffff) {
    memory.fill(Slots.marks, 0, <usize>Slots.capacity * 4);
    Slots.markStamp = 1;
  }
  const X = Shape.inputSize, V = Shape.vocabSize;
  for (let b = 0; b < count; b++) {
    const slot = load<i32>(Step.slots + <usize>b * 4);
    if (!validSlot(slot)) { Step.errorIndex = b; return ERR_BAD_SLOT; }
    const mark = Slots.marks + <usize>slot * 4;
    if (load<i32>(mark) == Slots.markStamp) { Step.errorIndex = b; return ERR_DUPLICATE_SLOT; }
    store<i32>(mark, Slots.markStamp);
    if (V > 0) {
      const token = load<i32>(Step.tokens + <usize>b * 4);
      if (token < 0 || token >= V) { Step.errorIndex = b; return ERR_BAD_TOKEN; }
    } else {
      // x − x is 0 for finite x and NaN for NaN or ±Infinity
      const row = Step.input + <usize>(b * X) * 4;
      let acc: f32 = 0;
      for (let j = 0; j < X; j++) {
        const x = load<f32>(row + <usize>j * 4);
        acc += x - x;
      }
      if (acc != 0) { Step.errorIndex = b; return ERR_NONFINITE_INPUT; }
    }
  }
  return OK;
}

/** State of batch entry b's slot. */
// @ts-ignore: decorator
@inline export function entryState(b: i32): usize {
  return slotState(load<i32>(Step.slots + (<usize>b << 2)));
}

/** Where batch entry b's input to layer l lives: its frame, its token's embedding row, or the layer below's new h. */
// @ts-ignore: decorator
@inline function layerInput(l: i32, b: i32, state: usize): usize {
  if (l > 0) return state + (<usize>((l - 1) * Shape.hiddenSize) << 2);
  if (Shape.vocabSize > 0) return Weights.embed + (<usize>(load<i32>(Step.tokens + (<usize>b << 2)) * Shape.inputSize) << 2);
  return Step.input + (<usize>(b * Shape.inputSize) << 2);
}

/** Steps the recurrent stack of every entry; each slot's h (and c) moves in place. */
function recurrentLayers(count: i32): void {
  const hidden = Shape.hiddenSize;
  const hiddenBytes = <usize>hidden << 2;
  const gateRows = Shape.gates * hidden;
  const gru = Shape.cell == CELL_GRU;
  const hiddenWidth = padTo4(hidden);
  for (let l = 0; l < Shape.layers; l++) {
    const cell = layer(l);
    const inWidth = l == 0 ? Shape.inputSize : hidden;
    const inBytes = <usize>inWidth << 2;
    const width = gru ? padTo4(inWidth) : padTo4(inWidth + hidden);
    const rowBytes = <usize>width << 2;
    if (l == 0 && useTokenTable()) {
      // the token table: P[token] + W_hh h + b_hh (GRU: P[token] beside its usual hidden side)
      for (let b = 0; b < count; b++) {
        const hiddenRow = Step.hiddenRows + (<usize>(b * hiddenWidth) << 2);
        memory.copy(hiddenRow, entryState(b), hiddenBytes);
        zeroPad(hiddenRow, hidden, hiddenWidth);
      }
      tokenTableGates(Step.gates, count, Step.hiddenRows, Step.tokens);
      if (gru) affinePacked(Step.hiddenGates, count, gateRows, Step.hiddenRows, hiddenWidth, cell.hiddenPanel, cell.biasHh, 0, gateRows);
      pointwiseLayer(l, count);
      continue;
    }
    // each stream's row: [input | h (RNN, LSTM) | zero padding]
    for (let b = 0; b < count; b++) {
      const state = entryState(b);
      const row = Step.rows + <usize>b * rowBytes;
      memory.copy(row, layerInput(l, b, state), inBytes);
      if (gru) {
        zeroPad(row, inWidth, width);
        const hiddenRow = Step.hiddenRows + (<usize>(b * hiddenWidth) << 2);
        memory.copy(hiddenRow, state + <usize>l * hiddenBytes, hiddenBytes);
        zeroPad(hiddenRow, hidden, hiddenWidth);
      } else {
        memory.copy(row + inBytes, state + <usize>l * hiddenBytes, hiddenBytes);
        zeroPad(row, inWidth + hidden, width);
      }
    }
    if (gru) {
      affinePacked(Step.gates, count, gateRows, Step.rows, width, cell.panel, cell.biasIh, 0, gateRows);
      affinePacked(Step.hiddenGates, count, gateRows, Step.hiddenRows, hiddenWidth, cell.hiddenPanel, cell.biasHh, 0, gateRows);
    } else {
      affinePacked(Step.gates, count, gateRows, Step.rows, width, cell.panel, cell.biasIh, cell.biasHh, gateRows);
    }
    pointwiseLayer(l, count);
  }
}

/** The cell's pointwise half for layer l of every entry, from Step.gates (GRU: and Step.hiddenGates); h (and c) move in place. */
function pointwiseLayer(l: i32, count: i32): void {
  const hidden = Shape.hiddenSize;
  const hiddenBytes = <usize>hidden << 2;
  const gateBytes = <usize>(Shape.gates * hidden) << 2;
  for (let b = 0; b < count; b++) {
    const state = entryState(b);
    const h = state + <usize>l * hiddenBytes;
    const gatesRow = Step.gates + <usize>b * gateBytes;
    if (Shape.cell == CELL_LSTM) lstmPointwise(gatesRow, h, state + <usize>(Shape.layers + l) * hiddenBytes, hidden);
    else if (Shape.cell == CELL_GRU) gruPointwise(gatesRow, Step.hiddenGates + <usize>b * gateBytes, h, hidden);
    else rnnPointwise(gatesRow, h, hidden, Shape.cell == CELL_RNN_RELU);
  }
}

/** Copies each entry's top h into Step.rows rows of width padTo4(H), zero padded. */
function topHiddenRows(count: i32): usize {
  const hidden = Shape.hiddenSize, width = padTo4(hidden);
  const topOffset = <usize>((Shape.layers - 1) * hidden) << 2;
  for (let b = 0; b < count; b++) {
    const row = Step.rows + (<usize>(b * width) << 2);
    memory.copy(row, entryState(b) + topOffset, <usize>hidden << 2);
    zeroPad(row, hidden, width);
  }
  return Step.rows;
}

/** io output = head(rows) for every entry, or the rows themselves without a head. */
function headOverRows(count: i32, rows: usize, width: i32): void {
  const inWidth = Shape.kind == KIND_RECURRENT ? Shape.hiddenSize : Shape.width;
  if (Shape.headSize > 0) {
    affinePacked(Step.output, count, Shape.headSize, rows, width, Weights.headPanel, Weights.headBias, 0, Shape.headSize);
  } else {
    for (let b = 0; b < count; b++) {
      memory.copy(Step.output + (<usize>(b * inWidth) << 2), rows + (<usize>(b * width) << 2), <usize>inWidth << 2);
    }
  }
}

/**
 * Fills the residual stream (count, Dp): the embedding or proj_in of the input
 * plus the sinusoidal encoding of the slot's position (a transformer whose scheme it is), or the top h (hybrid). Returns
 * the row scratch, which the head reads after ln_f.
 */
function residualInput(count: i32): usize {
  const d = Shape.width;
  const width = padTo4(d);
  if (Shape.kind == KIND_HYBRID) {
    const topOffset = <usize>((Shape.layers - 1) * Shape.hiddenSize) << 2;
    for (let b = 0; b < count; b++) {
      const row = Step.residual + (<usize>(b * width) << 2);
      memory.copy(row, entryState(b) + topOffset, <usize>d << 2);
      zeroPad(row, d, width);
    }
    return Step.rows;
  }
  if (Shape.vocabSize > 0) {
    embedTokens(Step.tokens, count, Step.residual, width);
  } else {
    const inWidth = padTo4(Shape.inputSize);
    copyPaddedRows(Step.rows, Step.input, count, Shape.inputSize, inWidth);
    affinePacked(Step.residual, count, d, Step.rows, inWidth, Weights.projInPanel, Weights.projInBias, 0, width);
  }
  const sinusoidal = Shape.positional == POSITIONAL_SINUSOIDAL; // ALiBi or none: the rows are the input's alone
  for (let b = 0; b < count; b++) {
    const row = Step.residual + (<usize>(b * width) << 2);
    if (sinusoidal) addPositionalEncoding(row, d, load<f64>(Slots.positions + (<usize>load<i32>(Step.slots + (<usize>b << 2)) << 3)));
    zeroPad(row, d, width);
  }
  return Step.rows;
}

// ── exports: the io ──

export function getIoSlotsPtr(): usize { return Step.slots; }
export function getIoTokensPtr(): usize { return Step.tokens; }
export function getIoInputPtr(): usize { return Step.input; }
export function getIoOutputPtr(): usize { return Step.output; }
/** Batch index of the entry that made the last stepBatch fail, or -1. */
export function getErrorIndex(): i32 { return Step.errorIndex; }
