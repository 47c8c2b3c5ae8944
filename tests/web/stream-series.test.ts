// What the dashboard keeps of a stream: predictions aligned with the frames they predicted, two tiers merged into one window, labelled windows.

import { describe, expect, it } from 'vitest';
import { labelledRuns } from '../../web/src/overlays';
import type { PredictionMessage } from '../../web/src/protocol';
import { actualColumn, BucketReducer, COARSE_ROWS, FINE_ROWS, predictedColumn, StreamSeries, T } from '../../web/src/stream-series';
import { RingTable } from '../../web/src/ring-buffer';

function prediction(seq: number, actual: number[], predicted: number[], anomaly = 0.5): PredictionMessage {
  return { type: 'prediction', stream: 's', seq, t: null, actual, predicted, error: null, rmse: null, anomaly, stepMicros: 1, batch: 1 };
}

describe('StreamSeries', () => {
  it('draws a prediction at the frame it predicted, and none after a gap in seq', () => {
    const series = new StreamSeries(1);
    series.ingest(prediction(0, [1], [2]), 0);
    series.ingest(prediction(1, [2.5], [3]), 0.1);
    series.ingest(prediction(3, [4], [5]), 0.3); // seq 2 was never delivered
    const rows = series.window(-Infinity);
    expect(Array.from(rows.columns[actualColumn(0)])).toEqual([1, 2.5, 4]);
    expect(Array.from(rows.columns[predictedColumn(0)])).toEqual([NaN, 2, NaN]);
  });

  it('measures the frame rate from seqs and the spacing of steps', () => {
    const series = new StreamSeries(1);
    for (let seq = 0; seq <= 20; seq++) series.ingest(prediction(seq, [seq], [seq]), seq * 0.1);
    expect(series.rate(2)).toBeCloseTo(10, 6);
    expect(series.secondsPerStep).toBeCloseTo(0.1, 6);
    expect(series.rate(60)).toBe(0); // silent for longer than the rate's span
  });

  it('starts over when time jumps back (the producer restarted)', () => {
    const series = new StreamSeries(1);
    series.ingest(prediction(5, [1], [1]), 100);
    series.ingest(prediction(0, [2], [2]), 50);
    expect(series.window(-Infinity).length).toBe(1);
    expect(series.received).toBe(2);
  });

  it('serves an hour from the coarse tier and the last minutes at full rate, in time order', () => {
    const series = new StreamSeries(1);
    const seconds = 3000;
    const rate = 10;
    for (let i = 0; i < seconds * rate; i++) series.ingest(prediction(i, [i % 7], [0]), i / rate);
    const rows = series.window(0);
    const x = rows.columns[T];
    for (let i = 1; i < rows.length; i++) expect(x[i]).toBeGreaterThan(x[i - 1]);
    // the fine tier holds its last FINE_ROWS rows; older seconds come two rows each from the coarse tier
    const fineStart = (seconds * rate - FINE_ROWS) / rate;
    expect(rows.length).toBeLessThanOrEqual(FINE_ROWS + 2 * Math.ceil(fineStart) + 1);
    expect(rows.length).toBeGreaterThan(FINE_ROWS + 2 * (fineStart - 2));
    expect(x[0]).toBeLessThan(1);
    expect(x[rows.length - 1]).toBeCloseTo((seconds * rate - 1) / rate, 6);
  });

  it('holds no more than its fixed capacity however long it runs', () => {
    const series = new StreamSeries(2);
    for (let i = 0; i < 200_000; i++) series.ingest(prediction(i, [1, 2], [1, 2]), i / 50);
    expect(series.fine.length).toBe(FINE_ROWS);
    expect(series.coarse.length).toBeLessThanOrEqual(COARSE_ROWS);
  });
});

describe('BucketReducer', () => {
  it('writes each closed bucket as two rows holding its min and max in the order they happened', () => {
    const target = new RingTable(10, 3);
    const reducer = new BucketReducer(3, 1, target);
    // bucket 0: the max (9) comes before the min (1)
    for (const [t, v] of [
      [0.0, 5],
      [0.3, 9],
      [0.6, 1],
      [0.9, 4],
    ])
      reducer.add([t, t * 10, v]);
    reducer.add([1.2, 12, 3]); // opens bucket 1, closing bucket 0
    expect(target.columns.map((c) => c.toArray())).toEqual([
      [0, 0.9],
      [0, 9],
      [9, 1],
    ]);
    reducer.flush();
    expect(target.length).toBe(3); // a one-row bucket stays one row
  });
});

describe('labelledRuns', () => {
  it('finds the x ranges of rows inside labelled windows, wrapping seq around the replayed file', () => {
    const x = [0, 1, 2, 3, 4, 5, 6];
    const seq = [8, 9, 10, 11, 12, 13, 14]; // rows 8 9 0 1 2 3 4 of a 10-row file
    expect(labelledRuns(x, seq, { period: 10, windows: [[9, 9], [2, 3]] })).toEqual([
      [1, 1],
      [4, 5],
    ]);
  });

  it('closes a run still open at the last row', () => {
    expect(labelledRuns([0, 1, 2], [0, 1, 2], { period: 100, windows: [[1, 50]] })).toEqual([[1, 2]]);
  });
});

describe('StreamSeries across a restart', () => {
  it('breaks the lines where seq starts over, and measures the rate within the new run only', () => {
    const series = new StreamSeries(1);
    for (let seq = 100; seq < 120; seq++) series.ingest(prediction(seq, [1], [1]), (seq - 100) * 0.1);
    for (let seq = 0; seq < 20; seq++) series.ingest(prediction(seq, [2], [2]), 2.5 + seq * 0.1);
    const rows = series.window(-Infinity);
    expect(rows.length).toBe(41);
    expect(rows.columns[actualColumn(0)][20]).toBeNaN(); // the break between the runs
    expect(rows.columns[T][20]).toBeGreaterThan(rows.columns[T][19]);
    expect(series.rate(4.5)).toBeCloseTo(10, 6);
  });
});

describe('StreamSeries gaps', () => {
  it('breaks the lines where frames are missing for a while (a paused view), not at a single dropped frame', () => {
    const series = new StreamSeries(1);
    for (let seq = 0; seq < 10; seq++) series.ingest(prediction(seq, [1], [1]), seq * 0.1);
    series.ingest(prediction(11, [1], [1]), 1.1); // one frame dropped: the line goes on
    series.ingest(prediction(40, [1], [1]), 4.0); // three seconds missing: a break
    const actual = Array.from(series.window(-Infinity).columns[actualColumn(0)]);
    expect(actual.length).toBe(13);
    expect(actual.slice(0, 11).every((v) => v === 1)).toBe(true);
    expect(actual[11]).toBeNaN();
    expect(actual[12]).toBe(1);
  });
});
