// Training for recurrent models: forward over a window of T steps for B windows
// at once, storing what backward needs; backpropagation through time, layer by
// layer from the top; MSE or cross-entropy; gradient clipping; Adam or SGD with
// momentum. Each op's backward sits next to the forward values it reads.
//
// Layouts are time-major so that one step's B rows are contiguous:
//   input     f32 (T, B, X) frames, or i32 (T, B) tokens
//   target    f32 (T, B, O) for MSE, or i32 (T, B) token ids for cross-entropy
//   mask      f32 (T, B): 1 where the step has a target, 0 where not
//   h0, c0    f32 (L, B, H) initial state;  hN, cN  f32 (L, B, H) final state
//   dH0, dC0  f32 (L, B, H) gradients of the loss w.r.t. h0, c0
//   dX        f32 (T, B, X) gradient w.r.t. the input frames
//   output    f32 (T, B, O) the head's outputs (logits for tokens)
// Per layer l, stored by forward (Hp = padTo4(H), width = padTo4(in_l + H) for
// RNN and LSTM; GRU keeps [x] and [h] rows apart):
//   rows      (T, B, width)      the product's input rows [x | h_prev | 0] (GRU: [x | 0];
//                                its hidden rows are hs itself)
//   pre       (T, B, G·H)        gate pre-activations (GRU: W_ih x + b_ih)
//   preH      (T, B, 3H)         GRU: W_hh h + b_hh
//   hs        (T + 1, B, Hp)     h_t, t = 0 (initial) .. T, zero padded
//   cs        (T + 1, B, H)      LSTM c_t
//
// Token models (embedding width a multiple of 8) take a shortcut in
// layer 0: x_t is a row of the embedding E, so W_ih x_t + b_ih is a row of the token
// table P = E W_ihᵀ + b_ih (V, G·H; model.ts, which steps use too), rebuilt with the panels. Forward adds P[token] to
// W_hh h + b_hh instead of multiplying [x | h] by [W_ih | W_hh] (GRU: P[token] is
// its input side, with no product at all); backward sums
// the gate gradients per token (V rows) before forming dW_ih = Σ_v agg_v ⊗ E_v
// and dE_v = W_ihᵀ agg_v. For a char model (V = 65, E = 64, H = 256, T·B = 2048)
// that is about a fifth of a step's arithmetic not done.

import { arenaAlloc } from "./arena";
import { addTo, affinePacked, packPanelTransposed, padTo4, panelLength } from "./simd";
import { sigmoidLanes, sigmoidScalar, tanhLanes, tanhScalar } from "./simd";
import { CELL_GRU, CELL_LSTM, gruPointwise, lstmPointwise, rnnTanhPointwise } from "./recurrent";
import {
  OK, ERR_NOT_CONFIGURED, ERR_BAD_CONFIG, ERR_OUT_OF_MEMORY, ERR_BAD_BATCH_SIZE, ERR_BAD_TOKEN, ERR_NONFINITE_INPUT,
  KIND_RECURRENT, KIND_TRANSFORMER, configured, modelKind, cellKind, layers, inputSize, vocabSize, hiddenSize, headSize, gates,
  params, paramsLength, embedIndex, layerIndex, headIndex, panelTable, headPanel, tensorPtr, commitParams,
  modelWidth, heads, mlpWidth, blocks, window, sinks, projInIndex, blockIndex, lnFinalIndex, projInPanel, blockPanels, BLOCK_TENSORS,
  embedTokens, copyPaddedRows, tokenTableFits, useTokenTable, tokenTableGates,
} from "./model";
import { addPositionalEncoding, attendPosition, geluInPlace, rowMean, rowVariance, LAYER_NORM_EPS } from "./attention";

/** Training error codes (continuing the ABI's list). */
export const ERR_NOT_TRAINABLE: i32 = -10;
export const ERR_NONFINITE_LOSS: i32 = -11;
export const ERR_NONFINITE_GRADIENT: i32 = -12;
export const ERR_NO_OPTIMIZER: i32 = -13;

export const LOSS_MSE: i32 = 0;
export const LOSS_CROSS_ENTROPY: i32 = 1;
export const OPTIMIZER_ADAM: i32 = 0;
export const OPTIMIZER_SGD: i32 = 1;

// ── buffers, sized by trainConfigure ──
let maxSteps: i32 = 0;
let maxWindows: i32 = 0;
let tInput: usize = 0;
let tTokens: usize = 0;
let tTarget: usize = 0;
let tTargetTokens: usize = 0;
let tMask: usize = 0;
let tH0: usize = 0;
let tC0: usize = 0;
let tHN: usize = 0;
let tCN: usize = 0;
let tDH0: usize = 0;
let tDC0: usize = 0;
let tDX: usize = 0;
let tOutput: usize = 0;
let tDOutput: usize = 0;     // (T, B, Op) loss gradient w.r.t. the outputs, zero padded
let tDTop: usize = 0;        // (T, B, Hp) gradient flowing into the current layer's h from above
let tDIn: usize = 0;         // (T, B, max width) gradient w.r.t. the current layer's rows
let tDPre: usize = 0;        // (T, B, padTo4(G·H)) gate pre-activation gradients
let tDPreH: usize = 0;       // (T, B, padTo4(3H)) GRU hidden-side gradients
let tDH: usize = 0;          // (B, Hp) running dL/dh_t through time
let tDC: usize = 0;          // (B, H) running dL/dc_t
let tZeros: usize = 0;       // zeros, as wide as any product's bias
let layerBuffers: usize = 0; // per layer 6 pointers: rows, (unused), pre, preH, hs, cs
let panelsT: usize = 0;      // per layer 2 pointers: transposed panels (GRU: W_ih^T, W_hh^T), then the head's
let grads: usize = 0;        // (paramsLength) same layout as the parameter block
let outerLeft: usize = 0;    // (rows, padTo4(T·B)) a gradient's dZᵀ
let outerPanel: usize = 0;   // the columns of its right-hand side, packed
let outerProduct: usize = 0; // (rows, k) before it is added to the gradient
let outerZeros: usize = 0;   // (k) zero bias
let moment1: usize = 0;
let moment2: usize = 0;
let tokenAgg: usize = 0;     // (V, padTo4(G·H)) layer 0's gate gradients summed per token
let tokenGrad: usize = 0;    // (V, E) dE from them

// ── last results ──
let lastLoss: f64 = 0;
let lastTotalNorm: f64 = 0;
let lastClipCoef: f64 = 1;
let lastCount: f64 = 0;

// ── optimizer ──
let optimizerKind: i32 = -1;
let learningRate: f64 = 0;
let beta1: f64 = 0.9;
let beta2: f64 = 0.999;
let epsilon: f64 = 1e-8;
let momentum: f64 = 0;
let clipNorm: f64 = 0;   // 0 = off
let clipValue: f64 = 0;  // 0 = off
let optimizerSteps: i32 = 0;

// @ts-ignore: decorator
@inline function rowWidth(l: i32): i32 {
  const inWidth = l == 0 ? inputSize : hiddenSize;
  return cellKind == CELL_GRU ? padTo4(inWidth) : padTo4(inWidth + hiddenSize);
}

// @ts-ignore: decorator
@inline function layerBuffer(l: i32, which: i32): usize {
  return <usize>load<u32>(layerBuffers + (<usize>(l * 6 + which) << 2));
}

// @ts-ignore: decorator
@inline function outputWidth(): i32 {
  return headSize > 0 ? headSize : modelKind == KIND_RECURRENT ? hiddenSize : modelWidth;
}

/**
 * Sizes the training buffers for windows of up to `steps` positions, `windows`
 * at a time. Recurrent models only. May grow memory; call again to enlarge.
 */
