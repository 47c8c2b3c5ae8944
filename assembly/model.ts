// One model per instance: its parameter block, its stream slots and the batch
// scratch, laid out once by `configure*`, and `stepBatch`, the whole forward step.
//
// Model kinds:
//   recurrent    [embed] → RNN/LSTM/GRU stack → [head]
//   transformer  embed | proj_in, + sinusoidal PE → N pre-LN blocks → ln_f → [head]
//   hybrid       [embed] → recurrent stack → N blocks over the top h (no PE) → ln_f → [head]
//
// Memory map (all regions 16-byte aligned, made by the arena):
//   params    (paramsLength)          PyTorch state_dict order, see PARAMETER ORDER
//   table     (paramCount × 2 i32)    offset (floats from params) and length per tensor
//   panels    the weights the step reads, packed by commitParams (simd.ts packPanel):
//             per recurrent layer [W_ih | W_hh] side by side (RNN, LSTM) or apart (GRU,
//             whose n gate needs them separately); proj_in; per block in_proj, out_proj,
//             fc1, fc2; the head
//   io        slots i32 (B), tokens i32 (B), input f32 (B, inputSize), output f32 (B, outputSize)
//   scratch   rows f32 (B, maxWidth): each stream's layer input [x | h | 0-pad] or a
//             normalized residual row; gates f32 (B, max(G·H, D)); GRU hidden rows and gates;
//             residual f32 (B, Dp), qkv f32 (B, 3D), heads f32 (B, Dp), mlp f32 (B, FFp),
//             scores f32 (S + W)
//   slots     f32 (capacity, slotStateLength): per slot h (L, H), c (L, H) for LSTM,
//             then per block keys (S + W, D), values (S + W, D)
//             + positions f64, open flags u8, marks i32, attention weights f32
//             (blocks, heads, S + W) and counts i32, per slot
// B = batchCapacity, L = layers, H = hidden size, G = gates per cell, D = model width
// (H for hybrid), Dp = padTo4(D), FF = MLP width, W = window, S = sinks.
// Slots are stepped in place: no gather or scatter of state.
//
// PARAMETER ORDER (nn.Module.state_dict() of the module documented in
// docs/model-format.md, submodules declared in this order):
//   [embed.weight (V, E)]                       token input (E = D for transformers)
//   [proj_in.weight (D, X), proj_in.bias (D)]   transformer frame input
//   per recurrent layer l: weight_ih_l{l} (G·H, in_l), weight_hh_l{l} (G·H, H),
//                bias_ih_l{l} (G·H), bias_hh_l{l} (G·H)        in_0 = inputSize, in_l = H
//   per block i: ln1.weight (D), ln1.bias (D), attn.in_proj_weight (3D, D),
//                attn.in_proj_bias (3D), attn.out_proj.weight (D, D), attn.out_proj.bias (D),
//                ln2.weight (D), ln2.bias (D), fc1.weight (FF, D), fc1.bias (FF),
//                fc2.weight (D, FF), fc2.bias (D)
//   [ln_f.weight (D), ln_f.bias (D)]            transformer and hybrid
//   [head.weight (O, width), head.bias (O)]     width = H (recurrent) or D

import { arenaAlloc } from "./arena";
import { addTo, affinePacked, packPanel, padTo4, panelLength } from "./simd";
import { addPositionalEncoding, attendPosition, geluInPlace, layerNormRows } from "./attention";
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

/** Model kinds, as numbered in the ABI. Only grows at the end. */
export const KIND_RECURRENT: i32 = 0;
export const KIND_TRANSFORMER: i32 = 1;
export const KIND_HYBRID: i32 = 2;

/** Tensors per transformer block (see PARAMETER ORDER). */
export const BLOCK_TENSORS: i32 = 12;

// ── configuration ──
export let configured = false;
export let modelKind: i32 = KIND_RECURRENT;
export let cellKind: i32 = -1;
export let layers: i32 = 0;
export let inputSize: i32 = 0;   // frame width X, or embedding width E for token input
export let vocabSize: i32 = 0;   // 0 = frame input
export let hiddenSize: i32 = 0;
export let headSize: i32 = 0;    // 0 = no head: the output is the top layer's h
export let gates: i32 = 0;
let batchCapacity: i32 = 0;
export let modelWidth: i32 = 0;  // D: the residual width of attention blocks
export let heads: i32 = 0;
export let mlpWidth: i32 = 0;    // FF
export let blocks: i32 = 0;
export let window: i32 = 0;      // W: positions attended besides the sinks, this one included
export let sinks: i32 = 0;       // S: the stream's first positions, never evicted

