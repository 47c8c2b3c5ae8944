// Laying out one model (one per instance): its parameter block and tensor table, the packed panels, the step's io
// and scratch, and the slot table (state.ts names every region); commitParams, which repacks the panels after the
// host writes parameters; and the layout's exports.
//
// Model kinds:
//   recurrent    [embed] → RNN/LSTM/GRU stack → [head]
//   transformer  embed | proj_in, + sinusoidal PE → N pre-LN blocks → ln_f → [head]
//   hybrid       [embed] → recurrent stack → N blocks over the top h (no PE) → ln_f → [head]
// configurePositional then may switch an attention model to ALiBi (no PE; a bias by in-cache offset on the scores,
// attention.ts) or, for a transformer, to no positional information at all.
//
// PARAMETER ORDER (nn.Module.state_dict() of the module documented in docs/model-format.md, submodules declared in
// this order):
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
import {
  OK, ERR_ALREADY_CONFIGURED, ERR_BAD_CONFIG, ERR_NOT_CONFIGURED, ERR_OUT_OF_MEMORY,
  CELL_GRU, CELL_RNN_RELU, CELL_RNN_TANH, KIND_HYBRID, KIND_RECURRENT, KIND_TRANSFORMER, gateCount,
  POSITIONAL_ALIBI, POSITIONAL_NONE, POSITIONAL_SINUSOIDAL,
} from "./codes";
import { Block, Layer, Shape, Step, Weights, block, layer, outputWidth } from "./state";
import { packPanel, padTo4, panelLength } from "./simd";
import { growSlots } from "./slots";
import { buildTokenTable, tokenTableFits } from "./token-table";

/** Tensors per transformer block (see PARAMETER ORDER). */
const BLOCK_TENSORS: i32 = 12;

/**
 * Lays out a recurrent model. Call once per instance, before anything else.
 * kind: CELL_RNN_TANH | CELL_LSTM | CELL_GRU | CELL_RNN_RELU; inputWidth: frame width, or the
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

/** Appends a tensor of `length` floats to the table; returns its index. */
function addTensor(length: i32): i32 {
  const index = Weights.paramCount++;
  store<i32>(Weights.table + <usize>index * 8, Weights.paramsLength);
  store<i32>(Weights.table + <usize>index * 8, length, 4);
  Weights.paramsLength += length;
  return index;
}

/** Byte offset of tensor `index` in the parameter block. */
// @ts-ignore: decorator
@inline function tensorPtr(index: i32): usize {
  return Weights.params + (<usize>load<i32>(Weights.table + <usize>index * 8)) * 4;
}

