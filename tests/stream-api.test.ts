// Specification of the Stream and Model API: snapshots, forecasts, input
// validation, batched stepping, normalization, initialisation, closing.

import { describe, expect, it } from 'vitest';
import {
  argmax,
  createModel,
  InputError,
  ModelFormatError,
  SeqcastError,
  StateError,
  type CellKind,
  type Model,
  type ModelSpec,
  type StepInput,
  type Stream,
} from '../src/index.js';
import { expectClose } from './helpers/golden.js';

// ── helpers ──

/** Bit patterns of float32 values: exact comparison (−0 ≠ 0, every NaN payload distinct). */
function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

function expectBitIdentical(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expect(bits(actual), what).toEqual(bits(expected));
}

/** A deterministic frame: row t of a smooth, non-trivial signal of `width` channels. */
function frame(t: number, width: number, seed = 0): number[] {
  return Array.from({ length: width }, (_, i) => Math.sin(0.9 * t + 1.7 * i + seed) * 1.5 + 0.3 * Math.cos(2.3 * t * (i + 1)));
}

/** The full recurrent state as bits: h then c. */
function stateBits(stream: Stream): number[] {
  const { h, c } = stream.state();
  return [...bits(h), ...(c ? bits(c) : [])];
}

/** Everything observable about a stream that must not change: state, position, last output (via snapshot). */
function fingerprint(stream: Stream): { state: number[]; position: number; snapshot: number[] } {
  return { state: stateBits(stream), position: stream.position, snapshot: Array.from(stream.snapshot()) };
}

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to throw');
}

function expectError<T extends Error>(fn: () => unknown, type: new (...args: any[]) => T, ...patterns: RegExp[]): T {
  const error = catchError(fn);
  expect(error).toBeInstanceOf(type);
  expect(error).toBeInstanceOf(SeqcastError);
  for (const pattern of patterns) expect(error.message).toMatch(pattern);
  return error as T;
}

const CELLS: CellKind[] = ['lstm', 'gru', 'rnn'];

// ── snapshot and restore ──

describe('snapshot and restore', () => {
  describe.each(CELLS)('%s', (cell) => {
    it.each([1, 3, 37])('2 layers, hidden %i: restoring a mid-sequence snapshot continues bit-identically, in a new stream and in the same stream', async (H) => {
      const X = 3;
      const model = await createModel({ cell, inputSize: X, hiddenSize: H, layers: 2, seed: H });
      const a = model.openStream();
      for (let t = 0; t < 5; t++) a.step(frame(t, X));
      const snap = a.snapshot();
      const stateAtSnap = stateBits(a);
      const forecastAtSnap = a.forecast(3).map(bits);
      const continuation = Array.from({ length: 6 }, (_, i) => a.step(frame(5 + i, X)));
      const finalState = stateBits(a);
      expect(a.position).toBe(11);

      // a new stream of the same model
      const b = model.openStream();
      b.restore(snap);
      expect(b.position).toBe(5);
      expect(stateBits(b)).toEqual(stateAtSnap);
      expect(b.forecast(3).map(bits)).toEqual(forecastAtSnap); // the last output came along
      continuation.forEach((expected, i) => expectBitIdentical(b.step(frame(5 + i, X)), expected, `new stream, step ${5 + i}`));
      expect(stateBits(b)).toEqual(finalState);

      // the same stream, after it has moved on
      a.restore(snap);
      expect(a.position).toBe(5);
      expect(stateBits(a)).toEqual(stateAtSnap);
      continuation.forEach((expected, i) => expectBitIdentical(a.step(frame(5 + i, X)), expected, `same stream, step ${5 + i}`));
      expect(stateBits(a)).toEqual(finalState);

      // a stream of another model instance with the same weights
      const twin = await createModel({ cell, inputSize: X, hiddenSize: H, layers: 2, seed: H });
      const c = twin.openStream();
      c.restore(snap);
      continuation.forEach((expected, i) => expectBitIdentical(c.step(frame(5 + i, X)), expected, `other instance, step ${5 + i}`));
    });
  });

  it('a snapshot is a copy: stepping on afterwards does not change it', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 4, seed: 1 });
    const s = model.openStream();
    s.step([1, 2]);
    const snap = s.snapshot();
    const copy = Uint8Array.from(snap);
    s.step([3, 4]);
    s.step([5, 6]);
    expect(Array.from(snap)).toEqual(Array.from(copy));
  });

  it('a snapshot of a stream never stepped restores to position 0 with no last output', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 1 });
    const fresh = model.openStream({ h0: [0.5, -0.25, 0.125] });
    const snap = fresh.snapshot();
    const s = model.openStream();
    s.step([1, 1]);
    s.restore(snap);
    expect(s.position).toBe(0);
    expect(Array.from(s.state().h)).toEqual([0.5, -0.25, 0.125]);
    expectError(() => s.forecast(2), StateError, /not been stepped/);
  });

  it('a snapshot can be restored from a Buffer at an unaligned offset of a larger allocation', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 5, seed: 2 });
    const a = model.openStream();
    a.step([1, -1]);
    const snap = a.snapshot();
    const big = Buffer.alloc(snap.byteLength + 7);
    big.set(snap, 3);
    const b = model.openStream();
    b.restore(big.subarray(3, 3 + snap.byteLength));
    expectBitIdentical(b.step([0.5, 0.5]), a.step([0.5, 0.5]), 'after restore from an offset view');
  });

  it('a token model\'s snapshot carries its logits and state', async () => {
    const model = await createModel({ cell: 'gru', vocabSize: 6, embedSize: 3, hiddenSize: 5, seed: 8 });
    const a = model.openStream();
    for (const token of [1, 4, 2]) a.step(token);
    const snap = a.snapshot();
    const b = model.openStream();
    b.restore(snap);
    expect(b.forecast(4).map(bits)).toEqual(a.forecast(4).map(bits));
    for (const token of [5, 0, 3]) expectBitIdentical(b.step(token), a.step(token), `token ${token}`);
  });
});

