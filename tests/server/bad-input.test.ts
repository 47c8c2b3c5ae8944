// Every kind of bad input gets an `error` naming what was wrong; nothing is stepped, and the connection and every other stream go on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model, type ModelSpec } from '../../src/index.js';
import { encodeFrames } from '../../src/protocol/binary.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';
import { ManualClock } from './clock.js';

const FRAMES: ModelSpec = { cell: 'lstm', inputSize: 2, hiddenSize: 8, seed: 3 };
const TOKENS: ModelSpec = { cell: 'gru', vocabSize: 5, hiddenSize: 6, seed: 4 };

let server: SeqcastServer;
let frames: Model;
let tokens: Model;
let client: Client;
/** A second producer whose stream must never notice anything. */
let bystander: Client;
let bystanderSeq = 0;

beforeAll(async () => {
  frames = await createModel(FRAMES);
  tokens = await createModel(TOKENS);
  server = await SeqcastServer.start({ models: [{ name: 'frames', model: frames }, { name: 'tokens', model: tokens }], port: 0, webRoot: null, maxPayload: 64 * 1024 });
  client = await Client.connect(server.url);
  bystander = await Client.connect(server.url);
  await client.open('s', { normalize: 'none' });
  await client.open('tok', { model: 'tokens' });
  await bystander.open('other', { normalize: 'none' });
});

afterAll(async () => {
  await Promise.all([client.close(), bystander.close()]);
  await server.close();
  frames.close();
  tokens.close();
});

/** Library predictions of stream "s" (and of the bystander) for the frames accepted so far. */
const reference = { s: undefined as ReturnType<Model['openStream']> | undefined, other: undefined as ReturnType<Model['openStream']> | undefined };
let seq = 0;

/** Sends a good frame on "s" (and one on the bystander's stream) and checks the answers equal the library's: nothing bad was applied. */
async function stillServesCorrectly(): Promise<void> {
  reference.s ??= (await createModel(FRAMES)).openStream();
  reference.other ??= (await createModel(FRAMES)).openStream();
  const values = [seq * 0.5, -seq];
  client.send({ type: 'frame', stream: 's', seq, values });
  bystander.send({ type: 'frame', stream: 'other', seq: bystanderSeq, values });
  const answer = await client.next((m) => m.type === 'prediction' && m.stream === 's' && m.seq === seq, `prediction ${seq}`);
  const other = await bystander.next((m) => m.type === 'prediction' && m.seq === bystanderSeq, 'bystander prediction');
  expect(answer.predicted.map(Math.fround)).toEqual(Array.from(reference.s.step(values)));
  expect(other.predicted.map(Math.fround)).toEqual(Array.from(reference.other.step(values)));
  expect(bystander.errors()).toEqual([]);
  seq++;
  bystanderSeq++;
}

async function errorFor(send: () => void, what: string): Promise<Record<string, any>> {
  send();
  const error = await client.next((m) => m.type === 'error', what);
  await stillServesCorrectly();
  return error;
}