export function trainConfigure(steps: i32, windows: i32): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  if (steps < 1 || windows < 1) return ERR_BAD_CONFIG;
  if (steps <= maxSteps && windows <= maxWindows) return OK;
  const T = max(steps, maxSteps), B = max(windows, maxWindows);
  const H = hiddenSize, Hp = padTo4(H), L = layers, O = outputWidth(), X = inputSize;
  const GH = gates * H;
  const TB = <usize>(T * B);
  const f = <usize>4;
  tInput = arenaAlloc(TB * <usize>X * f);
  tTokens = arenaAlloc(TB * f);
  tTarget = arenaAlloc(TB * <usize>O * f);
  tTargetTokens = arenaAlloc(TB * f);
  tMask = arenaAlloc(TB * f);
  const state = <usize>(L * B * H) * f;
  tH0 = arenaAlloc(state); tC0 = arenaAlloc(state); tHN = arenaAlloc(state); tCN = arenaAlloc(state);
  tDH0 = arenaAlloc(state); tDC0 = arenaAlloc(state);
  tDX = arenaAlloc(TB * <usize>X * f);
  tOutput = arenaAlloc(TB * <usize>O * f);
  tDOutput = arenaAlloc(TB * <usize>padTo4(O) * f);
  tDTop = arenaAlloc(TB * <usize>Hp * f);
  let widest = 0;
  for (let l = 0; l < L; l++) widest = max(widest, rowWidth(l));
  tDIn = arenaAlloc(TB * <usize>max(widest, Hp) * f);
  tDPre = arenaAlloc(TB * <usize>padTo4(GH) * f);
  tDPreH = cellKind == CELL_GRU ? arenaAlloc(TB * <usize>padTo4(GH) * f) : 1;
  tDH = arenaAlloc(<usize>(B * Hp) * f);
  tDC = arenaAlloc(<usize>(B * H) * f);
  tZeros = arenaAlloc(<usize>max(max(widest, Hp), padTo4(max(GH, O))) * f);
  layerBuffers = arenaAlloc(<usize>(L * 6) * 4);
  if (!tInput || !tTokens || !tTarget || !tTargetTokens || !tMask || !tH0 || !tC0 || !tHN || !tCN || !tDH0 || !tDC0 ||
      !tDX || !tOutput || !tDOutput || !tDTop || !tDIn || !tDPre || !tDPreH || !tDH || !tDC || !tZeros || !layerBuffers) return ERR_OUT_OF_MEMORY;
  for (let l = 0; l < L; l++) {
    const gru = cellKind == CELL_GRU;
    const rows = arenaAlloc(TB * <usize>rowWidth(l) * f);
    const pre = arenaAlloc(TB * <usize>GH * f);
    const preH = gru ? arenaAlloc(TB * <usize>GH * f) : 1;
    const hs = arenaAlloc(<usize>((T + 1) * B * Hp) * f);
    const cs = cellKind == CELL_LSTM ? arenaAlloc(<usize>((T + 1) * B * H) * f) : 1;
    if (!rows || !pre || !preH || !hs || !cs) return ERR_OUT_OF_MEMORY;
    const at = layerBuffers + (<usize>(l * 6) << 2);
    store<u32>(at, <u32>rows); store<u32>(at, <u32>pre, 8);
    store<u32>(at, <u32>preH, 12); store<u32>(at, <u32>hs, 16); store<u32>(at, <u32>cs, 20);
  }
  if (modelKind != KIND_RECURRENT) {
    const code = attentionBuffers(T, B);
    if (code != OK) return code;
  }
  // the outer-product scratch, sized for the largest weight gradient
  const D = modelWidth, X4 = max(inputSize, H) + H; // the widest [x | h] row of any layer
  const maxRows = max(max(GH, O), max(3 * D, max(mlpWidth, D)));
  const maxK = max(max(X4, H), max(max(D, mlpWidth), inputSize));
  const outerCount = max(T * B, vocabSize); // the token shortcut's dW_ih sums over V rows
  outerLeft = arenaAlloc(<usize>maxRows * <usize>padTo4(outerCount) * f);
  outerPanel = arenaAlloc(<usize>panelLength(maxK, outerCount) * f);
  outerProduct = arenaAlloc(<usize>maxRows * <usize>maxK * f);
  outerZeros = arenaAlloc(<usize>padTo4(maxK) * f);
  if (!outerLeft || !outerPanel || !outerProduct || !outerZeros) return ERR_OUT_OF_MEMORY;
  if (panelsT == 0) {
    panelsT = arenaAlloc(<usize>(L * 2 + 1) * 4);
    if (!panelsT) return ERR_OUT_OF_MEMORY;
    for (let l = 0; l < L; l++) {
      const inWidth = l == 0 ? inputSize : H;
      const gru = cellKind == CELL_GRU;
      // the transposed product maps (B, G·H) gate gradients to (B, width) row gradients
      const a = arenaAlloc(<usize>panelLength(gru ? inWidth : inWidth + H, GH) * f);
      const b = gru ? arenaAlloc(<usize>panelLength(H, GH) * f) : 1;
      if (!a || !b) return ERR_OUT_OF_MEMORY;
      store<u32>(panelsT + (<usize>(l * 2) << 2), <u32>a);
      store<u32>(panelsT + (<usize>(l * 2 + 1) << 2), <u32>(gru ? b : 0));
    }
    if (headSize > 0) {
      const h = arenaAlloc(<usize>panelLength(modelKind == KIND_RECURRENT ? H : modelWidth, headSize) * f);
      if (!h) return ERR_OUT_OF_MEMORY;
      store<u32>(panelsT + (<usize>(L * 2) << 2), <u32>h);
    }
    if (modelKind != KIND_RECURRENT) {
      const code = attentionPanels();
      if (code != OK) return code;
    }
    grads = arenaAlloc(<usize>paramsLength * f);
    if (!grads) return ERR_OUT_OF_MEMORY;
    if (tokenTableFits()) {
      tokenAgg = arenaAlloc(<usize>(vocabSize * padTo4(GH)) * f);
      tokenGrad = arenaAlloc(<usize>(vocabSize * inputSize) * f);
      if (!tokenAgg || !tokenGrad) return ERR_OUT_OF_MEMORY;
    }
    packTransposed();
  }
  maxSteps = T; maxWindows = B;
  return OK;
}

/** Rebuilds the transposed panels from the parameters (after any parameter change). */
function packTransposed(): void {
  const H = hiddenSize, GH = gates * H;
  for (let l = 0; l < layers; l++) {
    const t = layerIndex + 4 * l;
    const inWidth = l == 0 ? inputSize : H;
    const a = <usize>load<u32>(panelsT + (<usize>(l * 2) << 2));
    if (cellKind == CELL_GRU) {
      packPanelTransposed(a, GH, tensorPtr(t), inWidth, 0, 0);
      packPanelTransposed(<usize>load<u32>(panelsT + (<usize>(l * 2 + 1) << 2)), GH, tensorPtr(t + 1), H, 0, 0);
    } else {
      packPanelTransposed(a, GH, tensorPtr(t), inWidth, tensorPtr(t + 1), H);
    }
  }
  if (headSize > 0) packPanelTransposed(<usize>load<u32>(panelsT + (<usize>(layers * 2) << 2)), headSize, tensorPtr(headIndex), modelKind == KIND_RECURRENT ? H : modelWidth, 0, 0);
  if (modelKind != KIND_RECURRENT) packAttentionTransposed();
}

/** Call after the host wrote parameters: rebuilds the forward and the transposed panels. */
export function trainCommitParams(): i32 {
  const code = commitParams();
  if (code != OK) return code;
  if (panelsT != 0) packTransposed();
  return OK;
}

// ── exports: buffers ──
export function trainInputPtr(): usize { return tInput; }
export function trainTokensPtr(): usize { return tTokens; }
export function trainTargetPtr(): usize { return tTarget; }
export function trainTargetTokensPtr(): usize { return tTargetTokens; }
export function trainMaskPtr(): usize { return tMask; }
export function trainH0Ptr(): usize { return tH0; }
export function trainC0Ptr(): usize { return tC0; }
export function trainHNPtr(): usize { return tHN; }
export function trainCNPtr(): usize { return tCN; }
export function trainDH0Ptr(): usize { return tDH0; }
export function trainDC0Ptr(): usize { return tDC0; }
export function trainDXPtr(): usize { return tDX; }
export function trainOutputPtr(): usize { return tOutput; }
export function gradsPtr(): usize { return grads; }
export function trainLoss(): f64 { return lastLoss; }
export function trainTotalNorm(): f64 { return lastTotalNorm; }
export function trainClipCoef(): f64 { return lastClipCoef; }
/** Elements (MSE) or steps (cross-entropy) the last loss averaged over. */
export function trainLossCount(): f64 { return lastCount; }

// ── forward ──

/** Steps all B windows through T positions, storing what backward needs; writes outputs and hN, cN. */
function forward(T: i32, B: i32): void {
  const H = hiddenSize, Hp = padTo4(H), GH = gates * H;
  const hBytes = <usize>H << 2, hpBytes = <usize>Hp << 2;
  const gru = cellKind == CELL_GRU, lstm = cellKind == CELL_LSTM;
  const shortcut = useTokenTable(); // P is current: commitParams rebuilds it with the panels the host commits before every pass
  for (let l = 0; l < layers; l++) {
    const hs = layerBuffer(l, 4), cs = layerBuffer(l, 5);
    for (let b = 0; b < B; b++) {
      const h = hs + <usize>b * hpBytes;
      memory.copy(h, tH0 + (<usize>((l * B + b) * H) << 2), hBytes);
      for (let j = H; j < Hp; j++) store<f32>(h + (<usize>j << 2), 0);
      if (lstm) memory.copy(cs + <usize>b * hBytes, tC0 + (<usize>((l * B + b) * H) << 2), hBytes);
    }
  }
  for (let t = 0; t < T; t++) {
    for (let l = 0; l < layers; l++) {
      const k = layerIndex + 4 * l;
      const inWidth = l == 0 ? inputSize : H;
      const inBytes = <usize>inWidth << 2;
      const width = rowWidth(l);
      const rows = layerBuffer(l, 0) + (<usize>(t * B * width) << 2);
      const hs = layerBuffer(l, 4);
      const hPrev = hs + (<usize>(t * B * Hp) << 2), hNow = hs + (<usize>((t + 1) * B * Hp) << 2);
      const tableRow = l == 0 && shortcut; // layer 0 reads P[token] and h_prev, not [x | h] rows
      if (!tableRow) for (let b = 0; b < B; b++) {
        const row = rows + (<usize>(b * width) << 2);
        let input: usize;
        if (l > 0) input = layerBuffer(l - 1, 4) + (<usize>(((t + 1) * B + b) * Hp) << 2);
        else if (vocabSize > 0) input = tensorPtr(embedIndex) + (<usize>(load<i32>(tTokens + (<usize>(t * B + b) << 2)) * inputSize) << 2);
        else input = tInput + (<usize>((t * B + b) * inputSize) << 2);
        memory.copy(row, input, inBytes);
        if (gru) {
          for (let j = inWidth; j < width; j++) store<f32>(row + (<usize>j << 2), 0);
        } else {
          memory.copy(row + inBytes, hPrev + <usize>b * hpBytes, hBytes);
          for (let j = inWidth + H; j < width; j++) store<f32>(row + (<usize>j << 2), 0);
        }
      }
      const pre = layerBuffer(l, 2) + (<usize>(t * B * GH) << 2);
      const panel = <usize>load<u32>(panelTable + <usize>l * 8);
      if (gru) {
        if (tableRow) {
          tokenTableGates(pre, B, hPrev, panel, tTokens + (<usize>(t * B) << 2)); // P[token]: no input-side product
        } else {
          affinePacked(pre, B, GH, rows, width, panel, tensorPtr(k + 2), 0, GH);
        }
        const preH = layerBuffer(l, 3) + (<usize>(t * B * GH) << 2);
        // GRU's hidden rows are h_prev itself: hs rows are already zero padded
        affinePacked(preH, B, GH, hPrev, Hp, <usize>load<u32>(panelTable + <usize>l * 8, 4), tensorPtr(k + 3), 0, GH);
        for (let b = 0; b < B; b++) {
          const h = hNow + <usize>b * hpBytes;
          memory.copy(h, hPrev + <usize>b * hpBytes, hpBytes);
          gruPointwise(pre + (<usize>(b * GH) << 2), preH + (<usize>(b * GH) << 2), h, H);
        }
      } else {
        if (tableRow) {
          tokenTableGates(pre, B, hPrev, panel, tTokens + (<usize>(t * B) << 2)); // P[token] + W_hh h + b_hh
        } else {
          affinePacked(pre, B, GH, rows, width, panel, tensorPtr(k + 2), tensorPtr(k + 3), GH);
        }
        const cs = layerBuffer(l, 5);
        for (let b = 0; b < B; b++) {
          const h = hNow + <usize>b * hpBytes;
          const g = pre + (<usize>(b * GH) << 2);
          if (lstm) {
            const c = cs + (<usize>(((t + 1) * B + b) * H) << 2);
            memory.copy(c, cs + (<usize>((t * B + b) * H) << 2), hBytes);
            memory.copy(h, hPrev + <usize>b * hpBytes, hpBytes);
            lstmPointwise(g, h, c, H);
          } else {
            rnnTanhPointwise(g, h, H);
            for (let j = H; j < Hp; j++) store<f32>(h + (<usize>j << 2), 0);
          }
        }
      }
    }
  }
  if (modelKind != KIND_RECURRENT) {
    attentionForward(T, B);
  } else {
    // the head over every (t, b) at once
    const top = layerBuffer(layers - 1, 4) + (<usize>(B * Hp) << 2);
    const O = outputWidth();
    if (headSize > 0) {
      affinePacked(tOutput, T * B, O, top, Hp, headPanel, tensorPtr(headIndex + 1), 0, O);
    } else {
      for (let n = 0; n < T * B; n++) memory.copy(tOutput + (<usize>(n * O) << 2), top + (<usize>(n * Hp) << 2), hBytes);
    }
  }
  for (let l = 0; l < layers; l++) {
    for (let b = 0; b < B; b++) {
      const at = <usize>((l * B + b) * H) << 2;
      memory.copy(tHN + at, layerBuffer(l, 4) + (<usize>((T * B + b) * Hp) << 2), hBytes);
      if (lstm) memory.copy(tCN + at, layerBuffer(l, 5) + (<usize>((T * B + b) * H) << 2), hBytes);
    }
  }
}

