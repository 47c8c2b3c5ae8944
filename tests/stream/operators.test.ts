// Marble tests of each pipeline operator (TestScheduler): the frames they pass, hold, batch, score and drop.

import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { conflateLatest } from '../../src/stream/fan-out.js';
import { microBatch, splitIntoBatches } from '../../src/stream/micro-batch.js';
import { denormalize, normalize } from '../../src/stream/normalize.js';
import { OnlineNormalizer } from '../../src/stream/online-normalizer.js';
import { forecast, predict } from '../../src/stream/predict.js';
import { anomalyLikelihood, erfc, ErrorScorer, gaussianTail } from '../../src/stream/error-scorer.js';
import { scoreErrors } from '../../src/stream/score.js';
import type { Frame, FrameBatch, FrameSource, IncomingFrame, NormalizedFrame, Rejection, ServedModel, SteppedFrame, StreamEntry } from '../../src/stream/types.js';
import { validateFrames } from '../../src/stream/validate.js';

const producer: FrameSource = { label: 'producer' };
const stranger: FrameSource = { label: 'stranger' };
let served: ServedModel;
let model: Model;

beforeAll(async () => {
  model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 8, seed: 1 });
  served = { name: 'm', model };
});

function entry(name: string, options: Partial<StreamEntry> = {}): StreamEntry {
  return {
    name, id: 1, served, stream: undefined, parked: undefined, learning: undefined, learner: undefined, parkedLearner: undefined,
    lastSeq: -1, horizon: 0, learn: false, normalizer: undefined, scorer: new ErrorScorer(), owner: producer, orphanedAt: undefined, lastActive: 0, closed: false,
    ...options,
  };
}

function incoming(e: StreamEntry | undefined, seq: unknown, values: unknown, source = producer): IncomingFrame {
  return { source, streamLabel: e?.name ?? 'missing', entry: e, seq, t: undefined, values, receivedAt: 0 };
}

function normalized(e: StreamEntry, seq: number, values: number[]): NormalizedFrame {
  return { source: producer, entry: e, seq, t: seq, actual: Float64Array.from(values), receivedAt: 0, input: Float64Array.from(values), scale: undefined };
}

/** A normalized frame as predict leaves it: output, no forecast, attention, loss or learning event. */
function steppedFrame(frame: NormalizedFrame, predicted: Float32Array, fields: Partial<SteppedFrame> = {}): SteppedFrame {
  return { ...frame, predicted, forecast: undefined, attention: undefined, stepMicros: 1, batchSize: 1, loss: undefined, learnEvent: undefined, ...fields };
}

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('validateFrames', () => {
  it('passes good frames and refuses the rest with their codes, advancing seq only on acceptance', () => {
    const s = entry('s');
    const rejected: Rejection[] = [];
    scheduler().run(({ hot, expectObservable }) => {
      const source = hot('-a-b-c-d-e-f-g-|', {
        a: incoming(s, 0, [1, 2]),
        b: incoming(s, 0, [1, 2]), // duplicate
        c: incoming(s, 1, [1, 2, 3]), // wrong length
        d: incoming(s, 1, [1, 'x']), // a string
        e: incoming(undefined, 0, [1, 2]), // no such stream
        f: incoming(s, 1, [1, 2], stranger), // not the owner
        g: incoming(s, 1, [3, 4]),
      });
      expectObservable(source.pipe(validateFrames((r) => rejected.push(r)))).toBe('-a-----------g-|', {
        a: expect.objectContaining({ seq: 0, actual: Float64Array.of(1, 2) }),
        g: expect.objectContaining({ seq: 1, actual: Float64Array.of(3, 4) }),
      });
    });
    expect(rejected.map((r) => r.code)).toEqual(['bad_seq', 'wrong_length', 'bad_value', 'unknown_stream', 'stream_busy']);
    expect(s.lastSeq).toBe(1);
  });
});