describe('bad input', () => {
  it('starts from a stream that works', async () => {
    await stillServesCorrectly();
  });

  it('non-JSON', async () => {
    expect(await errorFor(() => client.send('{"type": "frame", oops'), 'bad_json')).toMatchObject({ code: 'bad_json' });
  });

  it('JSON that is not a message', async () => {
    expect(await errorFor(() => client.send('42'), 'bad_message')).toMatchObject({ code: 'bad_message' });
  });

  it('an unknown op', async () => {
    const error = await errorFor(() => client.send({ type: 'explode', stream: 's' }), 'unknown_type');
    expect(error).toMatchObject({ code: 'unknown_type' });
    expect(error.message).toContain('"explode"');
  });

  it('a missing field: type, stream, seq, values', async () => {
    let now = seq;
    expect(await errorFor(() => client.send({ stream: 's' }), 'no type')).toMatchObject({ code: 'missing_field' });
    now = seq;
    expect(await errorFor(() => client.send({ type: 'frame', seq: now, values: [1, 2] }), 'no stream')).toMatchObject({ code: 'missing_field', seq: now });
    expect(await errorFor(() => client.send({ type: 'frame', stream: 's', values: [1, 2] }), 'no seq')).toMatchObject({ code: 'missing_field', stream: 's' });
    now = seq;
    expect(await errorFor(() => client.send({ type: 'frame', stream: 's', seq: now }), 'no values')).toMatchObject({ code: 'missing_field', stream: 's', seq: now });
  });

  it('a wrong number of values', async () => {
    const now = seq;
    const error = await errorFor(() => client.send({ type: 'frame', stream: 's', seq: now, values: [1, 2, 3] }), 'wrong_length');
    expect(error).toMatchObject({ code: 'wrong_length', stream: 's', seq: now });
    expect(error.message).toContain('has 3 values, model "frames" expects 2');
  });

  it('NaN, Infinity, strings and null among the values', async () => {
    for (const text of [`[1, "NaN"]`, `[1e999, 1]`, `[1, "2"]`, `[null, 1]`, `[1, -1e39]`]) {
      const now = seq;
      const error = await errorFor(() => client.send(`{"type":"frame","stream":"s","seq":${now},"values":${text}}`), text);
      expect(error).toMatchObject({ code: 'bad_value', stream: 's', seq: now });
    }
  });

  it('a duplicate or out-of-order seq', async () => {
    const last = seq - 1;
    expect(await errorFor(() => client.send({ type: 'frame', stream: 's', seq: last, values: [1, 2] }), 'duplicate')).toMatchObject({ code: 'bad_seq', seq: last });
    expect(await errorFor(() => client.send({ type: 'frame', stream: 's', seq: 0, values: [1, 2] }), 'out of order')).toMatchObject({ code: 'bad_seq', seq: 0 });
  });

  it('a frame for a stream not opened', async () => {
    const error = await errorFor(() => client.send({ type: 'frame', stream: 'never-opened', seq: 0, values: [1, 2] }), 'unknown_stream');
    expect(error).toMatchObject({ code: 'unknown_stream', stream: 'never-opened', seq: 0 });
    // the bystander's stream exists, but is not this connection's
    expect(await errorFor(() => client.send({ type: 'frame', stream: 'other', seq: 1000, values: [1, 2] }), 'stream_busy')).toMatchObject({ code: 'stream_busy' });
  });

  it('a token outside the vocabulary (and values for a token model)', async () => {
    for (const token of [5, -1, 1.5, '2']) {
      expect(await errorFor(() => client.send({ type: 'frame', stream: 'tok', seq: 0, token }), `token ${token}`)).toMatchObject({ code: 'bad_token', stream: 'tok', seq: 0 });
    }
    expect(await errorFor(() => client.send({ type: 'frame', stream: 'tok', seq: 0, values: [1] }), 'values')).toMatchObject({ code: 'missing_field' });
    client.send({ type: 'frame', stream: 'tok', seq: 0, token: 4 });
    const answer = await client.next((m) => m.type === 'prediction' && m.stream === 'tok');
    const logits = (await createModel(TOKENS)).openStream().step(4);
    expect(answer.predicted.map(Math.fround)).toEqual(Array.from(logits));
    expect(answer.next).toBe(logits.indexOf(Math.max(...logits)));
  });

  it('a binary message with a bad header or length', async () => {
    const good = encodeFrames([{ streamId: 1, seq: 1, t: undefined, values: Float32Array.of(1, 2) }]);
    const cases: [string, Uint8Array][] = [
      ['too short', good.subarray(0, 5)],
      ['bad magic', Uint8Array.from(good, (b, i) => (i === 0 ? 0x58 : b))],
      ['bad version', Uint8Array.from(good, (b, i) => (i === 2 ? 9 : b))],
      ['bad kind', Uint8Array.from(good, (b, i) => (i === 3 ? 2 : b))],
      ['cut short', good.subarray(0, good.length - 1)],
      ['extra bytes', Uint8Array.from([...good, 0])],
    ];
    for (const [what, bytes] of cases) {
      const error = await errorFor(() => client.sendBytes(bytes), what);
      expect(error.code, what).toBe('bad_binary');
    }
  });

  it('a binary frame with a NaN value or for an unknown stream id', async () => {
    const id = (await client.open('s')).id as number; // open again: already held, answers with the id
    const now = seq;
    expect(await errorFor(() => client.sendBytes(encodeFrames([{ streamId: id, seq: now, t: undefined, values: Float32Array.of(NaN, 1) }])), 'NaN')).toMatchObject({ code: 'bad_value', stream: 's', seq: now });
    expect(await errorFor(() => client.sendBytes(encodeFrames([{ streamId: 99_999, seq: 0, t: undefined, values: Float32Array.of(1, 1) }])), 'id')).toMatchObject({ code: 'unknown_stream', stream: '#99999' });
  });

  it('bad open options', async () => {
    expect(await errorFor(() => client.send({ type: 'open', stream: 'x', model: 'nope' }), 'unknown model')).toMatchObject({ code: 'unknown_model', stream: 'x' });
    expect(await errorFor(() => client.send({ type: 'open', stream: 'x', horizon: -1 }), 'horizon')).toMatchObject({ code: 'bad_field' });
    expect(await errorFor(() => client.send({ type: 'open', stream: '' }), 'empty name')).toMatchObject({ code: 'bad_field' });
  });
});

