// The GRU cell (nn.GRU, gates r, z, n): one step's pointwise half, forward and backward, after the two products
// gi = W_ih x + b_ih and gh = W_hh h + b_hh (simd.ts affinePacked; the n gate needs them apart). One batch row at a time.
//   forward   r = σ(gi_r + gh_r);  z = σ(gi_z + gh_z);  n = tanh(gi_n + r·gh_n);  h ← (1 − z)·n + z·h

import { sigmoidLanes, sigmoidScalar, tanhLanes, tanhScalar } from "../activations";
import { padTo4 } from "../simd";
import { loadPart, storePart } from "./lanes";

function gruLanes(ir: v128, iz: v128, inn: v128, hr: v128, hz: v128, hn: v128, hPrev: v128): v128 {
  const r = sigmoidLanes(f32x4.add(ir, hr));
  const z = sigmoidLanes(f32x4.add(iz, hz));
  const n = tanhLanes(f32x4.add(inn, f32x4.mul(r, hn)));
  // (1 − z)·n + z·h
  return f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1), z), n), f32x4.mul(z, hPrev));
}

/**
 * Forward, h in place.
 *   gi (3H) = W_ih x + b_ih   gh (3H) = W_hh h + b_hh   h (H) updated in place
 */
export function gruPointwise(gi: usize, gh: usize, h: usize, hidden: i32): void {
  const gate = <usize>hidden * 4;
  if (!ASC_FEATURE_SIMD) {
    // the scalar build: gruLanes one unit at a time
    for (let j = 0; j < hidden; j++) {
      const o = <usize>j * 4;
      const r = sigmoidScalar(load<f32>(gi + o) + load<f32>(gh + o));
      const z = sigmoidScalar(load<f32>(gi + gate + o) + load<f32>(gh + gate + o));
      const n = tanhScalar(load<f32>(gi + 2 * gate + o) + r * load<f32>(gh + 2 * gate + o));
      store<f32>(h + o, (1 - z) * n + z * load<f32>(h + o));
    }
    return;
  }
  const h4 = hidden & ~3;
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    v128.store(h + o, gruLanes(
      v128.load(gi + o), v128.load(gi + gate + o), v128.load(gi + 2 * gate + o),
      v128.load(gh + o), v128.load(gh + gate + o), v128.load(gh + 2 * gate + o),
      v128.load(h + o),
    ));
  }
  if (j < hidden) {
    const o = <usize>j * 4, n = hidden - j;
    storePart(h + o, gruLanes(
      loadPart(gi + o, n), loadPart(gi + gate + o, n), loadPart(gi + 2 * gate + o, n),
      loadPart(gh + o, n), loadPart(gh + gate + o, n), loadPart(gh + 2 * gate + o, n),
      loadPart(h + o, n),
    ), n);
  }
}

/**
 * Backward of one step, from what its forward read.
 *   gi, gh (3H) the products   hPrev (H) h_{t−1}
 *   dh (H) dL/dh_t in; dL/dh_{t−1} through the z gate out (the W_hh part is the caller's)
 *   dGi (3H), dGh (padTo4(3H), padding zeroed) pre-activation gradients out
 */
export function gruBackward(gi: usize, gh: usize, hPrev: usize, dh: usize, dGi: usize, dGh: usize, H: i32): void {
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
