// Clipping and the optimizers, as torch.nn.utils.clip_grad_value_ / clip_grad_norm_ and torch.optim.Adam / SGD
// (with momentum) do them, over the whole gradient block at once (state.ts Optimizer, Train.grads).

import { arenaAlloc } from "../arena";
import { OK, ERR_BAD_CONFIG, ERR_NONFINITE_GRADIENT, ERR_NOT_TRAINABLE, ERR_NO_OPTIMIZER, ERR_OUT_OF_MEMORY, OPTIMIZER_ADAM, OPTIMIZER_SGD } from "../codes";
import { Optimizer, Train, Weights } from "../state";
import { trainCommitParams } from "./buffers";

/**
 * Sets the optimizer. kind: OPTIMIZER_ADAM (lr, b1, b2, eps) or OPTIMIZER_SGD
 * (lr, momentum). maxNorm > 0 clips by global L2 norm (clip_grad_norm_),
 * maxValue > 0 clamps each gradient to [−maxValue, maxValue] first.
 * Resets the moments and the step count. May grow memory.
 */
export function optimizerConfigure(kind: i32, lr: f64, b1: f64, b2: f64, eps: f64, mom: f64, maxNorm: f64, maxValue: f64): i32 {
  if (Train.grads == 0) return ERR_NOT_TRAINABLE;
  if ((kind != OPTIMIZER_ADAM && kind != OPTIMIZER_SGD) || !(lr > 0) || !isFinite(lr) || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) ||
      !(eps >= 0) || !(mom >= 0 && mom < 1) || !(maxNorm >= 0) || !(maxValue >= 0)) return ERR_BAD_CONFIG;
  if (Optimizer.moment1 == 0) {
    Optimizer.moment1 = arenaAlloc(<usize>Weights.paramsLength << 2);
    Optimizer.moment2 = arenaAlloc(<usize>Weights.paramsLength << 2);
    if (!Optimizer.moment1 || !Optimizer.moment2) return ERR_OUT_OF_MEMORY;
  }
  memory.fill(Optimizer.moment1, 0, <usize>Weights.paramsLength << 2);
  memory.fill(Optimizer.moment2, 0, <usize>Weights.paramsLength << 2);
  Optimizer.kind = kind; Optimizer.learningRate = lr; Optimizer.beta1 = b1; Optimizer.beta2 = b2; Optimizer.epsilon = eps; Optimizer.momentum = mom;
  Optimizer.clipNorm = maxNorm; Optimizer.clipValue = maxValue; Optimizer.steps = 0;
  return OK;
}

