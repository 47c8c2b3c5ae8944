// The dashboard's ring buffers: fixed memory, oldest-first reads, binary search over a time column, aligned columns.

import { describe, expect, it } from 'vitest';
import { RingBuffer, RingTable } from '../../web/src/ring-buffer';

describe('RingBuffer', () => {
  it('reads back what was pushed, oldest first, while it is not full', () => {
    const ring = new RingBuffer(4);
    ring.push(1);
    ring.push(2);
    expect(ring.length).toBe(2);
    expect(ring.toArray()).toEqual([1, 2]);
    expect(ring.at(0)).toBe(1);
    expect(ring.last()).toBe(2);
  });

  it('drops the oldest values once full, keeping exactly its capacity', () => {
    const ring = new RingBuffer(3);
    for (const v of [1, 2, 3, 4, 5]) ring.push(v);
    expect(ring.length).toBe(3);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.at(0)).toBe(3);
    expect(ring.at(-1)).toBe(5);
    expect(ring.at(-3)).toBe(3);
  });

  it('answers NaN outside what it holds', () => {
    const ring = new RingBuffer(2);
    expect(ring.last()).toBeNaN();
    ring.push(7);
    expect(ring.at(1)).toBeNaN();
    expect(ring.at(-2)).toBeNaN();
  });

  it('copies a range in order across the wrap point into a target at an offset', () => {
    const ring = new RingBuffer(4);
    for (const v of [10, 11, 12, 13, 14, 15]) ring.push(v); // holds 12 13 14 15, stored wrapped
    const target = [0, 0, 0, 0, 0];
    ring.copyTo(target, 1, 4, 2);
    expect(target).toEqual([0, 0, 13, 14, 15]);
  });

  it('clamps a copy range to what it holds', () => {
    const ring = new RingBuffer(3);
    ring.push(1);
    ring.push(2);
    const target: number[] = [];
    ring.copyTo(target, -5, 99);
    expect(target).toEqual([1, 2]);
  });

  it('finds the first value at or above a time by binary search, also after wrapping', () => {
    const ring = new RingBuffer(5);
    for (const t of [0, 1, 2, 3, 4, 5, 6, 7]) ring.push(t * 10); // holds 30 40 50 60 70
    expect(ring.lowerBound(0)).toBe(0);
    expect(ring.lowerBound(30)).toBe(0);
    expect(ring.lowerBound(41)).toBe(2);
    expect(ring.lowerBound(70)).toBe(4);
    expect(ring.lowerBound(71)).toBe(5);
  });

  it('keeps float32 storage when asked (values are rounded to float32)', () => {
    const ring = new RingBuffer(2, Float32Array);
    ring.push(0.1);
    expect(ring.last()).toBe(Math.fround(0.1));
  });

  it('forgets everything on clear and fills again from empty', () => {
    const ring = new RingBuffer(2);
    ring.push(1);
    ring.push(2);
    ring.push(3);
    ring.clear();
    expect(ring.length).toBe(0);
    ring.push(9);
    expect(ring.toArray()).toEqual([9]);
  });

  it('refuses a capacity below one', () => {
    expect(() => new RingBuffer(0)).toThrow(/capacity of at least 1, got 0/);
    expect(() => new RingBuffer(2.5)).toThrow(RangeError);
  });

  it('stays the same size however many values pass through it', () => {
    const ring = new RingBuffer(1000);
    for (let i = 0; i < 100_000; i++) ring.push(i);
    expect(ring.length).toBe(1000);
    expect(ring.at(0)).toBe(99_000);
    expect(ring.last()).toBe(99_999);
  });
});

describe('RingTable', () => {
  it('keeps its columns aligned row by row, dropping whole rows when full', () => {
    const table = new RingTable(2, 3);
    table.push([1, 10, 100]);
    table.push([2, 20, 200]);
    table.push([3, 30, 300]);
    expect(table.length).toBe(2);
    expect(table.columns.map((c) => c.toArray())).toEqual([
      [2, 3],
      [20, 30],
      [200, 300],
    ]);
  });

  it('fills missing cells of a short row with NaN', () => {
    const table = new RingTable(2, 3);
    table.push([1]);
    expect(table.columns[0].last()).toBe(1);
    expect(table.columns[2].last()).toBeNaN();
  });

  it('uses each column’s own storage', () => {
    const table = new RingTable(1, 2, [Float64Array, Float32Array]);
    table.push([0.1, 0.1]);
    expect(table.columns[0].last()).toBe(0.1);
    expect(table.columns[1].last()).toBe(Math.fround(0.1));
  });
});