// ── losses: value and gradient w.r.t. the outputs ──

/** Mean squared error over the masked elements; dOutput = 2 (y − target) / count. */
function mseLoss(T: i32, B: i32): void {
  const O = outputWidth(), Op = padTo4(O);
  let count: f64 = 0;
  for (let n = 0; n < T * B; n++) count += <f64>load<f32>(tMask + (<usize>n << 2)) * <f64>O;
  let sum: f64 = 0;
  const scale = count > 0 ? 2.0 / count : 0;
  for (let n = 0; n < T * B; n++) {
    const m = load<f32>(tMask + (<usize>n << 2));
    for (let j = 0; j < O; j++) {
      const diff = load<f32>(tOutput + (<usize>(n * O + j) << 2)) - load<f32>(tTarget + (<usize>(n * O + j) << 2));
      sum += <f64>m * <f64>diff * <f64>diff;
      store<f32>(tDOutput + (<usize>(n * Op + j) << 2), <f32>(<f64>m * scale * <f64>diff));
    }
    for (let j = O; j < Op; j++) store<f32>(tDOutput + (<usize>(n * Op + j) << 2), 0);
  }
  lastCount = count;
  lastLoss = count > 0 ? sum / count : 0;
}

/** Cross-entropy of softmax(logits) against target ids, mean over masked steps; dLogits = (softmax − onehot) / count. */
function crossEntropyLoss(T: i32, B: i32): void {
  const O = outputWidth(), Op = padTo4(O);
  let count: f64 = 0;
  for (let n = 0; n < T * B; n++) count += <f64>load<f32>(tMask + (<usize>n << 2));
  let sum: f64 = 0;
  const scale = count > 0 ? 1.0 / count : 0;
  for (let n = 0; n < T * B; n++) {
    const m = <f64>load<f32>(tMask + (<usize>n << 2));
    const logits = tOutput + (<usize>(n * O) << 2);
    let maxLogit: f64 = -Infinity;
    for (let j = 0; j < O; j++) maxLogit = Math.max(maxLogit, <f64>load<f32>(logits + (<usize>j << 2)));
    let total: f64 = 0;
    for (let j = 0; j < O; j++) total += Math.exp(<f64>load<f32>(logits + (<usize>j << 2)) - maxLogit);
    const target = load<i32>(tTargetTokens + (<usize>n << 2));
    const logSum = maxLogit + Math.log(total);
    if (m != 0) sum += m * (logSum - <f64>load<f32>(logits + (<usize>target << 2)));
    for (let j = 0; j < O; j++) {
      const p = Math.exp(<f64>load<f32>(logits + (<usize>j << 2)) - logSum);
      store<f32>(tDOutput + (<usize>(n * Op + j) << 2), <f32>(m * scale * (p - (j == target ? 1.0 : 0.0))));
    }
    for (let j = O; j < Op; j++) store<f32>(tDOutput + (<usize>(n * Op + j) << 2), 0);
  }
  lastCount = count;
  lastLoss = count > 0 ? sum / count : 0;
}

// ── backward ──

/**
 * Backpropagation through time. Gradients are added to the gradient block (so
 * truncated-BPTT chunks can accumulate); dH0, dC0 and dX are overwritten.
 */