function layout(
  kindOfModel: i32, kind: i32, layerCount: i32, inputWidth: i32, vocab: i32, hidden: i32,
  width: i32, headCount: i32, mlp: i32, blockCount: i32, windowSize: i32, sinkCount: i32,
  head: i32, batch: i32, initialSlots: i32,
): i32 {
  if (Shape.configured) return ERR_ALREADY_CONFIGURED;
  const recurrent = kindOfModel != KIND_TRANSFORMER;
  const attention = kindOfModel != KIND_RECURRENT;
  if (inputWidth < 1 || vocab < 0 || head < 0 || batch < 1 || initialSlots < 1) return ERR_BAD_CONFIG;
  if (recurrent && (kind < CELL_RNN_TANH || kind > CELL_RNN_RELU || layerCount < 1 || hidden < 1)) return ERR_BAD_CONFIG;
  if (attention && (width < 1 || headCount < 1 || width % headCount != 0 || mlp < 1 || blockCount < 1 ||
      windowSize < 1 || sinkCount < 0)) return ERR_BAD_CONFIG;
  Shape.kind = kindOfModel;
  Shape.cell = recurrent ? kind : -1; Shape.layers = recurrent ? layerCount : 0;
  Shape.inputSize = inputWidth; Shape.vocabSize = vocab; Shape.hiddenSize = hidden; Shape.headSize = head;
  Shape.gates = recurrent ? gateCount(kind) : 0; Shape.batchCapacity = batch;
  Shape.width = width; Shape.heads = headCount; Shape.mlpWidth = mlp; Shape.blocks = blockCount;
  Shape.window = windowSize; Shape.sinks = sinkCount;
  Shape.positional = kindOfModel == KIND_TRANSFORMER ? POSITIONAL_SINUSOIDAL : POSITIONAL_NONE;
  const layers = Shape.layers, blocks = blockCount;

  // the tensor table, in PARAMETER ORDER
  const tensors = (vocab > 0 ? 1 : 0) + (kindOfModel == KIND_TRANSFORMER && vocab == 0 ? 2 : 0) +
    4 * layers + BLOCK_TENSORS * blocks + (attention ? 2 : 0) + (head > 0 ? 2 : 0);
  Weights.table = arenaAlloc(<usize>tensors * 8);
  if (!Weights.table) return ERR_OUT_OF_MEMORY;
  const gateRows = Shape.gates * hidden;
  Weights.paramCount = 0;
  Weights.paramsLength = 0;
  const embed = vocab > 0 ? addTensor(vocab * inputWidth) : -1;
  const projIn = kindOfModel == KIND_TRANSFORMER && vocab == 0 ? addTensor(width * inputWidth) : -1;
  if (projIn >= 0) addTensor(width);
  const firstLayer = Weights.paramCount;
  for (let l = 0; l < layers; l++) {
    addTensor(gateRows * (l == 0 ? inputWidth : hidden)); addTensor(gateRows * hidden);
    addTensor(gateRows); addTensor(gateRows);
  }
  const firstBlock = Weights.paramCount;
  for (let i = 0; i < blocks; i++) {
    addTensor(width); addTensor(width);                 // ln1
    addTensor(3 * width * width); addTensor(3 * width); // in_proj
    addTensor(width * width); addTensor(width);         // out_proj
    addTensor(width); addTensor(width);                 // ln2
    addTensor(mlp * width); addTensor(mlp);             // fc1
    addTensor(width * mlp); addTensor(width);           // fc2
  }
  const lnFinal = attention ? addTensor(width) : -1;
  if (attention) addTensor(width);
  const headIn = attention ? width : hidden;
  const headTensor = head > 0 ? addTensor(head * headIn) : -1;
  if (head > 0) addTensor(head);
  Weights.params = arenaAlloc(<usize>Weights.paramsLength * 4);
  if (!Weights.params) return ERR_OUT_OF_MEMORY;
  if (embed >= 0) Weights.embed = tensorPtr(embed);
  if (projIn >= 0) { Weights.projInWeight = tensorPtr(projIn); Weights.projInBias = tensorPtr(projIn + 1); }
  if (lnFinal >= 0) { Weights.lnFinalWeight = tensorPtr(lnFinal); Weights.lnFinalBias = tensorPtr(lnFinal + 1); }
  if (headTensor >= 0) { Weights.headWeight = tensorPtr(headTensor); Weights.headBias = tensorPtr(headTensor + 1); }

  // the packed panels
  const gru = kind == CELL_GRU && recurrent;
  let rowWidthMax = 0;
  if (layers > 0 && !(Weights.layers = arenaAlloc(<usize>layers * offsetof<Layer>()))) return ERR_OUT_OF_MEMORY;
  for (let l = 0; l < layers; l++) {
    const inWidth = l == 0 ? inputWidth : hidden;
    const rowWidth = gru ? padTo4(inWidth) : padTo4(inWidth + hidden);
    if (rowWidth > rowWidthMax) rowWidthMax = rowWidth;
    const cell = layer(l), t = firstLayer + 4 * l;
    cell.weightIh = tensorPtr(t); cell.weightHh = tensorPtr(t + 1);
    cell.biasIh = tensorPtr(t + 2); cell.biasHh = tensorPtr(t + 3);
    cell.panel = arenaAlloc(<usize>panelLength(gateRows, gru ? inWidth : inWidth + hidden) * 4);
    cell.hiddenPanel = gru ? arenaAlloc(<usize>panelLength(gateRows, hidden) * 4) : 0;
    if (!cell.panel || (gru && !cell.hiddenPanel)) return ERR_OUT_OF_MEMORY;
  }
  const residualWidth = attention ? padTo4(width) : padTo4(hidden);
  if (residualWidth > rowWidthMax) rowWidthMax = residualWidth; // ln and head input rows
  if (projIn >= 0) {
    if (padTo4(inputWidth) > rowWidthMax) rowWidthMax = padTo4(inputWidth);
    if (!(Weights.projInPanel = arenaAlloc(<usize>panelLength(width, inputWidth) * 4))) return ERR_OUT_OF_MEMORY;
  }
  if (blocks > 0 && !(Weights.blocks = arenaAlloc(<usize>blocks * offsetof<Block>()))) return ERR_OUT_OF_MEMORY;
  for (let i = 0; i < blocks; i++) {
    const b = block(i), t = firstBlock + BLOCK_TENSORS * i;
    b.ln1Weight = tensorPtr(t); b.ln1Bias = tensorPtr(t + 1);
    b.inProjWeight = tensorPtr(t + 2); b.inProjBias = tensorPtr(t + 3);
    b.outProjWeight = tensorPtr(t + 4); b.outProjBias = tensorPtr(t + 5);
    b.ln2Weight = tensorPtr(t + 6); b.ln2Bias = tensorPtr(t + 7);
    b.fc1Weight = tensorPtr(t + 8); b.fc1Bias = tensorPtr(t + 9);
    b.fc2Weight = tensorPtr(t + 10); b.fc2Bias = tensorPtr(t + 11);
    b.inProjPanel = arenaAlloc(<usize>panelLength(3 * width, width) * 4);
    b.outProjPanel = arenaAlloc(<usize>panelLength(width, width) * 4);
    b.fc1Panel = arenaAlloc(<usize>panelLength(mlp, width) * 4);
    b.fc2Panel = arenaAlloc(<usize>panelLength(width, mlp) * 4);
    if (!b.inProjPanel || !b.outProjPanel || !b.fc1Panel || !b.fc2Panel) return ERR_OUT_OF_MEMORY;
  }
  if (head > 0 && !(Weights.headPanel = arenaAlloc(<usize>panelLength(head, headIn) * 4))) return ERR_OUT_OF_MEMORY;

  // the step's io and scratch
  Step.slots = arenaAlloc(<usize>batch * 4);
  Step.tokens = arenaAlloc(<usize>batch * 4);
  Step.input = arenaAlloc(<usize>(batch * inputWidth) * 4);
  Step.output = arenaAlloc(<usize>(batch * outputWidth()) * 4);
  Step.rows = arenaAlloc(<usize>(batch * rowWidthMax) * 4);
  Step.gates = arenaAlloc(<usize>(batch * max(gateRows, width)) * 4);
  if (!Step.slots || !Step.tokens || !Step.input || !Step.output || !Step.rows || !Step.gates) return ERR_OUT_OF_MEMORY;
  if ((gru || tokenTableFits()) && !(Step.hiddenRows = arenaAlloc(<usize>(batch * padTo4(hidden)) * 4))) return ERR_OUT_OF_MEMORY;
  Weights.tokenTable = 0;
  if (tokenTableFits() && !(Weights.tokenTable = arenaAlloc(<usize>(vocab * gateRows) * 4))) return ERR_OUT_OF_MEMORY;
  if (gru && !(Step.hiddenGates = arenaAlloc(<usize>(batch * gateRows) * 4))) return ERR_OUT_OF_MEMORY;
  if (attention) {
    Step.residual = arenaAlloc(<usize>(batch * padTo4(width)) * 4);
    Step.qkv = arenaAlloc(<usize>(batch * 3 * width) * 4);
    Step.headsOut = arenaAlloc(<usize>(batch * padTo4(width)) * 4);
    Step.mlp = arenaAlloc(<usize>(batch * padTo4(mlp)) * 4);
    Step.scores = arenaAlloc(<usize>padTo4(sinkCount + windowSize) * 4);
    Step.rowOffsets = arenaAlloc(<usize>padTo4(sinkCount + windowSize) * 4);
    if (!Step.residual || !Step.qkv || !Step.headsOut || !Step.mlp || !Step.scores || !Step.rowOffsets) return ERR_OUT_OF_MEMORY;
  }
  Shape.configured = true;
  return growSlots(initialSlots);
}

