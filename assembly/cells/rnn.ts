// The Elman RNN cell (nn.RNN, tanh): one step's pointwise half, forward and backward, after the product
// z = W_ih x + b_ih + W_hh h + b_hh (simd.ts affinePacked). One batch row at a time.

import { tanhLanes, tanhScalar } from "../activations";
import { loadPart, storePart } from "./lanes";

/**
 * Forward: h ← tanh(z).
 *   z (H)   h (H) written
 */
export function rnnTanhPointwise(z: usize, h: usize, hidden: i32): void {
  if (!ASC_FEATURE_SIMD) { // the scalar build
    for (let j = 0; j < hidden; j++) store<f32>(h + (<usize>j << 2), tanhScalar(load<f32>(z + (<usize>j << 2))));
    return;
  }
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

/**
 * Backward: dz = dh ⊙ (1 − h²), from the step's output h.
 *   h (H)   dh (H) dL/dh_t   dz (H) written
 */
export function rnnBackward(h: usize, dh: usize, dz: usize, H: i32): void {
  for (let j = 0; j < H; j++) {
    const o4 = <usize>j << 2;
    const hj = load<f32>(h + o4);
    store<f32>(dz + o4, load<f32>(dh + o4) * (1 - hj * hj));
  }
}
