// Attention over a stream's KV ring buffer: the sinusoidal positional encoding, ALiBi's slopes, and one incremental
// causal self-attention position (inference and training's forward both call it). Its backward, over a training
// window, is attention-block.ts attentionCoreBackward. Formulas are PyTorch's (shared/golden/README.md).
//
// ALiBi (Press et al. 2022), as attendPosition applies it: head h's score of the key at offset o gets −m_h · o, where
// the offset is measured inside the cache: the n-th attended key in position order (sinks first, then the window)
// has o = count − 1 − n. Window keys are at their distance to the query (the query itself at 0); once the ring has
// evicted positions, sink j sits at W + S − 1 − j, just before the oldest window key (StreamingLLM's rule), so a
// stream at position 10⁷ sees exactly the offsets 0 .. W + S − 1 of training position W + S − 1. Keys are cached
// without any bias and nothing depends on the absolute position. The bias is a constant of the scores: backward
// needs nothing more than the weights the forward stored.

import { expLanes, expScalar } from "./activations";
import { horizontalSum4 } from "./simd";

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
 * ALiBi's slope m_h of head h of `heads`, the paper's geometric sequence: with c the largest power of two ≤ heads,
 * m_h = 2^(−8(h+1)/c) for h < c, and the odd terms of the sequence for 2c heads after those,
 * m_h = 2^(−4(2(h−c)+1)/c). Formed in f64 and rounded once.
 */
export function alibiSlope(h: i32, heads: i32): f32 {
  const c = 1 << (31 - clz(heads));
  const exponent = h < c ? -8.0 * <f64>(h + 1) / <f64>c : -4.0 * <f64>(2 * (h - c) + 1) / <f64>c;
  return <f32>Math.exp(exponent * 0.6931471805599453); // ln 2
}

/**
 * One position of causal multi-head self-attention for one stream, given this
 * position's q, k, v (each d = heads · headDim floats, nn.MultiheadAttention's
 * split). k and v are appended to the stream's cache, then each head attends
 * over the cached positions: the first `sinks` positions of the stream (kept
 * forever) and the last `window` positions (a ring). Cost O((window + sinks) · d).
 * With `alibi`, each head's scores get ALiBi's bias by in-cache offset (this file's header).
 *
 *   qkv      (3d)                      q, k, v of this position
 *   keys     (sinks + window, d)       the cache: sink rows 0..sinks-1, then the ring
 *   values   (sinks + window, d)
 *   out      (d)                       heads' outputs concatenated (before out_proj)
 *   weights  (heads, sinks + window)   this position's attention weights, keys in position order
 *   scores   (sinks + window)          scratch, 16-byte aligned
 *   rowOffsets (sinks + window) i32     scratch, 16-byte aligned
 * Returns the number of keys attended.
 */
