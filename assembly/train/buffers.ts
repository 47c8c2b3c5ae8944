// Training's memory (state.ts Train, AttentionTrain, the traces, the transposed panels, the gradient block), laid
// out by trainConfigure for windows of up to T steps, N windows at a time, and the transposed panels backward reads,
// rebuilt by trainCommitParams after any parameter change. The host's buffers are time-major (row n = t·N + b).

import { arenaAlloc } from "../arena";
import { OK, ERR_BAD_CONFIG, ERR_NOT_CONFIGURED, ERR_OUT_OF_MEMORY, CELL_GRU, CELL_LSTM, KIND_RECURRENT } from "../codes";
import { commitParams } from "../configure";
import {
  AttentionTrain, BlockTrace, LayerTrace, Shape, Train, Weights,
  block, blockTrace, layer, layerTrace, outputWidth, rowWidth,
} from "../state";
import { packPanelTransposed, padTo4, panelLength } from "../simd";
import { tokenTableFits } from "../token-table";

/**
 * Sizes the training buffers for windows of up to `steps` positions, `windows`
 * at a time. May grow memory; call again to enlarge.
 */
export function trainConfigure(steps: i32, windows: i32): i32 {
  if (!Shape.configured) return ERR_NOT_CONFIGURED;
  if (steps < 1 || windows < 1) return ERR_BAD_CONFIG;
  if (steps <= Train.maxSteps && windows <= Train.maxWindows) return OK;
  const T = max(steps, Train.maxSteps), B = max(windows, Train.maxWindows);
  const H = Shape.hiddenSize, Hp = padTo4(H), L = Shape.layers, O = outputWidth(), X = Shape.inputSize;
  const GH = Shape.gates * H;
  const gru = Shape.cell == CELL_GRU, lstm = Shape.cell == CELL_LSTM;
  const TB = <usize>(T * B);
  const f = <usize>4;
  Train.input = arenaAlloc(TB * <usize>X * f);
  Train.tokens = arenaAlloc(TB * f);
  Train.target = arenaAlloc(TB * <usize>O * f);
  Train.targetTokens = arenaAlloc(TB * f);
  Train.mask = arenaAlloc(TB * f);
  const state = <usize>(L * B * H) * f;
  Train.h0 = arenaAlloc(state); Train.c0 = arenaAlloc(state); Train.hN = arenaAlloc(state); Train.cN = arenaAlloc(state);
  Train.dH0 = arenaAlloc(state); Train.dC0 = arenaAlloc(state);
  Train.dX = arenaAlloc(TB * <usize>X * f);
  Train.output = arenaAlloc(TB * <usize>O * f);
  Train.dOutput = arenaAlloc(TB * <usize>padTo4(O) * f);
  Train.dTop = arenaAlloc(TB * <usize>Hp * f);
  let widest = 0;
  for (let l = 0; l < L; l++) widest = max(widest, rowWidth(l));
  Train.dIn = arenaAlloc(TB * <usize>max(widest, Hp) * f);
  Train.dPre = arenaAlloc(TB * <usize>padTo4(GH) * f);
  Train.dPreH = gru ? arenaAlloc(TB * <usize>padTo4(GH) * f) : 1;
  Train.dH = arenaAlloc(<usize>(B * Hp) * f);
  Train.dC = arenaAlloc(<usize>(B * H) * f);
  Train.zeros = arenaAlloc(<usize>max(max(widest, Hp), padTo4(max(GH, O))) * f);
  Train.traces = arenaAlloc(<usize>L * offsetof<LayerTrace>());
  if (!Train.input || !Train.tokens || !Train.target || !Train.targetTokens || !Train.mask || !Train.h0 || !Train.c0 ||
      !Train.hN || !Train.cN || !Train.dH0 || !Train.dC0 || !Train.dX || !Train.output || !Train.dOutput || !Train.dTop ||
      !Train.dIn || !Train.dPre || !Train.dPreH || !Train.dH || !Train.dC || !Train.zeros || !Train.traces) return ERR_OUT_OF_MEMORY;
  for (let l = 0; l < L; l++) {
    const trace = layerTrace(l);
    trace.rows = arenaAlloc(TB * <usize>rowWidth(l) * f);
    trace.pre = arenaAlloc(TB * <usize>GH * f);
    trace.preH = gru ? arenaAlloc(TB * <usize>GH * f) : 1;
    trace.hs = arenaAlloc(<usize>((T + 1) * B * Hp) * f);
    trace.cs = lstm ? arenaAlloc(<usize>((T + 1) * B * H) * f) : 1;
    if (!trace.rows || !trace.pre || !trace.preH || !trace.hs || !trace.cs) return ERR_OUT_OF_MEMORY;
  }
  if (Shape.kind != KIND_RECURRENT) {
    const code = attentionBuffers(T, B);
    if (code != OK) return code;
  }
  // the outer-product scratch, sized for the largest weight gradient
  const D = Shape.width, FF = Shape.mlpWidth, X4 = max(X, H) + H; // the widest [x | h] row of any layer
  const maxRows = max(max(GH, O), max(3 * D, max(FF, D)));
  const maxK = max(max(X4, H), max(max(D, FF), X));
  const outerCount = max(T * B, Shape.vocabSize); // the token shortcut's dW_ih sums over V rows
  Train.outerLeft = arenaAlloc(<usize>maxRows * <usize>padTo4(outerCount) * f);
  Train.outerPanel = arenaAlloc(<usize>panelLength(maxK, outerCount) * f);
  Train.outerProduct = arenaAlloc(<usize>maxRows * <usize>maxK * f);
  Train.outerZeros = arenaAlloc(<usize>padTo4(maxK) * f);
  if (!Train.outerLeft || !Train.outerPanel || !Train.outerProduct || !Train.outerZeros) return ERR_OUT_OF_MEMORY;
  if (!Train.transposed) {
    Train.transposed = true;
    const code = transposedPanels();
    if (code != OK) return code;
    Train.grads = arenaAlloc(<usize>Weights.paramsLength * f);
    if (!Train.grads) return ERR_OUT_OF_MEMORY;
    if (tokenTableFits()) {
      Train.tokenAgg = arenaAlloc(<usize>(Shape.vocabSize * padTo4(GH)) * f);
      Train.tokenGrad = arenaAlloc(<usize>(Shape.vocabSize * X) * f);
      if (!Train.tokenAgg || !Train.tokenGrad) return ERR_OUT_OF_MEMORY;
    }
    packTransposed();
  }
  Train.maxSteps = T; Train.maxWindows = B;
  return OK;
}

