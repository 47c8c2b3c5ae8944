// One model per instance: its parameter block, its stream slots and the batch
// scratch, laid out once by `configure`, and `stepBatch`, the whole forward step.
//
// Memory map (all regions 16-byte aligned, made by the arena):
//   params    (paramsLength)          PyTorch state_dict order, see PARAMETER ORDER
//   table     (paramCount × 2 i32)    offset (floats from params) and length per tensor
//   panels    the weights the step reads, packed by commitParams (simd.ts packPanel):
//             per layer [W_ih | W_hh] side by side (RNN, LSTM) or W_ih and W_hh
//             apart (GRU, whose n gate needs them separately); the head's weight
//   io        slots i32 (B), tokens i32 (B), input f32 (B, inputSize), output f32 (B, outputSize)
//   scratch   rows f32 (B, maxWidth): each stream's layer input [x | h | 0-pad];
//             hiddenRows f32 (B, padTo4(H)) for GRU; gates f32 (B, G·H), hiddenGates f32 (B, 3H) for GRU
//   slots     f32 (capacity, slotStateLength): per slot h (L, H) then c (L, H)
//             + slotOpenFlags u8 (capacity), slotMarks i32 (capacity)
// B = batchCapacity, L = layers, H = hidden size, G = gates per cell kind.
// Slots are stepped in place: no gather or scatter of state.
//
// PARAMETER ORDER (as nn.Module.state_dict() lists a module with submodules
// `embed`, `rnn|lstm|gru`, `head` declared in that order):
//   [embed.weight (V, E)]                                   when vocabSize > 0
//   per layer l: weight_ih_l{l} (G·H, in_l), weight_hh_l{l} (G·H, H),
//                bias_ih_l{l} (G·H), bias_hh_l{l} (G·H)     in_0 = inputSize, in_l = H
//   [head.weight (O, H), head.bias (O)]                     when headSize > 0

import { arenaAlloc } from "./arena";
import { affinePacked, packPanel, padTo4, panelLength } from "./simd";
import { CELL_GRU, CELL_LSTM, CELL_RNN_TANH, gateCount, gruPointwise, lstmPointwise, rnnTanhPointwise } from "./recurrent";

// ── error codes (negative; the ABI's only error channel; only grow downwards) ──
export const OK: i32 = 0;
export const ERR_NOT_CONFIGURED: i32 = -1;
export const ERR_ALREADY_CONFIGURED: i32 = -2;
export const ERR_BAD_CONFIG: i32 = -3;
export const ERR_OUT_OF_MEMORY: i32 = -4;
export const ERR_BAD_SLOT: i32 = -5;
export const ERR_BAD_BATCH_SIZE: i32 = -6;
export const ERR_DUPLICATE_SLOT: i32 = -7;
export const ERR_BAD_TOKEN: i32 = -8;
export const ERR_NONFINITE_INPUT: i32 = -9;

// ── configuration ──
let configured = false;
let cellKind: i32 = -1;
let layers: i32 = 0;
let inputSize: i32 = 0;   // frame width X, or embedding width E for token input
let vocabSize: i32 = 0;   // 0 = frame input
let hiddenSize: i32 = 0;
let headSize: i32 = 0;    // 0 = no head: the output is the top layer's h
let gates: i32 = 0;
let batchCapacity: i32 = 0;

// ── parameters ──
let params: usize = 0;
let paramsLength: i32 = 0;
let table: usize = 0;
let paramCount: i32 = 0;
let embedIndex: i32 = -1;   // table index of embed.weight
let layerIndex: i32 = 0;    // table index of weight_ih_l0
let headIndex: i32 = -1;    // table index of head.weight

// ── packed panels: per layer (L × 2 pointers: the input-side panel, the GRU hidden panel) ──
let panelTable: usize = 0;
let headPanel: usize = 0;

// ── io and scratch ──
let ioSlots: usize = 0;
let ioTokens: usize = 0;
let ioInput: usize = 0;
let ioOutput: usize = 0;
let rowScratch: usize = 0;
let rowWidthMax: i32 = 0;
let hiddenRowScratch: usize = 0;
let gateScratch: usize = 0;
let hiddenGateScratch: usize = 0;

// ── slots ──
let slotCapacity: i32 = 0;
let slotStates: usize = 0;
let slotOpenFlags: usize = 0;
let slotMarks: usize = 0;
let markStamp: i32 = 0;
let lastErrorIndex: i32 = -1;

