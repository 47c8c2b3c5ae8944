// One pre-LN transformer block, its step and its training side by side:
//   a = u + out_proj(MHA(LN1(u)));  u ← a + fc2(gelu(fc1(LN2(a))))
// blockStep runs it over the batch's residual rows, each stream attending over its own slot's KV cache; training's
// forward runs it over all T·B rows of a window batch at once (one product per projection, each window's attention
// position by position over a per-window cache, window-relative positions 0 .. T−1) and keeps a BlockTrace
// (state.ts) for the backward beside it.

import { attendPosition } from "./attention";
import { geluDerivative, geluInPlace } from "./activations";
import { layerNormBackward, layerNormRows, layerNormTrain } from "./layer-norm";
import { addRows, zeroPad, zeroPadRows } from "./rows";
import { addTo, affinePacked, padTo4 } from "./simd";
import { AttentionTrain, Shape, Slots, Step, block, blockTrace, gradOf, recurrentStateLength, slotState, usesAlibi, weightsLength } from "./state";
import { accumulateColumnSums, accumulateOuter } from "./train/gradients";

/** Block i over the residual stream of the `count` batch entries (Step.residual); each entry's slot cache grows by one. */
export function blockStep(i: i32, count: i32): void {
  const d = Shape.width, heads = Shape.heads, window = Shape.window, sinks = Shape.sinks;
  const width = padTo4(d);
  const mlp = Shape.mlpWidth, mlpPadded = padTo4(mlp);
  const w = block(i);
  const dBytes = <usize>d << 2;

  layerNormRows(Step.residual, Step.rows, count, d, width, w.ln1Weight, w.ln1Bias);
  zeroPadRows(Step.rows, count, d, width);
  affinePacked(Step.qkv, count, 3 * d, Step.rows, width, w.inProjPanel, w.inProjBias, 0, 3 * d);
  const cacheBytes = <usize>((sinks + window) * d) << 2;
  const weightBlock = <usize>(i * heads * (sinks + window)) << 2;
  for (let b = 0; b < count; b++) {
    const slot = load<i32>(Step.slots + (<usize>b << 2));
    const keys = slotState(slot) + (<usize>recurrentStateLength() << 2) + <usize>i * 2 * cacheBytes;
    const attended = attendPosition(
      Step.qkv + <usize>(b * 3) * dBytes, keys, keys + cacheBytes,
      Step.headsOut + (<usize>(b * width) << 2),
      Slots.weights + (<usize>(slot * weightsLength()) << 2) + weightBlock, Step.scores, Step.rowOffsets,
      load<f64>(Slots.positions + (<usize>slot << 3)), d, heads, window, sinks, usesAlibi(),
    );
    store<i32>(Slots.weightCounts + (<usize>slot << 2), attended);
  }
  zeroPadRows(Step.headsOut, count, d, width);
  affinePacked(Step.gates, count, d, Step.headsOut, width, w.outProjPanel, w.outProjBias, 0, d);
  addRows(Step.residual, width, Step.gates, d, count, d);

  layerNormRows(Step.residual, Step.rows, count, d, width, w.ln2Weight, w.ln2Bias);
  zeroPadRows(Step.rows, count, d, width);
  affinePacked(Step.mlp, count, mlp, Step.rows, width, w.fc1Panel, w.fc1Bias, 0, mlpPadded);
  for (let b = 0; b < count; b++) geluInPlace(Step.mlp + (<usize>(b * mlpPadded) << 2), mlp);
  zeroPadRows(Step.mlp, count, mlp, mlpPadded);
  affinePacked(Step.gates, count, d, Step.mlp, mlpPadded, w.fc2Panel, w.fc2Bias, 0, d);
  addRows(Step.residual, width, Step.gates, d, count, d);
}

/** Training's forward of block i over the T·B rows of AttentionTrain.residual, in place; fills the block's trace. */
export function blockForwardTrain(i: i32, T: i32, B: i32): void {
  const D = Shape.width, Dp = padTo4(D), FF = Shape.mlpWidth, FFp = padTo4(FF), TB = T * B;
  const heads = Shape.heads, keys = Shape.sinks + Shape.window;
  const w = block(i), trace = blockTrace(i), a = AttentionTrain.residual;
  layerNormTrain(a, Dp, trace.ln1, Dp, trace.xhat1, trace.rstd1, TB, D, w.ln1Weight, w.ln1Bias);
  affinePacked(trace.qkv, TB, 3 * D, trace.ln1, Dp, w.inProjPanel, w.inProjBias, 0, 3 * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = t * B + b;
      const concat = trace.concat + (<usize>(n * Dp) << 2);
      const count = attendPosition(
        trace.qkv + (<usize>(n * 3 * D) << 2), AttentionTrain.keys, AttentionTrain.values, concat,
        trace.weights + (<usize>(n * heads * keys) << 2), AttentionTrain.scores, AttentionTrain.rowOffsets,
        <f64>t, D, heads, Shape.window, Shape.sinks, usesAlibi(),
      );
      store<i32>(trace.counts + (<usize>n << 2), count);
      zeroPad(concat, D, Dp);
    }
  }
  affinePacked(AttentionTrain.dTmp, TB, D, trace.concat, Dp, w.outProjPanel, w.outProjBias, 0, Dp);
  addTo(a, AttentionTrain.dTmp, TB * Dp); // same stride, padding lanes stay zero
  layerNormTrain(a, Dp, trace.ln2, Dp, trace.xhat2, trace.rstd2, TB, D, w.ln2Weight, w.ln2Bias);
  affinePacked(trace.fc1, TB, FF, trace.ln2, Dp, w.fc1Panel, w.fc1Bias, 0, FF);
  for (let n = 0; n < TB; n++) {
    const row = trace.gelu + (<usize>(n * FFp) << 2);
    memory.copy(row, trace.fc1 + (<usize>(n * FF) << 2), <usize>FF << 2);
    geluInPlace(row, FF);
    zeroPad(row, FF, FFp);
  }
  affinePacked(AttentionTrain.dTmp, TB, D, trace.gelu, FFp, w.fc2Panel, w.fc2Bias, 0, Dp);
  addTo(a, AttentionTrain.dTmp, TB * Dp); // same stride, padding lanes stay zero
}