function backward(T: i32, B: i32): void {
  const H = hiddenSize, Hp = padTo4(H), GH = gates * H, GHp = padTo4(GH);
  const O = outputWidth(), Op = padTo4(O);
  const TB = T * B;
  const gru = cellKind == CELL_GRU, lstm = cellKind == CELL_LSTM;

  if (modelKind != KIND_RECURRENT) {
    attentionBackward(T, B); // fills tDTop for a hybrid's recurrent stack
  } else if (headSize > 0) {
    // head: dTop = dOutput · W_head; dW_head += dOutputᵀ · top; db_head += Σ dOutput
    const top = layerBuffer(layers - 1, 4) + (<usize>(B * Hp) << 2);
    affinePacked(tDTop, TB, Hp, tDOutput, Op, <usize>load<u32>(panelsT + (<usize>(layers * 2) << 2)), tZeros, 0, Hp);
    accumulateOuter(grads + gradOffset(headIndex), O, H, tDOutput, Op, top, Hp, 0, TB);
    accumulateColumnSums(grads + gradOffset(headIndex + 1), O, tDOutput, Op, TB);
  } else {
    for (let n = 0; n < TB; n++) {
      memory.copy(tDTop + (<usize>(n * Hp) << 2), tDOutput + (<usize>(n * Op) << 2), <usize>H << 2);
      for (let j = H; j < Hp; j++) store<f32>(tDTop + (<usize>(n * Hp + j) << 2), 0);
    }
  }

  const shortcut = useTokenTable();
  for (let l = layers - 1; l >= 0; l--) {
    const k = layerIndex + 4 * l;
    const inWidth = l == 0 ? inputSize : H;
    const width = rowWidth(l);
    const tableRow = l == 0 && shortcut;
    const pre = layerBuffer(l, 2), preH = layerBuffer(l, 3), hs = layerBuffer(l, 4), cs = layerBuffer(l, 5);
    const panelA = <usize>load<u32>(panelsT + (<usize>(l * 2) << 2));
    const panelB = <usize>load<u32>(panelsT + (<usize>(l * 2 + 1) << 2));
    memory.fill(tDH, 0, <usize>(B * Hp) << 2);
    memory.fill(tDC, 0, <usize>(B * H) << 2);
    for (let t = T - 1; t >= 0; t--) {
      const dPre = tDPre + (<usize>(t * B * GHp) << 2);
      for (let b = 0; b < B; b++) {
        const n = t * B + b;
        const dh = tDH + (<usize>(b * Hp) << 2);
        // dL/dh_t: from above (head or the layer above) plus from step t+1
        for (let j = 0; j < H; j++) {
          const at = dh + (<usize>j << 2);
          store<f32>(at, load<f32>(at) + load<f32>(tDTop + (<usize>(n * Hp + j) << 2)));
        }
        const z = pre + (<usize>(n * GH) << 2);
        const dz = dPre + (<usize>(b * GHp) << 2);
        const hPrev = hs + (<usize>(n * Hp) << 2);
        if (lstm) {
          lstmBackward(z, cs + (<usize>(n * H) << 2), cs + (<usize>((n + B) * H) << 2), dh, tDC + (<usize>(b * H) << 2), dz, H);
        } else if (gru) {
          gruBackward(z, preH + (<usize>(n * GH) << 2), hPrev, dh, dz, tDPreH + (<usize>((t * B + b) * GHp) << 2), H);
        } else {
          rnnBackward(hs + (<usize>((n + B) * Hp) << 2), dh, dz, H);
        }
        for (let j = GH; j < GHp; j++) store<f32>(dz + (<usize>j << 2), 0);
      }
      // d[x | h_prev] = dz · W for every window at once (the token shortcut: dh_prev = dz · W_hh alone,
      // from the transposed panel's rows past the E input columns, straight into tDH)
      const dIn = tDIn + (<usize>(t * B * width) << 2);
      // (GRU: dx only feeds dE, which the shortcut forms per token; dh_prev comes from the hidden side below)
      if (tableRow) {
        if (!gru) affinePacked(tDH, B, H, dPre, GHp, panelA + <usize>(inputSize >> 3) * (<usize>GHp << 5), tZeros, 0, Hp);
      } else {
        affinePacked(dIn, B, gru ? inWidth : inWidth + H, dPre, GHp, panelA, tZeros, 0, width);
      }
      if (gru) {
        // dh_prev = dh ⊙ z (kept in tDH by gruBackward) + dGh · W_hh
        const dHidden = tDTop; // reuse: rows of step t of dTop were consumed above
        affinePacked(dHidden + (<usize>(t * B * Hp) << 2), B, H, tDPreH + (<usize>(t * B * GHp) << 2), GHp, panelB, tZeros, 0, Hp);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) {
            const at = tDH + (<usize>(b * Hp + j) << 2);
            store<f32>(at, load<f32>(at) + load<f32>(dHidden + (<usize>((t * B + b) * Hp + j) << 2)));
          }
        }
      } else if (!tableRow) {
        for (let b = 0; b < B; b++) {
          memory.copy(tDH + (<usize>(b * Hp) << 2), dIn + (<usize>(b * width + inWidth) << 2), <usize>H << 2);
        }
      }
    }
    // gradients w.r.t. the initial state
    for (let b = 0; b < B; b++) {
      const at = <usize>((l * B + b) * H) << 2;
      memory.copy(tDH0 + at, tDH + (<usize>(b * Hp) << 2), <usize>H << 2);
      if (lstm) memory.copy(tDC0 + at, tDC + (<usize>(b * H) << 2), <usize>H << 2);
    }
    // weights and biases, over every (t, b) at once
    const rows = layerBuffer(l, 0);
    if (tableRow) {
      // the gate gradients summed per token: dW_ih = Σ_v agg_v ⊗ E_v over V rows instead of T·B
      memory.fill(tokenAgg, 0, <usize>(vocabSize * GHp) << 2);
      for (let n = 0; n < TB; n++) {
        const token = load<i32>(tTokens + (<usize>n << 2));
        addTo(tokenAgg + (<usize>(token * GHp) << 2), tDPre + (<usize>(n * GHp) << 2), GH);
      }
      accumulateOuter(grads + gradOffset(k), GH, inputSize, tokenAgg, GHp, tensorPtr(embedIndex), inputSize, 0, vocabSize);
    }
    if (gru) {
      if (!tableRow) accumulateOuter(grads + gradOffset(k), GH, inWidth, tDPre, GHp, rows, width, 0, TB);
      accumulateOuter(grads + gradOffset(k + 1), GH, H, tDPreH, GHp, hs, Hp, 0, TB);
      accumulateColumnSums(grads + gradOffset(k + 2), GH, tDPre, GHp, TB);
      accumulateColumnSums(grads + gradOffset(k + 3), GH, tDPreH, GHp, TB);
    } else if (tableRow) {
      accumulateOuter(grads + gradOffset(k + 1), GH, H, tDPre, GHp, hs, Hp, 0, TB);
      accumulateColumnSums(grads + gradOffset(k + 2), GH, tDPre, GHp, TB);
      accumulateColumnSums(grads + gradOffset(k + 3), GH, tDPre, GHp, TB);
    } else {
      accumulateOuterSplit(grads + gradOffset(k), inWidth, grads + gradOffset(k + 1), H, GH, tDPre, GHp, rows, width, TB);
      accumulateColumnSums(grads + gradOffset(k + 2), GH, tDPre, GHp, TB);
      accumulateColumnSums(grads + gradOffset(k + 3), GH, tDPre, GHp, TB);
    }
    // what flows into the layer below (or to the input)
    if (l > 0) {
      for (let n = 0; n < TB; n++) {
        memory.copy(tDTop + (<usize>(n * Hp) << 2), tDIn + (<usize>(n * width) << 2), <usize>H << 2);
        for (let j = H; j < Hp; j++) store<f32>(tDTop + (<usize>(n * Hp + j) << 2), 0);
      }
    } else if (tableRow) {
      // dE_v = W_ihᵀ agg_v: the transposed panel's first E rows
      affinePacked(tokenGrad, vocabSize, inputSize, tokenAgg, GHp, panelA, tZeros, 0, inputSize);
      addTo(grads + gradOffset(embedIndex), tokenGrad, vocabSize * inputSize);
    } else if (vocabSize > 0) {
      const embedGrad = grads + gradOffset(embedIndex);
      for (let n = 0; n < TB; n++) {
        const token = load<i32>(tTokens + (<usize>n << 2));
        addTo(embedGrad + (<usize>(token * inputSize) << 2), tDIn + (<usize>(n * width) << 2), inputSize);
      }
    } else {
      for (let n = 0; n < TB; n++) memory.copy(tDX + (<usize>(n * inputSize) << 2), tDIn + (<usize>(n * width) << 2), <usize>inputSize << 2);
    }
  }
}

/** Byte offset of tensor `index`'s gradient within the gradient block. */
// @ts-ignore: decorator
@inline function gradOffset(index: i32): usize {
  return tensorPtr(index) - params;
}

/**
 * LSTM step backward. z: pre-activations (4H); cPrev, c: c_{t−1}, c_t; dh: dL/dh_t in,
 * overwritten with nothing (the caller refills it); dc: dL/dc_t in (from t+1), dL/dc_{t−1} out;
 * dz: gate pre-activation gradients out (4H).
 */
function lstmBackward(z: usize, cPrev: usize, c: usize, dh: usize, dc: usize, dz: usize, H: i32): void {
  const gate = <usize>H << 2;
  const H4 = H & ~3;
  const one = f32x4.splat(1);
  let j = 0;
  for (; j < H4; j += 4) {
    const o4 = <usize>j << 2;
    const i = sigmoidLanes(v128.load(z + o4)), f = sigmoidLanes(v128.load(z + gate + o4));
    const g = tanhLanes(v128.load(z + 2 * gate + o4)), o = sigmoidLanes(v128.load(z + 3 * gate + o4));
    const tc = tanhLanes(v128.load(c + o4));
    const dhj = v128.load(dh + o4);
    const dcj = f32x4.add(v128.load(dc + o4), f32x4.mul(f32x4.mul(dhj, o), f32x4.sub(one, f32x4.mul(tc, tc))));
    v128.store(dz + o4, f32x4.mul(f32x4.mul(f32x4.mul(dcj, g), i), f32x4.sub(one, i)));
    v128.store(dz + gate + o4, f32x4.mul(f32x4.mul(f32x4.mul(dcj, v128.load(cPrev + o4)), f), f32x4.sub(one, f)));
    v128.store(dz + 2 * gate + o4, f32x4.mul(f32x4.mul(dcj, i), f32x4.sub(one, f32x4.mul(g, g))));
    v128.store(dz + 3 * gate + o4, f32x4.mul(f32x4.mul(f32x4.mul(dhj, tc), o), f32x4.sub(one, o)));
    v128.store(dc + o4, f32x4.mul(dcj, f));
  }
  for (; j < H; j++) {
    const o4 = <usize>j << 2;
    const i = sigmoidScalar(load<f32>(z + o4)), f = sigmoidScalar(load<f32>(z + gate + o4));
    const g = tanhScalar(load<f32>(z + 2 * gate + o4)), o = sigmoidScalar(load<f32>(z + 3 * gate + o4));
    const tc = tanhScalar(load<f32>(c + o4));
    const dhj = load<f32>(dh + o4);
    const dcj = load<f32>(dc + o4) + dhj * o * (1 - tc * tc);
    store<f32>(dz + o4, dcj * g * i * (1 - i));
    store<f32>(dz + gate + o4, dcj * load<f32>(cPrev + o4) * f * (1 - f));
    store<f32>(dz + 2 * gate + o4, dcj * i * (1 - g * g));
    store<f32>(dz + 3 * gate + o4, dhj * tc * o * (1 - o));
    store<f32>(dc + o4, dcj * f);
  }
}

/**
 * GRU step backward. gi = W_ih x + b_ih, gh = W_hh h + b_hh (3H each); dh: dL/dh_t in,
 * dL/dh_{t−1} through the z gate out (the W_hh part is added by the caller);
 * dGi, dGh: pre-activation gradients out.
 */
function gruBackward(gi: usize, gh: usize, hPrev: usize, dh: usize, dGi: usize, dGh: usize, H: i32): void {
  const gate = <usize>H << 2;
  for (let j = 0; j < H; j++) {
    const o4 = <usize>j << 2;
    const r = sigmoidScalar(load<f32>(gi + o4) + load<f32>(gh + o4));
    const z = sigmoidScalar(load<f32>(gi + gate + o4) + load<f32>(gh + gate + o4));
    const ghn = load<f32>(gh + 2 * gate + o4);
    const n = tanhScalar(load<f32>(gi + 2 * gate + o4) + r * ghn);
    const dhj = load<f32>(dh + o4);
    const dnPre = dhj * (1 - z) * (1 - n * n);
    const dzPre = dhj * (load<f32>(hPrev + o4) - n) * z * (1 - z);
    const drPre = dnPre * ghn * r * (1 - r);
    store<f32>(dGi + o4, drPre); store<f32>(dGi + gate + o4, dzPre); store<f32>(dGi + 2 * gate + o4, dnPre);
    store<f32>(dGh + o4, drPre); store<f32>(dGh + gate + o4, dzPre); store<f32>(dGh + 2 * gate + o4, dnPre * r);
    store<f32>(dh + o4, dhj * z);
  }
  const padded = <usize>padTo4(3 * H) << 2;
  for (let at = <usize>(3 * H) << 2; at < padded; at += 4) store<f32>(dGh + at, 0);
}