describe('restore rejects a bad snapshot with InputError and leaves the stream untouched', () => {
  async function setup() {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 4, layers: 2, seed: 3 });
    const donor = model.openStream();
    for (let t = 0; t < 3; t++) donor.step(frame(t, 2));
    const snap = donor.snapshot();
    const target = model.openStream({ name: 'target' });
    const twin = model.openStream();
    for (let t = 0; t < 5; t++) {
      target.step(frame(t, 2, 9));
      twin.step(frame(t, 2, 9));
    }
    return { model, snap, target, twin };
  }

  function corrupt(snap: Uint8Array, change: (view: DataView) => void): Uint8Array {
    const copy = Uint8Array.from(snap);
    change(new DataView(copy.buffer));
    return copy;
  }

  const HEADER = 40;
  const cases: [string, (snap: Uint8Array) => Uint8Array, RegExp][] = [
    ['wrong magic', (s) => corrupt(s, (v) => v.setUint32(0, 0x12345678, true)), /bad magic/],
    ['all zeros', (s) => new Uint8Array(s.byteLength), /bad magic/],
    ['wrong version', (s) => corrupt(s, (v) => v.setUint32(4, 2, true)), /version 2 is not supported/],
    ['wrong cell code', (s) => corrupt(s, (v) => v.setUint32(8, 2, true)), /cell 2/],
    ['truncated by one float', (s) => s.subarray(0, s.byteLength - 4), /bytes; its header implies/],
    ['truncated by one byte', (s) => s.subarray(0, s.byteLength - 1), /bytes; its header implies/],
    ['truncated inside the header', (s) => s.subarray(0, 20), /20 bytes, shorter than its 40-byte header/],
    ['empty', () => new Uint8Array(0), /0 bytes/],
    ['with trailing bytes', (s) => Uint8Array.from([...s, 0, 0, 0, 0]), /its header implies/],
    ['a wrong state length', (s) => corrupt(s, (v) => v.setUint32(20, 8, true)), /state/],
    ['NaN inside the state', (s) => corrupt(s, (v) => v.setFloat32(s.byteLength - 8, NaN, true)), /is NaN; state must be finite/],
    ['Infinity inside the state', (s) => corrupt(s, (v) => v.setFloat32(s.byteLength - 4, -Infinity, true)), /is -Infinity/],
    ['NaN inside the last output', (s) => corrupt(s, (v) => v.setFloat32(HEADER, NaN, true)), /value 0 is NaN/],
    ['a negative position', (s) => corrupt(s, (v) => v.setFloat64(32, -1, true)), /position -1/],
    ['a fractional position', (s) => corrupt(s, (v) => v.setFloat64(32, 2.5, true)), /position 2\.5/],
    ['a NaN position', (s) => corrupt(s, (v) => v.setFloat64(32, NaN, true)), /position NaN/],
  ];

  it.each(cases)('%s', async (_, make, pattern) => {
    const { snap, target, twin } = await setup();
    const before = fingerprint(target);
    const lastRow = bits(target.forecast(1)[0]);
    expectError(() => target.restore(make(snap)), InputError, pattern);
    expect(fingerprint(target)).toEqual(before);
    expect(bits(target.forecast(1)[0])).toEqual(lastRow);
    expectBitIdentical(target.step([0.25, -0.5]), twin.step([0.25, -0.5]), 'next step');
  });

  it.each([
    ['another hidden size', { cell: 'lstm', inputSize: 2, hiddenSize: 5, layers: 2 }, /hidden 4/],
    ['another cell', { cell: 'gru', inputSize: 2, hiddenSize: 4, layers: 2 }, /this model is gru/],
    ['another layer count', { cell: 'lstm', inputSize: 2, hiddenSize: 4, layers: 1 }, /2 layers/],
    ['another output size', { cell: 'lstm', inputSize: 2, hiddenSize: 4, layers: 2, outputSize: 3 }, /shape hash .*head 3/],
  ] as [string, ModelSpec, RegExp][])('a snapshot of a model with %s', async (_, spec, pattern) => {
    const { snap } = await setup();
    const other = await createModel({ ...spec, seed: 3 });
    const s = other.openStream();
    const twin = other.openStream();
    s.step([1, 2]);
    twin.step([1, 2]);
    const before = fingerprint(s);
    expectError(() => s.restore(snap), InputError, pattern);
    expect(fingerprint(s)).toEqual(before);
    expectBitIdentical(s.step([0.5, 0.5]), twin.step([0.5, 0.5]), 'next step');
  });
});

// ── forecast ──

