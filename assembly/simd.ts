// SIMD building blocks: activations on f32x4 lanes and the fused affine product
// that every layer (recurrent gates, dense head) is made of.
//
// Accuracy (measured by tests/activations.test.ts against float64 Math):
//   expLanes     relative error < 2e-7 on [-87, 88]
//   sigmoidLanes absolute error < 1.2e-7
//   tanhLanes    absolute error < 1.2e-7, relative error < 3e-7
// Scalar tails go through the same lane functions (a splatted vector, lane 0),
// so an element's value never depends on where it sits in a vector.

// ── activations ─────────────────────────────────────────────────────────────

// Cephes expf: e^x = 2^n · e^r with r = x − n·ln2 split in two parts for accuracy.
const EXP_HI: f32 = 88.0; // 2^127 · e^0.35 stays finite
const EXP_LO: f32 = -87.33; // 2^-126 is the smallest normal
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;

/** e^x for each lane (clamped to the finite normal range). */
// @ts-ignore: decorator
@inline export function expLanes(x: v128): v128 {
  x = f32x4.pmax(f32x4.pmin(x, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(LN2_LO)));
  const r2 = f32x4.mul(r, r);
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, r2), r), f32x4.splat(1.0));
  const n = i32x4.trunc_sat_f32x4_s(fx);
  const pow2n = i32x4.shl(i32x4.add(n, i32x4.splat(127)), 23);
  return f32x4.mul(p, pow2n);
}

/** 1 / (1 + e^-x) for each lane. */
// @ts-ignore: decorator
@inline export function sigmoidLanes(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, expLanes(f32x4.neg(x))));
}

/** tanh for each lane: Cephes' odd polynomial near 0, 1 − 2/(e^{2|x|}+1) beyond. */
// @ts-ignore: decorator
@inline export function tanhLanes(x: v128): v128 {
  const ax = f32x4.abs(x);
  // small |x|: x + x·z·P(z), z = x²
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  // large |x|: sign(x) · (1 − 2 / (e^{2|x|} + 1))
  const one = f32x4.splat(1.0);
  const e = expLanes(f32x4.add(ax, ax));
  const mag = f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(e, one)));
  const signBit = v128.and(x, i32x4.splat(0x80000000));
  const large = v128.or(mag, signBit);
  const isSmall = f32x4.lt(ax, f32x4.splat(0.625));
  return v128.bitselect(small, large, isSmall);
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

// ── reductions ──────────────────────────────────────────────────────────────

/** Sums each of four vectors across its lanes: [Σa, Σb, Σc, Σd]. */
// @ts-ignore: decorator
@inline function horizontalSum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

// @ts-ignore: decorator
@inline function horizontalSum(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
}

// ── the fused affine product ────────────────────────────────────────────────

/**
 * out[b, r] = bias1[r] + bias2[r] + W1[r, :] · in1[b, :] + W2[r, :] · in2[b, :]
 * for b < batch, r < rows. Weights are row-major [rows, k] as nn.Linear stores
 * them, so each output is a dot product along a contiguous weight row.
 *
 *   out   (batch, rows)   written, not accumulated
 *   in1   (batch, k1)     W1 (rows, k1)
 *   in2   (batch, k2)     W2 (rows, k2); k2 = 0 skips the second product
 *   bias1 (rows)          bias2 (rows) or 0 for none
 *
 * Register tiling: 4 weight rows × 2 batch rows share every load, 8 f32x4
 * accumulators; dot-product lanes are folded once at the end of a row tile.
 */
