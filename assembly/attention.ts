// Attention building blocks: LayerNorm, GELU (tanh form), the sinusoidal
// positional encoding, and one incremental causal self-attention position over
// a stream's KV ring buffer. Formulas are PyTorch's (shared/golden/README.md).

import { expLanes, tanhLanes } from "./simd";

/** nn.LayerNorm's eps. */
export const LAYER_NORM_EPS: f32 = 1e-5;

/**
 * y = (x − mean) / sqrt(var + eps) · weight + bias over each row of width d
 * (biased variance, two passes for accuracy when var is of the order of eps).
 *   x (rows, stride)  y (rows, stride)  weight (d)  bias (d); stride ≥ d, y may be x
 */
export function layerNormRows(x: usize, y: usize, rows: i32, d: i32, stride: i32, weight: usize, bias: usize): void {
  const d4 = d & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * stride) << 2), yr = y + (<usize>(r * stride) << 2);
    const mean = rowMean(xr, d);
    const variance = rowVariance(xr, d, mean);
    const inv = <f32>(1.0 / Math.sqrt(<f64>variance + <f64>LAYER_NORM_EPS));
    const vMean = f32x4.splat(mean), vInv = f32x4.splat(inv);
    let j = 0;
    for (; j < d4; j += 4) {
      const o = <usize>j << 2;
      const n = f32x4.mul(f32x4.sub(v128.load(xr + o), vMean), vInv);
      v128.store(yr + o, f32x4.add(f32x4.mul(n, v128.load(weight + o)), v128.load(bias + o)));
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mean) * inv * load<f32>(weight + o) + load<f32>(bias + o));
    }
  }
}

/** Mean of d floats. */
export function rowMean(x: usize, d: i32): f32 {
  const d4 = d & ~3;
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j < d4; j += 4) acc = f32x4.add(acc, v128.load(x + (<usize>j << 2)));
  let sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2)) + (f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
  for (; j < d; j++) sum += load<f32>(x + (<usize>j << 2));
  return sum / <f32>d;
}

/** Biased variance of d floats around `mean`. */
export function rowVariance(x: usize, d: i32, mean: f32): f32 {
  const d4 = d & ~3;
  const vMean = f32x4.splat(mean);
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j < d4; j += 4) {
    const dev = f32x4.sub(v128.load(x + (<usize>j << 2)), vMean);
    acc = f32x4.add(acc, f32x4.mul(dev, dev));
  }
  let sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2)) + (f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
  for (; j < d; j++) {
    const dev = load<f32>(x + (<usize>j << 2)) - mean;
    sum += dev * dev;
  }
  return sum / <f32>d;
}

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

/**
 * Adds the sinusoidal positional encoding of absolute position p to d floats:
 * PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...). The angle is formed
 * in f64, so positions far past 2^24 keep their precision.
 */
export function addPositionalEncoding(x: usize, d: i32, position: f64): void {
  for (let j = 0; j < d; j += 2) {
    const angle = reduceAngle(position * Math.exp(-(<f64>j / <f64>d) * 9.210340371976184)); // ln 10000
    const o = x + (<usize>j << 2);
    store<f32>(o, load<f32>(o) + <f32>Math.sin(angle));
    if (j + 1 < d) store<f32>(o, load<f32>(o, 4) + <f32>Math.cos(angle), 4);
  }
}

/**
 * angle − 2πk in [−π, π], with 2π split in two parts so the result is as exact
 * as the angle itself. (The standard library's own reduction goes wrong for
 * arguments past 2^20·π/2, which positions reach after about 1.6 million steps.)
 */
function reduceAngle(angle: f64): f64 {
  const k = Math.round(angle / 6.283185307179586);
  return (angle - k * 6.283185307179586) - k * 2.4492935982947064e-16;
}

