// exp and log that give the same bits on every JavaScript engine. Math.exp and Math.log are only required to be
// close: Chromium 156 and Node 20 differ in the last bit on ~10% and ~3% of arguments, so a score computed in the
// dashboard's own worker would differ from `seqcast detect`'s. These are fdlibm's e_exp.c and e_log.c (the
// algorithms V8 long shipped), written with IEEE-exact operations only (+ − × ÷, bit moves), so every engine
// rounds them alike. Error below 1 ulp, as fdlibm states.

const bits = new Float64Array(1);
// the double's two 32-bit halves; little-endian, as every engine that runs the kernel is
const words = new Int32Array(bits.buffer);
const LO = 0;
const HI = 1;

const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.44269504088896338700e0;
const O_THRESHOLD = 7.09782712893383973096e2;
const U_THRESHOLD = -7.45133219101941108420e2;
const TWO_M1000 = 9.33263618503218878990e-302;
const P1 = 1.66666666666666019037e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.65339022054652515390e-6;
const P5 = 4.13813679705723846039e-8;

/** e^x, the same bits on every engine (fdlibm's __ieee754_exp). */
export function exp(x: number): number {
  if (x === 1) return Math.E; // fdlibm's algorithm is 1 ulp off here; V8 answers e exactly rounded, and so do we
  bits[0] = x;
  const sign = words[HI] >>> 31;
  const hx = words[HI] & 0x7fffffff;
  if (hx >= 0x40862e42) {
    // |x| ≥ 709.78: overflow, underflow, ±Infinity or NaN
    if (hx >= 0x7ff00000) return Number.isNaN(x) ? x : sign === 0 ? x : 0;
    if (x > O_THRESHOLD) return Infinity;
    if (x < U_THRESHOLD) return 0;
  }
  let hi = 0;
  let lo = 0;
  let k = 0;
  if (hx > 0x3fd62e42) {
    // |x| > ln2 / 2: x = k·ln2 + r, |r| ≤ ln2 / 2, with ln2 split in two so k·ln2_hi is exact
    if (hx < 0x3ff0a2b2) {
      hi = sign === 0 ? x - LN2_HI : x + LN2_HI;
      lo = sign === 0 ? LN2_LO : -LN2_LO;
      k = sign === 0 ? 1 : -1;
    } else {
      k = Math.trunc(INV_LN2 * x + (sign === 0 ? 0.5 : -0.5));
      hi = x - k * LN2_HI;
      lo = k * LN2_LO;
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    return 1 + x; // |x| < 2^-28
  }
  const t = x * x;
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k === 0) return 1 - ((x * c) / (c - 2) - x);
  const y = 1 - ((lo - (x * c) / (2 - c)) - hi);
  // y · 2^k by adding k to the exponent field
  bits[0] = y;
  if (k >= -1021) {
    words[HI] += k << 20;
    return bits[0];
  }
  words[HI] += (k + 1000) << 20;
  return bits[0] * TWO_M1000;
}

const TWO54 = 1.80143985094819840000e16;
const LG1 = 6.666666666666735130e-1;
const LG2 = 3.999999999940941908e-1;
const LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1;
const LG5 = 1.818357216161805012e-1;
const LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;

/** The natural logarithm, the same bits on every engine (fdlibm's __ieee754_log). */
export function log(x: number): number {
  bits[0] = x;
  let hx = words[HI];
  const lx = words[LO];
  let k = 0;
  if (hx < 0x00100000) {
    // x < 2^-1022: zero, negative or subnormal
    if (((hx & 0x7fffffff) | lx) === 0) return -Infinity;
    if (hx < 0) return NaN;
    k -= 54;
    bits[0] = x * TWO54;
    hx = words[HI];
  }
  if (hx >= 0x7ff00000) return x + x; // Infinity or NaN
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  const i = (hx + 0x95f64) & 0x100000;
  // the mantissa scaled into [√2/2, √2): x or x/2
  words[HI] = hx | (i ^ 0x3ff00000);
  k += i >> 20;
  const f = bits[0] - 1;
  const dk = k;
  if ((0x000fffff & (2 + hx)) < 3) {
    // |f| < 2^-20
    if (f === 0) return k === 0 ? 0 : dk * LN2_HI + dk * LN2_LO;
    const r = f * f * (0.5 - 0.33333333333333333 * f);
    return k === 0 ? f - r : dk * LN2_HI - ((r - dk * LN2_LO) - f);
  }
  const s = f / (2 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  const r = t2 + t1;
  if (((hx - 0x6147a) | (0x6b851 - hx)) > 0) {
    const hfsq = 0.5 * f * f;
    return k === 0 ? f - (hfsq - s * (hfsq + r)) : dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
  }
  return k === 0 ? f - s * (f - r) : dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f);
}
