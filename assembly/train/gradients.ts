// Weight gradients as matrix products: a weight's gradient is the sum over every step and window of outer
// products dZ[n]ᵀ ⊗ R[n], done with the forward's fast kernel (simd.ts affinePacked) on dZᵀ against R's packed
// columns; a bias's gradient is a column sum. Scratch: state.ts Train.outer*.

import { Train } from "../state";
import { addTo, affinePacked, padTo4 } from "../simd";

/**
 * dW[r, j] += Σ_n dZ[n, r] · R[n, offset + j] for r < rows, j < k, n < count
 * (a weight gradient as the sum of outer products over every step and window).
 *   dW (rows, k)   dZ (count, dzStride)   R (count, rStride)
 * Done as one matrix product with the fast forward kernel: dZᵀ (rows, count) as the
 * batch rows, the columns of R packed as a panel, into scratch, then added to dW.
 */
export function accumulateOuter(dW: usize, rows: i32, k: i32, dZ: usize, dzStride: i32, R: usize, rStride: i32, offset: i32, count: i32): void {
  outerProductInto(rows, k, dZ, dzStride, R, rStride, offset, count);
  addTo(dW, Train.outerProduct, rows * k);
}

/** Train.outerProduct (rows, k) = Σ_n dZ[n, :rows]ᵀ ⊗ R[n, offset : offset + k] over n < count (see accumulateOuter). */
function outerProductInto(rows: i32, k: i32, dZ: usize, dzStride: i32, R: usize, rStride: i32, offset: i32, count: i32): void {
  const width = padTo4(count);
  transposeRows(Train.outerLeft, width, dZ, dzStride, rows, count);
  packColumns(Train.outerPanel, R, count, rStride, offset, k);
  affinePacked(Train.outerProduct, rows, k, Train.outerLeft, width, Train.outerPanel, Train.outerZeros, 0, k);
}

/** Rows of a transpose block: 32 × 32 floats read and 32 × 32 written stay in L1. */
const TRANSPOSE_BLOCK: i32 = 32;

/**
 * dst[r, n] = src[n, r] for r < rows, n < count, with dst rows zero padded from
 * count to dstStride. Done in 32 × 32 blocks: a straight column walk of src would
 * touch a new cache line per element.
 *   dst (rows, dstStride)   src (count, srcStride)
 */
function transposeRows(dst: usize, dstStride: i32, src: usize, srcStride: i32, rows: i32, count: i32): void {
  for (let r0 = 0; r0 < rows; r0 += TRANSPOSE_BLOCK) {
    const r1 = min(rows, r0 + TRANSPOSE_BLOCK);
    for (let n0 = 0; n0 < count; n0 += TRANSPOSE_BLOCK) {
      const n1 = min(count, n0 + TRANSPOSE_BLOCK);
      for (let r = r0; r < r1; r++) {
        const row = dst + (<usize>(r * dstStride) << 2);
        const column = src + (<usize>r << 2);
        for (let n = n0; n < n1; n++) store<f32>(row + (<usize>n << 2), load<f32>(column + (<usize>(n * srcStride) << 2)));
      }
    }
    for (let r = r0; r < r1; r++) {
      const row = dst + (<usize>(r * dstStride) << 2);
      for (let n = count; n < dstStride; n++) store<f32>(row + (<usize>n << 2), 0);
    }
  }
}

/**
 * The gradients of W_ih (rows, k1) and W_hh (rows, k2) at once from the layer's
 * [x | h] rows: one product over k1 + k2 columns, then split.
 */
export function accumulateOuterSplit(dW1: usize, k1: i32, dW2: usize, k2: i32, rows: i32, dZ: usize, dzStride: i32, R: usize, rStride: i32, count: i32): void {
  const k = k1 + k2;
  outerProductInto(rows, k, dZ, dzStride, R, rStride, 0, count);
  for (let r = 0; r < rows; r++) {
    const product = Train.outerProduct + (<usize>(r * k) << 2);
    addTo(dW1 + (<usize>(r * k1) << 2), product, k1);
    addTo(dW2 + (<usize>(r * k2) << 2), product + (<usize>k1 << 2), k2);
  }
}

/**
 * Packs columns offset .. offset+k−1 of R (count, rStride) as a panel of k rows
 * over `count` columns (the layout of simd.ts packPanel), zero padded.
 */
function packColumns(panel: usize, R: usize, count: i32, rStride: i32, offset: i32, k: i32): void {
  const width = padTo4(count);
  const tiles = (k + 7) >> 3;
  const tileBytes = <usize>width << 5; // width / 4 groups of 8 rows × 4 lanes
  // four rows of R at a time (one group of panel columns), across every tile: R is read row by row
  for (let c = 0; c < width; c += 4) {
    for (let t = 0; t < tiles; t++) {
      let at = panel + <usize>t * tileBytes + (<usize>c << 5);
      for (let i = 0; i < 8; i++) {
        const j = t * 8 + i;
        for (let lane = 0; lane < 4; lane++) {
          const n = c + lane;
          store<f32>(at, j < k && n < count ? load<f32>(R + (<usize>(n * rStride + offset + j) << 2)) : 0);
          at += 4;
        }
      }
    }
  }
}

/** db[r] += Σ_n dZ[n, r]. */
export function accumulateColumnSums(db: usize, rows: i32, dZ: usize, dzStride: i32, count: i32): void {
  for (let n = 0; n < count; n++) addTo(db, dZ + (<usize>(n * dzStride) << 2), rows);
}