/** Elman RNN step backward: dz = dh ⊙ (1 − h²). */
function rnnBackward(h: usize, dh: usize, dz: usize, H: i32): void {
  for (let j = 0; j < H; j++) {
    const o4 = <usize>j << 2;
    const hj = load<f32>(h + o4);
    store<f32>(dz + o4, load<f32>(dh + o4) * (1 - hj * hj));
  }
}

/**
 * dW[r, j] += Σ_n dZ[n, r] · R[n, offset + j] for r < rows, j < k, n < count
 * (a weight gradient as the sum of outer products over every step and window).
 *   dW (rows, k)   dZ (count, dzStride)   R (count, rStride)
 * Done as one matrix product with the fast forward kernel: dZᵀ (rows, count) as the
 * batch rows, the columns of R packed as a panel, into scratch, then added to dW.
 */
function accumulateOuter(dW: usize, rows: i32, k: i32, dZ: usize, dzStride: i32, R: usize, rStride: i32, offset: i32, count: i32): void {
  outerProductInto(rows, k, dZ, dzStride, R, rStride, offset, count);
  addTo(dW, outerProduct, rows * k);
}

/** outerProduct (rows, k) = Σ_n dZ[n, :rows]ᵀ ⊗ R[n, offset : offset + k] over n < count (see accumulateOuter). */
function outerProductInto(rows: i32, k: i32, dZ: usize, dzStride: i32, R: usize, rStride: i32, offset: i32, count: i32): void {
  const width = padTo4(count);
  transposeRows(outerLeft, width, dZ, dzStride, rows, count);
  packColumns(outerPanel, R, count, rStride, offset, k);
  affinePacked(outerProduct, rows, k, outerLeft, width, outerPanel, outerZeros, 0, k);
}

/** Rows of a transpose block: 32 × 32 floats read and 32 × 32 written stay in L1. */
const TRANSPOSE_BLOCK: i32 = 32;

/**
 * dst[r, n] = src[n, r] for r < rows, n < count, with dst rows zero padded from
 * count to dstStride. Done in 32 × 32 blocks: a straight column walk of src would
 * touch a new cache line per element.
 *   dst (rows, dstStride)   src (count, srcStride)
 */
function transposeRows(dst: usize, dstStride: i32, src: usize, srcStride: i32, rows: i32, count: i32): void {
  for (let r0 = 0; r0 < rows; r0 += TRANSPOSE_BLOCK) {
    const r1 = min(rows, r0 + TRANSPOSE_BLOCK);
    for (let n0 = 0; n0 < count; n0 += TRANSPOSE_BLOCK) {
      const n1 = min(count, n0 + TRANSPOSE_BLOCK);
      for (let r = r0; r < r1; r++) {
        const row = dst + (<usize>(r * dstStride) << 2);
        const column = src + (<usize>r << 2);
        for (let n = n0; n < n1; n++) store<f32>(row + (<usize>n << 2), load<f32>(column + (<usize>(n * srcStride) << 2)));
      }
    }
    for (let r = r0; r < r1; r++) {
      const row = dst + (<usize>(r * dstStride) << 2);
      for (let n = count; n < dstStride; n++) store<f32>(row + (<usize>n << 2), 0);
    }
  }
}

/**
 * The gradients of W_ih (rows, k1) and W_hh (rows, k2) at once from the layer's
 * [x | h] rows: one product over k1 + k2 columns, then split.
 */
function accumulateOuterSplit(dW1: usize, k1: i32, dW2: usize, k2: i32, rows: i32, dZ: usize, dzStride: i32, R: usize, rStride: i32, count: i32): void {
  const k = k1 + k2;
  outerProductInto(rows, k, dZ, dzStride, R, rStride, 0, count);
  for (let r = 0; r < rows; r++) {
    const product = outerProduct + (<usize>(r * k) << 2);
    addTo(dW1 + (<usize>(r * k1) << 2), product, k1);
    addTo(dW2 + (<usize>(r * k2) << 2), product + (<usize>k1 << 2), k2);
  }
}

/**
 * Packs columns offset .. offset+k−1 of R (count, rStride) as a panel of k rows
 * over `count` columns (the layout of simd.ts packPanel), zero padded.
 */
function packColumns(panel: usize, R: usize, count: i32, rStride: i32, offset: i32, k: i32): void {
  const width = padTo4(count);
  const tiles = (k + 7) >> 3;
  const tileBytes = <usize>width << 5; // width / 4 groups of 8 rows × 4 lanes
  // four rows of R at a time (one group of panel columns), across every tile: R is read row by row
  for (let c = 0; c < width; c += 4) {
    for (let t = 0; t < tiles; t++) {
      let at = panel + <usize>t * tileBytes + (<usize>c << 5);
      for (let i = 0; i < 8; i++) {
        const j = t * 8 + i;
        for (let lane = 0; lane < 4; lane++) {
          const n = c + lane;
          store<f32>(at, j < k && n < count ? load<f32>(R + (<usize>(n * rStride + offset + j) << 2)) : 0);
          at += 4;
        }
      }
    }
  }
}

/** db[r] += Σ_n dZ[n, r]. */
function accumulateColumnSums(db: usize, rows: i32, dZ: usize, dzStride: i32, count: i32): void {
  for (let n = 0; n < count; n++) addTo(db, dZ + (<usize>(n * dzStride) << 2), rows);
}


// ── exports: one training pass ──

/**
 * Forward and backward over T steps of B windows from the buffers above.
 * `accumulate` = 1 adds to the gradient block (truncated BPTT over chunks); 0
 * zeroes it first. The loss is trainLoss(). Refuses (and leaves the gradient
 * block zeroed or as it was) bad sizes, bad tokens, non-finite inputs, or a
 * non-finite loss.
 */
export function trainForwardBackward(T: i32, B: i32, lossKind: i32, accumulate: i32): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  if (grads == 0) return ERR_NOT_TRAINABLE;
  if (T < 1 || B < 1 || T > maxSteps || B > maxWindows) return ERR_BAD_BATCH_SIZE;
  if (lossKind != LOSS_MSE && lossKind != LOSS_CROSS_ENTROPY) return ERR_BAD_CONFIG;
  const check = checkTrainingInputs(T, B, lossKind);
  if (check != OK) return check;
  forward(T, B);
  if (lossKind == LOSS_MSE) mseLoss(T, B);
  else crossEntropyLoss(T, B);
  if (!isFinite(lastLoss)) return ERR_NONFINITE_LOSS;
  if (!accumulate) memory.fill(grads, 0, <usize>paramsLength << 2);
  backward(T, B);
  return OK;
}

/** Tokens in range, targets in range, frames, targets, mask and initial state finite. */
function checkTrainingInputs(T: i32, B: i32, lossKind: i32): i32 {
  const TB = T * B;
  const O = outputWidth();
  if (vocabSize > 0) {
    for (let n = 0; n < TB; n++) {
      const token = load<i32>(tTokens + (<usize>n << 2));
      if (token < 0 || token >= vocabSize) return ERR_BAD_TOKEN;
    }
  } else if (!allFinite(tInput, TB * inputSize)) return ERR_NONFINITE_INPUT;
  if (lossKind == LOSS_CROSS_ENTROPY) {
    for (let n = 0; n < TB; n++) {
      const target = load<i32>(tTargetTokens + (<usize>n << 2));
      if (load<f32>(tMask + (<usize>n << 2)) != 0 && (target < 0 || target >= O)) return ERR_BAD_TOKEN;
      if (target < 0 || target >= O) store<i32>(tTargetTokens + (<usize>n << 2), 0); // masked out: any valid id
    }
  } else if (!allFinite(tTarget, TB * O)) return ERR_NONFINITE_INPUT;
  const stateLength = layers * B * hiddenSize;
  if (!allFinite(tMask, TB) || !allFinite(tH0, stateLength) || (cellKind == CELL_LSTM && !allFinite(tC0, stateLength))) return ERR_NONFINITE_INPUT;
  return OK;
}

function allFinite(ptr: usize, n: i32): bool {
  let acc: f32 = 0;
  for (let i = 0; i < n; i++) {
    const x = load<f32>(ptr + (<usize>i << 2));
    acc += x - x; // NaN for NaN or ±Infinity, else 0
  }
  return acc == 0;
}

// ── clipping and optimizers ──

/**
 * Sets the optimizer. kind: OPTIMIZER_ADAM (lr, b1, b2, eps) or OPTIMIZER_SGD
 * (lr, momentum). clipNorm > 0 clips by global L2 norm (clip_grad_norm_),
 * clipValue > 0 clamps each gradient to [−clipValue, clipValue] first.
 * Resets the moments and the step count. May grow memory.
 */
export function optimizerConfigure(kind: i32, lr: f64, b1: f64, b2: f64, eps: f64, mom: f64, maxNorm: f64, maxValue: f64): i32 {
  if (grads == 0) return ERR_NOT_TRAINABLE;
  if ((kind != OPTIMIZER_ADAM && kind != OPTIMIZER_SGD) || !(lr > 0) || !isFinite(lr) || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) ||
      !(eps >= 0) || !(mom >= 0 && mom < 1) || !(maxNorm >= 0) || !(maxValue >= 0)) return ERR_BAD_CONFIG;
  if (moment1 == 0) {
    moment1 = arenaAlloc(<usize>paramsLength << 2);
    moment2 = arenaAlloc(<usize>paramsLength << 2);
    if (!moment1 || !moment2) return ERR_OUT_OF_MEMORY;
  }
  memory.fill(moment1, 0, <usize>paramsLength << 2);
  memory.fill(moment2, 0, <usize>paramsLength << 2);
  optimizerKind = kind; learningRate = lr; beta1 = b1; beta2 = b2; epsilon = eps; momentum = mom;
  clipNorm = maxNorm; clipValue = maxValue; optimizerSteps = 0;
  return OK;
}