/** Training's backward of block i: AttentionTrain.dRes holds dL/d(block output) in, dL/d(block input) out; adds its gradients. */
export function blockBackwardTrain(i: i32, T: i32, B: i32): void {
  const D = Shape.width, Dp = padTo4(D), FF = Shape.mlpWidth, FFp = padTo4(FF), TB = T * B, D3p = padTo4(3 * D);
  const w = block(i), trace = blockTrace(i);
  const dRes = AttentionTrain.dRes, dTmp = AttentionTrain.dTmp, dMlp = AttentionTrain.dMlp, zeros = AttentionTrain.zeros;
  // MLP: out = a + fc2(gelu(fc1(LN2(a))))
  affinePacked(dMlp, TB, FF, dRes, Dp, w.fc2PanelT, zeros, 0, FFp);
  accumulateOuter(gradOf(w.fc2Weight), D, FF, dRes, Dp, trace.gelu, FFp, 0, TB);
  accumulateColumnSums(gradOf(w.fc2Bias), D, dRes, Dp, TB);
  for (let n = 0; n < TB; n++) {
    for (let j = 0; j < FF; j++) {
      const at = dMlp + (<usize>(n * FFp + j) << 2);
      store<f32>(at, load<f32>(at) * geluDerivative(load<f32>(trace.fc1 + (<usize>(n * FF + j) << 2))));
    }
  }
  affinePacked(dTmp, TB, D, dMlp, FFp, w.fc1PanelT, zeros, 0, Dp);
  accumulateOuter(gradOf(w.fc1Weight), FF, D, dMlp, FFp, trace.ln2, Dp, 0, TB);
  accumulateColumnSums(gradOf(w.fc1Bias), FF, dMlp, FFp, TB);
  layerNormBackward(dTmp, Dp, trace.xhat2, trace.rstd2, w.ln2Weight, dRes, Dp, gradOf(w.ln2Weight), gradOf(w.ln2Bias), TB, D, true);
  // attention: a = u + out_proj(MHA(LN1(u)))
  affinePacked(AttentionTrain.dConcat, TB, D, dRes, Dp, w.outProjPanelT, zeros, 0, Dp);
  accumulateOuter(gradOf(w.outProjWeight), D, D, dRes, Dp, trace.concat, Dp, 0, TB);
  accumulateColumnSums(gradOf(w.outProjBias), D, dRes, Dp, TB);
  memory.fill(AttentionTrain.dQkv, 0, <usize>(TB * D3p) << 2);
  attentionCoreBackward(i, T, B);
  affinePacked(dTmp, TB, D, AttentionTrain.dQkv, D3p, w.inProjPanelT, zeros, 0, Dp);
  accumulateOuter(gradOf(w.inProjWeight), 3 * D, D, AttentionTrain.dQkv, D3p, trace.ln1, Dp, 0, TB);
  accumulateColumnSums(gradOf(w.inProjBias), 3 * D, AttentionTrain.dQkv, D3p, TB);
  layerNormBackward(dTmp, Dp, trace.xhat1, trace.rstd1, w.ln1Weight, dRes, Dp, gradOf(w.ln1Weight), gradOf(w.ln1Bias), TB, D, true);
  zeroPadRows(dRes, TB, D, Dp);
}

/**
 * Softmax attention backward for every window, position and head of block i, from dConcat into dQkv:
 * dv_j += w_j dO;  ds_j = w_j (dO·v_j − Σ w dO·v);  dq += scale Σ ds_j k_j;  dk_j += scale ds_j q.
 * ALiBi's bias (attention.ts) is a constant added to the scores: its effect is all in the stored weights w.
 */
function attentionCoreBackward(i: i32, T: i32, B: i32): void {
  const D = Shape.width, Dp = padTo4(D), D3 = 3 * D, D3p = padTo4(D3);
  const heads = Shape.heads, sinks = Shape.sinks, window = Shape.window;
  const headDim = D / heads, keys = sinks + window;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headDim));
  const trace = blockTrace(i);
  const qkv = trace.qkv, weights = trace.weights, counts = trace.counts;
  const dConcat = AttentionTrain.dConcat, dQkv = AttentionTrain.dQkv;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = t * B + b;
      const count = load<i32>(counts + (<usize>n << 2));
      const sinkCount = min(sinks, t + 1);
      const windowStart = max(sinks, t - window + 1);
      for (let h = 0; h < heads; h++) {
        const off = h * headDim;
        const w = weights + (<usize>(n * heads * keys + h * keys) << 2);
        const dO = dConcat + (<usize>(n * Dp + off) << 2);
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
          const dq = dQkv + (<usize>(n * D3p + off) << 2);
          const dk = dQkv + (<usize>((p * B + b) * D3p + D + off) << 2);
          const dv = dQkv + (<usize>((p * B + b) * D3p + 2 * D + off) << 2);
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
