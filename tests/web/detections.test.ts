// Detections on the dashboard: the benchmarked threshold, where a stream's score rises to it (NAB: score >= threshold), and
// the words and numbers the stream list shows for a score.

import { describe, expect, it } from 'vitest';
import { anomalyState, detectionFrom, formatScore, thresholdCrossings } from '../../web/src/detections';
import type { PredictionMessage } from '../../web/src/protocol';
import { ANOMALY, SEQ, StreamSeries, T } from '../../web/src/stream-series';

const STANDARD = 0.4994084244596537;

function prediction(seq: number, anomaly: number): PredictionMessage {
  return { type: 'prediction', stream: 's', seq, t: null, actual: [], predicted: [], error: null, rmse: null, anomaly, stepMicros: 1, batch: 1 };
}

describe('thresholdCrossings', () => {
  it('marks each rise from below to the threshold or above: one detection per crossing, however long the score stays up', () => {
    const x = [0, 1, 2, 3, 4, 5, 6];
    const score = [0.1, 0.2, 0.6, 0.9, 0.3, 0.1, 0.7];
    expect(thresholdCrossings(x, score, 0.5)).toEqual([
      { x: 2, value: 0.6 },
      { x: 6, value: 0.7 },
    ]);
  });

  it('detects a score exactly at the threshold (NAB: score >= threshold), not one just under it', () => {
    expect(thresholdCrossings([0, 1, 2, 3], [0.1, STANDARD, 0.1, STANDARD - 1e-12], STANDARD)).toEqual([{ x: 1, value: STANDARD }]);
  });

  it("does not detect a score that starts above the threshold: the detector's probation scores 0.5, above the standard threshold", () => {
    const probation = Array.from({ length: 750 }, () => 0.5);
    const x = Array.from({ length: 753 }, (_, i) => i);
    expect(thresholdCrossings(x, [...probation, 0.05, 0.1, 0.8], STANDARD)).toEqual([{ x: 752, value: 0.8 }]);
  });

  it('forgets the side at a break (NaN rows: a restart or missing frames), so a new run in probation is no detection', () => {
    const x = [0, 1, 2, 3, 4, 5, 6];
    expect(thresholdCrossings(x, [0.1, 0.2, NaN, 0.5, 0.5, 0.1, 1], STANDARD)).toEqual([{ x: 6, value: 1 }]);
  });

  it('reads the anomaly column of a window', () => {
    const series = new StreamSeries(0);
    [0.1, 0.995, 0.2].forEach((a, i) => series.ingest(prediction(i, a), i));
    const rows = series.window(-Infinity);
    expect(thresholdCrossings(rows.columns[T], rows.columns[ANOMALY], STANDARD)).toEqual([{ x: 1, value: Math.fround(0.995) }]);
    expect(Array.from(rows.columns[SEQ])).toEqual([0, 1, 2]);
  });
});

describe('detectionFrom', () => {
  it("takes the profile and threshold the server lists, with the profile's words for the legend", () => {
    expect(detectionFrom({ profile: 'low-fp', threshold: 0.5519205200117364 })).toEqual({ profile: 'low-fp', label: 'reward low FP', threshold: 0.5519205200117364 });
  });

  it("falls back to the standard profile's benchmarked threshold when the server does not say", () => {
    expect(detectionFrom(undefined)).toEqual({ profile: 'standard', label: 'standard', threshold: STANDARD });
  });
});

describe('anomalyState', () => {
  it('is "anomalous" after a recent detection, "learning" in probation, "watch" from 0.3, else "normal"', () => {
    expect(anomalyState(0.3, true)).toBe('anomalous');
    expect(anomalyState(0.5, false)).toBe('learning');
    expect(anomalyState(0.3, false)).toBe('watch');
    expect(anomalyState(0.29, false)).toBe('normal');
    expect(anomalyState(null, false)).toBe('no data');
  });
});

describe('formatScore', () => {
  it('shows three decimals near the threshold, so a score just under it never reads as the threshold', () => {
    expect(formatScore(0.4991, STANDARD)).toBe('0.499');
    expect(formatScore(0.4996, STANDARD)).toBe('0.500');
    expect(formatScore(0.123, STANDARD)).toBe('0.12');
    expect(formatScore(1, STANDARD)).toBe('1.00');
  });
});
