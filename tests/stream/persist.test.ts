// The stream layer's record and restore (src/stream/persist.ts) and its slot transitions (reset, set learning):
// what the server's checkpoints, configure and reset call.

import { describe, expect, it } from 'vitest';
import { createModel, InputError, type Model } from '../../src/index.js';
import { ErrorScorer } from '../../src/stream/error-scorer.js';
import { OnlineNormalizer } from '../../src/stream/online-normalizer.js';
import { recordEntry, recordModel, restoreEntryState, restoreModelOptimizer } from '../../src/stream/persist.js';
import { activeLearner, activeStream, parkStream, resetEntry, setEntryLearning } from '../../src/stream/slots.js';
import type { FrameSource, ServedModel, StreamEntry } from '../../src/stream/types.js';

const producer: FrameSource = { label: 'producer' };
const SPEC = { cell: 'lstm' as const, inputSize: 2, hiddenSize: 6, seed: 5 };
const values = (i: number) => [Math.sin(i / 4) * 3 + 7, Math.cos(i / 6)];

function entry(served: ServedModel, name: string, options: Partial<StreamEntry> = {}): StreamEntry {
  return {
    name, id: 1, served, stream: undefined, parked: undefined, learning: undefined, learner: undefined, parkedLearner: undefined,
    lastSeq: -1, horizon: 0, learn: false, normalizer: undefined, scorer: new ErrorScorer(), owner: producer, orphanedAt: undefined, lastActive: 0, closed: false,
    ...options,
  };
}

/** A restored entry on `served`, as the server builds one from a record. */
function restored(served: ServedModel, record: ReturnType<typeof recordEntry>): StreamEntry {
  return entry(served, record.name, { ...restoreEntryState(served, record), lastSeq: record.lastSeq, horizon: record.horizon });
}

async function copyOf(model: Model): Promise<Model> {
  const copy = await createModel(SPEC);
  for (const name of model.parameterNames) copy.setParameter(name, model.getParameter(name));
  return copy;
}

describe('recordEntry and restoreEntryState', () => {
  it('bring a plain stream back bit for bit: slot state, online normalizer and scores', async () => {
    const served = { name: 'm', model: await createModel(SPEC) };
    const original = entry(served, 'pump', { normalizer: new OnlineNormalizer(2), horizon: 2, lastSeq: 9 });
    for (let i = 0; i < 10; i++) {
      original.normalizer!.update(values(i));
      original.scorer.score(values(i), activeStream(original).step(values(i)));
    }
    const record = JSON.parse(JSON.stringify(recordEntry(original)));
    expect(record).toMatchObject({ name: 'pump', model: 'm', lastSeq: 9, horizon: 2, normalize: 'online', learn: false });
    const back = restored(served, record);
    expect(back.stream).toBeUndefined(); // parked until its next frame
    expect(back.normalizer!.toJSON()).toEqual(original.normalizer!.toJSON());
    for (let i = 10; i < 20; i++) {
      expect(activeStream(back).step(values(i))).toEqual(activeStream(original).step(values(i)));
      expect(back.scorer.score(values(i), [0, 0])).toEqual(original.scorer.score(values(i), [0, 0]));
    }
  });

  it('bring a learning stream and its model back bit for bit, training included (weights, Adam state, learner)', async () => {
    const served = { name: 'm', model: await createModel(SPEC) };
    const learning = { every: 2, window: 4, target: 'delta' as const };
    const original = entry(served, 'learner', { learning, learn: true });
    for (let i = 0; i < 30; i++) activeLearner(original).observe(values(i));
    const saved = recordModel(served.model);
    expect(saved.optimizer).toBeInstanceOf(Uint8Array);
    const record = JSON.parse(JSON.stringify(recordEntry(original)));
    expect(record.learner).toEqual(expect.any(String));
    const copy = { name: 'm', model: await copyOf(served.model) };
    restoreModelOptimizer(copy.model, saved.optimizer!);
    const back = restored(copy, record);
    expect(back.learn).toBe(true);
    for (let i = 30; i < 60; i++) expect(activeLearner(back).observe(values(i))).toEqual(activeLearner(original).observe(values(i)));
    expect(activeLearner(back).stats).toEqual(activeLearner(original).stats);
    for (const name of served.model.parameterNames) expect(Array.from(copy.model.getParameter(name))).toEqual(Array.from(served.model.getParameter(name)));
  });

  it('refuses a record whose snapshot is of another model, leaving no slot open', async () => {
    const served = { name: 'm', model: await createModel(SPEC) };
    const other = { name: 'o', model: await createModel({ ...SPEC, hiddenSize: 7 }) };
    const original = entry(other, 'pump');
    activeStream(original).step([1, 2]);
    const record = recordEntry(original);
    expect(() => restoreEntryState(served, record)).toThrow(InputError);
    expect(served.model.openStreams).toBe(0);
    expect(() => restoreModelOptimizer(served.model, Uint8Array.of(1, 2, 3))).toThrow(InputError);
  });

  it('never records a non-finite value: a stream whose scores went Infinity is recorded without its state, and says why', async () => {
    const served = { name: 'm', model: await createModel(SPEC) };
    const original = entry(served, 'wild', { normalizer: new OnlineNormalizer(2), horizon: 1, lastSeq: 4 });
    original.normalizer!.update([1, 2]);
    activeStream(original).step([1, 2]);
    original.scorer.score([1, 2], [Infinity, 0]); // a prediction that overflowed, as a bug might make one
    original.scorer.score([1, 2], [0, 0]);
    const problems: string[] = [];
    const record = recordEntry(original, (problem) => problems.push(problem));
    expect(problems).toEqual([expect.stringMatching(/^stream "wild": scores\.[\w.]+(\[\d+\])? is Infinity; checkpointed without its state/)]);
    expect(record).toMatchObject({ name: 'wild', lastSeq: 4, horizon: 1, normalize: 'online' });
    expect(record.snapshot).toBeUndefined();
    // JSON writes a non-finite number as null; the only nulls a record may hold are the scorer's "not yet"s (no prediction, no range seen)
    expect(JSON.stringify(record).replace(/"(previous|low|high)":null/g, '')).not.toMatch(/null|Infinity|NaN/);
    const back = restored(served, JSON.parse(JSON.stringify(record)));
    expect(back.normalizer!.count).toBe(0);
    expect(activeStream(back).step([1, 2]).every(Number.isFinite)).toBe(true);
    // a healthy stream is recorded whole and reports nothing
    const healthy = entry(served, 'calm');
    activeStream(healthy).step([1, 2]);
    expect(recordEntry(healthy, (problem) => problems.push(problem)).snapshot).toEqual(expect.any(String));
    expect(problems).toHaveLength(1);
  });
});