// @ts-ignore: decorator
@inline function outputWidth(): i32 {
  return headSize > 0 ? headSize : hiddenSize;
}

/** Floats of recurrent state per slot: h (L, H), then c (L, H) for LSTM. */
// @ts-ignore: decorator
@inline function stateLength(): i32 {
  return layers * hiddenSize * (cellKind == CELL_LSTM ? 2 : 1);
}

// @ts-ignore: decorator
@inline function tensorPtr(index: i32): usize {
  return params + (<usize>load<i32>(table + <usize>index * 8)) * 4;
}

// @ts-ignore: decorator
@inline function slotState(slot: i32): usize {
  return slotStates + <usize>slot * <usize>stateLength() * 4;
}

function addTensor(index: i32, length: i32): i32 {
  store<i32>(table + <usize>index * 8, paramsLength);
  store<i32>(table + <usize>index * 8, length, 4);
  paramsLength += length;
  return index + 1;
}

/**
 * Lays out a model. Call once per instance, before anything else.
 * kind: CELL_RNN_TANH | CELL_LSTM | CELL_GRU; inputSize: frame width, or the
 * embedding width when vocabSize > 0; headSize: 0 for no head.
 * Returns OK, ERR_ALREADY_CONFIGURED, ERR_BAD_CONFIG or ERR_OUT_OF_MEMORY.
 * May grow memory.
 */
export function configure(
  kind: i32, layerCount: i32, inputWidth: i32, vocab: i32, hidden: i32, head: i32,
  batch: i32, initialSlots: i32,
): i32 {
  if (configured) return ERR_ALREADY_CONFIGURED;
  if (kind < CELL_RNN_TANH || kind > CELL_GRU || layerCount < 1 || inputWidth < 1 || vocab < 0 ||
      hidden < 1 || head < 0 || batch < 1 || initialSlots < 1) return ERR_BAD_CONFIG;
  cellKind = kind; layers = layerCount; inputSize = inputWidth; vocabSize = vocab;
  hiddenSize = hidden; headSize = head; gates = gateCount(kind); batchCapacity = batch;

  paramCount = (vocab > 0 ? 1 : 0) + 4 * layerCount + (head > 0 ? 2 : 0);
  table = arenaAlloc(<usize>paramCount * 8);
  if (!table) return ERR_OUT_OF_MEMORY;
  const gateRows = gates * hidden;
  let index = 0;
  paramsLength = 0;
  if (vocab > 0) { embedIndex = index; index = addTensor(index, vocab * inputWidth); }
  layerIndex = index;
  for (let l = 0; l < layerCount; l++) {
    index = addTensor(index, gateRows * (l == 0 ? inputWidth : hidden));
    index = addTensor(index, gateRows * hidden);
    index = addTensor(index, gateRows);
    index = addTensor(index, gateRows);
  }
  if (head > 0) {
    headIndex = index;
    index = addTensor(index, head * hidden);
    index = addTensor(index, head);
  }
  params = arenaAlloc(<usize>paramsLength * 4);
  panelTable = arenaAlloc(<usize>layerCount * 8);
  if (!params || !panelTable) return ERR_OUT_OF_MEMORY;
  const gru = kind == CELL_GRU;
  rowWidthMax = 0;
  for (let l = 0; l < layerCount; l++) {
    const inWidth = l == 0 ? inputWidth : hidden;
    const width = gru ? padTo4(inWidth) : padTo4(inWidth + hidden);
    if (width > rowWidthMax) rowWidthMax = width;
    const panel = arenaAlloc(<usize>panelLength(gateRows, gru ? inWidth : inWidth + hidden) * 4);
    const hiddenPanel = gru ? arenaAlloc(<usize>panelLength(gateRows, hidden) * 4) : 0;
    if (!panel || (gru && !hiddenPanel)) return ERR_OUT_OF_MEMORY;
    store<u32>(panelTable + <usize>l * 8, <u32>panel);
    store<u32>(panelTable + <usize>l * 8, <u32>hiddenPanel, 4);
  }
  if (padTo4(hidden) > rowWidthMax) rowWidthMax = padTo4(hidden); // the head's input row
  if (head > 0 && !(headPanel = arenaAlloc(<usize>panelLength(head, hidden) * 4))) return ERR_OUT_OF_MEMORY;
  ioSlots = arenaAlloc(<usize>batch * 4);
  ioTokens = arenaAlloc(<usize>batch * 4);
  ioInput = arenaAlloc(<usize>(batch * inputWidth) * 4);
  ioOutput = arenaAlloc(<usize>(batch * (head > 0 ? head : hidden)) * 4);
  rowScratch = arenaAlloc(<usize>(batch * rowWidthMax) * 4);
  gateScratch = arenaAlloc(<usize>(batch * gateRows) * 4);
  if (!ioSlots || !ioTokens || !ioInput || !ioOutput || !rowScratch || !gateScratch) return ERR_OUT_OF_MEMORY;
  if (gru && !(hiddenRowScratch = arenaAlloc(<usize>(batch * padTo4(hidden)) * 4))) return ERR_OUT_OF_MEMORY;
  if (gru && !(hiddenGateScratch = arenaAlloc(<usize>(batch * gateRows) * 4))) return ERR_OUT_OF_MEMORY;
  configured = true;
  return growSlots(initialSlots);
}

