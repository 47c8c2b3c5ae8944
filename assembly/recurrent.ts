// Recurrent cells: the pointwise half of one step of nn.RNN (tanh), nn.LSTM and
// nn.GRU, after the gate pre-activations have been computed by `affine`.
// Formulas, layouts and gate orders are PyTorch's (shared/golden/README.md).

import { sigmoidLanes, tanhLanes } from "./simd";

/** Cell kinds, as numbered in the ABI (docs/abi.md). Only grows at the end. */
export const CELL_RNN_TANH: i32 = 0;
export const CELL_LSTM: i32 = 1;
export const CELL_GRU: i32 = 2;

/** Gate blocks per cell kind: rows of weight_ih are gateCount(kind) · H. */
export function gateCount(kind: i32): i32 {
  return kind == CELL_LSTM ? 4 : kind == CELL_GRU ? 3 : 1;
}

// Each cell below handles one batch row. Vectors of 4 hidden units at a time;
// the tail (H mod 4) goes lane by lane through a scratch v128 so a unit's value
// never depends on its position. `lane` reads/writes use `tail` as the count.

// @ts-ignore: decorator
@inline function loadPart(ptr: usize, count: i32): v128 {
  let v = f32x4.splat(0);
  if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(ptr));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(ptr, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(ptr, 8));
  return v;
}

// @ts-ignore: decorator
@inline function storePart(ptr: usize, v: v128, count: i32): void {
  if (count > 0) store<f32>(ptr, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(ptr, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(ptr, f32x4.extract_lane(v, 2), 8);
}

/**
 * Elman RNN: h ← tanh(z), with z = W_ih x + b_ih + W_hh h + b_hh.
 *   z (H)   h (H) written
 */
export function rnnTanhPointwise(z: usize, h: usize, hidden: i32): void {
  const h4 = hidden & ~3;
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    v128.store(h + o, tanhLanes(v128.load(z + o)));
  }
  if (j < hidden) {
    const o = <usize>j * 4, n = hidden - j;
    storePart(h + o, tanhLanes(loadPart(z + o, n)), n);
  }
}

function lstmLanes(zi: v128, zf: v128, zg: v128, zo: v128, cPrev: v128, out: usize, cOut: usize, count: i32): void {
  const i = sigmoidLanes(zi), f = sigmoidLanes(zf), g = tanhLanes(zg), o = sigmoidLanes(zo);
  const c = f32x4.add(f32x4.mul(f, cPrev), f32x4.mul(i, g));
  const h = f32x4.mul(o, tanhLanes(c));
  if (count == 4) {
    v128.store(cOut, c);
    v128.store(out, h);
  } else {
    storePart(cOut, c, count);
    storePart(out, h, count);
  }
}

/**
 * LSTM, gates i, f, g, o:  c ← σ(f)·c + σ(i)·tanh(g);  h ← σ(o)·tanh(c).
 *   z (4H) pre-activations   h (H), c (H) updated in place
 */
export function lstmPointwise(z: usize, h: usize, c: usize, hidden: i32): void {
  const gate = <usize>hidden * 4;
  const h4 = hidden & ~3;
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    lstmLanes(
      v128.load(z + o), v128.load(z + gate + o), v128.load(z + 2 * gate + o), v128.load(z + 3 * gate + o),
      v128.load(c + o), h + o, c + o, 4,
    );
  }
  if (j < hidden) {
    const o = <usize>j * 4, n = hidden - j;
    lstmLanes(
      loadPart(z + o, n), loadPart(z + gate + o, n), loadPart(z + 2 * gate + o, n), loadPart(z + 3 * gate + o, n),
      loadPart(c + o, n), h + o, c + o, n,
    );
  }
}

function gruLanes(ir: v128, iz: v128, inn: v128, hr: v128, hz: v128, hn: v128, hPrev: v128): v128 {
  const r = sigmoidLanes(f32x4.add(ir, hr));
  const z = sigmoidLanes(f32x4.add(iz, hz));
  const n = tanhLanes(f32x4.add(inn, f32x4.mul(r, hn)));
  // (1 − z)·n + z·h
  return f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1), z), n), f32x4.mul(z, hPrev));
}

/**
 * GRU, gates r, z, n:  n = tanh(gi_n + r·gh_n);  h ← (1 − z)·n + z·h.
 *   gi (3H) = W_ih x + b_ih   gh (3H) = W_hh h + b_hh   h (H) updated in place
 */
export function gruPointwise(gi: usize, gh: usize, h: usize, hidden: i32): void {
  const gate = <usize>hidden * 4;
  const h4 = hidden & ~3;
  let j = 0;
  for (; j < h4; j += 4) {
    const o = <usize>j * 4;
    v128.store(h + o, gruLanes(
      v128.load(gi + o), v128.load(gi + gate + o), v128.load(gi + 2 * gate + o),
      v128.load(gh + o), v128.load(gh + gate + o), v128.load(gh + 2 * gate + o),
      v128.load(h + o),
    ));
  }
  if (j < hidden) {
    const o = <usize>j * 4, n = hidden - j;
    storePart(h + o, gruLanes(
      loadPart(gi + o, n), loadPart(gi + gate + o, n), loadPart(gi + 2 * gate + o, n),
      loadPart(gh + o, n), loadPart(gh + gate + o, n), loadPart(gh + 2 * gate + o, n),
      loadPart(h + o, n),
    ), n);
  }
}
