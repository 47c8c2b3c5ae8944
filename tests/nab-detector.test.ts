// The anomaly detector in the stream layer's ErrorScorer (what serve reports and seqcast detect writes): its three signals,
// one detection per event, its state through JSON, and its parts (RollingLikelihood, SeasonalMemory, Ring).

import { describe, expect, it } from 'vitest';
import { DETECTION_Z, ErrorScorer, HELD_Z, logLikelihood, nabProbation, type ErrorScorerState } from '../src/stream/error-scorer.js';
import { Ring, RollingLikelihood } from '../src/stream/rolling-likelihood.js';
import { SeasonalMemory } from '../src/stream/seasonal-memory.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Deterministic noise in [−1, 1]. */
function noise(i: number): number {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  return 2 * (x - Math.floor(x)) - 1;
}

/** Scores `values` (one channel) with a scorer whose prediction is always the last value (persistence), every 10 minutes. */
function scoreSeries(values: number[], options = {}): number[] {
  const scorer = new ErrorScorer({ probation: 300, ...options });
  return values.map((v, i) => scorer.score([v], [v], Date.UTC(2020, 0, 1) + i * 10 * MINUTE).anomaly);
}

describe('the anomaly detector (ErrorScorer)', () => {
  it('scores 0.5 through the probation period, then on the log-likelihood scale: 0.5 at a 1e-5 tail, 0.3 at 1e-3', () => {
    expect(logLikelihood(DETECTION_Z)).toBeCloseTo(0.5, 6);
    expect(logLikelihood(HELD_Z)).toBeCloseTo(0.3, 6);
    expect(logLikelihood(0)).toBeCloseTo(Math.log10(0.5) / -10, 6);
    const scores = scoreSeries(Array.from({ length: 400 }, (_, i) => 10 + noise(i)));
    expect(scores.slice(0, 300).every((s) => s === 0.5)).toBe(true);
    expect(Math.max(...scores.slice(300))).toBeLessThan(0.5);
  });

  it('scores 1 for a value beyond the range seen so far by more than 5% of it', () => {
    const values = Array.from({ length: 400 }, (_, i) => 10 + noise(i));
    values[350] = 12.2; // range [9, 11] widened by 0.1 each side: 12.2 is outside
    values[360] = 11.05; // inside the margin
    const scores = scoreSeries(values, { seasonDays: 0 });
    expect(scores[350]).toBe(1);
    expect(scores[360]).toBeLessThan(1);
  });

  it('learns a daily pattern as normal and detects a day that breaks it, from the seasonal memory', () => {
    // every 10 minutes: a square wave, high from 08:00 to 16:00, for 10 days; on day 8 the high part does not come
    const rows = 144 * 10;
    const values = Array.from({ length: rows }, (_, i) => {
      const minuteOfDay = (i * 10) % 1440;
      const high = minuteOfDay >= 480 && minuteOfDay < 960 && !(i >= 144 * 8 && i < 144 * 9);
      return (high ? 80 : 20) + noise(i);
    });
    // persistence: the jumps up and down are errors every day; only the seasonal memory tells the missing day
    const withSeason = scoreSeries(values, { probation: 144 * 4, seasonDays: 14 });
    const without = scoreSeries(values, { probation: 144 * 4, seasonDays: 0 });
    const missingDay = (scores: number[]) => Math.max(...scores.slice(144 * 8 + 48, 144 * 8 + 96));
    expect(missingDay(withSeason)).toBeGreaterThanOrEqual(0.5);
    expect(missingDay(without)).toBeLessThan(0.5);
    // and the ordinary days after probation raise no detection
    expect(Math.max(...withSeason.slice(144 * 5, 144 * 8))).toBeLessThan(0.5);
  });

  it('detects once per event: held at 0.3 while the likelihood stays high, and for `suppress` frames after', () => {
    const values = Array.from({ length: 700 }, (_, i) => 10 + 0.1 * noise(i));
    for (let i = 400; i < 420; i++) values[i] += 3 * noise(i + 7); // a burst of large errors, inside the range
    for (let i = 500; i < 520; i++) values[i] += 3 * noise(i + 9); // another, 100 frames later
    const scores = scoreSeries(values, { rangeTolerance: 0, seasonDays: 0, suppress: 300 });
    const detections = scores.map((s, i) => (s >= 0.5 ? i : -1)).filter((i) => i >= 300); // after probation
    expect(detections).toHaveLength(1);
    expect(detections[0]).toBeGreaterThanOrEqual(400);
    expect(detections[0]).toBeLessThan(410);
    expect(scores.slice(detections[0] + 1, 430).every((s) => s <= 0.3 + 1e-6)).toBe(true);
    // with a short suppression the second burst is a detection of its own
    const short = scoreSeries(values, { rangeTolerance: 0, seasonDays: 0, suppress: 50 });
    expect(short.slice(300).filter((s) => s >= 0.5)).toHaveLength(2);
  });

  it('detects again inside the suppression when the new event is 1.5 times as strong as the last detection', () => {
    const values = Array.from({ length: 700 }, (_, i) => 10 + 0.1 * noise(i));
    for (let i = 400; i < 420; i++) values[i] += 1 * noise(i + 7);
    values[500] += 300; // far stronger (its first frame is judged at once), 100 frames later
    const detections = (strongerBy: number) =>
      scoreSeries(values, { rangeTolerance: 0, seasonDays: 0, suppress: 300, strongerBy }).filter((s, i) => i >= 300 && s >= 0.5).length;
    expect(detections(1.5)).toBe(2);
    expect(detections(0)).toBe(1);
  });

  it('continues exactly after its state goes through JSON, seasonal memory included', () => {
    const values = Array.from({ length: 900 }, (_, i) => 50 + 30 * Math.sin((2 * Math.PI * i) / 144) + noise(i));
    const t = (i: number) => Date.UTC(2020, 0, 1) + i * 10 * MINUTE;
    const scorer = new ErrorScorer({ probation: 300 });
    for (let i = 0; i < 600; i++) scorer.score([values[i]], [values[i]], t(i));
    const copy = ErrorScorer.fromJSON(JSON.parse(JSON.stringify(scorer)) as ErrorScorerState);
    for (let i = 600; i < 900; i++) expect(copy.score([values[i]], [values[i]], t(i))).toEqual(scorer.score([values[i]], [values[i]], t(i)));
  });

  it('takes a checkpoint from before the detector: the RMSE goes on, the detector starts afresh', () => {
    const old = {
      options: { rmseWindow: 4, shortWindow: 10, longWindow: 1000, probation: 100 },
      previous: [2],
      scored: 3,
      squaredErrors: [1, 4, 9, 0],
      historyCount: 3,
      historyMean: 2,
      historyVariance: 1,
      recentErrors: [1, 2, 3, 0, 0, 0, 0, 0, 0, 0],
    } as unknown as ErrorScorerState;
    const scorer = ErrorScorer.fromJSON(old);
    const { error, rmse, anomaly } = scorer.score([6], [0]);
    expect(error).toBe(4);
    expect(rmse).toBeCloseTo(Math.sqrt((1 + 4 + 9 + 16) / 4), 12);
    expect(anomaly).toBe(0.5);
    expect(scorer.options.probation).toBe(750);
  });

  it("uses NAB's probationary period: 15% of the rows, at most 750", () => {
    expect(nabProbation(4032)).toBe(604);
    expect(nabProbation(22_695)).toBe(750);
  });
});

