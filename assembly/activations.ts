// Activations on f32x4 lanes: exp, sigmoid and tanh (Cephes expf's reduction and polynomial), GELU (tanh form) and
// its derivative. Constants live in static memory as splatted vectors.
//
// Accuracy (tests/activations.test.ts checks it against float64 Math.exp/tanh):
//   expLanes     relative error < 2e-7 on [-87, 88]
//   sigmoidLanes absolute error < 1.5e-7
//   tanhLanes    absolute error < 1.5e-7, relative error < 2e-7 (from e^{2x} − 1)
// Scalar tails go through the same lane functions (a splatted vector, lane 0),
// so an element's value never depends on where it sits in a vector. The scalar
// build (no SIMD) runs expOne / tanhOne / geluOne: the same f32 operations in the
// same order on one value, so its results are the SIMD build's, bit for bit.

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

/** Scalar e^x through the lane function (same bits as a vector lane); the scalar build's own (expOne, same bits). */
// @ts-ignore: decorator
@inline export function expScalar(x: f32): f32 {
  if (ASC_FEATURE_SIMD) return f32x4.extract_lane(expLanes(f32x4.splat(x)), 0);
  return expOne(x);
}

// @ts-ignore: decorator
@inline export function sigmoidScalar(x: f32): f32 {
  if (ASC_FEATURE_SIMD) return f32x4.extract_lane(sigmoidLanes(f32x4.splat(x)), 0);
  return <f32>1 / (<f32>1 + expOne(-x));
}

// @ts-ignore: decorator
@inline export function tanhScalar(x: f32): f32 {
  if (ASC_FEATURE_SIMD) return f32x4.extract_lane(tanhLanes(f32x4.splat(x)), 0);
  return tanhOne(x);
}

// ── the scalar build's lane: the same operations on one f32 (f32x4.pmin(a, b) is b < a ? b : a, pmax a < b ? b : a) ──

// @ts-ignore: decorator
@inline function constant(offset: usize): f32 {
  return load<f32>(CONSTANTS + offset);
}

/** roundedLog2 and pow2Of on one value: 2^n as float bits, (n + 127) << 23. */
// @ts-ignore: decorator
@inline function pow2OfOne(t: f32): f32 {
  return reinterpret<f32>(((reinterpret<i32>(t) - reinterpret<i32>(constant(32))) + 127) << 23);
}

// @ts-ignore: decorator
@inline function expm1ReducedOne(y: f32, t: f32): f32 {
  const n = t - constant(32);
  let r = y - n * constant(64);
  r = r - n * constant(80);
  let p = constant(96);
  p = constant(112) + p * r;
  p = constant(128) + p * r;
  p = constant(144) + p * r;
  p = constant(160) + p * r;
  p = constant(176) + p * r;
  return r + p * (r * r);
}

/** expLanes on one value. */
function expOne(x: f32): f32 {
  const hi = constant(0), lo = constant(16);
  x = hi < x ? hi : x;
  x = x < lo ? lo : x;
  const t = x * constant(48) + constant(32);
  return (expm1ReducedOne(x, t) + constant(192)) * pow2OfOne(t);
}

/** tanhLanes on one value. */
function tanhOne(x: f32): f32 {
  const hi = constant(224), lo = constant(240);
  let y = x + x;
  y = hi < y ? hi : y;
  y = y < lo ? lo : y;
  const t = y * constant(48) + constant(32);
  const pow2n = pow2OfOne(t);
  const e = pow2n * expm1ReducedOne(y, t) + (pow2n - constant(192));
  return e / (e + constant(208));
}

// ── GELU (tanh form): the transformer MLP's activation ──

// @ts-ignore: decorator
@inline function geluLanes(x: v128): v128 {
  // 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
  const inner = f32x4.mul(f32x4.splat(0.7978845608028654), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), tanhLanes(inner)));
}

/** geluLanes on one value (the scalar build). */
function geluOne(x: f32): f32 {
  const inner = <f32>0.7978845608028654 * (x + <f32>0.044715 * (x * (x * x)));
  return (<f32>0.5 * x) * (<f32>1 + tanhOne(inner));
}

/** GELU, tanh approximation, in place over n floats. */
export function geluInPlace(x: usize, n: i32): void {
  const n4 = n & ~3;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j < n4; j += 4) v128.store(x + (<usize>j << 2), geluLanes(v128.load(x + (<usize>j << 2))));
  }
  for (; j < n; j++) {
    const o = x + (<usize>j << 2);
    if (ASC_FEATURE_SIMD) store<f32>(o, f32x4.extract_lane(geluLanes(f32x4.splat(load<f32>(o))), 0));
    else store<f32>(o, geluOne(load<f32>(o)));
  }
}

/** d gelu_tanh(x) / dx (training's backward through the MLP). */
export function geluDerivative(x: f32): f32 {
  const c: f32 = 0.7978845608028654;
  const th = tanhScalar(c * (x + <f32>0.044715 * x * x * x));
  return <f32>0.5 * (1 + th) + <f32>0.5 * x * (1 - th * th) * c * (1 + <f32>(3 * 0.044715) * x * x);
}
