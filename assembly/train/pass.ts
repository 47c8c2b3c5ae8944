// One training pass: the checks on the host's buffers, forward, the loss and backward (train/bptt.ts), and the
// fused trainStep that adds one optimizer update (train/optimizers.ts) without leaving the kernel.

import {
  OK, ERR_BAD_BATCH_SIZE, ERR_BAD_CONFIG, ERR_BAD_TOKEN, ERR_NONFINITE_INPUT, ERR_NONFINITE_LOSS, ERR_NOT_CONFIGURED,
  ERR_NOT_TRAINABLE, ERR_NO_OPTIMIZER, CELL_LSTM, LOSS_CROSS_ENTROPY, LOSS_MSE,
} from "../codes";
import { Optimizer, Shape, Train, Weights, outputWidth } from "../state";
import { backward, forward } from "./bptt";
import { crossEntropyLoss, mseLoss } from "./losses";
import { optimizerStep } from "./optimizers";

/**
 * Forward and backward over T steps of B windows from the training buffers.
 * `accumulate` = 1 adds to the gradient block (truncated BPTT over chunks); 0
 * zeroes it first. The loss is trainLoss(). Refuses (and leaves the gradient
 * block zeroed or as it was) bad sizes, bad tokens, non-finite inputs, or a
 * non-finite loss.
 */
export function trainForwardBackward(T: i32, B: i32, lossKind: i32, accumulate: i32): i32 {
  if (!Shape.configured) return ERR_NOT_CONFIGURED;
  if (Train.grads == 0) return ERR_NOT_TRAINABLE;
  if (T < 1 || B < 1 || T > Train.maxSteps || B > Train.maxWindows) return ERR_BAD_BATCH_SIZE;
  if (lossKind != LOSS_MSE && lossKind != LOSS_CROSS_ENTROPY) return ERR_BAD_CONFIG;
  const check = checkTrainingInputs(T, B, lossKind);
  if (check != OK) return check;
  forward(T, B);
  if (lossKind == LOSS_MSE) mseLoss(T, B);
  else crossEntropyLoss(T, B);
  if (!isFinite(Train.loss)) return ERR_NONFINITE_LOSS;
  if (!accumulate) memory.fill(Train.grads, 0, <usize>Weights.paramsLength << 2);
  backward(T, B);
  return OK;
}

/** Tokens in range, targets in range, frames, targets, mask and initial state finite. */
function checkTrainingInputs(T: i32, B: i32, lossKind: i32): i32 {
  const TB = T * B;
  const O = outputWidth(), V = Shape.vocabSize;
  if (V > 0) {
    for (let n = 0; n < TB; n++) {
      const token = load<i32>(Train.tokens + (<usize>n << 2));
      if (token < 0 || token >= V) return ERR_BAD_TOKEN;
    }
  } else if (!allFinite(Train.input, TB * Shape.inputSize)) return ERR_NONFINITE_INPUT;
  if (lossKind == LOSS_CROSS_ENTROPY) {
    for (let n = 0; n < TB; n++) {
      const at = Train.targetTokens + (<usize>n << 2);
      const target = load<i32>(at);
      if (load<f32>(Train.mask + (<usize>n << 2)) != 0 && (target < 0 || target >= O)) return ERR_BAD_TOKEN;
      if (target < 0 || target >= O) store<i32>(at, 0); // masked out: any valid id
    }
  } else if (!allFinite(Train.target, TB * O)) return ERR_NONFINITE_INPUT;
  const stateLength = Shape.layers * B * Shape.hiddenSize;
  if (!allFinite(Train.mask, TB) || !allFinite(Train.h0, stateLength) || (Shape.cell == CELL_LSTM && !allFinite(Train.c0, stateLength))) return ERR_NONFINITE_INPUT;
  return OK;
}

/** Whether n floats are all finite: x − x is 0 for finite x, NaN for NaN or ±Infinity. */
function allFinite(ptr: usize, n: i32): bool {
  let acc: f32 = 0;
  for (let i = 0; i < n; i++) {
    const x = load<f32>(ptr + (<usize>i << 2));
    acc += x - x;
  }
  return acc == 0;
}

/** The fused fast path: forward, backward and one optimizer step without leaving the kernel. */
export function trainStep(T: i32, B: i32, lossKind: i32): i32 {
  if (Optimizer.kind < 0) return ERR_NO_OPTIMIZER;
  const code = trainForwardBackward(T, B, lossKind, 0);
  if (code != OK) return code;
  return optimizerStep();
}

export function trainLoss(): f64 { return Train.loss; }
/** Elements (MSE) or steps (cross-entropy) the last loss averaged over. */
export function trainLossCount(): f64 { return Train.lossCount; }