describe('limits', () => {
  it('closes a connection sending an oversized message with 1009; the others go on', async () => {
    const big = await Client.connect(server.url);
    big.send({ type: 'frame', stream: 'x', seq: 0, values: new Array(40_000).fill(1) });
    await big.until(() => big.closeCode !== undefined, 'the close');
    expect(big.closeCode).toBe(1009);
    await stillServesCorrectly();
  });

  it('refuses frames beyond the rate limit, applying none of them, and serves again once the rate drops', async () => {
    const clock = new ManualClock();
    const limited = await SeqcastServer.start({ models: [{ name: 'frames', model: frames }], port: 0, webRoot: null, rateLimit: 50, clock });
    const flood = await Client.connect(limited.url);
    await flood.open('f', { normalize: 'none' }); // spends 1 of the 50
    flood.send(Array.from({ length: 80 }, (_, i) => ({ type: 'frame', stream: 'f', seq: i, values: [i, 1] })));
    // the clock stands still, so exactly the 49 left of the budget go through
    await flood.until(() => flood.predictions('f').length === 49 && flood.errors().length === 1, '49 predictions and one rate_limited');
    expect(flood.predictions('f').map((m) => m.seq)).toEqual(Array.from({ length: 49 }, (_, i) => i));
    expect(await flood.next((m) => m.type === 'error')).toMatchObject({ code: 'rate_limited', stream: 'f', seq: 49, count: 31 });
    flood.send({ type: 'frame', stream: 'f', seq: 49, values: [49, 1] });
    expect(await flood.next((m) => m.type === 'error')).toMatchObject({ code: 'rate_limited', stream: 'f', seq: 49, count: 1 }); // no time has passed: no budget back
    clock.advance(20); // 1 frame of budget back (50 per second)
    flood.send({ type: 'frame', stream: 'f', seq: 49, values: [49, 1] });
    const answer = await flood.next((m) => m.type === 'prediction' && m.seq === 49);
    const reference = (await createModel(FRAMES)).openStream();
    let expected!: Float32Array;
    for (let i = 0; i <= 49; i++) expected = reference.step([i, 1]);
    expect(answer.predicted.map(Math.fround)).toEqual(Array.from(expected));
    await flood.close();
    await limited.close();
  });

  it('refuses more streams than a connection may hold', async () => {
    const limited = await SeqcastServer.start({ models: [{ name: 'frames', model: frames }], port: 0, webRoot: null, maxStreamsPerConnection: 2 });
    const greedy = await Client.connect(limited.url);
    expect(await greedy.open('a')).toMatchObject({ type: 'opened' });
    expect(await greedy.open('b')).toMatchObject({ type: 'opened' });
    expect(await greedy.open('c')).toMatchObject({ type: 'error', code: 'too_many_streams' });
    greedy.send({ type: 'close', stream: 'a' });
    await greedy.next((m) => m.type === 'closed');
    expect(await greedy.open('c')).toMatchObject({ type: 'opened' });
    await greedy.close();
    await limited.close();
  });
});
