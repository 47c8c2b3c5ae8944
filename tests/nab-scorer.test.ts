// NAB's scorer in bench/nab: reproduces Numenta's published scores from its per-row results, and follows NAB's rules row by row.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadProfiles, loadWindows, parseNabTimestamp, readResults, windowRows } from '../bench/nab/corpus.js';
import { scoreCorpus, scoreFile, type FileResults } from '../bench/nab/scorer.js';
import { MAX_TP, OUTSIDE, PROBATIONARY, labelFile, probationaryLength, scaledSigmoid, sweepThresholds } from '../bench/nab/sweeper.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/nab/', import.meta.url));
const PROFILES = loadProfiles(`${FIXTURES}profiles.json`);

function numentaResults(): FileResults[] {
  const root = `${FIXTURES}reference-numenta/`;
  return readdirSync(root).flatMap((category) =>
    readdirSync(root + category).map((name) => ({
      file: `${category}/${name.replace(/^numenta_/, '').replace(/\.gz$/, '')}`,
      ...readResults(`${root}${category}/${name}`),
    })),
  );
}

/** A file of `rows` rows, one minute apart from 2020-01-01 00:00 UTC. */
function minutes(rows: number): Float64Array {
  const start = Date.UTC(2020, 0, 1);
  return Float64Array.from({ length: rows }, (_, r) => start + r * 60_000);
}

describe('NAB scorer', () => {
  it("gives Numenta's published HTM results 70.10 / 63.21 / 74.32 (standard / low FP / low FN)", () => {
    const results = numentaResults();
    expect(results).toHaveLength(58);
    const scores = scoreCorpus(results, loadWindows(`${FIXTURES}combined_windows.json`), PROFILES);
    const byProfile = Object.fromEntries(scores.map((s) => [s.profile, s]));
    expect(byProfile.standard.normalized).toBeCloseTo(70.1, 2);
    expect(byProfile.reward_low_FP_rate.normalized).toBeCloseTo(63.21, 2);
    expect(byProfile.reward_low_FN_rate.normalized).toBeCloseTo(74.32, 2);
    // the null detector's baseline and the perfect score: 116 windows
    expect(byProfile.standard.nullScore).toBe(-116);
    expect(byProfile.reward_low_FN_rate.nullScore).toBe(-232);
    expect(byProfile.standard.perfect).toBe(116);
    // the categories add up to the corpus
    const categories = Object.values(byProfile.standard.categories);
    expect(categories).toHaveLength(7);
    expect(categories.reduce((total, c) => total + c.raw, 0)).toBeCloseTo(byProfile.standard.raw, 9);
  });

  it('follows the scaled sigmoid: 0.98661 at a window’s left edge, 0 at its right edge, −1 well past it', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.98661, 5);
    expect(scaledSigmoid(3.5)).toBe(-1);
  });

  it('leaves 15% of a file unscored, at most 750 rows', () => {
    expect(probationaryLength(1000)).toBe(150);
    expect(probationaryLength(1003)).toBe(150);
    expect(probationaryLength(22_695)).toBe(750);
    const labels = labelFile(100, []);
    expect(Array.from(labels.window.slice(14, 16))).toEqual([PROBATIONARY, OUTSIDE]);
  });

  it('rewards the first detection in a window by how early it is, and charges detections outside by distance from the last window', () => {
    const rows = 100;
    const labels = labelFile(rows, windowRows(minutes(rows), [[minutes(rows)[40], minutes(rows)[49]]], 'f.csv'));
    const detect = (...at: number[]) => {
      const scores = new Float64Array(rows);
      for (const r of at) scores[r] = 1;
      return scoreFile(labels, scores, 0.5, PROFILES.standard);
    };
    expect(detect().raw).toBe(-1); // the window is missed
    expect(detect(40).raw).toBeCloseTo(1, 12); // its first row: the full reward
    expect(detect(40, 45).raw).toBeCloseTo(1, 12); // only the first detection in a window counts
    expect(detect(45).raw).toBeCloseTo(scaledSigmoid(-5 / 10) / MAX_TP, 12);
    // before any window a false positive costs fpWeight; just past one, almost nothing
    expect(detect(20).raw).toBeCloseTo(-1 - 0.11, 12);
    expect(detect(50).raw).toBeCloseTo(-1 + 0.11 * scaledSigmoid(1 / 9), 12);
    expect(detect(10).raw).toBe(-1); // in the probationary period: not scored
    expect(detect(20, 40, 41)).toMatchObject({ tp: 2, fp: 1, fn: 8, tn: 100 - 15 - 10 - 1 });
    expect(detect(40).normalized).toBeCloseTo(100, 10);
    expect(detect().normalized).toBe(0);
  });

  it('picks the threshold that scores best over the corpus, and scores every file at it', () => {
    const rows = 100;
    const timestamps = minutes(rows);
    const windows = new Map([['a/f.csv', [[timestamps[40], timestamps[49]] as const]], ['b/g.csv', []]]);
    const f = new Float64Array(rows).fill(0.1);
    f[42] = 0.8; // a detection in f's window at thresholds ≤ 0.8
    const g = new Float64Array(rows).fill(0.1);
    g[30] = 0.9; // a false positive in g at thresholds ≤ 0.9
    const [standard] = scoreCorpus([{ file: 'a/f.csv', timestamps, scores: f }, { file: 'b/g.csv', timestamps, scores: g }], windows, { standard: PROFILES.standard });
    expect(standard.threshold).toBe(0.8);
    expect(standard.files['b/g.csv'].raw).toBeCloseTo(-0.11, 12);
    expect(standard.raw).toBeCloseTo(scaledSigmoid(-8 / 10) / MAX_TP - 0.11, 12);
    expect(Object.keys(standard.categories)).toEqual(['a', 'b']);
  });

  it('sweeps every distinct score as a threshold, from 1.1 (nothing detected) down', () => {
    const labels = labelFile(4, [{ first: 2, last: 3 }]);
    expect(labels.window[0]).toBe(OUTSIDE); // 4 rows: no probationary row
    const anomaly = Float64Array.from([0.9, 0.5, 0.5, 0.2]);
    const weighted = Float64Array.from([-0.11, -0.11, 0.9, 0.1]);
    const sweep = sweepThresholds({ anomaly, window: labels.window, weighted, windows: 1, scoredWindows: 1 }, PROFILES.standard);
    expect(sweep.map((s) => s.threshold)).toEqual([1.1, 0.9, 0.5, 0.2]);
    expect(sweep.map((s) => s.score)).toEqual([-1, -1.11, -0.22 + 0.9, -0.22 + 0.9].map((score) => expect.closeTo(score, 12)));
    expect(sweep.at(-1)).toMatchObject({ tp: 2, fp: 2, tn: 0, fn: 0 });
  });

  it('reads NAB timestamps with or without microseconds as the same instant', () => {
    expect(parseNabTimestamp('2014-04-10 07:15:00.000000')).toBe(parseNabTimestamp('2014-04-10 07:15:00'));
    expect(parseNabTimestamp('2014-04-10 07:15:00')).toBe(Date.UTC(2014, 3, 10, 7, 15));
    expect(parseNabTimestamp('10/04/2014')).toBeNaN();
  });
});