export function attendPosition(
  qkv: usize, keys: usize, values: usize, out: usize, weights: usize, scores: usize, rowOffsets: usize,
  position: f64, d: i32, heads: i32, window: i32, sinks: i32, alibi: bool,
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
  const ringStart = windowCount > 0 ? <i32>((windowStart - <i64>sinks) % <i64>window) : 0;

  // byte offset of each attended key's cache row, in position order: the sinks, then the ring from its oldest entry
  let ring = ringStart;
  for (let n = 0; n < count; n++) {
    let row = n;
    if (n >= sinkCount) {
      row = sinks + ring;
      if (++ring == window) ring = 0;
    }
    store<i32>(rowOffsets + (<usize>n << 2), row * d * 4);
  }

  const headDim = d / heads;
  const scale = <f32>(1.0 / Math.sqrt(<f64>headDim));
  const keysPerHead = sinks + window;
  const count4 = count & ~3;
  for (let h = 0; h < heads; h++) {
    const offset = <usize>(h * headDim) << 2;
    const q = qkv + offset;
    const k = keys + offset;
    // ALiBi: the n-th key's bias is slope · (n − (count − 1)) = −m_h · offset
    const slope: f32 = alibi ? alibiSlope(h, heads) : 0;
    const last = count - 1;
    // scores, four keys at a time (the scalar build: one at a time, below)
    let maxScore: f32 = -Infinity;
    let n = 0;
    if (ASC_FEATURE_SIMD) {
      let vBias = f32x4.sub(f32x4(0, 1, 2, 3), f32x4.splat(<f32>last));
      let vMax = f32x4.splat(-Infinity);
      for (; n < count4; n += 4) {
        const offsets = v128.load(rowOffsets + (<usize>n << 2));
        let s = f32x4.mul(dot4(q,
          k + <usize>i32x4.extract_lane(offsets, 0), k + <usize>i32x4.extract_lane(offsets, 1),
          k + <usize>i32x4.extract_lane(offsets, 2), k + <usize>i32x4.extract_lane(offsets, 3), headDim), f32x4.splat(scale));
        if (alibi) s = f32x4.add(s, f32x4.mul(f32x4.splat(slope), vBias));
        vBias = f32x4.add(vBias, f32x4.splat(4));
        v128.store(scores + (<usize>n << 2), s);
        vMax = f32x4.pmax(vMax, s);
      }
      maxScore = max(max(f32x4.extract_lane(vMax, 0), f32x4.extract_lane(vMax, 1)), max(f32x4.extract_lane(vMax, 2), f32x4.extract_lane(vMax, 3)));
    }
    for (; n < count; n++) {
      let s = dot(q, k + <usize>load<i32>(rowOffsets + (<usize>n << 2)), headDim) * scale;
      if (alibi) s += slope * <f32>(n - last);
      store<f32>(scores + (<usize>n << 2), s);
      if (s > maxScore) maxScore = s;
    }
    // softmax, four scores at a time: lane j sums the scores n ≡ j (mod 4) below count4
    n = 0;
    let total: f32;
    if (ASC_FEATURE_SIMD) {
      const vMaxAll = f32x4.splat(maxScore);
      let vTotal = f32x4.splat(0);
      for (; n < count4; n += 4) {
        const at = scores + (<usize>n << 2);
        const e = expLanes(f32x4.sub(v128.load(at), vMaxAll));
        v128.store(at, e);
        vTotal = f32x4.add(vTotal, e);
      }
      total = (f32x4.extract_lane(vTotal, 0) + f32x4.extract_lane(vTotal, 2)) + (f32x4.extract_lane(vTotal, 1) + f32x4.extract_lane(vTotal, 3));
    } else {
      let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
      for (; n < count4; n += 4) {
        const at = scores + (<usize>n << 2);
        const e0 = expScalar(load<f32>(at) - maxScore), e1 = expScalar(load<f32>(at, 4) - maxScore);
        const e2 = expScalar(load<f32>(at, 8) - maxScore), e3 = expScalar(load<f32>(at, 12) - maxScore);
        store<f32>(at, e0); store<f32>(at, e1, 4); store<f32>(at, e2, 8); store<f32>(at, e3, 12);
        t0 += e0; t1 += e1; t2 += e2; t3 += e3;
      }
      total = (t0 + t2) + (t1 + t3);
    }
    for (; n < count; n++) {
      const at = scores + (<usize>n << 2);
      const e = expScalar(load<f32>(at) - maxScore);
      store<f32>(at, e);
      total += e;
    }
    const inv: f32 = 1 / total;
    const w = weights + (<usize>(h * keysPerHead) << 2);
    for (let m = 0; m < count; m++) store<f32>(w + (<usize>m << 2), load<f32>(scores + (<usize>m << 2)) * inv);
    // weighted sum of the values: four features at a time, accumulated over the keys in a register
    const v = values + offset;
    const o = out + offset;
    const dim4 = headDim & ~3;
    let e = 0;
    if (ASC_FEATURE_SIMD) for (; e < dim4; e += 4) {
      let acc = f32x4.splat(0);
      const at = v + (<usize>e << 2);
      for (let m = 0; m < count; m++) {
        acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(w + (<usize>m << 2)), v128.load(at + <usize>load<i32>(rowOffsets + (<usize>m << 2)))));
      }
      v128.store(o + (<usize>e << 2), acc);
    }
    for (; e < headDim; e++) {
      let acc: f32 = 0;
      const at = v + (<usize>e << 2);
      for (let m = 0; m < count; m++) acc += load<f32>(w + (<usize>m << 2)) * load<f32>(at + <usize>load<i32>(rowOffsets + (<usize>m << 2)));
      store<f32>(o + (<usize>e << 2), acc);
    }
  }
  return count;
}

/** The dot products of q with four keys, as one vector (the same summation order as `dot`). */
// @ts-ignore: decorator
@inline function dot4(q: usize, k0: usize, k1: usize, k2: usize, k3: usize, n: i32): v128 {
  const n4 = n & ~3;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let j = 0;
  for (; j < n4; j += 4) {
    const o = <usize>j << 2;
    const vq = v128.load(q + o);
    a0 = f32x4.add(a0, f32x4.mul(vq, v128.load(k0 + o)));
    a1 = f32x4.add(a1, f32x4.mul(vq, v128.load(k1 + o)));
    a2 = f32x4.add(a2, f32x4.mul(vq, v128.load(k2 + o)));
    a3 = f32x4.add(a3, f32x4.mul(vq, v128.load(k3 + o)));
  }
  let sums = horizontalSum4(a0, a1, a2, a3);
  for (; j < n; j++) {
    const o = <usize>j << 2;
    const x = load<f32>(q + o);
    sums = f32x4.add(sums, f32x4(x * load<f32>(k0 + o), x * load<f32>(k1 + o), x * load<f32>(k2 + o), x * load<f32>(k3 + o)));
  }
  return sums;
}

/** a · b over n floats: four lane sums (term j in lane j mod 4), folded (0 + 2) + (1 + 3), then the tail. */
// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, n: i32): f32 {
  const n4 = n & ~3;
  let j = 0;
  let sum: f32;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (; j < n4; j += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(a + (<usize>j << 2)), v128.load(b + (<usize>j << 2))));
    sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2)) + (f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; j < n4; j += 4) {
      const pa = a + (<usize>j << 2), pb = b + (<usize>j << 2);
      s0 += load<f32>(pa) * load<f32>(pb); s1 += load<f32>(pa, 4) * load<f32>(pb, 4);
      s2 += load<f32>(pa, 8) * load<f32>(pb, 8); s3 += load<f32>(pa, 12) * load<f32>(pb, 12);
    }
    sum = (s0 + s2) + (s1 + s3);
  }
  for (; j < n; j++) sum += load<f32>(a + (<usize>j << 2)) * load<f32>(b + (<usize>j << 2));
  return sum;
}
