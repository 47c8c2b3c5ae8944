// The protocol's codecs: predictionJson writes exactly what JSON.stringify(predictionMessage(frame)) would; the binary frame reader reads what encodeFrames wrote.

import { describe, expect, it } from 'vitest';
import { createModel } from '../../src/index.js';
import { BINARY_HEADER_BYTES, checkFramesMessage, encodeFrames, frameRecordBytes, frameSeq, frameStreamId, frameTime, frameValues } from '../../src/protocol/binary.js';
import { predictionJson, predictionMessage } from '../../src/protocol/json.js';
import { ErrorScorer } from '../../src/stream/error-scorer.js';
import type { ScoredFrame, StreamEntry } from '../../src/stream/types.js';

describe('predictionJson', () => {
  it('is JSON.stringify(predictionMessage(frame)), for frames, forecasts, learning streams, tokens and odd numbers', async () => {
    const frames = await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 4, seed: 1 });
    const tokens = await createModel({ cell: 'gru', vocabSize: 4, hiddenSize: 4, seed: 1 });
    const entry = (name: string, model = frames): StreamEntry => ({
      name, id: 1, served: { name: 'm', model }, stream: undefined, parked: undefined, learning: undefined, learner: undefined, parkedLearner: undefined,
      lastSeq: 0, horizon: 0, learn: false, normalizer: undefined, scorer: new ErrorScorer(), owner: undefined, orphanedAt: undefined, lastActive: 0, closed: false,
    });
    const frame = (overrides: Partial<ScoredFrame>): ScoredFrame => ({
      source: { label: 'p' }, entry: entry('pump "7"\n\u2028'), seq: 12, t: 1732871400000.25, actual: Float64Array.of(1.5, -0, 1e21), receivedAt: 0, input: 0, scale: undefined,
      predicted: Float32Array.of(0.1, -3.4028234663852886e38, 1e-45), forecast: undefined, stepMicros: 38.4567, batchSize: 17, loss: undefined, learnEvent: undefined,
      error: undefined, rmse: undefined, anomaly: 0.5, ...overrides,
    } as ScoredFrame);
    const cases = [
      frame({}),
      frame({ error: 0.093, rmse: 0.151, anomaly: 0.62, forecast: [Float32Array.of(1, 2, 3), Float32Array.of(NaN, Infinity, -1)] }),
      frame({ learnEvent: 'trained', loss: 1.2345678901234567, batchSize: 1 }),
      frame({ learnEvent: 'refused', error: NaN }),
      frame({ entry: entry('chat', tokens), actual: 2, predicted: Float32Array.of(0.1, 0.7, -2, 0.3) }),
    ];
    for (const c of cases) expect(predictionJson(c)).toBe(JSON.stringify(predictionMessage(c)));
  });
});

describe('binary frames', () => {
  it('reads back each record encodeFrames wrote, in place: stream id, seq, t (NaN as none) and float32 values', () => {
    const frames = [
      { streamId: 7, seq: 0, t: 1732871400000.25, values: Float32Array.of(1.5, -0, 3.4028234663852886e38) },
      { streamId: 0xffffffff, seq: 0xfffffffe, t: undefined, values: Float32Array.of(NaN, 1e-45, -2) },
    ];
    const bytes = encodeFrames(frames);
    expect(bytes.byteLength).toBe(BINARY_HEADER_BYTES + 2 * frameRecordBytes(3));
    // a view into a larger buffer at an odd offset, as ws hands messages over
    const padded = new Uint8Array(bytes.byteLength + 3);
    padded.set(bytes, 3);
    const message = checkFramesMessage(padded.subarray(3));
    if ('code' in message) throw new Error(message.message);
    expect(message).toMatchObject({ count: 2, width: 3 });
    for (let i = 0; i < frames.length; i++) {
      expect(frameStreamId(message, i)).toBe(frames[i].streamId);
      expect(frameSeq(message, i)).toBe(frames[i].seq);
      expect(frameTime(message, i)).toBe(frames[i].t);
      expect(Array.from(frameValues(message, i))).toEqual(Array.from(frames[i].values));
    }
  });

  it('names what is wrong with a bad header or length', () => {
    const bytes = encodeFrames([{ streamId: 1, seq: 0, t: 0, values: Float32Array.of(1, 2) }]);
    expect(checkFramesMessage(bytes.subarray(0, 5))).toMatchObject({ code: 'bad_binary', message: 'binary message refused: 5 bytes, shorter than the 8-byte header' });
    expect(checkFramesMessage(bytes.subarray(0, bytes.byteLength - 1))).toMatchObject({ code: 'bad_binary', message: 'binary message refused: 31 bytes, but its header (1 frames of 2 values) implies 32' });
    const wrongKind = bytes.slice();
    wrongKind[3] = 2;
    expect(checkFramesMessage(wrongKind)).toMatchObject({ code: 'bad_binary', message: 'binary message refused: kind 2 is not a frames message (kind 1)' });
  });
});
