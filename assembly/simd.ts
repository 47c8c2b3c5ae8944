// SIMD building blocks: activations on f32x4 lanes and the fused affine product
// that every layer (recurrent gates, dense head) is made of.
//
// Accuracy (tests/activations.test.ts checks it against float64 Math.exp/tanh):
//   expLanes     relative error < 2e-7 on [-87, 88]
//   sigmoidLanes absolute error < 1.5e-7
//   tanhLanes    absolute error < 1.5e-7, relative error < 2e-7 (from e^{2x} − 1)
// Scalar tails go through the same lane functions (a splatted vector, lane 0),
// so an element's value never depends on where it sits in a vector.

// ── activations ─────────────────────────────────────────────────────────────

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

/**
 * acc + a·b for each lane. Built with relaxed SIMD (build/seqcast-relaxed.wasm)
 * it is one fused multiply-add where the hardware has one: rounded once, so
 * results differ from the plain build's in the last bits, within the golden
 * tolerances; the plain build (build/seqcast.wasm) multiplies, then adds.
 * Either way each output sums its terms in the same order in every path, so a
 * stream's result does not depend on the batch it was stepped in.
 */
// @ts-ignore: decorator
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
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

// ── reductions ──────────────────────────────────────────────────────────────

/** Sums each of four vectors across its lanes: [Σa, Σb, Σc, Σd]. */
// @ts-ignore: decorator
@inline export function horizontalSum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}


/** y[:n] += x[:n]. */
export function addTo(y: usize, x: usize, n: i32): void {
  const n4 = n & ~3;
  let j = 0;
  for (; j < n4; j += 4) {
    const o = <usize>j << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    store<f32>(y + o, load<f32>(y + o) + load<f32>(x + o));
  }
}

// ── the affine product over packed weight panels ────────────────────────────

/** Rows of a weight panel tile. */
export const TILE_ROWS: i32 = 8;