describe('forecast', () => {
  it('leaves the live state, position and next output bit-identical to a stream that never forecast', async () => {
    for (const cell of CELLS) {
      const model = await createModel({ cell, inputSize: 3, hiddenSize: 9, layers: 2, seed: 4 });
      const a = model.openStream();
      const twin = model.openStream();
      for (let t = 0; t < 4; t++) expectBitIdentical(a.step(frame(t, 3)), twin.step(frame(t, 3)), `${cell} warm-up ${t}`);
      const before = fingerprint(a);
      const rows = a.forecast(8);
      expect(rows).toHaveLength(8);
      expect(fingerprint(a)).toEqual(before);
      a.forecast(3); // twice in a row gives nothing away either
      for (let t = 4; t < 7; t++) expectBitIdentical(a.step(frame(t, 3)), twin.step(frame(t, 3)), `${cell} step ${t} after forecast`);
    }
  });

  it('row 0 is the last step\'s output and each later row is what stepping a copy with the previous row gives', async () => {
    for (const cell of CELLS) {
      const model = await createModel({ cell, inputSize: 3, hiddenSize: 7, layers: 2, seed: 6 });
      const a = model.openStream();
      let last: Float32Array = new Float32Array();
      for (let t = 0; t < 3; t++) last = a.step(frame(t, 3));
      const rows = a.forecast(5);
      expectBitIdentical(rows[0], last, `${cell} row 0`);
      const copy = model.openStream();
      copy.restore(a.snapshot());
      for (let i = 1; i < rows.length; i++) expectBitIdentical(rows[i], copy.step(rows[i - 1]), `${cell} row ${i}`);
    }
  });

  it('forecast(1) is just the last output', async () => {
    const model = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3, seed: 1 });
    const s = model.openStream();
    const out = s.step([1, 2]);
    const rows = s.forecast(1);
    expect(rows).toHaveLength(1);
    expectBitIdentical(rows[0], out, 'row 0');
    rows[0][0] = 999; // the rows are copies
    expectBitIdentical(s.forecast(1)[0], out, 'row 0 again');
  });

  it('a token model feeds back the most likely token', async () => {
    const model = await createModel({ cell: 'lstm', vocabSize: 7, embedSize: 4, hiddenSize: 6, seed: 12 });
    const a = model.openStream();
    let last: Float32Array = new Float32Array();
    for (const token of [3, 1, 6]) last = a.step(token);
    const before = fingerprint(a);
    const rows = a.forecast(6);
    expect(fingerprint(a)).toEqual(before);
    expectBitIdentical(rows[0], last, 'row 0');
    const copy = model.openStream();
    copy.restore(a.snapshot());
    for (let i = 1; i < rows.length; i++) {
      const token = argmax(rows[i - 1]);
      expect(Number.isInteger(token) && token >= 0 && token < 7).toBe(true);
      expectBitIdentical(rows[i], copy.step(token), `row ${i} (fed token ${token})`);
    }
  });

  it('with a normalizer, rows are in original units and feeding a row back reproduces the next row', async () => {
    const metadata = { normalizer: { mean: [10, 20], std: [2, 4] } };
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 5, seed: 3, metadata });
    const a = model.openStream();
    let last: Float32Array = new Float32Array();
    for (let t = 0; t < 3; t++) last = a.step([10 + frame(t, 2)[0], 20 + frame(t, 2)[1]]);
    const rows = a.forecast(4);
    expectBitIdentical(rows[0], last, 'row 0');
    const copy = model.openStream();
    copy.restore(a.snapshot());
    // x → (x − mean)/std → … → y·std + mean: one float32 round trip per row, so close rather than bit-identical
    for (let i = 1; i < rows.length; i++) expectClose(rows[i], copy.step(rows[i - 1]), { abs: 1e-5, rel: 1e-6 }, `row ${i}`);
  });

  it('forecasting one stream does not disturb another stream of the same model', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 4, seed: 5 });
    const a = model.openStream();
    const b = model.openStream();
    a.step([1, 0]);
    b.step([0, 1]);
    const bBefore = fingerprint(b);
    const aRows = a.forecast(4).map(bits);
    const bRows = b.forecast(4).map(bits);
    expect(fingerprint(b)).toEqual(bBefore);
    expect(a.forecast(4).map(bits)).toEqual(aRows);
    expect(b.forecast(4).map(bits)).toEqual(bRows);
  });

  it('throws StateError when the output size differs from the input size', async () => {
    const headed = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 1 });
    const s = headed.openStream({ name: 'pump-7' });
    s.step([1, 2, 3]);
    const before = fingerprint(s);
    expectError(() => s.forecast(3), StateError, /outputs 2 values for 3 inputs/);
    expect(fingerprint(s)).toEqual(before);
    const headless = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 4, outputSize: 0, seed: 1 });
    const t = headless.openStream();
    t.step([1, 2, 3]);
    expectError(() => t.forecast(2), StateError, /outputs 4 values for 3 inputs/);
  });

  it('throws StateError before the first step and after reset', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    const s = model.openStream({ name: 'pump-7' });
    expectError(() => s.forecast(2), StateError, /stream "pump-7" has not been stepped yet/);
    s.step([1, 1]);
    s.reset();
    expectError(() => s.forecast(2), StateError, /has not been stepped yet/);
  });

  it.each([0, -1, 1.5, NaN, Infinity])('throws InputError for the horizon %s', async (k) => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    const s = model.openStream();
    s.step([1, 1]);
    expectError(() => s.forecast(k), InputError, /forecast horizon must be a positive integer/);
  });
});

// ── bad inputs ──

