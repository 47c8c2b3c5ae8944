// exp and log with the same bits on every engine: the dashboard's worker (Chromium) scores as `seqcast detect` (Node).

import { describe, expect, it } from 'vitest';
import { exp, log } from '../../src/stream/portable-math.js';
import { seededRandom } from '../../src/model/init.js';

/** The distance from v to the next double away from zero. */
function ulp(v: number): number {
  const bits = new Float64Array([Math.abs(v)]);
  new BigInt64Array(bits.buffer)[0] += 1n;
  return bits[0] - Math.abs(v);
}

describe('portable exp and log', () => {
  it('give fdlibm’s bits at pinned arguments (whatever the engine’s Math says)', () => {
    // fdlibm's results, which Node 20's V8 also returns; Chromium 156's Math differs in the last bit at each of these
    expect(exp(-17.019276)).toBe(4.0609004874222246e-8);
    expect(exp(13.105139)).toBe(491461.557076655);
    expect(exp(-2.931372)).toBe(0.053323827642750746);
    expect(log(97.271)).toBe(4.577500897490578);
    expect(log(43.5332)).toBe(3.773523865382394);
    expect(log(65.9758)).toBe(4.1892880081211);
    expect(exp(1)).toBe(Math.E);
    expect(log(0.1)).toBe(-2.3025850929940455);
    expect(log(1e-10)).toBe(-23.025850929940457);
    expect(log(5e-324)).toBe(-744.4400719213812);
  });

  it('are within one ulp of the engine’s own exp and log across their ranges', () => {
    const random = seededRandom(5);
    for (let i = 0; i < 20_000; i++) {
      const x = (random() - 0.5) * 1400;
      const y = random() * 10 ** (Math.floor(random() * 600) - 300);
      expect(Math.abs(exp(x) - Math.exp(x))).toBeLessThanOrEqual(ulp(Math.exp(x)));
      expect(Math.abs(log(y) - Math.log(y))).toBeLessThanOrEqual(ulp(Math.log(y)));
    }
  });

  it('keep the special cases: overflow, underflow, zero, negatives, Infinity and NaN', () => {
    expect([exp(710), exp(-746), exp(Infinity), exp(-Infinity), exp(0), exp(-0)]).toEqual([Infinity, 0, Infinity, 0, 1, 1]);
    expect(exp(NaN)).toBeNaN();
    expect([log(0), log(-0), log(1), log(Infinity)]).toEqual([-Infinity, -Infinity, 0, Infinity]);
    expect(log(-1)).toBeNaN();
    expect(log(NaN)).toBeNaN();
  });
});
