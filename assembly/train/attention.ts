// Training's forward and backward of an attention model's top: the residual rows from the input (a transformer's
// embedding or proj_in, plus, for the sinusoidal scheme, the encoding of window-relative positions 0 .. T−1; or a
// hybrid's top h; ALiBi adds nothing here: its bias is on the scores, attention.ts),
// every block (attention-block.ts), ln_f and the head; backward the same way down, into the embedding, proj_in and
// dX (transformer) or Train.dTop (hybrid: then the recurrent stack, train/bptt.ts).

import { KIND_TRANSFORMER, POSITIONAL_SINUSOIDAL } from "../codes";
import { addPositionalEncoding } from "../attention";
import { blockBackwardTrain, blockForwardTrain } from "../attention-block";
import { layerNormBackward, layerNormTrain } from "../layer-norm";
import { copyPaddedRows, embedTokens, zeroPad, zeroPadRows } from "../rows";
import { addTo, affinePacked, padTo4 } from "../simd";
import { AttentionTrain, Shape, Train, Weights, gradOf, layerTrace, outputWidth } from "../state";
import { accumulateColumnSums, accumulateOuter } from "./gradients";

/** Fills the residual rows from the input, runs every block, ln_f and the head; writes Train.output. */
export function attentionForward(T: i32, B: i32): void {
  const D = Shape.width, Dp = padTo4(D), TB = T * B;
  const residual = AttentionTrain.residual;
  if (Shape.kind == KIND_TRANSFORMER) {
    if (Shape.vocabSize > 0) {
      embedTokens(Train.tokens, TB, residual, Dp);
    } else {
      const Xp = padTo4(Shape.inputSize);
      copyPaddedRows(AttentionTrain.inputRows, Train.input, TB, Shape.inputSize, Xp);
      affinePacked(residual, TB, D, AttentionTrain.inputRows, Xp, Weights.projInPanel, Weights.projInBias, 0, Dp);
    }
    const sinusoidal = Shape.positional == POSITIONAL_SINUSOIDAL;
    for (let n = 0; n < TB; n++) {
      const row = residual + (<usize>(n * Dp) << 2);
      if (sinusoidal) addPositionalEncoding(row, D, <f64>(n / B));
      zeroPad(row, D, Dp);
    }
  } else {
    // hybrid: the top layer's h at steps 1..T (rows of width Hp = Dp)
    memory.copy(residual, layerTrace(Shape.layers - 1).hs + (<usize>(B * Dp) << 2), <usize>(TB * Dp) << 2);
  }
  for (let i = 0; i < Shape.blocks; i++) blockForwardTrain(i, T, B);
  layerNormTrain(residual, Dp, AttentionTrain.lnF, Dp, AttentionTrain.xhatF, AttentionTrain.rstdF, TB, D, Weights.lnFinalWeight, Weights.lnFinalBias);
  const O = outputWidth();
  if (Shape.headSize > 0) {
    affinePacked(Train.output, TB, O, AttentionTrain.lnF, Dp, Weights.headPanel, Weights.headBias, 0, O);
  } else {
    for (let n = 0; n < TB; n++) memory.copy(Train.output + (<usize>(n * O) << 2), AttentionTrain.lnF + (<usize>(n * Dp) << 2), <usize>D << 2);
  }
}

/** Backward through the head, ln_f and every block; then into the input (transformer) or Train.dTop (hybrid). */
export function attentionBackward(T: i32, B: i32): void {
  const D = Shape.width, Dp = padTo4(D), TB = T * B;
  const O = outputWidth(), Op = padTo4(O);
  const dTmp = AttentionTrain.dTmp, dRes = AttentionTrain.dRes, zeros = AttentionTrain.zeros;
  // head
  if (Shape.headSize > 0) {
    affinePacked(dTmp, TB, D, Train.dOutput, Op, Weights.headPanelT, zeros, 0, Dp);
    accumulateOuter(gradOf(Weights.headWeight), O, D, Train.dOutput, Op, AttentionTrain.lnF, Dp, 0, TB);
    accumulateColumnSums(gradOf(Weights.headBias), O, Train.dOutput, Op, TB);
  } else {
    for (let n = 0; n < TB; n++) memory.copy(dTmp + (<usize>(n * Dp) << 2), Train.dOutput + (<usize>(n * Op) << 2), <usize>D << 2);
  }
  // ln_f
  layerNormBackward(dTmp, Dp, AttentionTrain.xhatF, AttentionTrain.rstdF, Weights.lnFinalWeight, dRes, Dp,
    gradOf(Weights.lnFinalWeight), gradOf(Weights.lnFinalBias), TB, D, false);
  zeroPadRows(dRes, TB, D, Dp);
  for (let i = Shape.blocks - 1; i >= 0; i--) blockBackwardTrain(i, T, B);
  // the input
  if (Shape.kind == KIND_TRANSFORMER) {
    if (Shape.vocabSize > 0) {
      const embedGrad = gradOf(Weights.embed);
      for (let n = 0; n < TB; n++) {
        const token = load<i32>(Train.tokens + (<usize>n << 2));
        addTo(embedGrad + (<usize>(token * D) << 2), dRes + (<usize>(n * Dp) << 2), D);
      }
    } else {
      const X = Shape.inputSize, Xp = padTo4(X);
      affinePacked(dTmp, TB, X, dRes, Dp, Weights.projInPanelT, zeros, 0, Xp);
      for (let n = 0; n < TB; n++) memory.copy(Train.dX + (<usize>(n * X) << 2), dTmp + (<usize>(n * Xp) << 2), <usize>X << 2);
      accumulateOuter(gradOf(Weights.projInWeight), D, X, dRes, Dp, AttentionTrain.inputRows, Xp, 0, TB);
      accumulateColumnSums(gradOf(Weights.projInBias), D, dRes, Dp, TB);
    }
  } else {
    memory.copy(Train.dTop, dRes, <usize>(TB * Dp) << 2); // Hp = Dp for a hybrid
  }
}
