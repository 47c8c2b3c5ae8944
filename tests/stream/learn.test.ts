// Marble tests of online learning in the pipeline (TestScheduler): predict steps learning streams' frames in one
// batch with the other streams, and learnOnline predicts and trains with them exactly as LearningStream.observe
// does; and validateFrames fills in t.

import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { learnOnline } from '../../src/stream/learn.js';
import { forecast, predict, type SteppedBatch } from '../../src/stream/predict.js';
import { ErrorScorer } from '../../src/stream/error-scorer.js';
import type { FrameSource, IncomingFrame, Rejection, ServedModel, ScoredFrame, StreamEntry } from '../../src/stream/types.js';
import { validateFrames } from '../../src/stream/validate.js';

const producer: FrameSource = { label: 'producer' };
const SPEC = { cell: 'lstm' as const, inputSize: 2, hiddenSize: 8, seed: 4 };
let model: Model;
let served: ServedModel;

beforeEach(async () => {
  model = await createModel(SPEC);
  served = { name: 'm', model };
});

function entry(name: string, options: Partial<StreamEntry> = {}): StreamEntry {
  return {
    name, id: 1, served, stream: undefined, parked: undefined, learning: undefined, learner: undefined, parkedLearner: undefined,
    lastSeq: -1, horizon: 0, learn: false, normalizer: undefined, scorer: new ErrorScorer(), owner: producer, orphanedAt: undefined, lastActive: 0, closed: false,
    ...options,
  };
}

/** A frame as validateFrames and normalize leave it (every field present, as the pipeline's frames are). */
function frame(e: StreamEntry, seq: number, values: number[]): ScoredFrame {
  const actual = Float64Array.from(values);
  return { source: producer, entry: e, seq, t: seq, actual, receivedAt: 0, input: actual, scale: undefined, predicted: new Float32Array(0), forecast: undefined, attention: undefined, stepMicros: 0, batchSize: 0, loss: undefined, learnEvent: undefined, error: undefined, rmse: undefined, anomaly: 0.5 };
}