/** Moves the slot region to one of `capacity` slots (never shrinks). May grow memory. */
function growSlots(capacity: i32): i32 {
  if (capacity <= slotCapacity) return OK;
  const bytesPerState = <usize>stateLength() * 4;
  const states = arenaAlloc(<usize>capacity * bytesPerState);
  const flags = arenaAlloc(<usize>capacity);
  const marks = arenaAlloc(<usize>capacity * 4);
  if (!states || !flags || !marks) return ERR_OUT_OF_MEMORY;
  if (slotCapacity > 0) {
    memory.copy(states, slotStates, <usize>slotCapacity * bytesPerState);
    memory.copy(flags, slotOpenFlags, <usize>slotCapacity);
    memory.copy(marks, slotMarks, <usize>slotCapacity * 4);
  }
  slotStates = states; slotOpenFlags = flags; slotMarks = marks;
  slotCapacity = capacity;
  return OK;
}

// @ts-ignore: decorator
@inline function validSlot(slot: i32): bool {
  return configured && slot >= 0 && slot < slotCapacity && load<u8>(slotOpenFlags + <usize>slot) != 0;
}

// ── exports: layout ──

export function abiVersion(): i32 { return 1; }
export function isConfigured(): i32 { return configured ? 1 : 0; }
export function getParamCount(): i32 { return paramCount; }
/** Byte offset of tensor `index` in the parameter block (PARAMETER ORDER). */
export function getParamPtr(index: i32): usize {
  return index >= 0 && index < paramCount ? tensorPtr(index) : 0;
}
/** Length in floats of tensor `index`. */
export function getParamLength(index: i32): i32 {
  return index >= 0 && index < paramCount ? load<i32>(table + <usize>index * 8, 4) : 0;
}
export function getParamsPtr(): usize { return params; }
export function getParamsLength(): i32 { return paramsLength; }
export function getOutputSize(): i32 { return configured ? outputWidth() : 0; }
export function getInputSize(): i32 { return inputSize; }
export function getBatchCapacity(): i32 { return batchCapacity; }
export function getIoSlotsPtr(): usize { return ioSlots; }
export function getIoTokensPtr(): usize { return ioTokens; }
export function getIoInputPtr(): usize { return ioInput; }
export function getIoOutputPtr(): usize { return ioOutput; }
/** Batch index of the entry that made the last stepBatch fail, or -1. */
export function getErrorIndex(): i32 { return lastErrorIndex; }

/**
 * Rebuilds the packed weight panels from the parameter block. Call after
 * writing any parameter and before the next stepBatch: the step reads only
 * the panels (and the biases, which it reads directly).
 */
export function commitParams(): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  const gateRows = gates * hiddenSize;
  for (let l = 0; l < layers; l++) {
    const t = layerIndex + 4 * l;
    const inWidth = l == 0 ? inputSize : hiddenSize;
    const panel = <usize>load<u32>(panelTable + <usize>l * 8);
    if (cellKind == CELL_GRU) {
      packPanel(panel, gateRows, tensorPtr(t), inWidth, 0, 0);
      packPanel(<usize>load<u32>(panelTable + <usize>l * 8, 4), gateRows, tensorPtr(t + 1), hiddenSize, 0, 0);
    } else {
      packPanel(panel, gateRows, tensorPtr(t), inWidth, tensorPtr(t + 1), hiddenSize);
    }
  }
  if (headSize > 0) packPanel(headPanel, headSize, tensorPtr(headIndex), hiddenSize, 0, 0);
  return OK;
}