describe('a bad input throws InputError naming the stream and the problem, and leaves the state untouched', () => {
  const frameCases: [string, unknown, RegExp][] = [
    ['a frame that is too short', [1, 2], /has 2 values, model expects 3/],
    ['a frame that is too long', [1, 2, 3, 4], /has 4 values, model expects 3/],
    ['an empty frame', [], /has 0 values, model expects 3/],
    ['a NaN value', [1, NaN, 3], /value 1 is NaN/],
    ['an Infinity value', [1, 2, Infinity], /value 2 is Infinity/],
    ['a -Infinity value', [-Infinity, 2, 3], /value 0 is -Infinity/],
    ['a string value', [1, '2', 3], /value 1 is "2"/],
    ['an undefined value', [1, undefined, 3], /value 1 is undefined/],
    ['a null value', [null, 2, 3], /value 0 is null/],
    ['a value beyond float32 range', [1, 1e39, 3], /value 1 is 1e\+39/],
    ['a NaN in a Float32Array', Float32Array.from([1, NaN, 3]), /value 1 is NaN/],
    ['a bare number', 5, /must be a frame of 3 numbers, got 5/],
    ['a string', 'abc', /must be a frame of 3 numbers, got "abc"/],
    ['null', null, /must be a frame of 3 numbers, got null/],
    ['undefined', undefined, /must be a frame of 3 numbers, got undefined/],
  ];

  it.each(frameCases)('frame model: %s', async (_, input, pattern) => {
    const model = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 5, layers: 2, seed: 1 });
    const s = model.openStream({ name: 'pump-7' });
    const twin = model.openStream();
    for (let t = 0; t < 2; t++) expectBitIdentical(s.step(frame(t, 3)), twin.step(frame(t, 3)), `warm-up ${t}`);
    const before = fingerprint(s);
    const error = expectError(() => s.step(input as StepInput), InputError, /stream "pump-7"/, pattern);
    expect(error.code).toBe('BAD_INPUT');
    expect(fingerprint(s)).toEqual(before);
    expectBitIdentical(s.step(frame(2, 3)), twin.step(frame(2, 3)), 'next step');
  });

  it('a frame model with a normalizer refuses a value whose normalized form overflows float32', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 1, metadata: { normalizer: { mean: [0, 0], std: [1e-30, 1] } } });
    const s = model.openStream({ name: 'pump-7' });
    const twin = model.openStream();
    s.step([1, 1]); // 1e30 once normalized: large but a float32
    twin.step([1, 1]);
    const before = fingerprint(s);
    expectError(() => s.step([1e10, 0]), InputError, /stream "pump-7"/, /value 0 is 10000000000/, /normaliz/); // 1e40 once normalized
    expect(fingerprint(s)).toEqual(before);
    expectBitIdentical(s.step([2, 2]), twin.step([2, 2]), 'next step');
  });

  const tokenCases: [string, unknown, RegExp][] = [
    ['a non-integer token', 2.5, /must be a token id \(an integer\), got 2\.5/],
    ['a NaN token', NaN, /must be a token id \(an integer\), got NaN/],
    ['an Infinity token', Infinity, /must be a token id \(an integer\), got Infinity/],
    ['a token string', '3', /must be a token id \(an integer\), got "3"/],
    ['a frame given to a token model', [1, 2], /must be a token id \(an integer\), got an array of 2/],
    ['a negative token', -1, /token -1 .*outside the vocabulary \(0\.\.5\)/],
    ['a token equal to the vocabulary size', 6, /token 6 .*outside the vocabulary \(0\.\.5\)/],
    ['a huge token', 2 ** 40, /outside the vocabulary/],
  ];

  it.each(tokenCases)('token model: %s', async (_, input, pattern) => {
    const model = await createModel({ cell: 'lstm', vocabSize: 6, embedSize: 3, hiddenSize: 4, seed: 2 });
    const s = model.openStream({ name: 'pump-7' });
    const twin = model.openStream();
    expectBitIdentical(s.step(2), twin.step(2), 'warm-up');
    const before = fingerprint(s);
    expectError(() => s.step(input as StepInput), InputError, /stream "pump-7"/, pattern);
    expect(fingerprint(s)).toEqual(before);
    expectBitIdentical(s.step(5), twin.step(5), 'next step');
  });

  it('streams without a name are named by number', async () => {
    const model = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 2, seed: 1 });
    const s = model.openStream();
    expectError(() => s.step([1]), InputError, /stream \d+/);
  });

  it('a typed array, a plain array and an array-like object are all valid frames', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 4, seed: 1 });
    const outs = [Float32Array.from([0.5, -1, 2]), Float64Array.from([0.5, -1, 2]), [0.5, -1, 2], { length: 3, 0: 0.5, 1: -1, 2: 2 }].map((input) =>
      model.openStream().step(input),
    );
    for (const out of outs.slice(1)) expectBitIdentical(out, outs[0], 'same frame, other container');
  });
});

// ── stepBatch ──