const values = (i: number) => [Math.sin(i / 3) * 4 + 10, Math.cos(i / 5)];
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('learnOnline', () => {
  it('steps learning streams in one batch with the other streams, and predicts and trains exactly as LearningStream.observe', async () => {
    const learning = entry('learner', { learning: { every: 2, window: 4, target: 'delta' }, learn: true, horizon: 2 });
    const plain = entry('plain');
    // the reference: the same frames through the library directly, on a model of the same seed; both streams share
    // its weights, which the learner trains after the batch's step (so both step with the weights before it)
    const reference = await createModel(SPEC);
    const referenceLearner = reference.openLearningStream({ every: 2, window: 4 });
    const referencePlain = reference.openStream();
    const batches = Array.from({ length: 8 }, (_, i) => ({ served, frames: [frame(learning, i, values(i)), frame(plain, i, values(i + 50))] }));
    const expected = batches.map((_, i) => {
      const stepped = referencePlain.step(values(i + 50));
      const report = referenceLearner.observe(values(i));
      return { report, forecast: referenceLearner.forecast(2), stepped };
    });
    const rejected: Rejection[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('abcdefgh|', Object.fromEntries(batches.map((b, i) => ['abcdefgh'[i], b])));
      const result = source.pipe(predict((r) => rejected.push(r)), learnOnline((r) => rejected.push(r)), forecast());
      expectObservable(result).toBe(
        'abcdefgh|',
        Object.fromEntries(
          expected.map(({ report, forecast: rows, stepped }, i) => [
            'abcdefgh'[i],
            {
              served,
              frames: [
                // the learning stream's frame: stepped in the batch of 2, the learner's prediction, loss and event when it trained
                expect.objectContaining({ seq: i, predicted: report.predicted, loss: report.loss, learnEvent: report.event, batchSize: 2, forecast: rows }),
                // the plain stream's frame: stepped in the same kernel call
                expect.objectContaining({ seq: i, predicted: stepped, loss: undefined, learnEvent: undefined, batchSize: 2 }),
              ],
            },
          ]),
        ),
      );
    });
    expect(rejected).toEqual([]);
    // 8 frames, every 2, window 4: training from the 5th frame on, at frames 5 (index 4)... every second frame
    expect(expected.filter((e) => e.report.event === 'trained').length).toBeGreaterThan(0);
    expect(learning.learner!.stats.updates).toBe(referenceLearner.stats.updates);
    expect(Array.from(model.getParameter('lstm.weight_hh_l0'))).toEqual(Array.from(reference.getParameter('lstm.weight_hh_l0')));
  });

  it('steps two learning streams of one model in one kernel call, bit for bit as single steps, training after the batch in its order', async () => {
    const a = entry('a', { learning: { every: 2, window: 3, target: 'delta' }, learn: true });
    const b = entry('b', { learning: { every: 2, window: 3, target: 'value' }, learn: true });
    // the reference: the same learners stepped one at a time (stepPrepared), each batch's training after both steps
    const reference = await createModel(SPEC);
    const [ra, rb] = [reference.openLearningStream({ every: 2, window: 3 }), reference.openLearningStream({ every: 2, window: 3, predict: 'value' })];
    const batches = Array.from({ length: 10 }, (_, i) => ({ served, frames: [frame(a, i, values(i)), frame(b, i, values(i + 30))] }));
    const expected = batches.map((_, i) => {
      ra.prepareStep(values(i));
      rb.prepareStep(values(i + 30));
      const [outA, outB] = [ra.stepPrepared(), rb.stepPrepared()];
      return [ra.finishStep(outA), rb.finishStep(outB)];
    });
    const rejected: Rejection[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('abcdefghij|', Object.fromEntries(batches.map((batch, i) => ['abcdefghij'[i], batch])));
      expectObservable(source.pipe(predict((r) => rejected.push(r)), learnOnline((r) => rejected.push(r)))).toBe(
        'abcdefghij|',
        Object.fromEntries(expected.map((reports, i) => ['abcdefghij'[i], {
          served,
          frames: reports.map((report) => expect.objectContaining({ seq: i, predicted: report.predicted, loss: report.loss, learnEvent: report.event, batchSize: 2 })),
        }])),
      );
    });
    expect(rejected).toEqual([]);
    expect(expected.flat().filter((report) => report.event === 'trained').length).toBeGreaterThan(4);
    for (const name of model.parameterNames) expect(Array.from(model.getParameter(name))).toEqual(Array.from(reference.getParameter(name)));
  });

  it('passes batches without learning streams through untouched, and with learn off predicts without training', () => {
    const paused = entry('paused', { learning: { every: 1, window: 2, target: 'value' }, learn: false });
    const before = model.getParameter('lstm.weight_ih_l0');
    const plainBatch: SteppedBatch = { served, frames: [] };
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab|', { a: plainBatch, b: { served, frames: [frame(paused, 0, [1, 2])] } });
      expectObservable(source.pipe(learnOnline(() => undefined))).toBe('ab|', {
        a: plainBatch,
        b: { served, frames: [expect.objectContaining({ seq: 0, learnEvent: undefined, loss: undefined, batchSize: 1 })] },
      });
    });
    for (let i = 1; i < 6; i++) {
      scheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('a|', { a: { served, frames: [frame(paused, i, values(i))] } }).pipe(learnOnline(() => undefined))).toBe('a|', {
          a: { served, frames: [expect.objectContaining({ learnEvent: undefined })] },
        });
      });
    }
    expect(paused.learner!.stats.frames).toBe(6);
    expect(paused.learner!.stats.updates).toBe(0);
    expect(Array.from(model.getParameter('lstm.weight_ih_l0'))).toEqual(Array.from(before));
  });

  it('rejects a frame the learner refuses (code internal), drops it from the batch and keeps the others', () => {
    const learning = entry('learner', { learning: { every: 8, window: 32, target: 'delta' }, learn: true });
    const other = entry('other', { learning: { every: 8, window: 32, target: 'delta' }, learn: true });
    const bad = frame(learning, 0, [1, 2]);
    (bad as { actual: Float64Array }).actual = Float64Array.of(1, NaN); // what validateFrames would have refused
    const rejected: Rejection[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|', { a: { served, frames: [bad, frame(other, 0, [3, 4])] } }).pipe(learnOnline((r) => rejected.push(r)))).toBe('a|', {
        a: { served, frames: [expect.objectContaining({ entry: other, seq: 0 })] },
      });
    });
    expect(rejected).toEqual([expect.objectContaining({ code: 'internal', streamLabel: 'learner', seq: 0 })]);
    expect(learning.learner!.stats.frames).toBe(0);
  });
});

describe('validateFrames and t', () => {
  it("keeps the producer's t, and gives a frame without one the time its message arrived (ms since the epoch)", () => {
    const s = entry('s');
    const arrivedAt = 1234.5;
    const incoming = (seq: number, t: number | undefined): IncomingFrame => ({ source: producer, streamLabel: 's', entry: s, seq, t, values: [1, 2], receivedAt: arrivedAt });
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('ab|', { a: incoming(0, 42), b: incoming(1, undefined) }).pipe(validateFrames(() => undefined))).toBe('ab|', {
        a: expect.objectContaining({ seq: 0, t: 42 }),
        b: expect.objectContaining({ seq: 1, t: performance.timeOrigin + arrivedAt }),
      });
    });
  });
});