describe('resetEntry and setEntryLearning', () => {
  it('resetEntry zeroes the slot, the normalizer and the scores; a learner starts afresh while the weights stay', async () => {
    const served = { name: 'm', model: await createModel(SPEC) };
    const plain = entry(served, 'plain', { normalizer: new OnlineNormalizer(2) });
    const first = activeStream(plain).step([1, 2]);
    plain.normalizer!.update([1, 2]);
    plain.scorer.score([1, 2], first);
    activeStream(plain).step([3, 4]);
    resetEntry(plain);
    expect(plain.normalizer!.count).toBe(0);
    expect(plain.scorer.toJSON().previous).toBeNull();
    expect(activeStream(plain).step([1, 2])).toEqual(first);
    const learner = entry(served, 'learner', { learning: { every: 1, window: 2, target: 'value' }, learn: true });
    for (let i = 0; i < 6; i++) activeLearner(learner).observe(values(i));
    const weights = served.model.getParameter('lstm.weight_hh_l0');
    resetEntry(learner);
    expect(learner.learner).toBeUndefined();
    expect(activeLearner(learner).stats.frames).toBe(0);
    expect(served.model.getParameter('lstm.weight_hh_l0')).toEqual(weights);
  });

  it('setEntryLearning makes a plain stream a learning stream that keeps its kernel state, and pauses and resumes training', async () => {
    const served = { name: 'm', model: await createModel(SPEC) };
    const reference = await createModel(SPEC);
    const plain = entry(served, 'pump', { normalizer: new OnlineNormalizer(2) });
    const referenceStream = reference.openStream();
    for (let i = 0; i < 5; i++) expect(activeStream(plain).step(values(i))).toEqual(referenceStream.step(values(i)));
    const config = { every: 2, window: 3, target: 'value' as const };
    setEntryLearning(plain, true, config);
    expect(plain).toMatchObject({ learning: config, learn: true, normalizer: undefined, stream: undefined });
    // the learner continues from the plain stream's state: the same as a learner restored from its snapshot
    const referenceLearner = reference.openLearningStream({ every: 2, window: 3, predict: 'value' });
    referenceLearner.stream.restore(referenceStream.snapshot());
    for (let i = 5; i < 12; i++) expect(activeLearner(plain).observe(values(i))).toEqual(referenceLearner.observe(values(i)));
    setEntryLearning(plain, false, undefined);
    expect(plain.learn).toBe(false);
    expect(plain.learner!.isLearning).toBe(false);
    const weights = served.model.getParameter('lstm.weight_ih_l0');
    for (let i = 12; i < 16; i++) activeLearner(plain).observe(values(i));
    expect(served.model.getParameter('lstm.weight_ih_l0')).toEqual(weights);
    parkStream(plain);
    setEntryLearning(plain, true, undefined);
    expect(activeLearner(plain).isLearning).toBe(true);
  });
});
