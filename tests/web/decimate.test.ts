// Decimation to the pixel width: which rows a chart keeps when a window holds more rows than it has pixels.

import { describe, expect, it } from 'vitest';
import { decimateRows, pickRows } from '../../web/src/decimate';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('decimateRows', () => {
  it('keeps every row when there are at most two per pixel column', () => {
    const x = range(20);
    expect(Array.from(decimateRows(x, [x], 0, 20, 10))).toEqual(range(20));
  });

  it('keeps a one-row spike that falls between pixels', () => {
    const x = range(10_000);
    const y = x.map((i) => (i === 4321 ? 50 : 0));
    const kept = decimateRows(x, [y], 0, 10_000, 100);
    expect(Array.from(kept)).toContain(4321);
  });

  it('keeps each column’s first and last row and each series’ min and max, in order', () => {
    // 12 rows over 2 columns of 6 rows each
    const x = range(12);
    const a = [5, 1, 9, 5, 5, 5, /* column 2 */ 5, 5, 5, 5, 0, 5];
    const b = [0, 0, 0, 0, 7, 0, /* column 2 */ 0, 3, 0, 0, 0, 0];
    const kept = Array.from(decimateRows(x, [a, b], 0, 12, 2));
    // column 1: first 0, last 5, a min 1, a max 2, b min 0 (first), b max 4; column 2: first 6, last 11, a min 10, a max 6, b min 6, b max 7
    expect(kept).toEqual([0, 1, 2, 4, 5, 6, 7, 10, 11]);
  });

  it('returns at most 2 + 2·series rows per column', () => {
    const x = range(100_000);
    const noise = x.map((i) => Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453));
    const kept = decimateRows(x, [noise, noise.map((v) => -v)], 0, 100_000, 800);
    expect(kept.length).toBeLessThanOrEqual(800 * (2 + 2 * 2));
    expect(kept.length).toBeGreaterThan(800);
  });

  it('returns rows in ascending order, without repeats', () => {
    const x = range(5000);
    const y = x.map((i) => Math.cos(i / 7));
    const kept = Array.from(decimateRows(x, [y, y], 0, 5000, 50));
    expect(kept).toEqual([...new Set(kept)].sort((p, q) => p - q));
  });

  it('ignores NaN and null when looking for extremes', () => {
    const x = range(40);
    const y: (number | null)[] = x.map((i) => (i === 3 ? 8 : i % 2 === 0 ? NaN : null));
    const kept = Array.from(decimateRows(x, [y], 0, 40, 4));
    expect(kept).toContain(3);
    expect(kept.length).toBeLessThanOrEqual(4 * 4);
  });

  it('counts rows left or right of the range in the first or last column', () => {
    const x = [-5, -4, -3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const y = x.map((v) => (v === -4 ? 100 : v === 12 ? -100 : 0));
    const kept = Array.from(decimateRows(x, [y], 0, 10, 2));
    expect(kept).toContain(1); // x = -4, the maximum, in column 0
    expect(kept).toContain(15); // x = 12, the minimum and last row, in column 1
  });

  it('keeps everything when the range is empty', () => {
    const x = range(100);
    expect(decimateRows(x, [x], 5, 5, 10).length).toBe(100);
  });

  it('keeps the envelope of a dense sine: the decimated min and max equal the full ones', () => {
    const x = range(50_000).map((i) => i / 100);
    const y = x.map((t) => Math.sin(t * 3) * (1 + t / 100));
    const kept = decimateRows(x, [y], 0, 500, 600);
    const picked = pickRows(y, kept) as number[];
    expect(Math.max(...picked)).toBe(Math.max(...y));
    expect(Math.min(...picked)).toBe(Math.min(...y));
  });
});

describe('pickRows', () => {
  it('gathers the values at the rows, NaN as null (a gap in the line)', () => {
    expect(pickRows(new Float64Array([1, NaN, 3, 4]), [0, 1, 3])).toEqual([1, null, 4]);
  });
});