/**
 * One position of causal multi-head self-attention for one stream, given this
 * position's q, k, v (each d = heads · headDim floats, nn.MultiheadAttention's
 * split). k and v are appended to the stream's cache, then each head attends
 * over the cached positions: the first `sinks` positions of the stream (kept
 * forever) and the last `window` positions (a ring). Cost O((window + sinks) · d).
 *
 *   qkv      (3d)                      q, k, v of this position
 *   keys     (sinks + window, d)       the cache: sink rows 0..sinks-1, then the ring
 *   values   (sinks + window, d)
 *   out      (d)                       heads' outputs concatenated (before out_proj)
 *   weights  (heads, sinks + window)   this position's attention weights, keys in position order
 *   scores   (sinks + window)          scratch
 * Returns the number of keys attended.
 */
export function attendPosition(
  qkv: usize, keys: usize, values: usize, out: usize, weights: usize, scores: usize,
  position: f64, d: i32, heads: i32, window: i32, sinks: i32,
): i32 {
  const dBytes = <usize>d << 2;
  // where this position's k, v go: a sink row, or its slot in the ring
  const p = <i64>position;
  const row = p < <i64>sinks ? <i32>p : sinks + <i32>((p - <i64>sinks) % <i64>window);
  memory.copy(keys + <usize>row * dBytes, qkv + dBytes, dBytes);
  memory.copy(values + <usize>row * dBytes, qkv + 2 * dBytes, dBytes);

  // attended positions, ascending: sinks 0..min(sinks, p+1)−1, then max(sinks, p−window+1)..p
  const sinkCount = p + 1 < <i64>sinks ? <i32>(p + 1) : sinks;
  const windowStart = max<i64>(<i64>sinks, p - <i64>window + 1);
  const windowCount = p >= windowStart ? <i32>(p - windowStart + 1) : 0;
  const count = sinkCount + windowCount;

  const headDim = d / heads;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headDim));
  const keysPerHead = sinks + window;
  for (let h = 0; h < heads; h++) {
    const offset = <usize>(h * headDim) << 2;
    const q = qkv + offset;
    let maxScore: f32 = -Infinity;
    for (let n = 0; n < count; n++) {
      const key = keys + <usize>cacheRow(n, sinkCount, windowStart, sinks, window) * dBytes + offset;
      const s = dot(q, key, headDim) * scale;
      store<f32>(scores + (<usize>n << 2), s);
      if (s > maxScore) maxScore = s;
    }
    // softmax, then the weighted sum of values
    let total: f32 = 0;
    for (let n = 0; n < count; n++) {
      const e = f32x4.extract_lane(expLanes(f32x4.splat(load<f32>(scores + (<usize>n << 2)) - maxScore)), 0);
      store<f32>(scores + (<usize>n << 2), e);
      total += e;
    }
    const inv: f32 = 1 / total;
    const o = out + offset;
    memory.fill(o, 0, <usize>headDim << 2);
    const w = weights + (<usize>(h * keysPerHead) << 2);
    for (let n = 0; n < count; n++) {
      const weight = load<f32>(scores + (<usize>n << 2)) * inv;
      store<f32>(w + (<usize>n << 2), weight);
      const value = values + <usize>cacheRow(n, sinkCount, windowStart, sinks, window) * dBytes + offset;
      axpy(o, value, weight, headDim);
    }
  }
  return count;
}

/** Cache row of the n-th attended key (ascending positions). */
// @ts-ignore: decorator
@inline function cacheRow(n: i32, sinkCount: i32, windowStart: i64, sinks: i32, window: i32): i32 {
  if (n < sinkCount) return n;
  const position = windowStart + <i64>(n - sinkCount);
  return sinks + <i32>((position - <i64>sinks) % <i64>window);
}

/** a · b over n floats. */
function dot(a: usize, b: usize, n: i32): f32 {
  const n4 = n & ~3;
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j < n4; j += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(a + (<usize>j << 2)), v128.load(b + (<usize>j << 2))));
  let sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2)) + (f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
  for (; j < n; j++) sum += load<f32>(a + (<usize>j << 2)) * load<f32>(b + (<usize>j << 2));
  return sum;
}

/** y += a · x over n floats. */
function axpy(y: usize, x: usize, a: f32, n: i32): void {
  const n4 = n & ~3;
  const va = f32x4.splat(a);
  let j = 0;
  for (; j < n4; j += 4) {
    const o = <usize>j << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}