/** The attention models' buffers and each block's trace, for T·B rows. */
function attentionBuffers(T: i32, B: i32): i32 {
  const D = Shape.width, Dp = padTo4(D), FF = Shape.mlpWidth, FFp = padTo4(FF), keys = Shape.sinks + Shape.window;
  const TB = <usize>(T * B), f = <usize>4;
  const Xp = padTo4(Shape.inputSize);
  AttentionTrain.residual = arenaAlloc(TB * <usize>Dp * f);
  AttentionTrain.xhatF = arenaAlloc(TB * <usize>D * f);
  AttentionTrain.rstdF = arenaAlloc(TB * f);
  AttentionTrain.lnF = arenaAlloc(TB * <usize>Dp * f);
  AttentionTrain.inputRows = arenaAlloc(TB * <usize>Xp * f);
  AttentionTrain.dRes = arenaAlloc(TB * <usize>Dp * f);
  AttentionTrain.dTmp = arenaAlloc(TB * <usize>max(Dp, Xp) * f);
  AttentionTrain.dQkv = arenaAlloc(TB * <usize>padTo4(3 * D) * f);
  AttentionTrain.dConcat = arenaAlloc(TB * <usize>Dp * f);
  AttentionTrain.dMlp = arenaAlloc(TB * <usize>FFp * f);
  AttentionTrain.keys = arenaAlloc(<usize>(keys * D) * f);
  AttentionTrain.values = arenaAlloc(<usize>(keys * D) * f);
  AttentionTrain.scores = arenaAlloc(<usize>padTo4(keys) * f);
  AttentionTrain.rowOffsets = arenaAlloc(<usize>padTo4(keys) * f);
  AttentionTrain.zeros = arenaAlloc(<usize>max(max(3 * D, FFp), max(Xp, padTo4(Shape.headSize))) * f);
  AttentionTrain.traces = arenaAlloc(<usize>Shape.blocks * offsetof<BlockTrace>());
  if (!AttentionTrain.residual || !AttentionTrain.xhatF || !AttentionTrain.rstdF || !AttentionTrain.lnF ||
      !AttentionTrain.inputRows || !AttentionTrain.dRes || !AttentionTrain.dTmp || !AttentionTrain.dQkv ||
      !AttentionTrain.dConcat || !AttentionTrain.dMlp || !AttentionTrain.keys || !AttentionTrain.values ||
      !AttentionTrain.scores || !AttentionTrain.rowOffsets || !AttentionTrain.zeros || !AttentionTrain.traces) return ERR_OUT_OF_MEMORY;
  for (let i = 0; i < Shape.blocks; i++) {
    const trace = blockTrace(i);
    trace.xhat1 = arenaAlloc(TB * <usize>D * f);
    trace.rstd1 = arenaAlloc(TB * f);
    trace.ln1 = arenaAlloc(TB * <usize>Dp * f);
    trace.qkv = arenaAlloc(TB * <usize>(3 * D) * f);
    trace.weights = arenaAlloc(TB * <usize>(Shape.heads * keys) * f);
    trace.counts = arenaAlloc(TB * f);
    trace.concat = arenaAlloc(TB * <usize>Dp * f);
    trace.xhat2 = arenaAlloc(TB * <usize>D * f);
    trace.rstd2 = arenaAlloc(TB * f);
    trace.ln2 = arenaAlloc(TB * <usize>Dp * f);
    trace.fc1 = arenaAlloc(TB * <usize>FF * f);
    trace.gelu = arenaAlloc(TB * <usize>FFp * f);
    if (!trace.xhat1 || !trace.rstd1 || !trace.ln1 || !trace.qkv || !trace.weights || !trace.counts || !trace.concat ||
        !trace.xhat2 || !trace.rstd2 || !trace.ln2 || !trace.fc1 || !trace.gelu) return ERR_OUT_OF_MEMORY;
  }
  return OK;
}

