// The history store's bounds: an hour of frames at full resolution, older ones folded into min/max pairs (spikes
// kept), detections as rises to the threshold, memory bounded per stream and in total.

import { describe, expect, it } from 'vitest';
import { bytesPerRow } from '../../src/server/history-rows.js';
import { HISTORY_BUCKET_FRAMES, HISTORY_DECIMATED_ROWS, HISTORY_RAW_ROWS, History, maxHistoryBytes } from '../../src/server/history.js';
import type { ScoredFrame, StreamEntry } from '../../src/stream/types.js';

/** A stream entry as the store reads it (its name, and whether it was closed). */
function entry(name: string): StreamEntry {
  return { name, closed: false } as unknown as StreamEntry;
}

/** A scored frame of `e` with one value, at t = 100 ms · seq. */
function frame(e: StreamEntry, seq: number, value: number, anomaly = 0.5): ScoredFrame {
  return { entry: e, seq, t: 100 * seq, actual: Float64Array.of(value), predicted: Float32Array.of(value / 2), error: 0.25, rmse: 0.5, anomaly } as unknown as ScoredFrame;
}

describe('the history store', () => {
  it(`keeps the last ${HISTORY_RAW_ROWS} frames raw and folds each ${HISTORY_BUCKET_FRAMES} older ones into a min/max pair`, () => {
    const history = new History(0.9);
    const e = entry('s');
    const extra = 30 * HISTORY_BUCKET_FRAMES;
    const spikeSeq = 100;
    for (let seq = 0; seq < HISTORY_RAW_ROWS + extra; seq++) history.record(frame(e, seq, seq === spikeSeq ? 1e6 : seq % 3));
    const kept = history.get('s')!;
    expect(kept.raw.length).toBe(HISTORY_RAW_ROWS);
    expect(kept.raw.seq(kept.raw.index(0))).toBe(extra);
    expect(kept.decimated.length).toBe(60);
    // the spike, long out of the raw tier, survives in its bucket; the bucket's rows are at its first and last frame
    const decimated = Array.from({ length: kept.decimated.length }, (_, i) => kept.decimated.actual(kept.decimated.index(i), 0));
    expect(Math.max(...decimated)).toBe(1e6);
    expect(kept.decimated.seq(kept.decimated.index(0))).toBe(0);
    expect(kept.decimated.seq(kept.decimated.index(1))).toBe(HISTORY_BUCKET_FRAMES - 1);
  });

  it('a stream stepped for a day and more takes at most maxHistoryBytes, and the tiers never exceed their capacity', () => {
    const history = new History(0.9);
    const e = entry('long');
    const frames = HISTORY_RAW_ROWS + (HISTORY_DECIMATED_ROWS / 2) * HISTORY_BUCKET_FRAMES + 5000;
    for (let seq = 0; seq < frames; seq++) history.record(frame(e, seq, seq));
    const kept = history.get('long')!;
    expect(kept.raw.length).toBe(HISTORY_RAW_ROWS);
    expect(kept.decimated.length).toBe(HISTORY_DECIMATED_ROWS);
    expect(history.totalTaken).toBe(kept.bytes);
    expect(kept.bytes).toBeLessThanOrEqual(maxHistoryBytes(1));
    expect(maxHistoryBytes(1)).toBe((HISTORY_RAW_ROWS + HISTORY_DECIMATED_ROWS) * bytesPerRow(1) + 1024 * 20);
  }, 30_000);

  it('a detection is a rise of the anomaly score to the threshold, not every frame above it', () => {
    const history = new History(0.9);
    const e = entry('d');
    const scores = [0.5, 0.95, 0.97, 0.5, 0.9, 0.2];
    scores.forEach((anomaly, seq) => history.record(frame(e, seq, 0, anomaly)));
    const { detections } = history.get('d')!;
    expect(Array.from({ length: detections.length }, (_, i) => detections.seq[detections.index(i)])).toEqual([1, 4]);
  });

  it('under a total budget the least recently stepped stream loses its history first, a closed one before it', () => {
    const oneStream = (() => {
      const probe = new History(0.9);
      const e = entry('probe');
      for (let seq = 0; seq < 2000; seq++) probe.record(frame(e, seq, seq));
      return probe.totalTaken;
    })();
    const history = new History(0.9, 3 * oneStream);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(entry);
    for (const e of [a, b, c]) for (let seq = 0; seq < 2000; seq++) history.record(frame(e, seq, seq));
    history.record(frame(a, 2000, 0));
    (b as { closed: boolean }).closed = true;
    for (let seq = 0; seq < 2000; seq++) history.record(frame(d, seq, seq));
    expect(history.get('b')).toBeUndefined();
    expect(history.get('a')).toBeDefined();
    expect(history.totalTaken).toBeLessThanOrEqual(3 * oneStream);
    expect(history.get('c')).toBeDefined();
  });

  it('past the total budget live streams stop growing and keep a shorter past; none loses its history to another', () => {
    const history = new History(0.9, 4 * 1024 * 1024);
    const streams = Array.from({ length: 20 }, (_, i) => entry(`live-${i}`));
    for (let seq = 0; seq < 20_000; seq++) for (const e of streams) history.record(frame(e, seq, seq));
    expect(history.size).toBe(20);
    expect(history.totalTaken).toBeLessThanOrEqual(4 * 1024 * 1024);
    for (const e of streams) {
      const kept = history.get(e.name)!;
      // the newest frame is always there, and rows older than the raw tier went into the decimated one
      expect(kept.raw.seq(kept.raw.index(kept.raw.length - 1))).toBe(19_999);
      expect(kept.raw.length + kept.decimated.length).toBeGreaterThan(1000);
    }
  });

  it('a stream closed and opened again under the same name starts a new history', () => {
    const history = new History(0.9);
    const first = entry('again');
    for (let seq = 0; seq < 10; seq++) history.record(frame(first, seq, seq));
    history.record(frame(entry('again'), 0, 7));
    expect(history.get('again')!.raw.length).toBe(1);
  });
});