/** Σ g² over every parameter's gradient, in f64. */
function gradientSquares(): f64 {
  const n4 = paramsLength & ~3;
  let lo = f64x2.splat(0), hi = f64x2.splat(0);
  let i = 0;
  for (; i < n4; i += 4) {
    const g = v128.load(grads + (<usize>i << 2));
    const a = f64x2.promote_low_f32x4(g);
    const b = f64x2.promote_low_f32x4(v128.shuffle<f32>(g, g, 2, 3, 0, 1));
    lo = f64x2.add(lo, f64x2.mul(a, a));
    hi = f64x2.add(hi, f64x2.mul(b, b));
  }
  let sum = (f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1)) + (f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1));
  for (; i < paramsLength; i++) {
    const g = <f64>load<f32>(grads + (<usize>i << 2));
    sum += g * g;
  }
  return sum;
}

/**
 * Clips the gradient block and applies one optimizer update to the parameters,
 * then repacks the panels. A non-finite gradient is refused: nothing changes.
 * trainTotalNorm() is the norm before clipping, trainClipCoef() the factor used.
 */
export function optimizerStep(): i32 {
  if (optimizerKind < 0) return ERR_NO_OPTIMIZER;
  const squares = gradientSquares();
  if (!isFinite(squares)) {
    lastTotalNorm = squares;
    return ERR_NONFINITE_GRADIENT;
  }
  if (clipValue > 0) {
    const v = <f32>clipValue;
    for (let i = 0; i < paramsLength; i++) {
      const at = grads + (<usize>i << 2);
      store<f32>(at, min(max(load<f32>(at), -v), v));
    }
  }
  lastTotalNorm = Math.sqrt(clipValue > 0 ? gradientSquares() : squares);
  lastClipCoef = 1;
  if (clipNorm > 0) {
    const coef = clipNorm / (lastTotalNorm + 1e-6);
    if (coef < 1) {
      lastClipCoef = coef;
      const c = <f32>coef;
      for (let i = 0; i < paramsLength; i++) {
        const at = grads + (<usize>i << 2);
        store<f32>(at, load<f32>(at) * c);
      }
    }
  }
  optimizerSteps++;
  if (optimizerKind == OPTIMIZER_ADAM) {
    const b1 = <f32>beta1, b2 = <f32>beta2;
    const stepSize = <f32>(learningRate / (1 - Math.pow(beta1, optimizerSteps)));
    const correction2 = <f32>Math.sqrt(1 - Math.pow(beta2, optimizerSteps));
    const eps = <f32>epsilon;
    // p ← p − lr/(1 − b1^t) · m / (sqrt(v)/sqrt(1 − b2^t) + eps), four at a time (the same float32 operations as the tail)
    const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), va1 = f32x4.splat(1 - b1), va2 = f32x4.splat(1 - b2);
    const vStep = f32x4.splat(stepSize), vCorrection = f32x4.splat(correction2), vEps = f32x4.splat(eps);
    const n4 = paramsLength & ~3;
    let i = 0;
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      const g = v128.load(grads + o);
      const m = f32x4.add(f32x4.mul(vb1, v128.load(moment1 + o)), f32x4.mul(va1, g));
      const v = f32x4.add(f32x4.mul(vb2, v128.load(moment2 + o)), f32x4.mul(f32x4.mul(va2, g), g));
      v128.store(moment1 + o, m);
      v128.store(moment2 + o, v);
      const denominator = f32x4.add(f32x4.div(f32x4.sqrt(v), vCorrection), vEps);
      v128.store(params + o, f32x4.sub(v128.load(params + o), f32x4.div(f32x4.mul(vStep, m), denominator)));
    }
    for (; i < paramsLength; i++) {
      const o = <usize>i << 2;
      const g = load<f32>(grads + o);
      const m = b1 * load<f32>(moment1 + o) + (1 - b1) * g;
      const v = b2 * load<f32>(moment2 + o) + (1 - b2) * g * g;
      store<f32>(moment1 + o, m);
      store<f32>(moment2 + o, v);
      store<f32>(params + o, load<f32>(params + o) - stepSize * m / (sqrt<f32>(v) / correction2 + eps));
    }
  } else {
    const mom = <f32>momentum, lr = <f32>learningRate;
    for (let i = 0; i < paramsLength; i++) {
      const o = <usize>i << 2;
      const g = load<f32>(grads + o);
      // PyTorch: the first step's buffer is the gradient itself
      const buf = optimizerSteps == 1 ? g : mom * load<f32>(moment1 + o) + g;
      store<f32>(moment1 + o, buf);
      store<f32>(params + o, load<f32>(params + o) - lr * (mom > 0 ? buf : g));
    }
  }
  return trainCommitParams();
}

/** The fused fast path: forward, backward and one optimizer step without leaving the kernel. */
export function trainStep(T: i32, B: i32, lossKind: i32): i32 {
  if (optimizerKind < 0) return ERR_NO_OPTIMIZER;
  const code = trainForwardBackward(T, B, lossKind, 0);
  if (code != OK) return code;
  return optimizerStep();
}

export function getOptimizerSteps(): i32 { return optimizerSteps; }

/** Byte offset of the optimizer's first (0) or second (1) moment block (parameter layout); 0 before optimizerConfigure. SGD keeps its momentum buffer in block 0. */
export function optimizerMomentPtr(which: i32): usize { return which == 0 ? moment1 : which == 1 ? moment2 : 0; }

/** Sets the optimizer's step count (restoring a checkpoint: Adam's bias corrections depend on it). */
export function optimizerSetSteps(steps: i32): i32 {
  if (optimizerKind < 0) return ERR_NO_OPTIMIZER;
  if (steps < 0) return ERR_BAD_CONFIG;
  optimizerSteps = steps;
  return OK;
}

// ── attention models: transformer and hybrid ────────────────────────────────
//
// Training processes each block over all T·B rows at once (one matrix product
// per projection), and each window's attention position by position with the
// same incremental kernel as inference, over a per-window cache; window-relative
// positions (0 .. T−1). Stored per block (TB = T·B rows, Dp = padTo4(D)):
//   xhat1, xhat2 (TB, D)      LayerNorm outputs before weight and bias;  rstd1, rstd2 (TB)
//   ln1, ln2 (TB, Dp)         LayerNorm outputs: the inputs of in_proj and fc1
//   qkv (TB, 3D)              weights (TB, heads, S + W), counts i32 (TB)
//   concat (TB, Dp)           heads' outputs: the input of out_proj
//   fc1 (TB, FF)              pre-activations;  gelu (TB, FFp): the input of fc2
// and once: residual (TB, Dp), ln_f's xhat (TB, D), rstd (TB), output rows (TB, Dp),
// the frame rows (TB, Xp) of a transformer's proj_in.

const BLOCK_BUFFERS: i32 = 12;
let aResidual: usize = 0;
let aXhatF: usize = 0;
let aRstdF: usize = 0;
let aLnF: usize = 0;
let aInputRows: usize = 0;
let aDRes: usize = 0;
let aDTmp: usize = 0;
let aDQkv: usize = 0;
let aDConcat: usize = 0;
let aDMlp: usize = 0;
let aKeys: usize = 0;
let aValues: usize = 0;
let aScores: usize = 0;
let aRowOffsets: usize = 0;
let aZeros: usize = 0;
let aBlocks: usize = 0;  // per block BLOCK_BUFFERS pointers
let aPanelsT: usize = 0; // per block 4 transposed panels (in_proj, out_proj, fc1, fc2), then proj_in's

// @ts-ignore: decorator
@inline function blockBuffer(i: i32, which: i32): usize {
  return <usize>load<u32>(aBlocks + (<usize>(i * BLOCK_BUFFERS + which) << 2));
}

function attentionBuffers(T: i32, B: i32): i32 {
  const D = modelWidth, Dp = padTo4(D), FF = mlpWidth, FFp = padTo4(FF), keys = sinks + window;
  const TB = <usize>(T * B), f = <usize>4;
  const Xp = padTo4(inputSize);
  aResidual = arenaAlloc(TB * <usize>Dp * f);
  aXhatF = arenaAlloc(TB * <usize>D * f);
  aRstdF = arenaAlloc(TB * f);
  aLnF = arenaAlloc(TB * <usize>Dp * f);
  aInputRows = arenaAlloc(TB * <usize>Xp * f);
  aDRes = arenaAlloc(TB * <usize>Dp * f);
  aDTmp = arenaAlloc(TB * <usize>max(Dp, Xp) * f);
  aDQkv = arenaAlloc(TB * <usize>padTo4(3 * D) * f);
  aDConcat = arenaAlloc(TB * <usize>Dp * f);
  aDMlp = arenaAlloc(TB * <usize>FFp * f);
  aKeys = arenaAlloc(<usize>(keys * D) * f);
  aValues = arenaAlloc(<usize>(keys * D) * f);
  aScores = arenaAlloc(<usize>padTo4(keys) * f);
  aRowOffsets = arenaAlloc(<usize>padTo4(keys) * f);
  aZeros = arenaAlloc(<usize>max(max(3 * D, FFp), max(Xp, padTo4(headSize))) * f);
  aBlocks = arenaAlloc(<usize>(blocks * BLOCK_BUFFERS) * 4);
  if (!aResidual || !aXhatF || !aRstdF || !aLnF || !aInputRows || !aDRes || !aDTmp || !aDQkv || !aDConcat || !aDMlp ||
      !aKeys || !aValues || !aScores || !aRowOffsets || !aZeros || !aBlocks) return ERR_OUT_OF_MEMORY;
  for (let i = 0; i < blocks; i++) {
    for (let k = 0; k < BLOCK_BUFFERS; k++) {
      const buffer = arenaAlloc(TB * <usize>blockBufferWidth(k, D, Dp, FF, FFp, heads * keys) * f);
      if (!buffer) return ERR_OUT_OF_MEMORY;
      store<u32>(aBlocks + (<usize>(i * BLOCK_BUFFERS + k) << 2), <u32>buffer);
    }
  }
  return OK;
}

