// SIMD building blocks: the multiply-add of the two builds, reductions, and the affine product over packed weight
// panels that every layer (recurrent gates, attention projections, MLPs, the dense head) is made of, with its
// packing. The activations are in activations.ts.
//
// The scalar build (build/seqcast-scalar.wasm, asc --disable simd: ASC_FEATURE_SIMD is false and asc compiles only
// the `else` side) does each vector operation lane by lane, summing every lane in the order the vector code does,
// so its results equal the SIMD build's bit for bit.

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
  if (ASC_FEATURE_SIMD) {
    for (; j < n4; j += 4) {
      const o = <usize>j << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
    }
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    store<f32>(y + o, load<f32>(y + o) + load<f32>(x + o));
  }
}

// ── the affine product over packed weight panels ────────────────────────────

/** Bytes of input rows the product keeps in L1 while the weight tiles pass over them (L1d is 32 KiB or more). */
const CHUNK_BYTES: i32 = 16384;

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
        if (ASC_FEATURE_SIMD && row < rows && c + 4 <= k1) {
          v128.store(at, v128.load(w1 + (<usize>(row * k1 + c) << 2)));
        } else if (ASC_FEATURE_SIMD && row < rows && c >= k1 && c + 4 <= k1 + k2) {
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
 * weight load used twice), the batch cut into chunks of ≤ CHUNK_BYTES of input
 * rows that stay in L1 while every weight tile passes over them; a lone batch
 * row takes all 8 (8 independent accumulator chains). (4 rows × 3 streams, 12
 * accumulators, spills under V8's 15 usable xmm registers: 3.7× slower, and
 * unrolling the group loop by two spills too; bench/kernel-profile.ts.) Each output sums lane j mod 4 in order, then folds the
 * lanes the same way in every tile, so a stream's result does not depend on
 * the batch it was stepped in.
 */
export function affinePacked(
  out: usize, batch: i32, rows: i32, input: usize, width: i32, panel: usize, bias1: usize, bias2: usize,
  outStride: i32 = rows, tileStride: i32 = 0,
): void {
  if (!ASC_FEATURE_SIMD) {
    affinePackedLanes(out, batch, rows, input, width, panel, bias1, bias2, outStride, tileStride);
    return;
  }
  const tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
  const inputBytes = <usize>width << 2;
  // one tile: width/4 groups of 8 vectors; a wider panel's tiles are further apart (tileStride bytes),
  // when `panel` points at a group inside them (its columns from there on)
  const tileBytes = tileStride > 0 ? <usize>tileStride : inputBytes * TILE_ROWS;
  const groups = width >> 2;
  // the batch in chunks whose input rows stay in L1 (≤ CHUNK_BYTES) while every weight tile passes over them:
  // each 4-row half tile is read once per chunk and reused from L1 by each pair of the chunk's rows
  const pairs = batch >> 1;
  const chunks = max(1, (<i32>(<usize>(pairs << 1) * inputBytes) + CHUNK_BYTES - 1) / CHUNK_BYTES);
  const chunkPairs = (pairs + chunks - 1) / chunks;
  for (let first = 0; first < pairs; first += chunkPairs) {
    const last = min(pairs, first + chunkPairs);
    for (let t = 0; t < tiles; t++) {
      for (let half = 0; half < 2; half++) {
        const r = t * TILE_ROWS + half * 4;
        if (r >= rows) break;
        const count = rows - r;
        const bias = biasTail(bias1, bias2, r, count);
        const tile = panel + <usize>t * tileBytes + (<usize>half << 6);
        for (let pair = first; pair < last; pair++) {
          const xa = input + <usize>(2 * pair) * inputBytes, xb = xa + inputBytes;
          const outA = out + (<usize>(2 * pair * outStride) << 2), outB = outA + (<usize>outStride << 2);
          let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
          let b0 = a0, b1 = a0, b2 = a0, b3 = a0;
          let w = tile;
          let pa = xa, pb = xb;
          // pa runs to its end (no separate counter: the loop's own instructions are a fifth of the body)
          const end = xa + inputBytes;
          while (pa < end) {
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
  }
  const b = pairs << 1;
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

/**
 * affinePacked of the scalar build: the same panel and the same sums, lane by lane. Output (b, r) sums its four
 * lanes s_j = Σ_g panel[r, 4g + j] · input[b, 4g + j] in order of g, folds them as horizontalSum4 does,
 * (s0 + s2) + (s1 + s3), and adds the bias as biasAt / biasTail form it (rows of a partial group of four get
 * bias1 + (bias2 or 0)): bit for bit the SIMD build's result. Two panel rows at a time share the input's loads
 * (8 independent sums; a tile's rows past `rows` are zero in the panel, so the pair never reads past it).
 */
function affinePackedLanes(
  out: usize, batch: i32, rows: i32, input: usize, width: i32, panel: usize, bias1: usize, bias2: usize,
  outStride: i32, tileStride: i32,
): void {
  const tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
  const inputBytes = <usize>width << 2;
  const tileBytes = tileStride > 0 ? <usize>tileStride : inputBytes * TILE_ROWS;
  const groups = width >> 2;
  for (let b = 0; b < batch; b++) {
    const x = input + <usize>b * inputBytes;
    const outRow = out + (<usize>(b * outStride) << 2);
    for (let t = 0; t < tiles; t++) {
      for (let i = 0; i < TILE_ROWS; i += 2) {
        const r = t * TILE_ROWS + i;
        if (r >= rows) break;
        let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
        let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0;
        let w = panel + <usize>t * tileBytes + (<usize>i << 4);
        let p = x;
        for (let g = 0; g < groups; g++) {
          const x0 = load<f32>(p), x1 = load<f32>(p, 4), x2 = load<f32>(p, 8), x3 = load<f32>(p, 12);
          a0 += load<f32>(w) * x0; a1 += load<f32>(w, 4) * x1; a2 += load<f32>(w, 8) * x2; a3 += load<f32>(w, 12) * x3;
          c0 += load<f32>(w, 16) * x0; c1 += load<f32>(w, 20) * x1; c2 += load<f32>(w, 24) * x2; c3 += load<f32>(w, 28) * x3;
          w += 128; p += 16;
        }
        storeRowLanes(outRow, r, rows, bias1, bias2, (a0 + a2) + (a1 + a3));
        if (r + 1 < rows) storeRowLanes(outRow, r + 1, rows, bias1, bias2, (c0 + c2) + (c1 + c3));
      }
    }
  }
}

/** out[r] = bias + sum, the bias formed as biasAt / biasTail form it (see affinePackedLanes). */
// @ts-ignore: decorator
@inline function storeRowLanes(out: usize, r: i32, rows: i32, bias1: usize, bias2: usize, sum: f32): void {
  const fullGroup = rows - (r & ~3) >= 4;
  const b1 = load<f32>(bias1 + (<usize>r << 2));
  const bias = bias2 ? b1 + load<f32>(bias2 + (<usize>r << 2)) : fullGroup ? b1 : b1 + <f32>0;
  store<f32>(out + (<usize>r << 2), bias + sum);
}