describe('RollingLikelihood', () => {
  it('judges the recent mean against the history before it, re-estimated every 100 judged values', () => {
    const likelihood = new RollingLikelihood(2, 1000);
    const values = [...Array.from({ length: 200 }, (_, i) => i % 2), 1, 5];
    const history = values.map((v, i) => (i === 0 ? v : (v + values[i - 1]) / 2)); // the means of 2: 0 (the first alone), 0.5, …, 1, 3
    for (const v of values.slice(0, -1)) likelihood.step(v, true, false);
    const mean = history.reduce((a, b) => a + b, 0) / history.length;
    const std = Math.sqrt(history.reduce((a, b) => a + (b - mean) ** 2, 0) / history.length);
    expect(likelihood.step(5, true, true)).toBeCloseTo((3 - mean) / std, 9);
    // the estimate is kept for 100 judged values: a second 5 is judged against the same mean and spread
    expect(likelihood.step(5, true, true)).toBeCloseTo((5 - mean) / std, 9);
    expect(Number.isNaN(new RollingLikelihood(2, 10).step(1, false, true))).toBe(true);
  });
});

describe('SeasonalMemory', () => {
  it('finds the nearest frames one and more days back, and none before its first day', () => {
    const memory = new SeasonalMemory({ days: 2, neighbours: 0, capacity: 100 });
    const start = Date.UTC(2020, 0, 1);
    expect(memory.deviation(start, [5])).toBeNaN();
    expect(memory.deviation(start + 12 * 3_600_000, [7])).toBeNaN();
    expect(memory.deviation(start + DAY + MINUTE, [6])).toBe(1); // nearest to 00:01 a day back is 00:00 (5)
    // a day back the nearest is 00:01 of day 2 (6), two days back 00:00 of day 1 (5): the closer value is 6
    expect(memory.deviation(start + 2 * DAY, [7.5])).toBe(1.5);
  });
});

describe('Ring', () => {
  it('keeps the last `capacity` values by absolute index, growing its storage as needed', () => {
    const ring = new Ring(5);
    for (let i = 0; i < 1000; i++) ring.push(i);
    expect(ring.length).toBe(5);
    expect(ring.oldest).toBe(995);
    expect([ring.at(995), ring.at(999)]).toEqual([995, 999]);
    expect(ring.toArray()).toEqual([995, 996, 997, 998, 999]);
    expect(ring.sum()).toBe(995 + 996 + 997 + 998 + 999);
    const copy = Ring.from(ring.toArray(), 5, ring.pushed);
    copy.push(1000);
    expect(copy.toArray()).toEqual([996, 997, 998, 999, 1000]);
    const big = new Ring(3000);
    for (let i = 0; i < 2500; i++) big.push(i);
    expect(big.at(0)).toBe(0);
    expect(big.at(2499)).toBe(2499);
  });
});