describe('stepBatch', () => {
  async function batchSetup(batchCapacity = 64, count = 4) {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 5, seed: 7 }, { batchCapacity });
    const streams = Array.from({ length: count }, (_, k) => model.openStream({ name: `s${k}` }));
    const twins = Array.from({ length: count }, () => model.openStream());
    streams.forEach((s, k) => {
      for (let t = 0; t <= k % 3; t++) {
        s.step(frame(t, 2, k));
        twins[k].step(frame(t, 2, k));
      }
    });
    return { model, streams, twins };
  }

  function expectNoneMoved(streams: Stream[], twins: Stream[], before: ReturnType<typeof fingerprint>[]): void {
    streams.forEach((s, k) => {
      expect(fingerprint(s), `stream ${k} unchanged`).toEqual(before[k]);
      expectBitIdentical(s.step([0.1 * k, -0.2]), twins[k].step([0.1 * k, -0.2]), `stream ${k} next step`);
    });
  }

  it('steps every stream exactly as stepping it alone would', async () => {
    const { model, streams, twins } = await batchSetup();
    for (let t = 0; t < 3; t++) {
      const inputs = streams.map((_, k) => frame(10 + t, 2, k));
      const outs = model.stepBatch(streams, inputs);
      outs.forEach((out, k) => expectBitIdentical(out, twins[k].step(inputs[k]), `t ${t} stream ${k}`));
    }
    streams.forEach((s, k) => expect(s.position).toBe(twins[k].position));
  });

  it('an empty batch returns no outputs', async () => {
    const { model } = await batchSetup();
    expect(model.stepBatch([], [])).toEqual([]);
  });

  it('mismatched lengths throw InputError and move no stream', async () => {
    const { model, streams, twins } = await batchSetup();
    const before = streams.map(fingerprint);
    expectError(() => model.stepBatch(streams, streams.slice(1).map(() => [0, 0])), InputError, /4 streams but 3 inputs/);
    expectNoneMoved(streams, twins, before);
  });

  it('a stream listed twice throws InputError and moves no stream', async () => {
    const { model, streams, twins } = await batchSetup();
    const before = streams.map(fingerprint);
    expectError(() => model.stepBatch([...streams, streams[1]], [...streams, streams[1]].map(() => [0, 0])), InputError, /entry 4: stream "s1" appears twice/);
    expectNoneMoved(streams, twins, before);
  });

  it('a stream of another model throws StateError and moves no stream', async () => {
    const { model, streams, twins } = await batchSetup();
    const other = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 5, seed: 7 });
    const stranger = other.openStream({ name: 'stranger' });
    const strangerBefore = fingerprint(stranger);
    const before = streams.map(fingerprint);
    const batch = [streams[0], streams[1], stranger, streams[2]];
    expectError(() => model.stepBatch(batch, batch.map(() => [0, 0])), StateError, /entry 2: stream "stranger" belongs to another model/);
    expectNoneMoved(streams, twins, before);
    expect(fingerprint(stranger)).toEqual(strangerBefore);
  });

  it('a closed stream throws StateError and moves no stream', async () => {
    const { model, streams, twins } = await batchSetup();
    const closed = model.openStream({ name: 'gone' });
    closed.close();
    const before = streams.map(fingerprint);
    const batch = [...streams, closed];
    expectError(() => model.stepBatch(batch, batch.map(() => [0, 0])), StateError, /stream "gone" is closed/);
    expectNoneMoved(streams, twins, before);
  });

  it.each([
    ['a NaN', [0, NaN], /value 1 is NaN/],
    ['a short frame', [0], /has 1 values/],
    ['a string', 'x', /must be a frame/],
    ['a float32 overflow', [1e39, 0], /value 0 is 1e\+39/],
  ])('one bad frame (%s) among good ones throws InputError naming its stream and moves no stream', async (_, bad, pattern) => {
    const { model, streams, twins } = await batchSetup();
    const before = streams.map(fingerprint);
    const inputs: StepInput[] = streams.map((_, k) => frame(k, 2));
    inputs[2] = bad as StepInput;
    expectError(() => model.stepBatch(streams, inputs), InputError, /stream "s2"/, pattern);
    expectNoneMoved(streams, twins, before);
  });

  it('a bad frame in the last chunk of a batch larger than batchCapacity moves no stream, not even the earlier chunks', async () => {
    const { model, streams, twins } = await batchSetup(4, 11);
    const before = streams.map(fingerprint);
    for (const bad of [[NaN, 0], [0, 1e39]]) {
      const inputs: StepInput[] = streams.map((_, k) => frame(k, 2));
      inputs[10] = bad;
      expectError(() => model.stepBatch(streams, inputs), InputError, /stream "s10"/);
    }
    expectNoneMoved(streams, twins, before);
  });

  it('a batch of 11 streams with batchCapacity 4 gives the same outputs as stepping each stream alone', async () => {
    for (const cell of CELLS) {
      const model = await createModel({ cell, inputSize: 3, hiddenSize: 6, layers: 2, seed: 10 }, { batchCapacity: 4 });
      const streams = Array.from({ length: 11 }, () => model.openStream());
      const alone = Array.from({ length: 11 }, () => model.openStream());
      // streams at different positions
      streams.forEach((s, k) => {
        for (let t = 0; t < k % 4; t++) {
          s.step(frame(t, 3, k));
          alone[k].step(frame(t, 3, k));
        }
      });
      for (let t = 0; t < 3; t++) {
        const inputs = streams.map((_, k) => frame(20 + t, 3, k));
        const outs = model.stepBatch(streams, inputs);
        expect(outs).toHaveLength(11);
        outs.forEach((out, k) => expectBitIdentical(out, alone[k].step(inputs[k]), `${cell} t ${t} stream ${k}`));
      }
      streams.forEach((s, k) => expect(stateBits(s)).toEqual(stateBits(alone[k])));
    }
  });

  it('a token model batches token ids the same way', async () => {
    const model = await createModel({ cell: 'gru', vocabSize: 9, embedSize: 4, hiddenSize: 5, seed: 3 }, { batchCapacity: 2 });
    const streams = Array.from({ length: 5 }, () => model.openStream());
    const alone = Array.from({ length: 5 }, () => model.openStream());
    for (let t = 0; t < 3; t++) {
      const tokens = streams.map((_, k) => (3 * k + t) % 9);
      const outs = model.stepBatch(streams, tokens);
      outs.forEach((out, k) => expectBitIdentical(out, alone[k].step(tokens[k]), `t ${t} stream ${k}`));
    }
    const before = streams.map(fingerprint);
    expectError(() => model.stepBatch(streams, [0, 1, 2, 3, 9]), InputError, /token 9/);
    streams.forEach((s, k) => expect(fingerprint(s)).toEqual(before[k]));
  });
});