/** Room for every transposed panel: each maps (rows, outputs) gradients back to (rows, inputs) gradients. */
function transposedPanels(): i32 {
  const H = Shape.hiddenSize, GH = Shape.gates * H, D = Shape.width, FF = Shape.mlpWidth, f = <usize>4;
  const gru = Shape.cell == CELL_GRU;
  for (let l = 0; l < Shape.layers; l++) {
    const cell = layer(l), inWidth = l == 0 ? Shape.inputSize : H;
    cell.panelT = arenaAlloc(<usize>panelLength(gru ? inWidth : inWidth + H, GH) * f);
    cell.hiddenPanelT = gru ? arenaAlloc(<usize>panelLength(H, GH) * f) : 0;
    if (!cell.panelT || (gru && !cell.hiddenPanelT)) return ERR_OUT_OF_MEMORY;
  }
  if (Shape.headSize > 0) {
    Weights.headPanelT = arenaAlloc(<usize>panelLength(Shape.kind == KIND_RECURRENT ? H : D, Shape.headSize) * f);
    if (!Weights.headPanelT) return ERR_OUT_OF_MEMORY;
  }
  if (Shape.kind == KIND_RECURRENT) return OK;
  for (let i = 0; i < Shape.blocks; i++) {
    const b = block(i);
    b.inProjPanelT = arenaAlloc(<usize>panelLength(D, 3 * D) * f);
    b.outProjPanelT = arenaAlloc(<usize>panelLength(D, D) * f);
    b.fc1PanelT = arenaAlloc(<usize>panelLength(D, FF) * f);
    b.fc2PanelT = arenaAlloc(<usize>panelLength(FF, D) * f);
    if (!b.inProjPanelT || !b.outProjPanelT || !b.fc1PanelT || !b.fc2PanelT) return ERR_OUT_OF_MEMORY;
  }
  if (Weights.projInWeight != 0 && !(Weights.projInPanelT = arenaAlloc(<usize>panelLength(Shape.inputSize, D) * f))) return ERR_OUT_OF_MEMORY;
  return OK;
}

/** Rebuilds the transposed panels from the parameters (after any parameter change). */
function packTransposed(): void {
  const H = Shape.hiddenSize, GH = Shape.gates * H, D = Shape.width, FF = Shape.mlpWidth;
  for (let l = 0; l < Shape.layers; l++) {
    const cell = layer(l), inWidth = l == 0 ? Shape.inputSize : H;
    if (Shape.cell == CELL_GRU) {
      packPanelTransposed(cell.panelT, GH, cell.weightIh, inWidth, 0, 0);
      packPanelTransposed(cell.hiddenPanelT, GH, cell.weightHh, H, 0, 0);
    } else {
      packPanelTransposed(cell.panelT, GH, cell.weightIh, inWidth, cell.weightHh, H);
    }
  }
  if (Shape.headSize > 0) packPanelTransposed(Weights.headPanelT, Shape.headSize, Weights.headWeight, Shape.kind == KIND_RECURRENT ? H : D, 0, 0);
  if (Shape.kind == KIND_RECURRENT) return;
  for (let i = 0; i < Shape.blocks; i++) {
    const b = block(i);
    packPanelTransposed(b.inProjPanelT, 3 * D, b.inProjWeight, D, 0, 0);
    packPanelTransposed(b.outProjPanelT, D, b.outProjWeight, D, 0, 0);
    packPanelTransposed(b.fc1PanelT, FF, b.fc1Weight, D, 0, 0);
    packPanelTransposed(b.fc2PanelT, D, b.fc2Weight, FF, 0, 0);
  }
  if (Weights.projInWeight != 0) packPanelTransposed(Weights.projInPanelT, D, Weights.projInWeight, Shape.inputSize, 0, 0);
}

/** Call after the host wrote parameters: rebuilds the forward and the transposed panels. */
export function trainCommitParams(): i32 {
  const code = commitParams();
  if (code != OK) return code;
  if (Train.transposed) packTransposed();
  return OK;
}

// ── exports: the host's buffers ──
export function trainInputPtr(): usize { return Train.input; }
export function trainTokensPtr(): usize { return Train.tokens; }
export function trainTargetPtr(): usize { return Train.target; }
export function trainTargetTokensPtr(): usize { return Train.targetTokens; }
export function trainMaskPtr(): usize { return Train.mask; }
export function trainH0Ptr(): usize { return Train.h0; }
export function trainC0Ptr(): usize { return Train.c0; }
export function trainHNPtr(): usize { return Train.hN; }
export function trainCNPtr(): usize { return Train.cN; }
export function trainDH0Ptr(): usize { return Train.dH0; }
export function trainDC0Ptr(): usize { return Train.dC0; }
export function trainDXPtr(): usize { return Train.dX; }
export function trainOutputPtr(): usize { return Train.output; }
export function gradsPtr(): usize { return Train.grads; }
