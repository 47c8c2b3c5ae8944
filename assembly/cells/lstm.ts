// The LSTM cell (nn.LSTM, gates i, f, g, o): one step's pointwise half, forward and backward, after the product
// z = W_ih x + b_ih + W_hh h + b_hh (simd.ts affinePacked). One batch row at a time, 4 hidden units per vector.
//   forward   c ← σ(f)·c + σ(i)·tanh(g);  h ← σ(o)·tanh(c)
//   backward  dc_t = dc_{t+1}·σ(f_{t+1}) + dh·σ(o)·(1 − tanh²(c));  di, df, dg, do from dc_t and dh

import { sigmoidLanes, sigmoidScalar, tanhLanes, tanhScalar } from "../activations";
import { loadPart, storePart } from "./lanes";

function lstmLanes(zi: v128, zf: v128, zg: v128, zo: v128, cPrev: v128, out: usize, cOut: usize, count: i32): void {
  const i = sigmoidLanes(zi), f = sigmoidLanes(zf), g = tanhLanes(zg), o = sigmoidLanes(zo);
  const c = f32x4.add(f32x4.mul(f, cPrev), f32x4.mul(i, g));
  const h = f32x4.mul(o, tanhLanes(c));
  if (count == 4) {
    v128.store(cOut, c);
    v128.store(out, h);
  } else {
    storePart(cOut, c, count);
    storePart(out, h, count);
  }
}

/**
 * Forward, h and c in place.
 *   z (4H) pre-activations   h (H), c (H) updated in place
 */
export function lstmPointwise(z: usize, h: usize, c: usize, hidden: i32): void {
  const gate = <usize>hidden * 4;
  if (!ASC_FEATURE_SIMD) {
    // the scalar build: lstmLanes one unit at a time
    for (let j = 0; j < hidden; j++) {
      const o = <usize>j * 4;
      const i = sigmoidScalar(load<f32>(z + o)), f = sigmoidScalar(load<f32>(z + gate + o));
      const g = tanhScalar(load<f32>(z + 2 * gate + o)), og = sigmoidScalar(load<f32>(z + 3 * gate + o));
      const cNew = f * load<f32>(c + o) + i * g;
      store<f32>(c + o, cNew);
      store<f32>(h + o, og * tanhScalar(cNew));
    }
    return;
  }
  const h4 = hidden & ~3;
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    lstmLanes(
      v128.load(z + o), v128.load(z + gate + o), v128.load(z + 2 * gate + o), v128.load(z + 3 * gate + o),
      v128.load(c + o), h + o, c + o, 4,
    );
  }
  if (j < hidden) {
    const o = <usize>j * 4, n = hidden - j;
    lstmLanes(
      loadPart(z + o, n), loadPart(z + gate + o, n), loadPart(z + 2 * gate + o, n), loadPart(z + 3 * gate + o, n),
      loadPart(c + o, n), h + o, c + o, n,
    );
  }
}

/**
 * Backward of one step, from what its forward read and wrote.
 *   z (4H) pre-activations   cPrev (H) c_{t−1}   c (H) c_t
 *   dh (H) dL/dh_t in (the caller refills it)   dc (H) dL/dc_t in (from t+1), dL/dc_{t−1} out
 *   dz (4H) gate pre-activation gradients out
 */
export function lstmBackward(z: usize, cPrev: usize, c: usize, dh: usize, dc: usize, dz: usize, H: i32): void {
  const gate = <usize>H << 2;
  const H4 = H & ~3;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const one = f32x4.splat(1);
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