// ── sizes ──

describe('hidden sizes 1, 3, 37 and 1000', () => {
  const sizes: [number, number][] = [
    [1, 1],
    [3, 3],
    [37, 5],
    [1000, 8],
  ];
  describe.each(CELLS)('%s', (cell) => {
    it.each(sizes)('hidden %i (input %i): outputs are finite and batched equals single, bit for bit', async (H, X) => {
      const layers = H === 1000 ? 1 : 2;
      const model = await createModel({ cell, inputSize: X, hiddenSize: H, layers, seed: H }, { batchCapacity: 3 });
      expect(model.outputSize).toBe(X);
      const single = [model.openStream(), model.openStream(), model.openStream(), model.openStream()];
      const batched = [model.openStream(), model.openStream(), model.openStream(), model.openStream()];
      const T = H === 1000 ? 2 : 4;
      for (let t = 0; t < T; t++) {
        const inputs = single.map((_, k) => frame(t, X, k));
        const expected = single.map((s, k) => s.step(inputs[k]));
        const outs = model.stepBatch(batched, inputs);
        expected.forEach((e, k) => {
          expect(e).toHaveLength(X);
          expect(e.every(Number.isFinite)).toBe(true);
          expectBitIdentical(outs[k], e, `t ${t} stream ${k}`);
        });
      }
      const state = single[0].state();
      expect(state.h).toHaveLength(layers * H);
      expect(state.c?.length).toBe(cell === 'lstm' ? layers * H : undefined);
      expect(Array.from(state.h).some((v) => v !== 0)).toBe(true);
      batched.forEach((s, k) => expect(stateBits(s)).toEqual(stateBits(single[k])));
    });
  });
});

// ── normalizer ──

describe('normalizer metadata', () => {
  const mean = [10, 20];
  const std = [2, 4];
  const raw = (x: number[]) => x.map((v, i) => (v - mean[i]) / std[i]);

  it('normalizes inputs and denormalizes outputs when the output size equals the input size', async () => {
    for (const cell of CELLS) {
      const normed = await createModel({ cell, inputSize: 2, hiddenSize: 6, seed: 21, metadata: { normalizer: { mean, std } } });
      const plain = await createModel({ cell, inputSize: 2, hiddenSize: 6, seed: 21 });
      expect(normed.denormalizesOutput).toBe(true);
      const a = normed.openStream();
      const b = plain.openStream();
      for (let t = 0; t < 5; t++) {
        const x = [10 + 3 * Math.sin(t), 20 - 8 * Math.cos(t)];
        const out = a.step(x);
        const kernelOut = b.step(raw(x));
        const expected = Float32Array.from(kernelOut, (v, i) => v * std[i] + mean[i]);
        expectBitIdentical(out, expected, `${cell} step ${t}`);
        expect(stateBits(a)).toEqual(stateBits(b));
      }
    }
  });

  it('normalizes inputs but leaves outputs alone when the output size differs', async () => {
    const normed = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 6, outputSize: 3, seed: 21, metadata: { normalizer: { mean, std } } });
    const plain = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 6, outputSize: 3, seed: 21 });
    expect(normed.denormalizesOutput).toBe(false);
    const a = normed.openStream();
    const b = plain.openStream();
    for (let t = 0; t < 4; t++) {
      const x = [12 - t, 16 + 2 * t];
      expectBitIdentical(a.step(x), b.step(raw(x)), `step ${t}`);
    }
  });

  it('applies in stepBatch exactly as in step', async () => {
    const normed = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, seed: 2, metadata: { normalizer: { mean, std } } });
    const single = normed.openStream();
    const batched = [normed.openStream(), normed.openStream()];
    for (let t = 0; t < 3; t++) {
      const x = [10 + t, 20 - t];
      const outs = normed.stepBatch(batched, [x, x]);
      const expected = single.step(x);
      for (const out of outs) expectBitIdentical(out, expected, `step ${t}`);
    }
  });

  it('a token model cannot carry a normalizer', async () => {
    await expect(createModel({ cell: 'lstm', vocabSize: 4, hiddenSize: 3, metadata: { normalizer: { mean: [0, 0, 0], std: [1, 1, 1] } } })).rejects.toThrow(ModelFormatError);
  });

  it('createModel refuses a normalizer of the wrong length or with a non-positive std', async () => {
    await expect(createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, metadata: { normalizer: { mean: [0], std: [1, 1] } } })).rejects.toThrow(/normalizer\.mean must hold 2/);
    await expect(createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, metadata: { normalizer: { mean: [0, 0], std: [1, 0] } } })).rejects.toThrow(/normalizer\.std\[1\] is 0/);
  });
});

// ── createModel ──

