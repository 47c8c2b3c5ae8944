// The Elman RNN cell (nn.RNN, nonlinearity "tanh" or "relu"): one step's pointwise half, forward and backward, after
// the product z = W_ih x + b_ih + W_hh h + b_hh (simd.ts affinePacked). One batch row at a time.

import { tanhLanes, tanhScalar } from "../activations";
import { loadPart, storePart } from "./lanes";

/**
 * Forward: h ← tanh(z), or h ← max(z, 0) when `relu` (CELL_RNN_RELU): f32x4 lanes, the last H mod 4 units through a
 * partial vector (lanes.ts).
 *   z (H)   h (H) written
 */
export function rnnPointwise(z: usize, h: usize, hidden: i32, relu: bool): void {
  if (!ASC_FEATURE_SIMD) { // the scalar build
    for (let j = 0; j < hidden; j++) {
      const zj = load<f32>(z + (<usize>j << 2));
      store<f32>(h + (<usize>j << 2), relu ? max<f32>(zj, 0) : tanhScalar(zj));
    }
    return;
  }
  const h4 = hidden & ~3;
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    v128.store(h + o, activate(v128.load(z + o), relu));
  }
  if (j < hidden) {
    const o = <usize>j * 4, n = hidden - j;
    storePart(h + o, activate(loadPart(z + o, n), relu), n);
  }
}

// @ts-ignore: decorator
@inline function activate(z: v128, relu: bool): v128 {
  return relu ? f32x4.max(z, f32x4.splat(0)) : tanhLanes(z);
}

/**
 * Backward, from the step's output h: dz = dh ⊙ (1 − h²) (tanh), or dz = dh where h > 0, else 0 (relu: PyTorch's
 * threshold_backward, so z = 0 passes no gradient).
 *   h (H)   dh (H) dL/dh_t   dz (H) written
 */
export function rnnBackward(h: usize, dh: usize, dz: usize, H: i32, relu: bool): void {
  for (let j = 0; j < H; j++) {
    const o4 = <usize>j << 2;
    const hj = load<f32>(h + o4), dhj = load<f32>(dh + o4);
    store<f32>(dz + o4, relu ? (hj > 0 ? dhj : 0) : dhj * (1 - hj * hj));
  }
}
