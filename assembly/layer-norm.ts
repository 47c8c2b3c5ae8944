// LayerNorm (nn.LayerNorm, biased variance): the step's rows, and training's forward that keeps what its backward
// (next to it) reads. Both compute a row's mean and variance the same way, in two passes for accuracy when the
// variance is of the order of eps.

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
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vMean = f32x4.splat(mean), vInv = f32x4.splat(inv);
      for (; j < d4; j += 4) {
        const o = <usize>j << 2;
        const n = f32x4.mul(f32x4.sub(v128.load(xr + o), vMean), vInv);
        v128.store(yr + o, f32x4.add(f32x4.mul(n, v128.load(weight + o)), v128.load(bias + o)));
      }
    }
    for (; j < d; j++) {
      const o = <usize>j << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mean) * inv * load<f32>(weight + o) + load<f32>(bias + o));
    }
  }
}

/** Mean of d floats: four lane sums (x[j] in lane j mod 4), folded (0 + 2) + (1 + 3), then the tail. */
export function rowMean(x: usize, d: i32): f32 {
  const d4 = d & ~3;
  let j = 0;
  let sum: f32;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (; j < d4; j += 4) acc = f32x4.add(acc, v128.load(x + (<usize>j << 2)));
    sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2)) + (f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; j < d4; j += 4) {
      const at = x + (<usize>j << 2);
      s0 += load<f32>(at); s1 += load<f32>(at, 4); s2 += load<f32>(at, 8); s3 += load<f32>(at, 12);
    }
    sum = (s0 + s2) + (s1 + s3);
  }
  for (; j < d; j++) sum += load<f32>(x + (<usize>j << 2));
  return sum / <f32>d;
}

/** Biased variance of d floats around `mean`. */
export function rowVariance(x: usize, d: i32, mean: f32): f32 {
  const d4 = d & ~3;
  let j = 0;
  let sum: f32;
  if (ASC_FEATURE_SIMD) {
    const vMean = f32x4.splat(mean);
    let acc = f32x4.splat(0);
    for (; j < d4; j += 4) {
      const dev = f32x4.sub(v128.load(x + (<usize>j << 2)), vMean);
      acc = f32x4.add(acc, f32x4.mul(dev, dev));
    }
    sum = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 2)) + (f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 3));
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (; j < d4; j += 4) {
      const at = x + (<usize>j << 2);
      const e0 = load<f32>(at) - mean, e1 = load<f32>(at, 4) - mean, e2 = load<f32>(at, 8) - mean, e3 = load<f32>(at, 12) - mean;
      s0 += e0 * e0; s1 += e1 * e1; s2 += e2 * e2; s3 += e3 * e3;
    }
    sum = (s0 + s2) + (s1 + s3);
  }
  for (; j < d; j++) {
    const dev = load<f32>(x + (<usize>j << 2)) - mean;
    sum += dev * dev;
  }
  return sum / <f32>d;
}

/**
 * LayerNorm of `rows` rows (input stride `xStride`, output stride `yStride`, both ≥ d),
 * the same arithmetic as inference's layerNormRows, keeping xhat (rows, d) and rstd (rows).
 */
export function layerNormTrain(x: usize, xStride: i32, y: usize, yStride: i32, xhat: usize, rstd: usize, rows: i32, d: i32, weight: usize, bias: usize): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * xStride) << 2), yr = y + (<usize>(r * yStride) << 2), hr = xhat + (<usize>(r * d) << 2);
    const mean = rowMean(xr, d);
    const inv = <f32>(1.0 / Math.sqrt(<f64>rowVariance(xr, d, mean) + <f64>LAYER_NORM_EPS));
    store<f32>(rstd + (<usize>r << 2), inv);
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      const n = (load<f32>(xr + o) - mean) * inv;
      store<f32>(hr + o, n);
      store<f32>(yr + o, n * load<f32>(weight + o) + load<f32>(bias + o));
    }
    for (let j = d; j < yStride; j++) store<f32>(yr + (<usize>j << 2), 0);
  }
}

/**
 * LayerNorm backward: dx (+)= rstd · (g − mean(g) − xhat · mean(g · xhat)), g = dy ⊙ weight;
 * dWeight += dy ⊙ xhat; dBias += dy. `accumulate` adds into dx instead of writing it.
 */
export function layerNormBackward(dy: usize, dyStride: i32, xhat: usize, rstd: usize, weight: usize, dx: usize, dxStride: i32,
  dWeight: usize, dBias: usize, rows: i32, d: i32, accumulate: bool): void {
  for (let r = 0; r < rows; r++) {
    const dyr = dy + (<usize>(r * dyStride) << 2), hr = xhat + (<usize>(r * d) << 2), dxr = dx + (<usize>(r * dxStride) << 2);
    let meanG: f64 = 0, meanGx: f64 = 0;
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      const g = <f64>load<f32>(dyr + o) * <f64>load<f32>(weight + o);
      meanG += g;
      meanGx += g * <f64>load<f32>(hr + o);
      store<f32>(dWeight + o, load<f32>(dWeight + o) + load<f32>(dyr + o) * load<f32>(hr + o));
      store<f32>(dBias + o, load<f32>(dBias + o) + load<f32>(dyr + o));
    }
    meanG /= <f64>d; meanGx /= <f64>d;
    const inv = <f64>load<f32>(rstd + (<usize>r << 2));
    for (let j = 0; j < d; j++) {
      const o = <usize>j << 2;
      const g = <f64>load<f32>(dyr + o) * <f64>load<f32>(weight + o);
      const value = <f32>(inv * (g - meanG - <f64>load<f32>(hr + o) * meanGx));
      store<f32>(dxr + o, accumulate ? load<f32>(dxr + o) + value : value);
    }
  }
}