/** Σ g² over every parameter's gradient, in f64: four lane sums (g[i] in lane i mod 4), folded (0 + 1) + (2 + 3). */
function gradientSquares(): f64 {
  const n = Weights.paramsLength, grads = Train.grads;
  const n4 = n & ~3;
  let i = 0;
  let sum: f64;
  if (ASC_FEATURE_SIMD) {
    let lo = f64x2.splat(0), hi = f64x2.splat(0);
    for (; i < n4; i += 4) {
      const g = v128.load(grads + (<usize>i << 2));
      const a = f64x2.promote_low_f32x4(g);
      const b = f64x2.promote_low_f32x4(v128.shuffle<f32>(g, g, 2, 3, 0, 1));
      lo = f64x2.add(lo, f64x2.mul(a, a));
      hi = f64x2.add(hi, f64x2.mul(b, b));
    }
    sum = (f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1)) + (f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1));
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (; i < n4; i += 4) {
      const at = grads + (<usize>i << 2);
      const g0 = <f64>load<f32>(at), g1 = <f64>load<f32>(at, 4), g2 = <f64>load<f32>(at, 8), g3 = <f64>load<f32>(at, 12);
      s0 += g0 * g0; s1 += g1 * g1; s2 += g2 * g2; s3 += g3 * g3;
    }
    sum = (s0 + s1) + (s2 + s3);
  }
  for (; i < n; i++) {
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
  if (Optimizer.kind < 0) return ERR_NO_OPTIMIZER;
  const n = Weights.paramsLength, grads = Train.grads, params = Weights.params;
  const moment1 = Optimizer.moment1, moment2 = Optimizer.moment2;
  const squares = gradientSquares();
  if (!isFinite(squares)) {
    Optimizer.totalNorm = squares;
    return ERR_NONFINITE_GRADIENT;
  }
  if (Optimizer.clipValue > 0) {
    const v = <f32>Optimizer.clipValue;
    for (let i = 0; i < n; i++) {
      const at = grads + (<usize>i << 2);
      store<f32>(at, min(max(load<f32>(at), -v), v));
    }
  }
  Optimizer.totalNorm = Math.sqrt(Optimizer.clipValue > 0 ? gradientSquares() : squares);
  Optimizer.clipCoef = 1;
  if (Optimizer.clipNorm > 0) {
    const coef = Optimizer.clipNorm / (Optimizer.totalNorm + 1e-6);
    if (coef < 1) {
      Optimizer.clipCoef = coef;
      const c = <f32>coef;
      for (let i = 0; i < n; i++) {
        const at = grads + (<usize>i << 2);
        store<f32>(at, load<f32>(at) * c);
      }
    }
  }
  Optimizer.steps++;
  if (Optimizer.kind == OPTIMIZER_ADAM) {
    const b1 = <f32>Optimizer.beta1, b2 = <f32>Optimizer.beta2;
    const stepSize = <f32>(Optimizer.learningRate / (1 - Math.pow(Optimizer.beta1, Optimizer.steps)));
    const correction2 = <f32>Math.sqrt(1 - Math.pow(Optimizer.beta2, Optimizer.steps));
    const eps = <f32>Optimizer.epsilon;
    // p ← p − lr/(1 − b1^t) · m / (sqrt(v)/sqrt(1 − b2^t) + eps), four at a time (the same float32 operations as the tail)
    const n4 = n & ~3;
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), va1 = f32x4.splat(1 - b1), va2 = f32x4.splat(1 - b2);
      const vStep = f32x4.splat(stepSize), vCorrection = f32x4.splat(correction2), vEps = f32x4.splat(eps);
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
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const g = load<f32>(grads + o);
      const m = b1 * load<f32>(moment1 + o) + (1 - b1) * g;
      const v = b2 * load<f32>(moment2 + o) + (1 - b2) * g * g;
      store<f32>(moment1 + o, m);
      store<f32>(moment2 + o, v);
      store<f32>(params + o, load<f32>(params + o) - stepSize * m / (sqrt<f32>(v) / correction2 + eps));
    }
  } else {
    const mom = <f32>Optimizer.momentum, lr = <f32>Optimizer.learningRate;
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 2;
      const g = load<f32>(grads + o);
      // PyTorch: the first step's buffer is the gradient itself
      const buf = Optimizer.steps == 1 ? g : mom * load<f32>(moment1 + o) + g;
      store<f32>(moment1 + o, buf);
      store<f32>(params + o, load<f32>(params + o) - lr * (mom > 0 ? buf : g));
    }
  }
  return trainCommitParams();
}

export function getOptimizerSteps(): i32 { return Optimizer.steps; }

/** Byte offset of the optimizer's first (0) or second (1) moment block (parameter layout); 0 before optimizerConfigure. SGD keeps its momentum buffer in block 0. */
export function optimizerMomentPtr(which: i32): usize { return which == 0 ? Optimizer.moment1 : which == 1 ? Optimizer.moment2 : 0; }

/** Sets the optimizer's step count (restoring a checkpoint: Adam's bias corrections depend on it). */
export function optimizerSetSteps(steps: i32): i32 {
  if (Optimizer.kind < 0) return ERR_NO_OPTIMIZER;
  if (steps < 0) return ERR_BAD_CONFIG;
  Optimizer.steps = steps;
  return OK;
}

export function trainTotalNorm(): f64 { return Optimizer.totalNorm; }
export function trainClipCoef(): f64 { return Optimizer.clipCoef; }
