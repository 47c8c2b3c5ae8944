// The losses over a training pass's outputs (T, B, O), masked per step: each sets Train.loss and Train.lossCount
// and writes dL/d(output) into Train.dOutput (T·B, padTo4(O)), zero padded, for the backward.

import { Train, outputWidth } from "../state";
import { padTo4 } from "../simd";

/** Mean squared error over the masked elements; dOutput = 2 (y − target) / count. */
export function mseLoss(T: i32, B: i32): void {
  const O = outputWidth(), Op = padTo4(O);
  let count: f64 = 0;
  for (let n = 0; n < T * B; n++) count += <f64>load<f32>(Train.mask + (<usize>n << 2)) * <f64>O;
  let sum: f64 = 0;
  const scale = count > 0 ? 2.0 / count : 0;
  for (let n = 0; n < T * B; n++) {
    const m = load<f32>(Train.mask + (<usize>n << 2));
    for (let j = 0; j < O; j++) {
      const diff = load<f32>(Train.output + (<usize>(n * O + j) << 2)) - load<f32>(Train.target + (<usize>(n * O + j) << 2));
      sum += <f64>m * <f64>diff * <f64>diff;
      store<f32>(Train.dOutput + (<usize>(n * Op + j) << 2), <f32>(<f64>m * scale * <f64>diff));
    }
    for (let j = O; j < Op; j++) store<f32>(Train.dOutput + (<usize>(n * Op + j) << 2), 0);
  }
  Train.lossCount = count;
  Train.loss = count > 0 ? sum / count : 0;
}

/** Cross-entropy of softmax(logits) against target ids, mean over masked steps; dLogits = (softmax − onehot) / count. */
export function crossEntropyLoss(T: i32, B: i32): void {
  const O = outputWidth(), Op = padTo4(O);
  let count: f64 = 0;
  for (let n = 0; n < T * B; n++) count += <f64>load<f32>(Train.mask + (<usize>n << 2));
  let sum: f64 = 0;
  const scale = count > 0 ? 1.0 / count : 0;
  for (let n = 0; n < T * B; n++) {
    const m = <f64>load<f32>(Train.mask + (<usize>n << 2));
    const logits = Train.output + (<usize>(n * O) << 2);
    let maxLogit: f64 = -Infinity;
    for (let j = 0; j < O; j++) maxLogit = Math.max(maxLogit, <f64>load<f32>(logits + (<usize>j << 2)));
    let total: f64 = 0;
    for (let j = 0; j < O; j++) total += Math.exp(<f64>load<f32>(logits + (<usize>j << 2)) - maxLogit);
    const target = load<i32>(Train.targetTokens + (<usize>n << 2));
    const logSum = maxLogit + Math.log(total);
    if (m != 0) sum += m * (logSum - <f64>load<f32>(logits + (<usize>target << 2)));
    for (let j = 0; j < O; j++) {
      const p = Math.exp(<f64>load<f32>(logits + (<usize>j << 2)) - logSum);
      store<f32>(Train.dOutput + (<usize>(n * Op + j) << 2), <f32>(m * scale * (p - (j == target ? 1.0 : 0.0))));
    }
    for (let j = O; j < Op; j++) store<f32>(Train.dOutput + (<usize>(n * Op + j) << 2), 0);
  }
  Train.lossCount = count;
  Train.loss = count > 0 ? sum / count : 0;
}