// ── parameters ──
export let params: usize = 0;
export let paramsLength: i32 = 0;
export let table: usize = 0;
export let paramCount: i32 = 0;
export let embedIndex: i32 = -1;   // table index of embed.weight
export let layerIndex: i32 = 0;    // table index of weight_ih_l0
export let projInIndex: i32 = -1;  // table index of proj_in.weight
export let blockIndex: i32 = 0;    // table index of blocks.0.ln1.weight
export let lnFinalIndex: i32 = -1; // table index of ln_f.weight
export let headIndex: i32 = -1;    // table index of head.weight

// ── packed panels: per layer (L × 2 pointers: the input-side panel, the GRU hidden panel) ──
export let panelTable: usize = 0;
export let headPanel: usize = 0;
export let projInPanel: usize = 0;
export let blockPanels: usize = 0; // per block 4 pointers: in_proj, out_proj, fc1, fc2
/**
 * Token models whose embedding width is a multiple of 8: layer 0's input is a row
 * of the embedding E, so W_ih x + b_ih is a row of P = E·W_ihᵀ + b_ih (V, G·H),
 * rebuilt with the panels. A step adds P[token] to W_hh h + b_hh (GRU: P[token] is
 * its whole input side) instead of multiplying [x | h] by [W_ih | W_hh]; training
 * does the same.
 */
export let tokenTable: usize = 0;
export let tokenTableOn: bool = true; // diagnostics can turn it off to compare (debugTokenShortcut)

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
let residual: usize = 0;
let qkvScratch: usize = 0;
let headsScratch: usize = 0;
let mlpScratch: usize = 0;
let scoreScratch: usize = 0;
let rowOffsetScratch: usize = 0;

// ── slots ──
let slotCapacity: i32 = 0;
let slotStates: usize = 0;
let slotOpenFlags: usize = 0;
let slotMarks: usize = 0;
let slotPositions: usize = 0;
let slotWeights: usize = 0;
let slotWeightCounts: usize = 0;
let markStamp: i32 = 0;
let lastErrorIndex: i32 = -1;

// @ts-ignore: decorator
@inline function outputWidth(): i32 {
  return headSize > 0 ? headSize : modelKind == KIND_RECURRENT ? hiddenSize : modelWidth;
}

/** Floats of recurrent state per slot: h (L, H), then c (L, H) for LSTM. */
// @ts-ignore: decorator
@inline function recurrentStateLength(): i32 {
  return modelKind == KIND_TRANSFORMER ? 0 : layers * hiddenSize * (cellKind == CELL_LSTM ? 2 : 1);
}

/** Floats of one block's KV cache per slot: keys then values, (S + W, D) each. */
// @ts-ignore: decorator
@inline function cacheLength(): i32 {
  return 2 * (sinks + window) * modelWidth;
}

// @ts-ignore: decorator
@inline function stateLength(): i32 {
  return recurrentStateLength() + blocks * cacheLength();
}

/** Floats of attention weights kept per slot: (blocks, heads, S + W). */
// @ts-ignore: decorator
@inline function weightsLength(): i32 {
  return blocks * heads * (sinks + window);
}

