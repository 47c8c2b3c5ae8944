// The test-only build (build/seqcast-diagnostics.wasm, and its relaxed-SIMD twin): the production ABI (index.ts)
// plus probes for tests and benchmarks: single ops on host-provided memory (checked against the golden vectors),
// the arena's use, the machine's arithmetic ceiling, and a switch for the token table. Never shipped: debugAlloc
// leaks arena memory on a live model and debugTokenShortcut changes a model's numerics.

export * from "./index";

import { expScalar, geluInPlace, sigmoidScalar, tanhScalar } from "./activations";
import { arenaAlloc } from "./arena";
import { addPositionalEncoding, attendPosition } from "./attention";
import { layerNormRows, rowMean, rowVariance } from "./layer-norm";
import { Weights } from "./state";
import { affinePacked } from "./simd";

export { arenaUsed } from "./arena";

/** The batched product alone (simd.ts affinePacked) on host-provided buffers: bench/kernel-profile.ts times it apart from the step. */
export function debugAffine(out: usize, batch: i32, rows: i32, input: usize, width: i32, panel: usize, bias1: usize, bias2: usize): void {
  affinePacked(out, batch, rows, input, width, panel, bias1, bias2, rows);
}

/** The kernel's tanh (0), sigmoid (1) or exp (2) of one value. */
export function activation(kind: i32, x: f32): f32 {
  return kind == 0 ? tanhScalar(x) : kind == 1 ? sigmoidScalar(x) : expScalar(x);
}

/** Zeroed scratch bytes for the ops below (never freed). May grow memory. */
export function debugAlloc(bytes: i32): usize {
  return arenaAlloc(<usize>bytes);
}

/** 0 turns the token table off (the plain [x | h] products, in steps and in training), 1 back on; tests compare the two. */
export function debugTokenShortcut(on: i32): void {
  Weights.tokenTableOn = on != 0;
}

/** LayerNorm of `rows` rows of width d at x into y; writes each row's mean and variance. */
export function debugLayerNorm(x: usize, y: usize, rows: i32, d: i32, weight: usize, bias: usize, means: usize, variances: usize): void {
  layerNormRows(x, y, rows, d, d, weight, bias);
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>(r * d) << 2);
    const mean = rowMean(row, d);
    store<f32>(means + (<usize>r << 2), mean);
    store<f32>(variances + (<usize>r << 2), rowVariance(row, d, mean));
  }
}

/** GELU (tanh form) in place over n floats. */
export function debugGelu(x: usize, n: i32): void {
  geluInPlace(x, n);
}

/** Writes the positional encoding of `position` (d floats) to x. */
export function debugPositionalEncoding(x: usize, d: i32, position: f64): void {
  memory.fill(x, 0, <usize>d << 2);
  addPositionalEncoding(x, d, position);
}

/**
 * One incremental attention position on host-provided buffers (attention.ts attendPosition): appends k, v of
 * qkv (3d) to the cache and writes the heads' concatenated outputs and weights; `alibi` 1 adds ALiBi's bias
 * (a host that passes only twelve arguments gets 0). Returns the number of keys attended.
 */
export function debugAttend(
  qkv: usize, keys: usize, values: usize, out: usize, weights: usize, scores: usize, rowOffsets: usize,
  position: f64, d: i32, heads: i32, window: i32, sinks: i32, alibi: i32,
): i32 {
  return attendPosition(qkv, keys, values, out, weights, scores, rowOffsets, position, d, heads, window, sinks, alibi != 0);
}

/**
 * The machine's ceiling for this kernel's arithmetic: `iterations` rounds of
 * 12 independent f32x4 multiply-then-add chains (no memory traffic; no FMA in
 * fixed-width WebAssembly SIMD). 96 multiply-adds per round, 192 FLOPs.
 * The scalar build: 12 f32 chains, 24 FLOPs per round.
 */
export function debugPeak(iterations: i32): f32 {
  if (!ASC_FEATURE_SIMD) return scalarPeak(iterations);
  const m = f32x4.splat(0.999), c = f32x4.splat(0.001);
  let a0 = f32x4.splat(1), a1 = f32x4.splat(2), a2 = f32x4.splat(3), a3 = f32x4.splat(4);
  let a4 = f32x4.splat(5), a5 = f32x4.splat(6), a6 = f32x4.splat(7), a7 = f32x4.splat(8);
  let a8 = f32x4.splat(9), a9 = f32x4.splat(10), a10 = f32x4.splat(11), a11 = f32x4.splat(12);
  for (let i = 0; i < iterations; i++) {
    a0 = f32x4.add(f32x4.mul(a0, m), c); a1 = f32x4.add(f32x4.mul(a1, m), c);
    a2 = f32x4.add(f32x4.mul(a2, m), c); a3 = f32x4.add(f32x4.mul(a3, m), c);
    a4 = f32x4.add(f32x4.mul(a4, m), c); a5 = f32x4.add(f32x4.mul(a5, m), c);
    a6 = f32x4.add(f32x4.mul(a6, m), c); a7 = f32x4.add(f32x4.mul(a7, m), c);
    a8 = f32x4.add(f32x4.mul(a8, m), c); a9 = f32x4.add(f32x4.mul(a9, m), c);
    a10 = f32x4.add(f32x4.mul(a10, m), c); a11 = f32x4.add(f32x4.mul(a11, m), c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))), 0);
}

/** debugPeak of the scalar build: 12 independent f32 multiply-then-add chains, 24 FLOPs per round. */
function scalarPeak(iterations: i32): f32 {
  const m: f32 = 0.999, c: f32 = 0.001;
  let a0: f32 = 1, a1: f32 = 2, a2: f32 = 3, a3: f32 = 4, a4: f32 = 5, a5: f32 = 6;
  let a6: f32 = 7, a7: f32 = 8, a8: f32 = 9, a9: f32 = 10, a10: f32 = 11, a11: f32 = 12;
  for (let i = 0; i < iterations; i++) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c; a4 = a4 * m + c; a5 = a5 * m + c;
    a6 = a6 * m + c; a7 = a7 * m + c; a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;
  }
  return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) + ((a8 + a9) + (a10 + a11));
}
