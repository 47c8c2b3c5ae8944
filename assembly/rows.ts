// Row helpers shared by the step and training: the products read rows padded to a multiple of 4 floats, whose
// padding must be zero (finite), so rows are copied and padded here.

import { Shape, Weights } from "./state";
import { addTo } from "./simd";

/** Zeroes floats [from, to) of a row (at most 3: the padding to a multiple of 4). */
// @ts-ignore: decorator
@inline export function zeroPad(row: usize, from: i32, to: i32): void {
  for (let i = from; i < to; i++) store<f32>(row + (<usize>i << 2), 0);
}

/** Zeroes floats [from, to) of each of `count` rows of width `to`. */
export function zeroPadRows(rows: usize, count: i32, from: i32, to: i32): void {
  for (let b = 0; b < count; b++) zeroPad(rows + (<usize>(b * to) << 2), from, to);
}

/** Copies `count` rows of `width` floats into rows of `paddedWidth`, zeroing the padding. */
export function copyPaddedRows(dst: usize, src: usize, count: i32, width: i32, paddedWidth: i32): void {
  for (let n = 0; n < count; n++) {
    const row = dst + (<usize>(n * paddedWidth) << 2);
    memory.copy(row, src + (<usize>(n * width) << 2), <usize>width << 2);
    zeroPad(row, width, paddedWidth);
  }
}

/** dst[b, :n] += src[b, :n] for each of `count` rows. */
export function addRows(dst: usize, dstStride: i32, src: usize, srcStride: i32, count: i32, n: i32): void {
  for (let b = 0; b < count; b++) addTo(dst + (<usize>(b * dstStride) << 2), src + (<usize>(b * srcStride) << 2), n);
}

/** out[n, :E] = embed.weight[tokens[n]] for n < count (rows of stride `outStride`). */
export function embedTokens(tokens: usize, count: i32, out: usize, outStride: i32): void {
  const bytes = <usize>Shape.inputSize << 2;
  for (let n = 0; n < count; n++) {
    const token = load<i32>(tokens + (<usize>n << 2));
    memory.copy(out + (<usize>(n * outStride) << 2), Weights.embed + <usize>token * bytes, bytes);
  }
}