/** Floats per row of block buffer `k` (see the list above); no managed arrays: the arena owns the heap. */
function blockBufferWidth(k: i32, D: i32, Dp: i32, FF: i32, FFp: i32, weights: i32): i32 {
  switch (k) {
    case 0: case 7: return D;       // xhat1, xhat2
    case 1: case 5: case 8: return 1; // rstd1, counts, rstd2
    case 2: case 6: case 9: return Dp; // ln1, concat, ln2
    case 3: return 3 * D;           // qkv
    case 4: return weights;         // attention weights
    case 10: return FF;             // fc1 pre-activations
    default: return FFp;            // gelu rows
  }
}

function attentionPanels(): i32 {
  const D = modelWidth, FF = mlpWidth;
  aPanelsT = arenaAlloc(<usize>(blocks * 4 + 1) * 4);
  if (!aPanelsT) return ERR_OUT_OF_MEMORY;
  for (let i = 0; i < blocks; i++) {
    const inProj = arenaAlloc(<usize>panelLength(D, 3 * D) * 4);
    const outProj = arenaAlloc(<usize>panelLength(D, D) * 4);
    const fc1 = arenaAlloc(<usize>panelLength(D, FF) * 4);
    const fc2 = arenaAlloc(<usize>panelLength(FF, D) * 4);
    if (!inProj || !outProj || !fc1 || !fc2) return ERR_OUT_OF_MEMORY;
    const at = aPanelsT + (<usize>(i * 4) << 2);
    store<u32>(at, <u32>inProj); store<u32>(at, <u32>outProj, 4); store<u32>(at, <u32>fc1, 8); store<u32>(at, <u32>fc2, 12);
  }
  if (projInIndex >= 0) {
    const p = arenaAlloc(<usize>panelLength(inputSize, D) * 4);
    if (!p) return ERR_OUT_OF_MEMORY;
    store<u32>(aPanelsT + (<usize>(blocks * 4) << 2), <u32>p);
  }
  return OK;
}

// @ts-ignore: decorator
@inline function panelT(i: i32, which: i32): usize {
  return <usize>load<u32>(aPanelsT + (<usize>(i * 4 + which) << 2));
}

function packAttentionTransposed(): void {
  const D = modelWidth, FF = mlpWidth;
  for (let i = 0; i < blocks; i++) {
    const t = blockIndex + BLOCK_TENSORS * i;
    packPanelTransposed(panelT(i, 0), 3 * D, tensorPtr(t + 2), D, 0, 0);
    packPanelTransposed(panelT(i, 1), D, tensorPtr(t + 4), D, 0, 0);
    packPanelTransposed(panelT(i, 2), FF, tensorPtr(t + 8), D, 0, 0);
    packPanelTransposed(panelT(i, 3), D, tensorPtr(t + 10), FF, 0, 0);
  }
  if (projInIndex >= 0) packPanelTransposed(panelT(blocks, 0), D, tensorPtr(projInIndex), inputSize, 0, 0);
}

/**
 * LayerNorm of `rows` rows (input stride `xStride`, output stride `yStride`, both ≥ d),
 * the same arithmetic as inference's layerNormRows, keeping xhat (rows, d) and rstd (rows).
 */
function layerNormTrain(x: usize, xStride: i32, y: usize, yStride: i32, xhat: usize, rstd: usize, rows: i32, d: i32, weight: usize, bias: usize): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * xStride) << 2), yr = y + (<usize>(r * yStride) << 2), hr = xhat + (<usize>(r * d) << 2);
    const mean = rowMean(xr, d);
    const inv = <f32>(1.0 / Math.sqrt(<f64>rowVariance(xr, d, mean) + <f64>LAYER_NORM_EPS));
    store<f32>(rstd + (<usize>r << 2), inv);
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      const n = (load<f32>(xr + o) - mean) * inv;
      store<f32>(hr + o, n);
      store<f32>(yr + o, n * load<f32>(weight + o) + load<f32>(bias + o));
    }
    for (let j = d; j < yStride; j++) store<f32>(yr + (<usize>j << 2), 0);
  }
}

/**
 * LayerNorm backward: dx (+)= rstd · (g − mean(g) − xhat · mean(g · xhat)), g = dy ⊙ weight;
 * dWeight += dy ⊙ xhat; dBias += dy. `accumulate` adds into dx instead of writing it.
 */
function layerNormBackward(dy: usize, dyStride: i32, xhat: usize, rstd: usize, weight: usize, dx: usize, dxStride: i32,
  dWeight: usize, dBias: usize, rows: i32, d: i32, accumulate: bool): void {
  for (let r = 0; r < rows; r++) {
    const dyr = dy + (<usize>(r * dyStride) << 2), hr = xhat + (<usize>(r * d) << 2), dxr = dx + (<usize>(r * dxStride) << 2);
    let meanG: f64 = 0, meanGx: f64 = 0;
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      const g = <f64>load<f32>(dyr + o) * <f64>load<f32>(weight + o);
      meanG += g;
      meanGx += g * <f64>load<f32>(hr + o);
      store<f32>(dWeight + o, load<f32>(dWeight + o) + load<f32>(dyr + o) * load<f32>(hr + o));
      store<f32>(dBias + o, load<f32>(dBias + o) + load<f32>(dyr + o));
    }
    meanG /= <f64>d; meanGx /= <f64>d;
    const inv = <f64>load<f32>(rstd + (<usize>r << 2));
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      const g = <f64>load<f32>(dyr + o) * <f64>load<f32>(weight + o);
      const value = <f32>(inv * (g - meanG - <f64>load<f32>(hr + o) * meanGx));
      store<f32>(dxr + o, accumulate ? load<f32>(dxr + o) + value : value);
    }
  }
}

/** Fills the residual rows from the input, runs every block, ln_f and the head; writes tOutput. */
function attentionForward(T: i32, B: i32): void {
  const D = modelWidth, Dp = padTo4(D), TB = T * B;
  if (modelKind == KIND_TRANSFORMER) {
    if (vocabSize > 0) {
      embedTokens(tTokens, TB, aResidual, Dp);
    } else {
      const Xp = padTo4(inputSize);
      copyPaddedRows(aInputRows, tInput, TB, inputSize, Xp);
      affinePacked(aResidual, TB, D, aInputRows, Xp, projInPanel, tensorPtr(projInIndex + 1), 0, Dp);
    }
    for (let n = 0; n < TB; n++) {
      const row = aResidual + (<usize>(n * Dp) << 2);
      addPositionalEncoding(row, D, <f64>(n / B));
      for (let j = D; j < Dp; j++) store<f32>(row + (<usize>j << 2), 0);
    }
  } else {
    // hybrid: the top layer's h at steps 1..T (rows of width Hp = Dp)
    memory.copy(aResidual, layerBuffer(layers - 1, 4) + (<usize>(B * Dp) << 2), <usize>(TB * Dp) << 2);
  }
  for (let i = 0; i < blocks; i++) blockForwardTrain(i, T, B);
  const lnF = tensorPtr(lnFinalIndex);
  layerNormTrain(aResidual, Dp, aLnF, Dp, aXhatF, aRstdF, TB, D, lnF, lnF + (<usize>D << 2));
  const O = outputWidth();
  if (headSize > 0) {
    affinePacked(tOutput, TB, O, aLnF, Dp, headPanel, tensorPtr(headIndex + 1), 0, O);
  } else {
    for (let n = 0; n < TB; n++) memory.copy(tOutput + (<usize>(n * O) << 2), aLnF + (<usize>(n * Dp) << 2), <usize>D << 2);
  }
}

function blockForwardTrain(i: i32, T: i32, B: i32): void {
  const D = modelWidth, Dp = padTo4(D), FF = mlpWidth, FFp = padTo4(FF), TB = T * B;
  const keys = sinks + window;
  const t0 = blockIndex + BLOCK_TENSORS * i;
  const panels = blockPanels + <usize>i * 16;
  layerNormTrain(aResidual, Dp, blockBuffer(i, 2), Dp, blockBuffer(i, 0), blockBuffer(i, 1), TB, D, tensorPtr(t0), tensorPtr(t0 + 1));
  const qkv = blockBuffer(i, 3);
  affinePacked(qkv, TB, 3 * D, blockBuffer(i, 2), Dp, <usize>load<u32>(panels), tensorPtr(t0 + 3), 0, 3 * D);
  const concat = blockBuffer(i, 6);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = t * B + b;
      const count = attendPosition(
        qkv + (<usize>(n * 3 * D) << 2), aKeys, aValues, concat + (<usize>(n * Dp) << 2),
        blockBuffer(i, 4) + (<usize>(n * heads * keys) << 2), aScores, aRowOffsets, <f64>t, D, heads, window, sinks,
      );
      store<i32>(blockBuffer(i, 5) + (<usize>n << 2), count);
      for (let j = D; j < Dp; j++) store<f32>(concat + (<usize>(n * Dp + j) << 2), 0);
    }
  }
  affinePacked(aDTmp, TB, D, concat, Dp, <usize>load<u32>(panels, 4), tensorPtr(t0 + 5), 0, Dp);
  addTo(aResidual, aDTmp, TB * Dp); // same stride, padding lanes stay zero
  layerNormTrain(aResidual, Dp, blockBuffer(i, 9), Dp, blockBuffer(i, 7), blockBuffer(i, 8), TB, D, tensorPtr(t0 + 6), tensorPtr(t0 + 7));
  const fc1 = blockBuffer(i, 10), gelu = blockBuffer(i, 11);
  affinePacked(fc1, TB, FF, blockBuffer(i, 9), Dp, <usize>load<u32>(panels, 8), tensorPtr(t0 + 9), 0, FF);
  for (let n = 0; n < TB; n++) {
    const row = gelu + (<usize>(n * FFp) << 2);
    memory.copy(row, fc1 + (<usize>(n * FF) << 2), <usize>FF << 2);
    geluInPlace(row, FF);
    for (let j = FF; j < FFp; j++) store<f32>(row + (<usize>j << 2), 0);
  }
  affinePacked(aDTmp, TB, D, gelu, FFp, <usize>load<u32>(panels, 12), tensorPtr(t0 + 11), 0, Dp);
  addTo(aResidual, aDTmp, TB * Dp); // same stride, padding lanes stay zero
}