describe('normalize and denormalize', () => {
  it('scales by the stream\'s running mean and std, then maps outputs back with the same scale', () => {
    const s = entry('s', { normalizer: new OnlineNormalizer(2) });
    const frame = (seq: number, values: number[]): Frame => ({ source: producer, entry: s, seq, t: seq, actual: Float64Array.from(values), receivedAt: 0 });
    scheduler().run(({ hot, expectObservable }) => {
      const source = hot('-a-b-|', { a: frame(0, [10, 5]), b: frame(1, [30, 5]) });
      // after b: mean (20, 5), population std (10, 0 → scaled by 1)
      expectObservable(source.pipe(normalize())).toBe('-a-b-|', {
        a: expect.objectContaining({ input: Float64Array.of(0, 0) }),
        b: expect.objectContaining({ input: Float64Array.of(1, 0), scale: { mean: Float64Array.of(20, 5), std: Float64Array.of(10, 1) } }),
      });
    });
    const scale = { mean: Float64Array.of(20, 5), std: Float64Array.of(10, 1) };
    const stepped = steppedFrame({ ...normalized(s, 1, [30, 5]), scale }, Float32Array.of(0.5, -1), { forecast: [Float32Array.of(0.5, -1), Float32Array.of(1, 2)] });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|', { a: { served, frames: [stepped] } }).pipe(denormalize())).toBe('a|', {
        a: { served, frames: [expect.objectContaining({ predicted: Float32Array.of(25, 4), forecast: [Float32Array.of(25, 4), Float32Array.of(30, 7)] })] },
      });
    });
  });

  it('leaves frames alone when the model carries its own statistics (the library applies them)', () => {
    const s = entry('s');
    const frame: Frame = { source: producer, entry: s, seq: 0, t: 0, actual: Float64Array.of(10, 5), receivedAt: 0 };
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|', { a: frame }).pipe(normalize())).toBe('a|', { a: expect.objectContaining({ input: Float64Array.of(10, 5), scale: undefined }) });
    });
  });
});

describe('microBatch', () => {
  it('makes one batch of the frames of one turn (one stepBatch call)', () => {
    const [a, b, c] = [entry('a'), entry('b'), entry('c')];
    const testScheduler = scheduler();
    testScheduler.run(({ hot, expectObservable }) => {
      const frames = { p: normalized(a, 0, [1, 1]), q: normalized(b, 0, [2, 2]), r: normalized(c, 0, [3, 3]), s: normalized(a, 1, [4, 4]) };
      const source = hot('-p-(qrs)-|', frames);
      const batch = (...list: NormalizedFrame[]): FrameBatch => ({ served, frames: list });
      expectObservable(source.pipe(microBatch(testScheduler))).toBe('-x-y-----|', { x: batch(frames.p), y: batch(frames.q, frames.r, frames.s) });
    });
  });

  it('splits a stream that sent twice in one turn into two batches, in order', () => {
    const a = entry('a');
    const testScheduler = scheduler();
    testScheduler.run(({ hot, expectObservable }) => {
      const frames = { p: normalized(a, 0, [1, 1]), q: normalized(a, 1, [2, 2]) };
      expectObservable(hot('-(pq)-|', frames).pipe(microBatch(testScheduler))).toBe('-(xy)-|', { x: { served, frames: [frames.p] }, y: { served, frames: [frames.q] } });
    });
  });

  it('emits a turn that brings more than maxFrames frames every maxFrames frames, as they arrive, the rest at the end of the turn', () => {
    const [a, b, c] = [entry('a'), entry('b'), entry('c')];
    const testScheduler = scheduler();
    testScheduler.run(({ hot, expectObservable }) => {
      const frames = { p: normalized(a, 0, [1, 1]), q: normalized(b, 0, [2, 2]), r: normalized(a, 1, [3, 3]), s: normalized(c, 0, [4, 4]), t: normalized(b, 1, [5, 5]) };
      // one turn of five frames with maxFrames 2: [p, q] at once, then [r, s] at once (a's second frame after its
      // first, in a later batch), then [t] when the turn ends
      expectObservable(hot('-(pqrst)-|', frames).pipe(microBatch(testScheduler, undefined, 2))).toBe('-(xyz)---|', {
        x: { served, frames: [frames.p, frames.q] },
        y: { served, frames: [frames.r, frames.s] },
        z: { served, frames: [frames.t] },
      });
    });
  });

  it('puts each stream at most once in a batch, one model per batch, keeping every stream\'s frames in order (predict relies on it)', async () => {
    const other: ServedModel = { name: 'other', model: await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 2 }) };
    const streams = [entry('a'), entry('b'), entry('c'), entry('d', { served: other }), entry('e', { served: other })];
    // 60 frames from 5 streams of 2 models, in a scrambled order: some streams send up to 20 times in one turn
    const frames: NormalizedFrame[] = [];
    const sent = new Map<StreamEntry, number>();
    for (let i = 0; i < 60; i++) {
      const e = streams[(i * i + 3 * i) % 7 % streams.length];
      const seq = sent.get(e) ?? 0;
      sent.set(e, seq + 1);
      frames.push(normalized(e, seq, [i, i]));
    }
    const batches = splitIntoBatches(frames);
    const lastSeq = new Map<StreamEntry, number>();
    for (const batch of batches) {
      const entries = batch.frames.map((f) => f.entry);
      expect(new Set(entries).size).toBe(entries.length);
      expect(entries.every((e) => e.served === batch.served)).toBe(true);
      for (const f of batch.frames) {
        expect(f.seq).toBe((lastSeq.get(f.entry) ?? -1) + 1);
        lastSeq.set(f.entry, f.seq);
      }
    }
    expect(batches.reduce((n, b) => n + b.frames.length, 0)).toBe(60);
    expect(Math.max(...sent.values())).toBeGreaterThan(1);
  });

  it('ends the turn early when flushes emits', () => {
    const [a, b] = [entry('a'), entry('b')];
    const testScheduler = scheduler();
    testScheduler.run(({ hot, expectObservable }) => {
      const frames = { p: normalized(a, 0, [1, 1]), q: normalized(b, 0, [2, 2]) };
      const flushes = new Subject<void>();
      const source = hot('-p-q-|', frames);
      // the flush comes with no frame pending at time 2: nothing is emitted for it
      testScheduler.schedule(() => flushes.next(), 2);
      expectObservable(source.pipe(microBatch(testScheduler, flushes))).toBe('-x-y-|', { x: { served, frames: [frames.p] }, y: { served, frames: [frames.q] } });
    });
  });
});