// ── exports: stream slots ──

/** Opens a slot with zero state; returns its id (≥ 0) or an error code. May grow memory. */
export function slotOpen(): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  let slot = 0;
  while (slot < slotCapacity && load<u8>(slotOpenFlags + <usize>slot) != 0) slot++;
  if (slot == slotCapacity) {
    const grown = growSlots(slotCapacity * 2);
    if (grown != OK) return grown;
  }
  store<u8>(slotOpenFlags + <usize>slot, 1);
  memory.fill(slotState(slot), 0, <usize>stateLength() * 4);
  return slot;
}

export function slotClose(slot: i32): i32 {
  if (!validSlot(slot)) return ERR_BAD_SLOT;
  store<u8>(slotOpenFlags + <usize>slot, 0);
  return OK;
}

/** Zeroes a slot's h (and c). */
export function slotReset(slot: i32): i32 {
  if (!validSlot(slot)) return ERR_BAD_SLOT;
  memory.fill(slotState(slot), 0, <usize>stateLength() * 4);
  return OK;
}

/** Copies slot `src`'s state into slot `dst`. */
export function slotCopy(dst: i32, src: i32): i32 {
  if (!validSlot(dst) || !validSlot(src)) return ERR_BAD_SLOT;
  memory.copy(slotState(dst), slotState(src), <usize>stateLength() * 4);
  return OK;
}

export function slotIsOpen(slot: i32): i32 { return validSlot(slot) ? 1 : 0; }
/** Byte offset of a slot's state: h (L, H) then c (L, H) for LSTM; 0 if not open. */
export function slotStatePtr(slot: i32): usize { return validSlot(slot) ? slotState(slot) : 0; }
export function slotStateLength(): i32 { return configured ? stateLength() : 0; }
export function getSlotCapacity(): i32 { return slotCapacity; }

// ── the step ──

/**
 * Steps the `count` slots listed in io slots by one position.
 * Input per entry: frames in io input (count, inputSize), or token ids in io
 * tokens (count) for embedding models. Output: io output (count, outputSize).
 * Everything is validated before any state moves; on error nothing changes
 * and getErrorIndex() names the offending entry.
 */