/** Backward through the head, ln_f and every block; then into the input (transformer) or tDTop (hybrid). */
function attentionBackward(T: i32, B: i32): void {
  const D = modelWidth, Dp = padTo4(D), TB = T * B;
  const O = outputWidth(), Op = padTo4(O);
  // head
  if (headSize > 0) {
    affinePacked(aDTmp, TB, D, tDOutput, Op, <usize>load<u32>(panelsT + (<usize>(layers * 2) << 2)), aZeros, 0, Dp);
    accumulateOuter(grads + gradOffset(headIndex), O, D, tDOutput, Op, aLnF, Dp, 0, TB);
    accumulateColumnSums(grads + gradOffset(headIndex + 1), O, tDOutput, Op, TB);
  } else {
    for (let n = 0; n < TB; n++) memory.copy(aDTmp + (<usize>(n * Dp) << 2), tDOutput + (<usize>(n * Op) << 2), <usize>D << 2);
  }
  // ln_f
  const lnF = tensorPtr(lnFinalIndex);
  layerNormBackward(aDTmp, Dp, aXhatF, aRstdF, lnF, aDRes, Dp, grads + gradOffset(lnFinalIndex), grads + gradOffset(lnFinalIndex + 1), TB, D, false);
  zeroPadding(aDRes, TB, D, Dp);
  for (let i = blocks - 1; i >= 0; i--) blockBackwardTrain(i, T, B);
  // the input
  if (modelKind == KIND_TRANSFORMER) {
    if (vocabSize > 0) {
      const embedGrad = grads + gradOffset(embedIndex);
      for (let n = 0; n < TB; n++) {
        const token = load<i32>(tTokens + (<usize>n << 2));
        addTo(embedGrad + (<usize>(token * D) << 2), aDRes + (<usize>(n * Dp) << 2), D);
      }
    } else {
      const X = inputSize, Xp = padTo4(X);
      affinePacked(aDTmp, TB, X, aDRes, Dp, panelT(blocks, 0), aZeros, 0, Xp);
      for (let n = 0; n < TB; n++) memory.copy(tDX + (<usize>(n * X) << 2), aDTmp + (<usize>(n * Xp) << 2), <usize>X << 2);
      accumulateOuter(grads + gradOffset(projInIndex), D, X, aDRes, Dp, aInputRows, Xp, 0, TB);
      accumulateColumnSums(grads + gradOffset(projInIndex + 1), D, aDRes, Dp, TB);
    }
  } else {
    memory.copy(tDTop, aDRes, <usize>(TB * Dp) << 2); // Hp = Dp for a hybrid
  }
}

function zeroPadding(rows: usize, count: i32, from: i32, to: i32): void {
  for (let n = 0; n < count; n++) for (let j = from; j < to; j++) store<f32>(rows + (<usize>(n * to + j) << 2), 0);
}

/** One block backward: aDRes holds dL/d(block output) in, dL/d(block input) out. */
function blockBackwardTrain(i: i32, T: i32, B: i32): void {
  const D = modelWidth, Dp = padTo4(D), FF = mlpWidth, FFp = padTo4(FF), TB = T * B, D3p = padTo4(3 * D);
  const t0 = blockIndex + BLOCK_TENSORS * i;
  // MLP: out = a + fc2(gelu(fc1(LN2(a))))
  const gelu = blockBuffer(i, 11), fc1 = blockBuffer(i, 10);
  affinePacked(aDMlp, TB, FF, aDRes, Dp, panelT(i, 3), aZeros, 0, FFp);
  accumulateOuter(grads + gradOffset(t0 + 10), D, FF, aDRes, Dp, gelu, FFp, 0, TB);
  accumulateColumnSums(grads + gradOffset(t0 + 11), D, aDRes, Dp, TB);
  for (let n = 0; n < TB; n++) {
    for (let j = 0; j < FF; j++) {
      const at = aDMlp + (<usize>(n * FFp + j) << 2);
      store<f32>(at, load<f32>(at) * geluDerivative(load<f32>(fc1 + (<usize>(n * FF + j) << 2))));
    }
  }
  affinePacked(aDTmp, TB, D, aDMlp, FFp, panelT(i, 2), aZeros, 0, Dp);
  accumulateOuter(grads + gradOffset(t0 + 8), FF, D, aDMlp, FFp, blockBuffer(i, 9), Dp, 0, TB);
  accumulateColumnSums(grads + gradOffset(t0 + 9), FF, aDMlp, FFp, TB);
  layerNormBackward(aDTmp, Dp, blockBuffer(i, 7), blockBuffer(i, 8), tensorPtr(t0 + 6), aDRes, Dp, grads + gradOffset(t0 + 6), grads + gradOffset(t0 + 7), TB, D, true);
  // attention: a = u + out_proj(MHA(LN1(u)))
  affinePacked(aDConcat, TB, D, aDRes, Dp, panelT(i, 1), aZeros, 0, Dp);
  accumulateOuter(grads + gradOffset(t0 + 4), D, D, aDRes, Dp, blockBuffer(i, 6), Dp, 0, TB);
  accumulateColumnSums(grads + gradOffset(t0 + 5), D, aDRes, Dp, TB);
  memory.fill(aDQkv, 0, <usize>(TB * D3p) << 2);
  attentionCoreBackward(i, T, B);
  affinePacked(aDTmp, TB, D, aDQkv, D3p, panelT(i, 0), aZeros, 0, Dp);
  accumulateOuter(grads + gradOffset(t0 + 2), 3 * D, D, aDQkv, D3p, blockBuffer(i, 2), Dp, 0, TB);
  accumulateColumnSums(grads + gradOffset(t0 + 3), 3 * D, aDQkv, D3p, TB);
  layerNormBackward(aDTmp, Dp, blockBuffer(i, 0), blockBuffer(i, 1), tensorPtr(t0), aDRes, Dp, grads + gradOffset(t0 + 0), grads + gradOffset(t0 + 1), TB, D, true);
  zeroPadding(aDRes, TB, D, Dp);
}

/** d gelu_tanh(x) / dx. */
function geluDerivative(x: f32): f32 {
  const c: f32 = 0.7978845608028654;
  const th = tanhScalar(c * (x + <f32>0.044715 * x * x * x));
  return <f32>0.5 * (1 + th) + <f32>0.5 * x * (1 - th * th) * c * (1 + <f32>(3 * 0.044715) * x * x);
}

/**
 * Softmax attention backward for every window, position and head, from dConcat into dQkv:
 * dv_j += w_j dO;  ds_j = w_j (dO·v_j − Σ w dO·v);  dq += scale Σ ds_j k_j;  dk_j += scale ds_j q.
 */
function attentionCoreBackward(i: i32, T: i32, B: i32): void {
  const D = modelWidth, Dp = padTo4(D), D3 = 3 * D, D3p = padTo4(D3);
  const headDim = D / heads, keys = sinks + window;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headDim));
  const qkv = blockBuffer(i, 3), weights = blockBuffer(i, 4), counts = blockBuffer(i, 5);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = t * B + b;
      const count = load<i32>(counts + (<usize>n << 2));
      const sinkCount = min(sinks, t + 1);
      const windowStart = max(sinks, t - window + 1);
      for (let h = 0; h < heads; h++) {
        const off = h * headDim;
        const w = weights + (<usize>(n * heads * keys + h * keys) << 2);
        const dO = aDConcat + (<usize>(n * Dp + off) << 2);
        const q = qkv + (<usize>(n * D3 + off) << 2);
        // Σ_j w_j (dO · v_j)
        let total: f32 = 0;
        for (let m = 0; m < count; m++) {
          const p = m < sinkCount ? m : windowStart + (m - sinkCount);
          const v = qkv + (<usize>((p * B + b) * D3 + 2 * D + off) << 2);
          total += load<f32>(w + (<usize>m << 2)) * dotScalar(dO, v, headDim);
        }
        for (let m = 0; m < count; m++) {
          const p = m < sinkCount ? m : windowStart + (m - sinkCount);
          const row = (p * B + b) * D3;
          const k = qkv + (<usize>(row + D + off) << 2), v = qkv + (<usize>(row + 2 * D + off) << 2);
          const weight = load<f32>(w + (<usize>m << 2));
          const ds = weight * (dotScalar(dO, v, headDim) - total) * scale;
          const dq = aDQkv + (<usize>(n * D3p + off) << 2);
          const dk = aDQkv + (<usize>((p * B + b) * D3p + D + off) << 2);
          const dv = aDQkv + (<usize>((p * B + b) * D3p + 2 * D + off) << 2);
          for (let e = 0; e < headDim; e++) {
            const o = <usize>e << 2;
            store<f32>(dq + o, load<f32>(dq + o) + ds * load<f32>(k + o));
            store<f32>(dk + o, load<f32>(dk + o) + ds * load<f32>(q + o));
            store<f32>(dv + o, load<f32>(dv + o) + weight * load<f32>(dO + o));
          }
        }
      }
    }
  }
}

function dotScalar(a: usize, b: usize, n: i32): f32 {
  let sum: f32 = 0;
  for (let e = 0; e < n; e++) sum += load<f32>(a + (<usize>e << 2)) * load<f32>(b + (<usize>e << 2));
  return sum;
}