// @ts-ignore: decorator
@inline export function tensorPtr(index: i32): usize {
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
 * Lays out a recurrent model. Call once per instance, before anything else.
 * kind: CELL_RNN_TANH | CELL_LSTM | CELL_GRU; inputWidth: frame width, or the
 * embedding width when vocab > 0; head: 0 for no head.
 * Returns OK, ERR_ALREADY_CONFIGURED, ERR_BAD_CONFIG or ERR_OUT_OF_MEMORY. May grow memory.
 */
export function configure(
  kind: i32, layerCount: i32, inputWidth: i32, vocab: i32, hidden: i32, head: i32,
  batch: i32, initialSlots: i32,
): i32 {
  return layout(KIND_RECURRENT, kind, layerCount, inputWidth, vocab, hidden, 0, 0, 0, 0, 0, 0, head, batch, initialSlots);
}

/**
 * Lays out a transformer: input through embed (vocab > 0, embedding width = width)
 * or proj_in (frames of inputWidth), sinusoidal PE, `blockCount` pre-LN blocks of
 * width `width` with `headCount` heads and an MLP of `mlp`, attending `windowSize`
 * positions plus `sinkCount` sinks; then ln_f and a head of `head` outputs (0: none).
 */
export function configureTransformer(
  inputWidth: i32, vocab: i32, width: i32, headCount: i32, mlp: i32, blockCount: i32,
  windowSize: i32, sinkCount: i32, head: i32, batch: i32, initialSlots: i32,
): i32 {
  return layout(KIND_TRANSFORMER, -1, 0, vocab > 0 ? width : inputWidth, vocab, 0,
    width, headCount, mlp, blockCount, windowSize, sinkCount, head, batch, initialSlots);
}

/**
 * Lays out a hybrid: the recurrent stack of `configure`, whose top h feeds
 * `blockCount` attention blocks of width H (no PE), then ln_f and the head.
 */
export function configureHybrid(
  kind: i32, layerCount: i32, inputWidth: i32, vocab: i32, hidden: i32,
  headCount: i32, mlp: i32, blockCount: i32, windowSize: i32, sinkCount: i32,
  head: i32, batch: i32, initialSlots: i32,
): i32 {
  return layout(KIND_HYBRID, kind, layerCount, inputWidth, vocab, hidden,
    hidden, headCount, mlp, blockCount, windowSize, sinkCount, head, batch, initialSlots);
}

function layout(
  kindOfModel: i32, kind: i32, layerCount: i32, inputWidth: i32, vocab: i32, hidden: i32,
  width: i32, headCount: i32, mlp: i32, blockCount: i32, windowSize: i32, sinkCount: i32,
  head: i32, batch: i32, initialSlots: i32,
): i32 {
  if (configured) return ERR_ALREADY_CONFIGURED;
  const recurrent = kindOfModel != KIND_TRANSFORMER;
  const attention = kindOfModel != KIND_RECURRENT;
  if (inputWidth < 1 || vocab < 0 || head < 0 || batch < 1 || initialSlots < 1) return ERR_BAD_CONFIG;
  if (recurrent && (kind < CELL_RNN_TANH || kind > CELL_GRU || layerCount < 1 || hidden < 1)) return ERR_BAD_CONFIG;
  if (attention && (width < 1 || headCount < 1 || width % headCount != 0 || mlp < 1 || blockCount < 1 ||
      windowSize < 1 || sinkCount < 0)) return ERR_BAD_CONFIG;
  modelKind = kindOfModel;
  cellKind = recurrent ? kind : -1; layers = recurrent ? layerCount : 0;
  inputSize = inputWidth; vocabSize = vocab; hiddenSize = hidden; headSize = head;
  gates = recurrent ? gateCount(kind) : 0; batchCapacity = batch;
  modelWidth = width; heads = headCount; mlpWidth = mlp; blocks = blockCount;
  window = windowSize; sinks = sinkCount;

  paramCount = (vocab > 0 ? 1 : 0) + (kindOfModel == KIND_TRANSFORMER && vocab == 0 ? 2 : 0) +
    4 * layers + BLOCK_TENSORS * blocks + (attention ? 2 : 0) + (head > 0 ? 2 : 0);
  table = arenaAlloc(<usize>paramCount * 8);
  if (!table) return ERR_OUT_OF_MEMORY;
  const gateRows = gates * hidden;
  let index = 0;
  paramsLength = 0;
  if (vocab > 0) { embedIndex = index; index = addTensor(index, vocab * inputWidth); }
  if (kindOfModel == KIND_TRANSFORMER && vocab == 0) {
    projInIndex = index;
    index = addTensor(index, width * inputWidth);
    index = addTensor(index, width);
  }
  layerIndex = index;
  for (let l = 0; l < layers; l++) {
    index = addTensor(index, gateRows * (l == 0 ? inputWidth : hidden));
    index = addTensor(index, gateRows * hidden);
    index = addTensor(index, gateRows);
    index = addTensor(index, gateRows);
  }
  blockIndex = index;
  for (let i = 0; i < blocks; i++) {
    index = addTensor(index, width); index = addTensor(index, width);            // ln1
    index = addTensor(index, 3 * width * width); index = addTensor(index, 3 * width); // in_proj
    index = addTensor(index, width * width); index = addTensor(index, width);    // out_proj
    index = addTensor(index, width); index = addTensor(index, width);            // ln2
    index = addTensor(index, mlp * width); index = addTensor(index, mlp);        // fc1
    index = addTensor(index, width * mlp); index = addTensor(index, width);      // fc2
  }
  if (attention) {
    lnFinalIndex = index;
    index = addTensor(index, width); index = addTensor(index, width);
  }
  if (head > 0) {
    headIndex = index;
    const headIn = attention ? width : hidden;
    index = addTensor(index, head * headIn);
    index = addTensor(index, head);
  }
  params = arenaAlloc(<usize>paramsLength * 4);
  if (!params) return ERR_OUT_OF_MEMORY;

  // packed panels
  const gru = kind == CELL_GRU && recurrent;
  rowWidthMax = 0;
  if (layers > 0 && !(panelTable = arenaAlloc(<usize>layers * 8))) return ERR_OUT_OF_MEMORY;
  for (let l = 0; l < layers; l++) {
    const inWidth = l == 0 ? inputWidth : hidden;
    const rowWidth = gru ? padTo4(inWidth) : padTo4(inWidth + hidden);
    if (rowWidth > rowWidthMax) rowWidthMax = rowWidth;
    const panel = arenaAlloc(<usize>panelLength(gateRows, gru ? inWidth : inWidth + hidden) * 4);
    const hiddenPanel = gru ? arenaAlloc(<usize>panelLength(gateRows, hidden) * 4) : 0;
    if (!panel || (gru && !hiddenPanel)) return ERR_OUT_OF_MEMORY;
    store<u32>(panelTable + <usize>l * 8, <u32>panel);
    store<u32>(panelTable + <usize>l * 8, <u32>hiddenPanel, 4);
  }
  const residualWidth = attention ? padTo4(width) : padTo4(hidden);
  if (residualWidth > rowWidthMax) rowWidthMax = residualWidth; // ln and head input rows
  if (projInIndex >= 0) {
    if (padTo4(inputWidth) > rowWidthMax) rowWidthMax = padTo4(inputWidth);
    if (!(projInPanel = arenaAlloc(<usize>panelLength(width, inputWidth) * 4))) return ERR_OUT_OF_MEMORY;
  }
  if (blocks > 0) {
    if (!(blockPanels = arenaAlloc(<usize>blocks * 16))) return ERR_OUT_OF_MEMORY;
    for (let i = 0; i < blocks; i++) {
      const inProj = arenaAlloc(<usize>panelLength(3 * width, width) * 4);
      const outProj = arenaAlloc(<usize>panelLength(width, width) * 4);
      const fc1 = arenaAlloc(<usize>panelLength(mlp, width) * 4);
      const fc2 = arenaAlloc(<usize>panelLength(width, mlp) * 4);
      if (!inProj || !outProj || !fc1 || !fc2) return ERR_OUT_OF_MEMORY;
      const at = blockPanels + <usize>i * 16;
      store<u32>(at, <u32>inProj); store<u32>(at, <u32>outProj, 4);
      store<u32>(at, <u32>fc1, 8); store<u32>(at, <u32>fc2, 12);
    }
  }
  if (head > 0 && !(headPanel = arenaAlloc(<usize>panelLength(head, attention ? width : hidden) * 4))) return ERR_OUT_OF_MEMORY;

  ioSlots = arenaAlloc(<usize>batch * 4);
  ioTokens = arenaAlloc(<usize>batch * 4);
  ioInput = arenaAlloc(<usize>(batch * inputWidth) * 4);
  ioOutput = arenaAlloc(<usize>(batch * outputWidth()) * 4);
  rowScratch = arenaAlloc(<usize>(batch * rowWidthMax) * 4);
  gateScratch = arenaAlloc(<usize>(batch * max(gateRows, width)) * 4);
  if (!ioSlots || !ioTokens || !ioInput || !ioOutput || !rowScratch || !gateScratch) return ERR_OUT_OF_MEMORY;
  if ((gru || tokenTableFits()) && !(hiddenRowScratch = arenaAlloc(<usize>(batch * padTo4(hidden)) * 4))) return ERR_OUT_OF_MEMORY;
  tokenTable = 0;
  if (tokenTableFits() && !(tokenTable = arenaAlloc(<usize>(vocabSize * gateRows) * 4))) return ERR_OUT_OF_MEMORY;
  if (gru && !(hiddenGateScratch = arenaAlloc(<usize>(batch * gateRows) * 4))) return ERR_OUT_OF_MEMORY;
  if (attention) {
    residual = arenaAlloc(<usize>(batch * padTo4(width)) * 4);
    qkvScratch = arenaAlloc(<usize>(batch * 3 * width) * 4);
    headsScratch = arenaAlloc(<usize>(batch * padTo4(width)) * 4);
    mlpScratch = arenaAlloc(<usize>(batch * padTo4(mlp)) * 4);
    scoreScratch = arenaAlloc(<usize>padTo4(sinks + window) * 4);
    rowOffsetScratch = arenaAlloc(<usize>padTo4(sinks + window) * 4);
    if (!residual || !qkvScratch || !headsScratch || !mlpScratch || !scoreScratch || !rowOffsetScratch) return ERR_OUT_OF_MEMORY;
  }
  configured = true;
  return growSlots(initialSlots);
}

/** Moves the slot region to one of `capacity` slots (never shrinks). May grow memory. */
function growSlots(capacity: i32): i32 {
  if (capacity <= slotCapacity) return OK;
  const bytesPerState = <usize>stateLength() * 4;
  const bytesPerWeights = <usize>weightsLength() * 4;
  const states = arenaAlloc(<usize>capacity * bytesPerState);
  const flags = arenaAlloc(<usize>capacity);
  const marks = arenaAlloc(<usize>capacity * 4);
  const positions = arenaAlloc(<usize>capacity * 8);
  const weights = arenaAlloc(<usize>capacity * bytesPerWeights);
  const counts = arenaAlloc(<usize>capacity * 4);
  if (!states || !flags || !marks || !positions || !counts || (bytesPerWeights > 0 && !weights)) return ERR_OUT_OF_MEMORY;
  if (slotCapacity > 0) {
    memory.copy(states, slotStates, <usize>slotCapacity * bytesPerState);
    memory.copy(flags, slotOpenFlags, <usize>slotCapacity);
    memory.copy(marks, slotMarks, <usize>slotCapacity * 4);
    memory.copy(positions, slotPositions, <usize>slotCapacity * 8);
    memory.copy(weights, slotWeights, <usize>slotCapacity * bytesPerWeights);
    memory.copy(counts, slotWeightCounts, <usize>slotCapacity * 4);
  }
  slotStates = states; slotOpenFlags = flags; slotMarks = marks;
  slotPositions = positions; slotWeights = weights; slotWeightCounts = counts;
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
export function getKind(): i32 { return modelKind; }
export function getInputSize(): i32 { return inputSize; }
export function getBatchCapacity(): i32 { return batchCapacity; }
export function getIoSlotsPtr(): usize { return ioSlots; }
export function getIoTokensPtr(): usize { return ioTokens; }
export function getIoInputPtr(): usize { return ioInput; }
export function getIoOutputPtr(): usize { return ioOutput; }
/** Batch index of the entry that made the last stepBatch fail, or -1. */
export function getErrorIndex(): i32 { return lastErrorIndex; }

/** Whether layer 0 takes its input through the token table (see tokenTable). */
// @ts-ignore: decorator
@inline export function tokenTableFits(): bool {
  return vocabSize > 0 && layers > 0 && inputSize % 8 == 0;
}

// @ts-ignore: decorator
@inline export function useTokenTable(): bool {
  return tokenTableOn && tokenTable != 0;
}

/** Diagnostics: 0 turns the token table off (the plain [x | h] products, in steps and in training), 1 back on. */
export function debugTokenShortcut(on: i32): void {
  tokenTableOn = on != 0;
}

/**
 * P[v, :] = b_ih + W_ih E[v, :] for layer 0 (E's width a multiple of 8), into tokenTable: the batched
 * product over the V rows of E, reading the W_ih columns of layer 0's panel ([W_ih | W_hh] for RNN and
 * LSTM, whose tiles are padTo4(E + H) · 32 bytes apart; GRU's own W_ih panel). A GRU's row is then
 * what its plain input-side product gives, bit for bit.
 */
export function buildTokenTable(): void {
  const GH = gates * hiddenSize;
  const panel = <usize>load<u32>(panelTable);
  const tileStride = cellKind == CELL_GRU ? 0 : padTo4(inputSize + hiddenSize) << 5;
  affinePacked(tokenTable, vocabSize, GH, tensorPtr(embedIndex), inputSize, panel, tensorPtr(layerIndex + 2), 0, GH, tileStride);
}

/**
 * Layer 0's gate pre-activations of a token model through the token table:
 * pre[b] = P[tokens[b]] + W_hh h[b] + b_hh (GRU: pre[b] = P[tokens[b]], its
 * hidden side being the caller's). `hRows` are the B rows of h, Hp apart and
 * zero padded; `panel` is layer 0's [W_ih | W_hh] panel (RNN, LSTM), `tokens` B ids.
 */
export function tokenTableGates(pre: usize, B: i32, hRows: usize, panel: usize, tokens: usize): void {
  const GH = gates * hiddenSize, Hp = padTo4(hiddenSize);
  const gru = cellKind == CELL_GRU;
  if (!gru) {
    // W_hh h + b_hh from the hidden columns of the [W_ih | W_hh] panel: its tiles are padTo4(E + H) · 32 bytes apart
    affinePacked(pre, B, GH, hRows, Hp, panel + (<usize>inputSize << 5), tensorPtr(layerIndex + 3), 0, GH, padTo4(inputSize + hiddenSize) << 5);
  }
  for (let b = 0; b < B; b++) {
    const row = pre + (<usize>(b * GH) << 2);
    const tableRow = tokenTable + (<usize>(load<i32>(tokens + (<usize>b << 2)) * GH) << 2);
    if (gru) memory.copy(row, tableRow, <usize>GH << 2);
    else addTo(row, tableRow, GH);
  }
}

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
  if (projInIndex >= 0) packPanel(projInPanel, modelWidth, tensorPtr(projInIndex), inputSize, 0, 0);
  const d = modelWidth;
  for (let i = 0; i < blocks; i++) {
    const t = blockIndex + BLOCK_TENSORS * i;
    const at = blockPanels + <usize>i * 16;
    packPanel(<usize>load<u32>(at), 3 * d, tensorPtr(t + 2), d, 0, 0);
    packPanel(<usize>load<u32>(at, 4), d, tensorPtr(t + 4), d, 0, 0);
    packPanel(<usize>load<u32>(at, 8), mlpWidth, tensorPtr(t + 8), d, 0, 0);
    packPanel(<usize>load<u32>(at, 12), d, tensorPtr(t + 10), mlpWidth, 0, 0);
  }
  if (headSize > 0) packPanel(headPanel, headSize, tensorPtr(headIndex), modelKind == KIND_RECURRENT ? hiddenSize : d, 0, 0);
  if (tokenTable != 0) buildTokenTable(); // from layer 0's panel, packed above
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
  clearSlot(slot);
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
  clearSlot(slot);
  return OK;
}

/** Zero state, position 0, no attention weights. */
function clearSlot(slot: i32): void {
  memory.fill(slotState(slot), 0, <usize>stateLength() * 4);
  store<f64>(slotPositions + (<usize>slot << 3), 0);
  store<i32>(slotWeightCounts + (<usize>slot << 2), 0);
}

/** Copies slot `src`'s state into slot `dst`. */
export function slotCopy(dst: i32, src: i32): i32 {
  if (!validSlot(dst) || !validSlot(src)) return ERR_BAD_SLOT;
  memory.copy(slotState(dst), slotState(src), <usize>stateLength() * 4);
  store<f64>(slotPositions + (<usize>dst << 3), load<f64>(slotPositions + (<usize>src << 3)));
  return OK;
}

/** Positions stepped by a slot since open or reset (the next position's index). */
export function slotPosition(slot: i32): f64 {
  return validSlot(slot) ? load<f64>(slotPositions + (<usize>slot << 3)) : -1;
}

/** Sets a slot's position (restoring a snapshot); a non-negative integer below 2^53. */
export function slotSetPosition(slot: i32, position: f64): i32 {
  if (!validSlot(slot)) return ERR_BAD_SLOT;
  if (!(position >= 0 && position <= 9007199254740991 && Math.floor(position) == position)) return ERR_BAD_CONFIG;
  store<f64>(slotPositions + (<usize>slot << 3), position);
  return OK;
}

/**
 * Byte offset of the attention weights of a slot's latest position in block
 * `block`: (heads, S + W) f32, keys in position order; the first
 * slotAttentionCount(slot) entries of each head's row are valid. 0 if none.
 */
export function slotAttentionPtr(slot: i32, block: i32): usize {
  if (!validSlot(slot) || block < 0 || block >= blocks) return 0;
  return slotWeights + (<usize>(slot * weightsLength() + block * heads * (sinks + window)) << 2);
}

/** Keys the latest position attended (0 before the first step). */
export function slotAttentionCount(slot: i32): i32 {
  return validSlot(slot) ? load<i32>(slotWeightCounts + (<usize>slot << 2)) : 0;
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

  if (modelKind != KIND_TRANSFORMER) recurrentLayers(count);
  if (modelKind == KIND_RECURRENT) {
    headOverRows(count, topHiddenRows(count), padTo4(hiddenSize));
  } else {
    const rows = residualInput(count);
    for (let i = 0; i < blocks; i++) blockStep(i, count);
    const width = padTo4(modelWidth);
    const lnF = tensorPtr(lnFinalIndex);
    layerNormRows(residual, rowScratch, count, modelWidth, width, lnF, lnF + (<usize>modelWidth << 2));
    zeroPadRows(rowScratch, count, modelWidth, width);
    headOverRows(count, rows, width);
  }
  for (let b = 0; b < count; b++) {
    const at = slotPositions + (<usize>load<i32>(ioSlots + (<usize>b << 2)) << 3);
    store<f64>(at, load<f64>(at) + 1);
  }
  return OK;
}

/** State of batch entry b's slot. */
// @ts-ignore: decorator
@inline function entryState(b: i32): usize {
  return slotState(load<i32>(ioSlots + (<usize>b << 2)));
}

/** Steps the recurrent stack of every entry; each slot's h (and c) moves in place. */
function recurrentLayers(count: i32): void {
  const hidden = hiddenSize;
  const hiddenBytes = <usize>hidden << 2;
  const gateRows = gates * hidden;
  const gru = cellKind == CELL_GRU;
  for (let l = 0; l < layers; l++) {
    const t = layerIndex + 4 * l;
    const bIh = tensorPtr(t + 2), bHh = tensorPtr(t + 3);
    const inWidth = l == 0 ? inputSize : hidden;
    const inBytes = <usize>inWidth << 2;
    const width = gru ? padTo4(inWidth) : padTo4(inWidth + hidden);
    const rowBytes = <usize>width << 2;
    const hiddenWidth = padTo4(hidden);
    const panel = <usize>load<u32>(panelTable + <usize>l * 8);
    if (l == 0 && useTokenTable()) {
      // the token table: P[token] + W_hh h + b_hh (GRU: P[token] beside its usual hidden side)
      for (let b = 0; b < count; b++) {
        const hiddenRow = hiddenRowScratch + (<usize>(b * hiddenWidth) << 2);
        memory.copy(hiddenRow, entryState(b), hiddenBytes);
        zeroPad(hiddenRow, hidden, hiddenWidth);
      }
      tokenTableGates(gateScratch, count, hiddenRowScratch, panel, ioTokens);
      if (gru) affinePacked(hiddenGateScratch, count, gateRows, hiddenRowScratch, hiddenWidth, <usize>load<u32>(panelTable + <usize>l * 8, 4), bHh, 0, gateRows);
      pointwiseLayer(l, count);
      continue;
    }
    // each stream's row: [input | h (RNN, LSTM) | zero padding]
    for (let b = 0; b < count; b++) {
      const state = entryState(b);
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
    if (gru) {
      affinePacked(gateScratch, count, gateRows, rowScratch, width, panel, bIh, 0, gateRows);
      affinePacked(hiddenGateScratch, count, gateRows, hiddenRowScratch, hiddenWidth, <usize>load<u32>(panelTable + <usize>l * 8, 4), bHh, 0, gateRows);
    } else {
      affinePacked(gateScratch, count, gateRows, rowScratch, width, panel, bIh, bHh, gateRows);
    }
    pointwiseLayer(l, count);
  }
}

/** The cell's pointwise half for layer l of every entry, from gateScratch (GRU: and hiddenGateScratch); h (and c) move in place. */
function pointwiseLayer(l: i32, count: i32): void {
  const hidden = hiddenSize;
  const hiddenBytes = <usize>hidden << 2;
  const gateBytes = <usize>(gates * hidden) << 2;
  for (let b = 0; b < count; b++) {
    const state = entryState(b);
    const h = state + <usize>l * hiddenBytes;
    const gatesRow = gateScratch + <usize>b * gateBytes;
    if (cellKind == CELL_LSTM) lstmPointwise(gatesRow, h, state + <usize>(layers + l) * hiddenBytes, hidden);
    else if (cellKind == CELL_GRU) gruPointwise(gatesRow, hiddenGateScratch + <usize>b * gateBytes, h, hidden);
    else rnnTanhPointwise(gatesRow, h, hidden);
  }
}

/** Copies each entry's top h into rowScratch rows of width padTo4(H), zero padded. */
function topHiddenRows(count: i32): usize {
  const width = padTo4(hiddenSize);
  const topOffset = <usize>((layers - 1) * hiddenSize) << 2;
  for (let b = 0; b < count; b++) {
    const row = rowScratch + (<usize>(b * width) << 2);
    memory.copy(row, entryState(b) + topOffset, <usize>hiddenSize << 2);
    zeroPad(row, hiddenSize, width);
  }
  return rowScratch;
}

/** io output = head(rows) for every entry, or the rows themselves without a head. */
function headOverRows(count: i32, rows: usize, width: i32): void {
  const inWidth = modelKind == KIND_RECURRENT ? hiddenSize : modelWidth;
  if (headSize > 0) {
    affinePacked(ioOutput, count, headSize, rows, width, headPanel, tensorPtr(headIndex + 1), 0, headSize);
  } else {
    for (let b = 0; b < count; b++) {
      memory.copy(ioOutput + (<usize>(b * inWidth) << 2), rows + (<usize>(b * width) << 2), <usize>inWidth << 2);
    }
  }
}

/**
 * Fills the residual stream (count, Dp): the embedding or proj_in of the input
 * plus the positional encoding (transformer), or the top h (hybrid). Returns
 * the row scratch, which the head reads after ln_f.
 */
function residualInput(count: i32): usize {
  const d = modelWidth;
  const width = padTo4(d);
  if (modelKind == KIND_HYBRID) {
    const topOffset = <usize>((layers - 1) * hiddenSize) << 2;
    for (let b = 0; b < count; b++) {
      const row = residual + (<usize>(b * width) << 2);
      memory.copy(row, entryState(b) + topOffset, <usize>d << 2);
      zeroPad(row, d, width);
    }
    return rowScratch;
  }
  if (vocabSize > 0) {
    embedTokens(ioTokens, count, residual, width);
  } else {
    const inWidth = padTo4(inputSize);
    copyPaddedRows(rowScratch, ioInput, count, inputSize, inWidth);
    affinePacked(residual, count, d, rowScratch, inWidth, projInPanel, tensorPtr(projInIndex + 1), 0, width);
  }
  for (let b = 0; b < count; b++) {
    const row = residual + (<usize>(b * width) << 2);
    addPositionalEncoding(row, d, load<f64>(slotPositions + (<usize>load<i32>(ioSlots + (<usize>b << 2)) << 3)));
    zeroPad(row, d, width);
  }
  return rowScratch;
}

/**
 * One pre-LN block over the residual stream of every entry:
 * a = u + out_proj(MHA(LN1(u)));  u ← a + fc2(gelu(fc1(LN2(a)))).
 * Each entry's attention reads and extends its own slot's KV cache.
 */
function blockStep(i: i32, count: i32): void {
  const d = modelWidth;
  const width = padTo4(d);
  const mlpPadded = padTo4(mlpWidth);
  const t = blockIndex + BLOCK_TENSORS * i;
  const panels = blockPanels + <usize>i * 16;
  const dBytes = <usize>d << 2;

  layerNormRows(residual, rowScratch, count, d, width, tensorPtr(t), tensorPtr(t + 1));
  zeroPadRows(rowScratch, count, d, width);
  affinePacked(qkvScratch, count, 3 * d, rowScratch, width, <usize>load<u32>(panels), tensorPtr(t + 3), 0, 3 * d);
  const cacheBytes = <usize>((sinks + window) * d) << 2;
  const weightBlock = <usize>(i * heads * (sinks + window)) << 2;
  for (let b = 0; b < count; b++) {
    const slot = load<i32>(ioSlots + (<usize>b << 2));
    const keys = slotState(slot) + (<usize>recurrentStateLength() << 2) + <usize>i * 2 * cacheBytes;
    const attended = attendPosition(
      qkvScratch + <usize>(b * 3) * dBytes, keys, keys + cacheBytes,
      headsScratch + (<usize>(b * width) << 2),
      slotWeights + (<usize>(slot * weightsLength()) << 2) + weightBlock, scoreScratch, rowOffsetScratch,
      load<f64>(slotPositions + (<usize>slot << 3)), d, heads, window, sinks,
    );
    store<i32>(slotWeightCounts + (<usize>slot << 2), attended);
  }
  zeroPadRows(headsScratch, count, d, width);
  affinePacked(gateScratch, count, d, headsScratch, width, <usize>load<u32>(panels, 4), tensorPtr(t + 5), 0, d);
  addRows(residual, width, gateScratch, d, count, d);

  layerNormRows(residual, rowScratch, count, d, width, tensorPtr(t + 6), tensorPtr(t + 7));
  zeroPadRows(rowScratch, count, d, width);
  affinePacked(mlpScratch, count, mlpWidth, rowScratch, width, <usize>load<u32>(panels, 8), tensorPtr(t + 9), 0, mlpPadded);
  for (let b = 0; b < count; b++) geluInPlace(mlpScratch + (<usize>(b * mlpPadded) << 2), mlpWidth);
  zeroPadRows(mlpScratch, count, mlpWidth, mlpPadded);
  affinePacked(gateScratch, count, d, mlpScratch, mlpPadded, <usize>load<u32>(panels, 12), tensorPtr(t + 11), 0, d);
  addRows(residual, width, gateScratch, d, count, d);
}

/** dst[b, :n] += src[b, :n] for each entry. */
function addRows(dst: usize, dstStride: i32, src: usize, srcStride: i32, count: i32, n: i32): void {
  for (let b = 0; b < count; b++) addTo(dst + (<usize>(b * dstStride) << 2), src + (<usize>(b * srcStride) << 2), n);
}

/** out[n, :E] = embed.weight[tokens[n]] for n < count (rows of stride `outStride`). */
export function embedTokens(tokens: usize, count: i32, out: usize, outStride: i32): void {
  const embed = tensorPtr(embedIndex);
  const bytes = <usize>inputSize << 2;
  for (let n = 0; n < count; n++) {
    const token = load<i32>(tokens + (<usize>n << 2));
    memory.copy(out + (<usize>(n * outStride) << 2), embed + <usize>token * bytes, bytes);
  }
}

/** Copies `count` rows of `width` floats into rows of `paddedWidth`, zeroing the padding. */
export function copyPaddedRows(dst: usize, src: usize, count: i32, width: i32, paddedWidth: i32): void {
  for (let n = 0; n < count; n++) {
    const row = dst + (<usize>(n * paddedWidth) << 2);
    memory.copy(row, src + (<usize>(n * width) << 2), <usize>width << 2);
    zeroPad(row, width, paddedWidth);
  }
}

/** Zeroes floats [from, to) of each of `count` rows of width `to`. */
function zeroPadRows(rows: usize, count: i32, from: i32, to: i32): void {
  for (let b = 0; b < count; b++) zeroPad(rows + (<usize>(b * to) << 2), from, to);
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