export function stepBatch(count: i32): i32 {
  lastErrorIndex = -1;
  if (!configured) return ERR_NOT_CONFIGURED;
  if (count < 1 || count > batchCapacity) return ERR_BAD_BATCH_SIZE;
  const check = validateBatch(count);
  if (check != OK) return check;

  const hidden = hiddenSize;
  const hiddenBytes = <usize>hidden << 2;
  const stateBytes = <usize>stateLength() << 2;
  const gateRows = gates * hidden;
  const gateBytes = <usize>gateRows << 2;
  const gru = cellKind == CELL_GRU;
  const lstm = cellKind == CELL_LSTM;

  for (let l = 0; l < layers; l++) {
    const t = layerIndex + 4 * l;
    const bIh = tensorPtr(t + 2), bHh = tensorPtr(t + 3);
    const inWidth = l == 0 ? inputSize : hidden;
    const inBytes = <usize>inWidth << 2;
    const width = gru ? padTo4(inWidth) : padTo4(inWidth + hidden);
    const rowBytes = <usize>width << 2;
    const hiddenWidth = padTo4(hidden);
    // each stream's row: [input | h (RNN, LSTM) | zero padding]
    for (let b = 0; b < count; b++) {
      const state = slotStates + <usize>load<i32>(ioSlots + (<usize>b << 2)) * stateBytes;
      const row = rowScratch + <usize>b * rowBytes;
      memory.copy(row, layerInput(l, b, state), inBytes);
      if (gru) {
        zeroPad(row, inWidth, width);
        const hiddenRow = hiddenRowScratch + (<usize>(b * hiddenWidth) << 2);
        memory.copy(hiddenRow, state + <usize>l * hiddenBytes, hiddenBytes);
        zeroPad(hiddenRow, hidden, hiddenWidth);
      } else {
        memory.copy(row + inBytes, state + <usize>l * hiddenBytes, hiddenBytes);
        zeroPad(row, inWidth + hidden, width);
      }
    }
    const panel = <usize>load<u32>(panelTable + <usize>l * 8);
    if (gru) {
      affinePacked(gateScratch, count, gateRows, rowScratch, width, panel, bIh, 0);
      affinePacked(hiddenGateScratch, count, gateRows, hiddenRowScratch, hiddenWidth, <usize>load<u32>(panelTable + <usize>l * 8, 4), bHh, 0);
    } else {
      affinePacked(gateScratch, count, gateRows, rowScratch, width, panel, bIh, bHh);
    }
    for (let b = 0; b < count; b++) {
      const state = slotStates + <usize>load<i32>(ioSlots + (<usize>b << 2)) * stateBytes;
      const h = state + <usize>l * hiddenBytes;
      const gatesRow = gateScratch + <usize>b * gateBytes;
      if (lstm) lstmPointwise(gatesRow, h, state + <usize>(layers + l) * hiddenBytes, hidden);
      else if (gru) gruPointwise(gatesRow, hiddenGateScratch + <usize>b * gateBytes, h, hidden);
      else rnnTanhPointwise(gatesRow, h, hidden);
    }
  }

  const topOffset = <usize>(layers - 1) * hiddenBytes;
  if (headSize > 0) {
    const width = padTo4(hidden);
    for (let b = 0; b < count; b++) {
      const state = slotStates + <usize>load<i32>(ioSlots + (<usize>b << 2)) * stateBytes;
      const row = rowScratch + (<usize>(b * width) << 2);
      memory.copy(row, state + topOffset, hiddenBytes);
      zeroPad(row, hidden, width);
    }
    const headBias = tensorPtr(headIndex + 1);
    affinePacked(ioOutput, count, headSize, rowScratch, width, headPanel, headBias, 0);
  } else {
    for (let b = 0; b < count; b++) {
      const state = slotStates + <usize>load<i32>(ioSlots + (<usize>b << 2)) * stateBytes;
      memory.copy(ioOutput + <usize>b * hiddenBytes, state + topOffset, hiddenBytes);
    }
  }
  return OK;
}

/** Where batch entry b's input to layer l lives: its frame, its token's embedding row, or the layer below's new h. */
// @ts-ignore: decorator
@inline function layerInput(l: i32, b: i32, state: usize): usize {
  if (l > 0) return state + (<usize>((l - 1) * hiddenSize) << 2);
  if (vocabSize > 0) return tensorPtr(embedIndex) + (<usize>(load<i32>(ioTokens + (<usize>b << 2)) * inputSize) << 2);
  return ioInput + (<usize>(b * inputSize) << 2);
}

/** Zeroes floats [from, to) of a row (at most 3: the padding to a multiple of 4). */
// @ts-ignore: decorator
@inline function zeroPad(row: usize, from: i32, to: i32): void {
  for (let i = from; i < to; i++) store<f32>(row + (<usize>i << 2), 0);
}

/** Slots open and distinct, tokens in range, frames finite; sets lastErrorIndex. */
function validateBatch(count: i32): i32 {
  if (++markStamp == 0x7fffffff) {
    memory.fill(slotMarks, 0, <usize>slotCapacity * 4);
    markStamp = 1;
  }
  for (let b = 0; b < count; b++) {
    const slot = load<i32>(ioSlots + <usize>b * 4);
    if (!validSlot(slot)) { lastErrorIndex = b; return ERR_BAD_SLOT; }
    const mark = slotMarks + <usize>slot * 4;
    if (load<i32>(mark) == markStamp) { lastErrorIndex = b; return ERR_DUPLICATE_SLOT; }
    store<i32>(mark, markStamp);
    if (vocabSize > 0) {
      const token = load<i32>(ioTokens + <usize>b * 4);
      if (token < 0 || token >= vocabSize) { lastErrorIndex = b; return ERR_BAD_TOKEN; }
    } else {
      // x − x is 0 for finite x and NaN for NaN or ±Infinity
      const row = ioInput + <usize>(b * inputSize) * 4;
      let acc: f32 = 0;
      for (let j = 0; j < inputSize; j++) {
        const x = load<f32>(row + <usize>j * 4);
        acc += x - x;
      }
      if (acc != 0) { lastErrorIndex = b; return ERR_NONFINITE_INPUT; }
    }
  }
  return OK;
}