/**
 * Sets an attention model's positional scheme (POSITIONAL_*), after configureTransformer or configureHybrid:
 * a transformer takes any of the three, a hybrid none or ALiBi (it never had an absolute encoding).
 * Returns OK, ERR_NOT_CONFIGURED, or ERR_BAD_CONFIG (a recurrent model, an unknown or unfit scheme; nothing changes).
 */
export function configurePositional(scheme: i32): i32 {
  if (!Shape.configured) return ERR_NOT_CONFIGURED;
  if (Shape.kind == KIND_RECURRENT || scheme < POSITIONAL_SINUSOIDAL || scheme > POSITIONAL_ALIBI ||
      (scheme == POSITIONAL_SINUSOIDAL && Shape.kind == KIND_HYBRID)) return ERR_BAD_CONFIG;
  Shape.positional = scheme;
  return OK;
}

/**
 * Rebuilds the packed weight panels from the parameter block. Call after
 * writing any parameter and before the next stepBatch: the step reads only
 * the panels (and the biases, which it reads directly).
 */
export function commitParams(): i32 {
  if (!Shape.configured) return ERR_NOT_CONFIGURED;
  const hidden = Shape.hiddenSize, gateRows = Shape.gates * hidden;
  for (let l = 0; l < Shape.layers; l++) {
    const cell = layer(l);
    const inWidth = l == 0 ? Shape.inputSize : hidden;
    if (Shape.cell == CELL_GRU) {
      packPanel(cell.panel, gateRows, cell.weightIh, inWidth, 0, 0);
      packPanel(cell.hiddenPanel, gateRows, cell.weightHh, hidden, 0, 0);
    } else {
      packPanel(cell.panel, gateRows, cell.weightIh, inWidth, cell.weightHh, hidden);
    }
  }
  const d = Shape.width, mlp = Shape.mlpWidth;
  if (Weights.projInWeight != 0) packPanel(Weights.projInPanel, d, Weights.projInWeight, Shape.inputSize, 0, 0);
  for (let i = 0; i < Shape.blocks; i++) {
    const b = block(i);
    packPanel(b.inProjPanel, 3 * d, b.inProjWeight, d, 0, 0);
    packPanel(b.outProjPanel, d, b.outProjWeight, d, 0, 0);
    packPanel(b.fc1Panel, mlp, b.fc1Weight, d, 0, 0);
    packPanel(b.fc2Panel, d, b.fc2Weight, mlp, 0, 0);
  }
  if (Shape.headSize > 0) packPanel(Weights.headPanel, Shape.headSize, Weights.headWeight, Shape.kind == KIND_RECURRENT ? hidden : d, 0, 0);
  if (Weights.tokenTable != 0) buildTokenTable(); // from layer 0's panel, packed above
  return OK;
}

// ── exports: the layout ──

export function abiVersion(): i32 { return 1; }
export function getKind(): i32 { return Shape.kind; }
export function getPositional(): i32 { return Shape.positional; }
export function getParamCount(): i32 { return Weights.paramCount; }
/** Byte offset of tensor `index` in the parameter block (PARAMETER ORDER); 0 if out of range. */
export function getParamPtr(index: i32): usize {
  return index >= 0 && index < Weights.paramCount ? tensorPtr(index) : 0;
}
/** Length in floats of tensor `index`; 0 if out of range. */
export function getParamLength(index: i32): i32 {
  return index >= 0 && index < Weights.paramCount ? load<i32>(Weights.table + <usize>index * 8, 4) : 0;
}
export function getParamsPtr(): usize { return Weights.params; }
export function getParamsLength(): i32 { return Weights.paramsLength; }
export function getOutputSize(): i32 { return Shape.configured ? outputWidth() : 0; }
export function getInputSize(): i32 { return Shape.inputSize; }
export function getBatchCapacity(): i32 { return Shape.batchCapacity; }