describe('predict and forecast', () => {
  it('steps a batch in one call with the library\'s exact outputs, and forecasts from a fork without moving the state', async () => {
    const reference = (await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 8, seed: 1 })).openStream();
    const [a, b] = [entry('a', { horizon: 3 }), entry('b')];
    const rejected: Rejection[] = [];
    const batches = [
      { served, frames: [normalized(a, 0, [1, 2]), normalized(b, 0, [5, 6])] },
      { served, frames: [normalized(a, 1, [3, 4])] },
    ];
    const expectedA0 = reference.step([1, 2]);
    const expectedForecast0 = reference.forecast(3);
    const expectedA1 = reference.step([3, 4]);
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b|', { a: batches[0], b: batches[1] }).pipe(predict((r) => rejected.push(r)), forecast())).toBe('a-b|', {
        a: {
          served,
          frames: [
            expect.objectContaining({ predicted: expectedA0, forecast: expectedForecast0, batchSize: 2 }),
            expect.objectContaining({ forecast: undefined, batchSize: 2 }),
          ],
        },
        b: { served, frames: [expect.objectContaining({ predicted: expectedA1, batchSize: 1 })] },
      });
    });
    expect(rejected).toEqual([]);
  });
});

describe('scoreErrors', () => {
  it('scores each frame against the previous prediction: error, rolling RMSE, anomaly 0.5 while under probation', () => {
    const s = entry('s');
    const stepped = (seq: number, actual: number[], predicted: number[]) => steppedFrame(normalized(s, seq, actual), Float32Array.from(predicted));
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b-c|', {
        a: { served, frames: [stepped(0, [1, 1], [4, 1])] },
        b: { served, frames: [stepped(1, [5, 1], [5, 4])] }, // previous prediction (4, 1): error √((1² + 0²)/2)
        c: { served, frames: [stepped(2, [5, 1], [0, 0])] }, // previous (5, 4): error √((0 + 3²)/2)
      });
      const e1 = Math.sqrt(0.5);
      const e2 = Math.sqrt(4.5);
      expectObservable(source.pipe(scoreErrors())).toBe('a-b-c|', {
        a: { served, frames: [expect.objectContaining({ error: undefined, rmse: undefined, anomaly: 0.5 })] },
        b: { served, frames: [expect.objectContaining({ error: e1, rmse: e1, anomaly: 0.5 })] },
        c: { served, frames: [expect.objectContaining({ error: e2, rmse: Math.sqrt((e1 * e1 + e2 * e2) / 2), anomaly: 0.5 })] },
      });
    });
  });

  it('gives a token model\'s error as the cross-entropy of the actual token', () => {
    const scorer = new ErrorScorer();
    scorer.score(0, [0, 0, Math.log(2)]); // probabilities 1/4, 1/4, 1/2
    expect(scorer.score(2, [0, 0, 0]).error).toBeCloseTo(Math.log(2), 12);
  });

  it('detects when recent errors jump above their history (0.5 and up), once: the frames after it are held at 0.3; steady errors stay low', () => {
    // (the detector raises one detection per event, as NAB rewards: src/stream/error-scorer.ts)
    const scorer = new ErrorScorer({ probation: 50 });
    const steady: number[] = [];
    let previous = 0;
    const step = (error: number) => {
      // actual − previous prediction = error, with the next prediction at 0
      const result = scorer.score([previous + error], [0]);
      previous = 0;
      return result.anomaly;
    };
    step(0);
    for (let i = 0; i < 300; i++) steady.push(step(1 + 0.1 * Math.sin(i)));
    const jump = [1, 2, 3, 4, 5].map(() => step(5));
    expect(steady.slice(0, 49).every((a) => a === 0.5)).toBe(true);
    expect(Math.max(...steady.slice(100))).toBeLessThan(0.3);
    expect(jump[0]).toBeGreaterThan(0.5);
    expect(jump.slice(1)).toEqual([0.3, 0.3, 0.3, 0.3].map((a) => expect.closeTo(a, 6)));
  });

  it('computes the Gaussian tail with erfc accurate to 1.2e-7', () => {
    // reference values of erfc
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(0.5)).toBeCloseTo(0.4795001221869535, 7);
    expect(erfc(2)).toBeCloseTo(0.004677734981047266, 8);
    expect(erfc(-1)).toBeCloseTo(1.842700792949715, 7);
    expect(gaussianTail(1.959963984540054)).toBeCloseTo(0.025, 7);
    expect(anomalyLikelihood(1, 1, 0)).toBeCloseTo(0.5, 7);
    expect(anomalyLikelihood(1 + 3 * 0.2, 1, 0.04)).toBeCloseTo(1 - 0.0013498980316301, 6);
  });

  it('round-trips its state through JSON exactly', () => {
    const scorer = new ErrorScorer({ probation: 3 });
    for (let i = 0; i < 20; i++) scorer.score([Math.sin(i)], [Math.cos(i)]);
    const copy = ErrorScorer.fromJSON(JSON.parse(JSON.stringify(scorer)));
    for (let i = 20; i < 30; i++) expect(copy.score([Math.sin(i)], [Math.cos(i)])).toEqual(scorer.score([Math.sin(i)], [Math.cos(i)]));
  });
});