describe('createModel', () => {
  const spec: ModelSpec = { cell: 'lstm', inputSize: 3, hiddenSize: 16, layers: 2, seed: 42 };

  it('is deterministic for a seed: two models with the same seed have bit-identical parameters', async () => {
    const a = await createModel(spec);
    const b = await createModel(spec);
    for (const name of a.parameterNames) expectBitIdentical(b.getParameter(name), a.getParameter(name), name);
  });

  it('uses seed 0 when none is given', async () => {
    const a = await createModel({ ...spec, seed: undefined });
    const b = await createModel({ ...spec, seed: 0 });
    for (const name of a.parameterNames) expectBitIdentical(b.getParameter(name), a.getParameter(name), name);
  });

  it('gives every tensor different values for a different seed', async () => {
    const a = await createModel(spec);
    const b = await createModel({ ...spec, seed: 43 });
    for (const name of a.parameterNames) {
      const x = a.getParameter(name);
      const y = b.getParameter(name);
      const same = x.filter((v, i) => v === y[i]).length;
      expect(same, `${name}: values equal under both seeds`).toBeLessThan(x.length / 10);
    }
  });

  it.each([
    ['lstm', 1],
    ['gru', 3],
    ['rnn', 37],
    ['lstm', 100],
  ] as [CellKind, number][])('%s hidden %i: every recurrent and head value lies within ±1/√H and fills that range', async (cell, H) => {
    const model = await createModel({ cell, inputSize: 4, hiddenSize: H, layers: 2, seed: 5 });
    const bound = 1 / Math.sqrt(H);
    for (const name of model.parameterNames) {
      const values = Array.from(model.getParameter(name));
      const max = Math.max(...values.map(Math.abs));
      expect(max, `${name} max |value|`).toBeLessThanOrEqual(bound);
      if (values.length >= 16) {
        expect(max, `${name} spreads toward the bound`).toBeGreaterThan(0.75 * bound);
        expect(values.some((v) => v < 0) && values.some((v) => v > 0), `${name} has both signs`).toBe(true);
      }
    }
  });

  it('initialises the embedding as roughly N(0, 1) and everything else within ±1/√H', async () => {
    const model = await createModel({ cell: 'gru', vocabSize: 100, embedSize: 64, hiddenSize: 25, seed: 8 });
    const embed = Array.from(model.getParameter('embed.weight'));
    expect(embed).toHaveLength(6400);
    const m = embed.reduce((a, v) => a + v, 0) / embed.length;
    const sd = Math.sqrt(embed.reduce((a, v) => a + (v - m) ** 2, 0) / embed.length);
    expect(Math.abs(m)).toBeLessThan(0.05);
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
    const beyond2 = embed.filter((v) => Math.abs(v) > 2).length / embed.length; // ≈ 4.6 % for a normal
    expect(beyond2).toBeGreaterThan(0.03);
    expect(beyond2).toBeLessThan(0.065);
    expect(embed.every(Number.isFinite)).toBe(true);
    for (const name of model.parameterNames.filter((n) => n !== 'embed.weight')) {
      expect(Math.max(...Array.from(model.getParameter(name), Math.abs)), name).toBeLessThanOrEqual(1 / Math.sqrt(25));
    }
  });

  it('defaults: one layer, a head of inputSize (frames) or vocabSize (tokens), embedding width = hidden', async () => {
    const frames = await createModel({ cell: 'rnn', inputSize: 3, hiddenSize: 4 });
    expect(frames.arch).toEqual({ kind: 'recurrent', cell: 'rnn', layers: 1, inputSize: 3, vocabSize: 0, hiddenSize: 4, headSize: 3, naming: 'module' });
    const tokens = await createModel({ cell: 'gru', vocabSize: 7, hiddenSize: 5 });
    expect(tokens.arch).toEqual({ kind: 'recurrent', cell: 'gru', layers: 1, inputSize: 5, vocabSize: 7, hiddenSize: 5, headSize: 7, naming: 'module' });
    expect(tokens.isTokenModel).toBe(true);
    const headless = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 0 });
    expect(headless.outputSize).toBe(4);
    expect(headless.parameterNames).not.toContain('head.weight');
    const s = headless.openStream();
    expectBitIdentical(s.step([1, 2, 3]), s.state().h, 'headless output is h');
  });

  it.each([
    ['no inputSize or vocabSize', { cell: 'lstm', hiddenSize: 4 }, /needs inputSize/],
    ['hiddenSize 0', { cell: 'lstm', inputSize: 2, hiddenSize: 0 }, /hiddenSize must be a positive integer/],
    ['fractional layers', { cell: 'gru', inputSize: 2, hiddenSize: 3, layers: 1.5 }, /layers must be a positive integer/],
    ['an unknown cell', { cell: 'transformer', inputSize: 2, hiddenSize: 3 }, /cell "transformer"/],
    ['a negative outputSize', { cell: 'rnn', inputSize: 2, hiddenSize: 3, outputSize: -1 }, /headSize/],
    ['a vocab of the wrong length', { cell: 'rnn', vocabSize: 4, hiddenSize: 3, metadata: { vocab: 'abc' } }, /vocab has 3 characters/],
  ] as [string, ModelSpec, RegExp][])('rejects a spec with %s (ModelFormatError)', async (_, bad, pattern) => {
    const error = await createModel(bad).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toMatch(pattern);
  });

  it.each([0, -1, 2.5])('rejects batchCapacity %s with InputError', async (batchCapacity) => {
    await expect(createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3 }, { batchCapacity })).rejects.toThrow(InputError);
  });
});

// ── closing ──

