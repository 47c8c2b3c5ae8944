// The page's backfill: a `history` answer merged with live rows without duplicates or gaps (a reload, a paused view,
// frames that arrived while the answer was on its way), an hour decimated then ten minutes at full rate, streams
// drawn on their own times, and the requests paced.

import { describe, expect, it } from 'vitest';
import { BACKFILL_REQUESTS, BACKFILL_STREAMS_PER_TICK, Backfills } from '../../web/src/backfill';
import type { HistoryMessage, PredictionMessage } from '../../web/src/protocol';
import { actualColumn, predictedColumn, SEQ, StreamSeries, T } from '../../web/src/stream-series';

/** Frames at 10 Hz from NOW_MS: seq s at NOW_MS/1000 + s/10 seconds, actual s, predicted s + 0.5. */
const NOW_MS = 1_700_000_000_000;
const xOf = (seq: number) => NOW_MS / 1000 + seq / 10;
const live = () => true;

function prediction(seq: number, t: number | null = NOW_MS + 100 * seq): PredictionMessage {
  return { type: 'prediction', stream: 's', seq, t, actual: [seq], predicted: [seq + 0.5], error: 0.1, rmse: 0.1, anomaly: 0.5, stepMicros: 1, batch: 1 };
}

/** The server's answer for seqs [from, to), as the server would write it. */
function history(from: number, to: number, t0 = NOW_MS, decimated = false): HistoryMessage {
  const seq = Array.from({ length: to - from }, (_, i) => from + i);
  return {
    type: 'history',
    stream: 's',
    channels: 1,
    t: seq.map((s) => t0 + 100 * s),
    seq,
    actual: [seq.map((s) => s)],
    predicted: [seq.map((s) => s + 0.5)],
    error: seq.map(() => 0.1),
    rmse: seq.map(() => 0.1),
    anomaly: seq.map(() => 0.5),
    detections: { t: [], seq: [], anomaly: [] },
    threshold: 0.5,
    rows: seq.length,
    decimated,
    oldest: t0 + 100 * from,
  };
}

function seqsOf(series: StreamSeries): number[] {
  return Array.from(series.window(-Infinity).columns[SEQ]);
}