describe('conflateLatest (dashboard fan-out)', () => {
  it('hands a consumer everything since its last pull, keeping only the latest `depth` per key', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const values = hot('-a-b-c-d-e---|', { a: 'a1', b: 'a2', c: 'b1', d: 'a3', e: 'a4' });
      const pulls = hot('----p-------p-');
      // keys in the order they came since the last pull: b1 before a's
      expectObservable(values.pipe(conflateLatest((v) => v[0], 2, pulls))).toBe('----x-------y|', { x: ['a1', 'a2'], y: ['b1', 'a3', 'a4'] });
    });
  });

  it('holds at most keys × depth values for a consumer that never pulls', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const many = cold('(abcdefghij)|', Object.fromEntries([...'abcdefghij'].map((c, i) => [c, `k${i % 2}-${i}`])));
      const pulls = hot('--------------');
      expectObservable(many.pipe(conflateLatest((v) => v.slice(0, 2), 1, pulls))).toBe('------------(x|)', { x: ['k0-8', 'k1-9'] });
    });
  });
});

describe('conflateLatest with a budget (dashboard fan-out, by weight)', () => {
  const budget = { weigh: (v: string) => Number(v.slice(2)), held: 10, batch: 5 };

  it('past the held budget keeps only each key’s latest value', () => {
    scheduler().run(({ hot, expectObservable }) => {
      // weights 3, 4, 2, 3: 12 > 10 once a-3 arrives, so a keeps only a-3 and b only b-2
      const values = hot('-a-b-c-d---|', { a: 'a-3', b: 'a-4', c: 'b-2', d: 'a-3' });
      const pulls = hot('---------p--');
      expectObservable(values.pipe(conflateLatest((v) => v[0], 8, pulls, budget))).toBe('---------x-|', { x: ['a-3', 'b-2'] });
    });
  });

  it('hands over about `batch` a pull, oldest keys first, at least one value, and the rest at the next pulls', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const values = hot('-(abcd)-------|', { a: 'a-2', b: 'a-2', c: 'b-7', d: 'c-1' });
      const pulls = hot('---p-p-p------');
      expectObservable(values.pipe(conflateLatest((v) => v[0], 8, pulls, { ...budget, held: 100 }))).toBe('---x-y-z------|', { x: ['a-2', 'a-2'], y: ['b-7'], z: ['c-1'] });
    });
  });
});