/** n rounded up to a multiple of 4: the padded width of inputs and panels. */
// @ts-ignore: decorator
@inline export function padTo4(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Floats in the packed panel of a [rows, k] matrix. */
export function panelLength(rows: i32, k: i32): i32 {
  return ((rows + TILE_ROWS - 1) / TILE_ROWS) * TILE_ROWS * padTo4(k);
}

/**
 * Packs row-major weights into panels, optionally side by side: the panel row r
 * is [W1[r, :] (k1), W2[r, :] (k2), zeros up to padTo4(k1 + k2)]. Layout: for
 * each tile of 8 rows, for each group of 4 columns, the 8 rows' 4 columns as 8
 * consecutive f32x4 — so the step reads one contiguous stream with constant
 * offsets. Rows past `rows` are zero.
 *   panel (tiles, padTo4(k1 + k2) / 4, 8, 4)   W1 (rows, k1)   W2 (rows, k2) or k2 = 0
 */
export function packPanel(panel: usize, rows: i32, w1: usize, k1: i32, w2: usize, k2: i32): void {
  const width = padTo4(k1 + k2);
  const tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
  let at = panel;
  for (let t = 0; t < tiles; t++) {
    for (let c = 0; c < width; c += 4) {
      for (let i = 0; i < TILE_ROWS; i++) {
        const row = t * TILE_ROWS + i;
        if (row < rows && c + 4 <= k1) {
          v128.store(at, v128.load(w1 + (<usize>(row * k1 + c) << 2)));
        } else if (row < rows && c >= k1 && c + 4 <= k1 + k2) {
          v128.store(at, v128.load(w2 + (<usize>(row * k2 + c - k1) << 2)));
        } else {
          for (let lane = 0; lane < 4; lane++) {
            const col = c + lane;
            let value: f32 = 0;
            if (row < rows) {
              if (col < k1) value = load<f32>(w1 + (<usize>(row * k1 + col) << 2));
              else if (col < k1 + k2) value = load<f32>(w2 + (<usize>(row * k2 + col - k1) << 2));
            }
            store<f32>(at + (<usize>lane << 2), value);
          }
        }
        at += 16;
      }
    }
  }
}

/**
 * Packs the transpose of [W1 | W2] (rows, k1 + k2) as a panel of k1 + k2 rows and
 * `rows` columns: the panel row i is column i of [W1 | W2]. The backward pass uses
 * it to map gate gradients (B, rows) to input-row gradients (B, k1 + k2).
 */
export function packPanelTransposed(panel: usize, rows: i32, w1: usize, k1: i32, w2: usize, k2: i32): void {
  const panelRows = k1 + k2;
  const width = padTo4(rows);
  const tiles = (panelRows + TILE_ROWS - 1) / TILE_ROWS;
  let at = panel;
  for (let t = 0; t < tiles; t++) {
    for (let c = 0; c < width; c += 4) {
      for (let i = 0; i < TILE_ROWS; i++) {
        const col = t * TILE_ROWS + i; // a column of [W1 | W2]
        for (let lane = 0; lane < 4; lane++) {
          const row = c + lane;
          let value: f32 = 0;
          if (row < rows && col < panelRows) {
            value = col < k1 ? load<f32>(w1 + (<usize>(row * k1 + col) << 2)) : load<f32>(w2 + (<usize>(row * k2 + col - k1) << 2));
          }
          store<f32>(at, value);
          at += 4;
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function biasAt(bias1: usize, bias2: usize, r: i32): v128 {
  const bias = v128.load(bias1 + (<usize>r << 2));
  return bias2 ? f32x4.add(bias, v128.load(bias2 + (<usize>r << 2))) : bias;
}

/** Stores the first `count` (≤ 4) lanes of v. */
// @ts-ignore: decorator
@inline function storeLanes(ptr: usize, v: v128, count: i32): void {
  if (count >= 4) { v128.store(ptr, v); return; }
  if (count > 0) store<f32>(ptr, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(ptr, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(ptr, f32x4.extract_lane(v, 2), 8);
}

/** Bias of rows r..r+3 with rows past the end read as 0 (scalar loads, no overrun). */
// @ts-ignore: decorator
@inline function biasTail(bias1: usize, bias2: usize, r: i32, count: i32): v128 {
  if (count >= 4) return biasAt(bias1, bias2, r);
  let v = f32x4.splat(0);
  if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(bias1 + (<usize>r << 2)) + (bias2 ? load<f32>(bias2 + (<usize>r << 2)) : 0));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(bias1 + (<usize>(r + 1) << 2)) + (bias2 ? load<f32>(bias2 + (<usize>(r + 1) << 2)) : 0));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(bias1 + (<usize>(r + 2) << 2)) + (bias2 ? load<f32>(bias2 + (<usize>(r + 2) << 2)) : 0));
  return v;
}


/**
 * out[b, r] = bias1[r] + bias2[r] + panel[r, :] · input[b, :]  for b < batch, r < rows.
 *
 *   out    (batch, outStride) written: the first `rows` floats of each row
 *   input  (batch, width)     width = padTo4(k1 + k2) of the panel; padding lanes finite (zero)
 *   panel  packed by packPanel
 *   bias1  (rows), bias2 (rows) or 0
 *   tileStride  bytes from one 8-row tile to the next; 0 = this panel's own (width · 32)
 *
 * Pairs of batch rows take 4 panel rows at a time (8 accumulators, every
 * weight load used twice); a lone batch row takes all 8 (8 independent
 * accumulator chains). Each output sums lane j mod 4 in order, then folds the
 * lanes the same way in every tile, so a stream's result does not depend on
 * the batch it was stepped in.
 */
export function affinePacked(
  out: usize, batch: i32, rows: i32, input: usize, width: i32, panel: usize, bias1: usize, bias2: usize,
  outStride: i32 = rows, tileStride: i32 = 0,
): void {
  const tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
  const inputBytes = <usize>width << 2;
  // one tile: width/4 groups of 8 vectors; a wider panel's tiles are further apart (tileStride bytes),
  // when `panel` points at a group inside them (its columns from there on)
  const tileBytes = tileStride > 0 ? <usize>tileStride : inputBytes * TILE_ROWS;
  const groups = width >> 2;
  let b = 0;
  // weight tiles outermost: each 4-row half tile is read from L2 once per call and reused
  // from L1 by every pair of batch rows
  const pairs = batch >> 1;
  for (let t = 0; t < tiles; t++) {
    for (let half = 0; half < 2; half++) {
      const r = t * TILE_ROWS + half * 4;
      if (r >= rows) break;
      const count = rows - r;
      const bias = biasTail(bias1, bias2, r, count);
      const tile = panel + <usize>t * tileBytes + (<usize>half << 6);
      for (let pair = 0; pair < pairs; pair++) {
        const xa = input + <usize>(2 * pair) * inputBytes, xb = xa + inputBytes;
        const outA = out + (<usize>(2 * pair * outStride) << 2), outB = outA + (<usize>outStride << 2);
        let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
        let b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        let w = tile;
        let pa = xa, pb = xb;
        for (let g = 0; g < groups; g++) {
          const va = v128.load(pa), vb = v128.load(pb);
          let wv = v128.load(w);
          a0 = madd(a0, wv, va); b0 = madd(b0, wv, vb);
          wv = v128.load(w, 16);
          a1 = madd(a1, wv, va); b1 = madd(b1, wv, vb);
          wv = v128.load(w, 32);
          a2 = madd(a2, wv, va); b2 = madd(b2, wv, vb);
          wv = v128.load(w, 48);
          a3 = madd(a3, wv, va); b3 = madd(b3, wv, vb);
          w += 128; pa += 16; pb += 16;
        }
        storeLanes(outA + (<usize>r << 2), f32x4.add(bias, horizontalSum4(a0, a1, a2, a3)), count);
        storeLanes(outB + (<usize>r << 2), f32x4.add(bias, horizontalSum4(b0, b1, b2, b3)), count);
      }
    }
  }
  b = pairs << 1;
  if (b < batch) {
    const x = input + <usize>b * inputBytes;
    const outA = out + (<usize>(b * outStride) << 2);
    for (let t = 0; t < tiles; t++) {
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      let w = panel + <usize>t * tileBytes;
      let p = x;
      for (let g = 0; g < groups; g++) {
        const v = v128.load(p);
        a0 = madd(a0, v128.load(w), v);
        a1 = madd(a1, v128.load(w, 16), v);
        a2 = madd(a2, v128.load(w, 32), v);
        a3 = madd(a3, v128.load(w, 48), v);
        a4 = madd(a4, v128.load(w, 64), v);
        a5 = madd(a5, v128.load(w, 80), v);
        a6 = madd(a6, v128.load(w, 96), v);
        a7 = madd(a7, v128.load(w, 112), v);
        w += 128; p += 16;
      }
      const r = t * TILE_ROWS;
      const count = rows - r;
      storeLanes(outA + (<usize>r << 2), f32x4.add(biasTail(bias1, bias2, r, count), horizontalSum4(a0, a1, a2, a3)), count);
      if (count > 4) {
        storeLanes(outA + (<usize>(r + 4) << 2), f32x4.add(biasTail(bias1, bias2, r + 4, count - 4), horizontalSum4(a4, a5, a6, a7)), count - 4);
      }
    }
  }
}
