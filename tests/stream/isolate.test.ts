// isolate: a stage that throws on one value costs that value only.

import { map, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { isolate } from '../../src/stream/isolate.js';

describe('isolate', () => {
  it('hands the value a stage threw on to `failed` and passes every value before and after it', () => {
    const input = new Subject<number>();
    const out: number[] = [];
    const failed: [number, string][] = [];
    const stages = map((n: number) => {
      if (n === 3) throw new Error('three');
      return n * 10;
    });
    input.pipe(isolate(stages, (n, error) => failed.push([n, (error as Error).message]))).subscribe((v) => out.push(v));
    for (const n of [1, 2, 3, 4, 3, 5]) input.next(n);
    expect(out).toEqual([10, 20, 40, 50]);
    expect(failed).toEqual([[3, 'three'], [3, 'three']]);
  });

  it('completes when its source completes', () => {
    const input = new Subject<number>();
    let completed = false;
    input.pipe(isolate(map((n: number) => n), () => undefined)).subscribe({ complete: () => (completed = true) });
    input.complete();
    expect(completed).toBe(true);
  });
});