describe('backfill', () => {
  it('a page opened mid-stream gets the past, predictions drawn at the frames they predicted', () => {
    const series = new StreamSeries(1);
    series.backfill(history(0, 100), live);
    const rows = series.window(-Infinity);
    expect(Array.from(rows.columns[SEQ])).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(rows.columns[actualColumn(0)][42]).toBe(42);
    expect(rows.columns[predictedColumn(0)][42]).toBe(41.5);
    expect(rows.columns[predictedColumn(0)][0]).toBeNaN();
    expect(rows.columns[T][42]).toBeCloseTo(xOf(42), 6);
    // the next live frame is predicted by the answer's last row
    series.ingest(prediction(100), xOf(100));
    expect(series.window(-Infinity).columns[predictedColumn(0)][100]).toBe(99.5);
  });

  it('a paused view\'s gap is filled: every seq once, no line break left', () => {
    const series = new StreamSeries(1);
    for (let seq = 0; seq < 50; seq++) series.ingest(prediction(seq), xOf(seq));
    for (let seq = 150; seq < 200; seq++) series.ingest(prediction(seq), xOf(seq));
    expect(seqsOf(series).some(Number.isNaN)).toBe(true); // the gap's break
    series.backfill(history(0, 200), live);
    expect(seqsOf(series)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('frames that arrived while the answer was on its way are kept after it, none twice', () => {
    const series = new StreamSeries(1);
    for (let seq = 80; seq < 100; seq++) series.ingest(prediction(seq), xOf(seq));
    series.backfill(history(0, 90), live);
    expect(seqsOf(series)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(series.window(-Infinity).columns[predictedColumn(0)][95]).toBe(94.5);
    expect(series.received).toBe(20);
  });

  it('after a reconnect the answer replaces the page\'s rows over its range and keeps older ones', () => {
    const series = new StreamSeries(1);
    for (let seq = 0; seq < 30; seq++) series.ingest(prediction(seq), xOf(seq));
    series.backfill(history(10, 40), live);
    expect(seqsOf(series)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('an hour decimated, then the last ten minutes at full rate, stack up in time order', () => {
    const series = new StreamSeries(1);
    // the hour: 36,000 frames folded into 3,600 rows (pairs at the first and last frame of 20)
    const hour = history(0, 36_000);
    const keep = (_: unknown, i: number) => i % 20 === 0 || i % 20 === 19;
    const folded = { ...hour, decimated: true, t: hour.t.filter(keep), seq: hour.seq.filter(keep), actual: [hour.actual[0].filter(keep)], predicted: [hour.predicted[0].filter(keep)], error: hour.error.filter(keep), rmse: hour.rmse.filter(keep), anomaly: hour.anomaly.filter(keep) };
    series.backfill(folded, live);
    series.backfill(history(30_000, 36_000), live);
    const rows = series.window(-Infinity);
    const x = rows.columns[T];
    for (let i = 1; i < rows.length; i++) expect(x[i]).toBeGreaterThan(x[i - 1]);
    expect(x[0]).toBeCloseTo(xOf(0), 6);
    expect(series.fine.length).toBe(6000);
    expect(series.fine.columns[SEQ].at(0)).toBe(30_000);
    expect(rows.columns[SEQ][rows.length - 1]).toBe(35_999);
  });

  it('a stream whose frames carry a replayed file\'s 2013 times is drawn on them, and its "now" is its newest frame', () => {
    const series = new StreamSeries(1);
    const t2013 = Date.UTC(2013, 11, 2, 21, 15);
    series.ingest(prediction(0, t2013), 12345, true);
    series.ingest(prediction(1, t2013 + 300_000), 12346, true);
    expect(series.ownTime).toBe(true);
    expect(series.window(-Infinity).columns[T][1]).toBe((t2013 + 300_000) / 1000);
    expect(series.now(99_999)).toBe((t2013 + 300_000) / 1000);
    // a stream on the shared clock keeps the clock's now
    const onClock = new StreamSeries(1);
    onClock.ingest(prediction(0), xOf(0));
    expect(onClock.now(99_999)).toBe(99_999);
    // a backfill of such times marks a fresh page's stream as drawn on its own times
    const reloaded = new StreamSeries(1);
    reloaded.backfill(history(0, 10, t2013), (t) => Math.abs(t - NOW_MS) < 86_400_000);
    expect(reloaded.ownTime).toBe(true);
    expect(reloaded.now(0)).toBeCloseTo((t2013 + 900) / 1000, 6);
  });
});

describe('Backfills', () => {
  it(`asks for ${BACKFILL_STREAMS_PER_TICK} streams a tick, the selected one first, each once however often it is wanted`, () => {
    const sent: object[][] = [];
    const ticks: (() => void)[] = [];
    const backfills = new Backfills(
      (messages) => (sent.push(messages), true),
      (work) => void ticks.push(work),
    );
    backfills.want(['a', 'b', 'c', 'd', 'e'], 'd');
    expect(sent.map((m) => (m[0] as { stream: string }).stream)).toEqual(['d', 'a']);
    expect(sent[0]).toEqual(BACKFILL_REQUESTS.map((r) => ({ type: 'history', stream: 'd', last: r.lastSeconds, maxPoints: r.maxPoints })));
    backfills.want(['b', 'c']);
    expect(backfills.waiting).toEqual(['b', 'c', 'e']);
    ticks.shift()!();
    ticks.shift()!();
    expect(sent.map((m) => (m[0] as { stream: string }).stream)).toEqual(['d', 'a', 'b', 'c', 'e']);
    expect(ticks).toHaveLength(0);
  });
});
