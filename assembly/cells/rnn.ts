// The Elman RNN cell (nn.RNN, nonlinearity "tanh" or "relu"): one step's pointwise half, forward and backward, after
// the product z = W_ih x + b_ih + W_hh h + b_hh (simd.ts affinePacked). One batch row at a time.

import { tanhLanes } from "../activations";
import { loadPart, storePart } from "./lanes";

/**
 * Forward: h ← tanh(z), or h ← max(z, 0) when `relu` (CELL_RNN_RELU).
 *   z (H)   h (H) written
 */
export function rnnPointwise(z: usize, h: usize, hidden: i32, relu: bool): void {
  if (relu) rnnReluPointwise(z, h, hidden);
  else rnnTanhPointwise(z, h, hidden);
}

/**
 * Backward, from the step's output h: dz = dh ⊙ (1 − h²) (tanh), or dz = dh where h > 0, else 0 (relu: PyTorch's
 * threshold_backward, so z = 0 passes no gradient).
 *   h (H)   dh (H) dL/dh_t   dz (H) written
 */
export function rnnBackward(h: usize, dh: usize, dz: usize, H: i32, relu: bool): void {
  if (relu) {
    for (let j = 0; j < H; j++) {
      const o4 = <usize>j << 2;
      store<f32>(dz + o4, load<f32>(h + o4) > 0 ? load<f32>(dh + o4) : 0);
    }
    return;
  }
  for (let j = 0; j < H; j++) {
    const o4 = <usize>j << 2;
    const hj = load<f32>(h + o4);
    store<f32>(dz + o4, load<f32>(dh + o4) * (1 - hj * hj));
  }
}

/** h ← tanh(z): f32x4 lanes, the last H mod 4 units through a partial vector (lanes.ts). */
function rnnTanhPointwise(z: usize, h: usize, hidden: i32): void {
  const h4 = hidden & ~3;
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    v128.store(h + o, tanhLanes(v128.load(z + o)));
  }
  if (j < hidden) {
    const o = <usize>j * 4, n = hidden - j;
    storePart(h + o, tanhLanes(loadPart(z + o, n)), n);
  }
}

/** h ← max(z, 0), exact: f32x4 lanes, then a scalar tail (f32.max, as the lanes: max(−0, 0) is +0). */
function rnnReluPointwise(z: usize, h: usize, hidden: i32): void {
  const h4 = hidden & ~3;
  const zero = f32x4.splat(0);
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    v128.store(h + o, f32x4.max(v128.load(z + o), zero));
  }
  for (; j < hidden; j++) {
    const o = <usize>j * 4;
    store<f32>(h + o, max<f32>(load<f32>(z + o), 0));
  }
}