describe('closing', () => {
  it('every use of a closed stream throws StateError naming it', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    const s = model.openStream({ name: 'pump-7' });
    s.step([1, 2]);
    const snap = s.snapshot();
    s.close();
    expect(s.isClosed).toBe(true);
    const uses: [string, () => unknown][] = [
      ['step', () => s.step([1, 2])],
      ['forecast', () => s.forecast(2)],
      ['snapshot', () => s.snapshot()],
      ['restore', () => s.restore(snap)],
      ['state', () => s.state()],
      ['setState', () => s.setState([0, 0, 0])],
      ['reset', () => s.reset()],
      ['stepBatch', () => model.stepBatch([s], [[1, 2]])],
    ];
    for (const [what, use] of uses) {
      const error = expectError(use, StateError, /stream "pump-7" is closed/);
      expect(error.code, what).toBe('BAD_STATE');
    }
    expect(() => s.close()).not.toThrow(); // closing twice is harmless
  });

  it('closing a stream frees it: the model counts it out, and a stream opened after starts from zero', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, seed: 1 });
    const a = model.openStream();
    const b = model.openStream();
    for (let t = 0; t < 3; t++) a.step(frame(t, 2));
    expect(model.openStreams).toBe(2);
    a.close();
    expect(model.openStreams).toBe(1);
    const c = model.openStream();
    expect(Array.from(c.state().h)).toEqual([0, 0, 0, 0]);
    expect(c.position).toBe(0);
    const fresh = model.openStream();
    expectBitIdentical(c.step([1, 1]), fresh.step([1, 1]), 'reopened slot behaves like a new stream');
    expectError(() => a.step([1, 1]), StateError, /is closed/);
    expect(Array.from(b.state().h)).toEqual([0, 0, 0, 0]);
  });

  it('model.close() closes all its streams and refuses new work, leaving other models alone', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    const other = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 1 });
    const streams = [model.openStream({ name: 'a' }), model.openStream({ name: 'b' })];
    const survivor = other.openStream();
    const twin = other.openStream();
    survivor.step([1, 1]);
    twin.step([1, 1]);
    model.close();
    expect(streams.every((s) => s.isClosed)).toBe(true);
    expect(model.openStreams).toBe(0);
    expectError(() => streams[0].step([1, 1]), StateError, /stream "a" is closed/);
    expectError(() => model.openStream(), StateError, /model has been closed/);
    expectError(() => model.stepBatch([], []), StateError, /model has been closed/);
    expectBitIdentical(survivor.step([2, 2]), twin.step([2, 2]), 'a stream of another model still works');
  });
});

// ── parameters and state ──

describe('parameters', () => {
  it('setParameter replaces a tensor and the next step uses it', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 1 });
    model.setParameter('head.weight', new Float32Array(6));
    model.setParameter('head.bias', [0.25, -4]);
    expect(Array.from(model.getParameter('head.bias'))).toEqual([0.25, -4]);
    expect(Array.from(model.openStream().step([1, 2]))).toEqual([0.25, -4]);
  });

  it.each([
    ['too few values', () => new Float32Array(5), /"head\.weight" has 6 values \(shape \[2,3\]\), got 5/],
    ['too many values', () => new Float32Array(7), /has 6 values/],
    ['a NaN', () => [0, 0, 0, NaN, 0, 0], /"head\.weight" element 3 is NaN/],
    ['an Infinity', () => [0, 0, 0, 0, 0, -Infinity], /element 5 is -Infinity/],
  ])('setParameter with %s throws InputError and leaves the weights unchanged', async (_, make, pattern) => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 1 });
    const before = model.parameterNames.map((n) => bits(model.getParameter(n)));
    const twin = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 1 });
    expectError(() => model.setParameter('head.weight', make()), InputError, pattern);
    expect(model.parameterNames.map((n) => bits(model.getParameter(n)))).toEqual(before);
    expectBitIdentical(model.openStream().step([1, 2]), twin.openStream().step([1, 2]), 'outputs unchanged');
  });

  it('setParameter and getParameter refuse an unknown name, listing the real ones', async () => {
    const model = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3, seed: 1 });
    expectError(() => model.setParameter('lstm.weight_ih_l0', [1]), InputError, /no parameter "lstm\.weight_ih_l0"/, /rnn\.weight_ih_l0/);
    expectError(() => model.getParameter('nope'), InputError, /no parameter "nope"/);
  });

  it('getParameter returns a copy', async () => {
    const model = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3, seed: 1 });
    const copy = model.getParameter('head.bias');
    const before = bits(copy);
    copy.fill(100);
    expect(bits(model.getParameter('head.bias'))).toEqual(before);
  });
});

describe('initial state', () => {
  it('h0 and c0 set the starting state, and reset returns to zero', async () => {
    const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 2, layers: 2, seed: 1 });
    const s = model.openStream({ h0: [1, 2, 3, 4], c0: [-1, -2, -3, -4] });
    expect(Array.from(s.state().h)).toEqual([1, 2, 3, 4]);
    expect(Array.from(s.state().c!)).toEqual([-1, -2, -3, -4]);
    s.step([1, 1]);
    s.reset();
    expect(stateBits(s)).toEqual(new Array(8).fill(0));
    expect(s.position).toBe(0);
  });

  it('a bad h0 or c0 throws InputError and opens no stream', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 2, seed: 1 });
    expectError(() => model.openStream({ name: 'x', h0: [1, 2, 3] }), InputError, /h for stream "x" has 3 values, expected layers × hidden = 2/);
    expectError(() => model.openStream({ h0: [1, NaN] }), InputError, /value 1 is NaN/);
    expectError(() => model.openStream({ c0: [1, 2] }), InputError, /a gru has no cell state c/);
    expect(model.openStreams).toBe(0);
  });
});
