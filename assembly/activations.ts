// Activations on f32x4 lanes: exp, sigmoid and tanh (Cephes expf's reduction and polynomial), GELU (tanh form) and
// its derivative. Constants live in static memory as splatted vectors.
//
// Accuracy (tests/activations.test.ts checks it against float64 Math.exp/tanh):
//   expLanes     relative error < 2e-7 on [-87, 88]
//   sigmoidLanes absolute error < 1.5e-7
//   tanhLanes    absolute error < 1.5e-7, relative error < 2e-7 (from e^{2x} − 1)
// Scalar tails go through the same lane functions (a splatted vector, lane 0),
// so an element's value never depends on where it sits in a vector.

import { madd } from "./simd";

// Constants live in static memory as splatted vectors: V8 builds an f32x4
// literal with three instructions at every use, a load from here takes one.
const EXP_HI: f32 = 88.0; // 2^127 · e^0.35 stays finite
const EXP_LO: f32 = -87.33; // 2^-126 is the smallest normal
const ROUND_MAGIC: f32 = 12582912.0; // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits
const CONSTANTS = memory.data<f32>([
  EXP_HI, EXP_HI, EXP_HI, EXP_HI,                             // 0
  EXP_LO, EXP_LO, EXP_LO, EXP_LO,                             // 16
  ROUND_MAGIC, ROUND_MAGIC, ROUND_MAGIC, ROUND_MAGIC,         // 32
  1.44269504088896341, 1.44269504088896341, 1.44269504088896341, 1.44269504088896341, // 48 log2(e)
  0.693359375, 0.693359375, 0.693359375, 0.693359375,         // 64 ln2, high part
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, // 80 ln2, low part
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, // 96 Cephes expf P0..P5
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1.0, 1.0, 1.0, 1.0,                                         // 192
  2.0, 2.0, 2.0, 2.0,                                         // 208
  20.0, 20.0, 20.0, 20.0,                                     // 224 tanh: 2x clamped to ±20 (tanh(10) is 1 in float32)
  -20.0, -20.0, -20.0, -20.0,                                 // 240
]);

// @ts-ignore: decorator
@inline function k(offset: usize): v128 {
  return v128.load(CONSTANTS + offset);
}

/** y · log2 e + ROUND_MAGIC: n = round(y · log2 e) sits in the result's low mantissa bits. */
// @ts-ignore: decorator
@inline function roundedLog2(y: v128): v128 {
  return f32x4.add(f32x4.mul(y, k(48)), k(32));
}

/** 2^n as float bits, (n + 127) << 23, for t from roundedLog2. */
// @ts-ignore: decorator
@inline function pow2Of(t: v128): v128 {
  return i32x4.shl(i32x4.add(i32x4.sub(t, k(32)), i32x4.splat(127)), 23);
}

/** e^r − 1 = r + r²·P(r) (Cephes expf's polynomial) for y = n·ln2 + r, t = roundedLog2(y). */
// @ts-ignore: decorator
@inline function expm1Reduced(y: v128, t: v128): v128 {
  const n = f32x4.sub(t, k(32));
  let r = f32x4.sub(y, f32x4.mul(n, k(64)));
  r = f32x4.sub(r, f32x4.mul(n, k(80)));
  let p = k(96);
  p = madd(k(112), p, r);
  p = madd(k(128), p, r);
  p = madd(k(144), p, r);
  p = madd(k(160), p, r);
  p = madd(k(176), p, r);
  return madd(r, p, f32x4.mul(r, r));
}

/** e^x for each lane (Cephes expf: e^x = 2^n · e^r, clamped to the finite normal range). */
// @ts-ignore: decorator
@inline export function expLanes(x: v128): v128 {
  x = f32x4.pmax(f32x4.pmin(x, k(0)), k(16));
  const t = roundedLog2(x);
  return f32x4.mul(f32x4.add(expm1Reduced(x, t), k(192)), pow2Of(t));
}

/** 1 / (1 + e^-x) for each lane. */
// @ts-ignore: decorator
@inline export function sigmoidLanes(x: v128): v128 {
  const one = k(192);
  return f32x4.div(one, f32x4.add(one, expLanes(f32x4.neg(x))));
}

/**
 * tanh for each lane, as e / (e + 2) with e = e^{2x} − 1 (expm1). expm1 comes from
 * the same reduction as expLanes: 2x = n·ln2 + r, e^r − 1 = r + r²·P(r) (no
 * cancellation: for |2x| < ln2/2, n = 0 and this is e itself), then
 * e^{2x} − 1 = 2^n·(e^r − 1) + (2^n − 1); 2^n − 1 is exact for |n| ≤ 24, and
 * past that tanh is within an ulp of ±1 whatever its rounding.
 * One exp-sized evaluation and one division, accurate in relative terms near 0
 * as well as near ±1; 2x is clamped to ±20, where tanh is ±1 in float32.
 */
// @ts-ignore: decorator
@inline export function tanhLanes(x: v128): v128 {
  const y = f32x4.pmax(f32x4.pmin(f32x4.add(x, x), k(224)), k(240));
  const t = roundedLog2(y);
  const pow2n = pow2Of(t);
  const e = f32x4.add(f32x4.mul(pow2n, expm1Reduced(y, t)), f32x4.sub(pow2n, k(192)));
  return f32x4.div(e, f32x4.add(e, k(208)));
}

/** Scalar e^x through the lane function (same bits as a vector lane). */
// @ts-ignore: decorator
@inline export function expScalar(x: f32): f32 {
  return f32x4.extract_lane(expLanes(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline export function sigmoidScalar(x: f32): f32 {
  return f32x4.extract_lane(sigmoidLanes(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline export function tanhScalar(x: f32): f32 {
  return f32x4.extract_lane(tanhLanes(f32x4.splat(x)), 0);
}

// ── GELU (tanh form): the transformer MLP's activation ──

// @ts-ignore: decorator
@inline function geluLanes(x: v128): v128 {
  // 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
  const inner = f32x4.mul(f32x4.splat(0.7978845608028654), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), tanhLanes(inner)));
}

/** GELU, tanh approximation, in place over n floats. */
export function geluInPlace(x: usize, n: i32): void {
  const n4 = n & ~3;
  let j = 0;
  for (; j < n4; j += 4) v128.store(x + (<usize>j << 2), geluLanes(v128.load(x + (<usize>j << 2))));
  for (; j < n; j++) {
    const o = x + (<usize>j << 2);
    store<f32>(o, f32x4.extract_lane(geluLanes(f32x4.splat(load<f32>(o))), 0));
  }
}

/** d gelu_tanh(x) / dx (training's backward through the MLP). */
export function geluDerivative(x: f32): f32 {
  const c: f32 = 0.7978845608028654;
  const th = tanhScalar(c * (x + <f32>0.044715 * x * x * x));
  return <f32>0.5 * (1 + th) + <f32>0.5 * x * (1 - th * th) * c * (1 + <f32>(3 * 0.044715) * x * x);
}