export function affine(
  out: usize, batch: i32, rows: i32,
  in1: usize, k1: i32, w1: usize,
  in2: usize, k2: i32, w2: usize,
  bias1: usize, bias2: usize,
): void {
  const rows4 = rows & ~3;
  let b = 0;
  for (; b + 2 <= batch; b += 2) {
    const x1a = in1 + <usize>(b * k1) * 4, x1b = x1a + <usize>k1 * 4;
    const x2a = in2 + <usize>(b * k2) * 4, x2b = x2a + <usize>k2 * 4;
    const outA = out + <usize>(b * rows) * 4, outB = outA + <usize>rows * 4;
    let r = 0;
    for (; r < rows4; r += 4) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
      for (let pass = 0; pass < 2; pass++) {
        const k = pass == 0 ? k1 : k2;
        if (k == 0) continue;
        const xa = pass == 0 ? x1a : x2a, xb = pass == 0 ? x1b : x2b;
        const stride = <usize>k * 4;
        const w0 = (pass == 0 ? w1 : w2) + <usize>r * stride;
        const k4 = <usize>(k & ~3) * 4;
        for (let j: usize = 0; j < k4; j += 16) {
          const va = v128.load(xa + j), vb = v128.load(xb + j);
          let wv = v128.load(w0 + j);
          a0 = f32x4.add(a0, f32x4.mul(wv, va)); b0 = f32x4.add(b0, f32x4.mul(wv, vb));
          wv = v128.load(w0 + stride + j);
          a1 = f32x4.add(a1, f32x4.mul(wv, va)); b1 = f32x4.add(b1, f32x4.mul(wv, vb));
          wv = v128.load(w0 + 2 * stride + j);
          a2 = f32x4.add(a2, f32x4.mul(wv, va)); b2 = f32x4.add(b2, f32x4.mul(wv, vb));
          wv = v128.load(w0 + 3 * stride + j);
          a3 = f32x4.add(a3, f32x4.mul(wv, va)); b3 = f32x4.add(b3, f32x4.mul(wv, vb));
        }
        // k tail: fold the leftover columns into lane 0 of each accumulator
        for (let j = k4; j < <usize>k * 4; j += 4) {
          const va = load<f32>(xa + j), vb = load<f32>(xb + j);
          const p0 = load<f32>(w0 + j), p1 = load<f32>(w0 + stride + j);
          const p2 = load<f32>(w0 + 2 * stride + j), p3 = load<f32>(w0 + 3 * stride + j);
          a0 = f32x4.add(a0, f32x4.replace_lane(f32x4.splat(0), 0, p0 * va));
          a1 = f32x4.add(a1, f32x4.replace_lane(f32x4.splat(0), 0, p1 * va));
          a2 = f32x4.add(a2, f32x4.replace_lane(f32x4.splat(0), 0, p2 * va));
          a3 = f32x4.add(a3, f32x4.replace_lane(f32x4.splat(0), 0, p3 * va));
          b0 = f32x4.add(b0, f32x4.replace_lane(f32x4.splat(0), 0, p0 * vb));
          b1 = f32x4.add(b1, f32x4.replace_lane(f32x4.splat(0), 0, p1 * vb));
          b2 = f32x4.add(b2, f32x4.replace_lane(f32x4.splat(0), 0, p2 * vb));
          b3 = f32x4.add(b3, f32x4.replace_lane(f32x4.splat(0), 0, p3 * vb));
        }
      }
      let bias = v128.load(bias1 + <usize>r * 4);
      if (bias2) bias = f32x4.add(bias, v128.load(bias2 + <usize>r * 4));
      v128.store(outA + <usize>r * 4, f32x4.add(bias, horizontalSum4(a0, a1, a2, a3)));
      v128.store(outB + <usize>r * 4, f32x4.add(bias, horizontalSum4(b0, b1, b2, b3)));
    }
    for (; r < rows; r++) {
      const bias = load<f32>(bias1 + <usize>r * 4) + (bias2 ? load<f32>(bias2 + <usize>r * 4) : 0);
      store<f32>(outA + <usize>r * 4, bias + dotRow(x1a, w1, r, k1) + dotRow(x2a, w2, r, k2));
      store<f32>(outB + <usize>r * 4, bias + dotRow(x1b, w1, r, k1) + dotRow(x2b, w2, r, k2));
    }
  }
  for (; b < batch; b++) {
    const xa = in1 + <usize>(b * k1) * 4;
    const ya = in2 + <usize>(b * k2) * 4;
    const outA = out + <usize>(b * rows) * 4;
    let r = 0;
    for (; r < rows4; r += 4) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let pass = 0; pass < 2; pass++) {
        const k = pass == 0 ? k1 : k2;
        if (k == 0) continue;
        const x = pass == 0 ? xa : ya;
        const stride = <usize>k * 4;
        const w0 = (pass == 0 ? w1 : w2) + <usize>r * stride;
        const k4 = <usize>(k & ~3) * 4;
        for (let j: usize = 0; j < k4; j += 16) {
          const v = v128.load(x + j);
          a0 = f32x4.add(a0, f32x4.mul(v128.load(w0 + j), v));
          a1 = f32x4.add(a1, f32x4.mul(v128.load(w0 + stride + j), v));
          a2 = f32x4.add(a2, f32x4.mul(v128.load(w0 + 2 * stride + j), v));
          a3 = f32x4.add(a3, f32x4.mul(v128.load(w0 + 3 * stride + j), v));
        }
        for (let j = k4; j < <usize>k * 4; j += 4) {
          const v = load<f32>(x + j);
          a0 = f32x4.add(a0, f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(w0 + j) * v));
          a1 = f32x4.add(a1, f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(w0 + stride + j) * v));
          a2 = f32x4.add(a2, f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(w0 + 2 * stride + j) * v));
          a3 = f32x4.add(a3, f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(w0 + 3 * stride + j) * v));
        }
      }
      let bias = v128.load(bias1 + <usize>r * 4);
      if (bias2) bias = f32x4.add(bias, v128.load(bias2 + <usize>r * 4));
      v128.store(outA + <usize>r * 4, f32x4.add(bias, horizontalSum4(a0, a1, a2, a3)));
    }
    for (; r < rows; r++) {
      const bias = load<f32>(bias1 + <usize>r * 4) + (bias2 ? load<f32>(bias2 + <usize>r * 4) : 0);
      store<f32>(outA + <usize>r * 4, bias + dotRow(xa, w1, r, k1) + dotRow(ya, w2, r, k2));
    }
  }
}

/** W[r, :] · x for one weight row (the row tail of `affine`). */
function dotRow(x: usize, w: usize, r: i32, k: i32): f32 {
  if (k == 0) return 0;
  const row = w + <usize>(r * k) * 4;
  const k4 = <usize>(k & ~3) * 4;
  let acc = f32x4.splat(0);
  for (let j: usize = 0; j < k4; j += 16) {
    acc = f32x4.add(acc, f32x4.mul(v128.load(row + j), v128.load(x + j)));
  }
  let sum = horizontalSum(acc);
  for (let j = k4; j < <usize>k * 4; j += 4) sum += load<f32>(row + j) * load<f32>(x + j);
  return sum;
}
