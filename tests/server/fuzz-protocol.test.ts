// Seeded protocol fuzzing on a real server: mutated JSON and binary messages get answers or refusals, never a failure,
// and a bystander's stream is predicted exactly as the library predicts it throughout.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model, type ModelSpec } from '../../src/index.js';
import { encodeFrames } from '../../src/protocol/binary.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';

const SPEC: ModelSpec = { cell: 'lstm', inputSize: 2, hiddenSize: 6, seed: 41 };
/** Messages per kind; a run takes a few seconds. */
const COUNT = 1500;

let model: Model;
let server: SeqcastServer;
const log: string[] = [];

beforeAll(async () => {
  model = await createModel(SPEC);
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, maxPayload: 256 * 1024, log: (line) => log.push(line) });
});

afterAll(async () => {
  await server.close();
  model.close();
});

/** A seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values of every awkward kind a field can take. */
function oddValue(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * 16);
  switch (pick) {
    case 0: return null;
    case 1: return -1;
    case 2: return 1e308;
    case 3: return 2 ** 53 + 2;
    case 4: return 0.5;
    case 5: return '';
    case 6: return 'x'.repeat(Math.floor(next() * 5000));
    case 7: return true;
    case 8: return depth < 3 ? [oddValue(next, depth + 1), oddValue(next, depth + 1)] : [];
    case 9: return depth < 3 ? { nested: oddValue(next, depth + 1) } : {};
    case 10: return Array.from({ length: Math.floor(next() * 3000) }, () => next());
    case 11: return '*';
    case 12: return Math.floor(next() * 300);
    case 13: return 'open';
    case 14: return ['s', 'fuzz', 'other'][Math.floor(next() * 3)];
    default: return JSON.parse('['.repeat(200) + ']'.repeat(200));
  }
}

const TEMPLATES: Record<string, unknown>[] = [
  { type: 'open', stream: 'fuzz', model: 'm', horizon: 2, learn: true, normalize: 'auto', learning: { every: 4, window: 8 } },
  { type: 'frame', stream: 'fuzz', seq: 1, t: 5, values: [1, 2] },
  { type: 'configure', stream: 'fuzz', learn: false, horizon: 3 },
  { type: 'reset', stream: 'fuzz' },
  { type: 'close', stream: 'fuzz' },
  { type: 'subscribe', streams: ['fuzz'], metrics: true },
  { type: 'unsubscribe', streams: '*' },
  { type: 'list', offset: 0 },
];

/** A template with a field set to an odd value, deleted, or added. */
function mutatedJson(next: () => number): string {
  const message: Record<string, unknown> = structuredClone(TEMPLATES[Math.floor(next() * TEMPLATES.length)]);
  const keys = Object.keys(message);
  for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
    const key = next() < 0.8 ? keys[Math.floor(next() * keys.length)] : `extra${n}`;
    if (next() < 0.2) delete message[key];
    else message[key] = oddValue(next);
  }
  const text = JSON.stringify(next() < 0.2 ? [message, message] : message);
  // sometimes cut short, or a byte changed
  if (next() < 0.1) return text.slice(0, Math.floor(next() * text.length));
  if (next() < 0.1) {
    const at = Math.floor(next() * text.length);
    return text.slice(0, at) + String.fromCharCode(32 + Math.floor(next() * 90)) + text.slice(at + 1);
  }
  return text;
}

/** A frames message with bytes changed (header, ids, seqs, values) or cut. */
function mutatedBinary(next: () => number, streamId: number, seq: number): Uint8Array {
  const bytes = encodeFrames([{ streamId, seq, t: undefined, values: Float32Array.of(1, 2) }, { streamId: streamId + 1, seq, t: 3, values: Float32Array.of(3, 4) }]);
  const out = new Uint8Array(next() < 0.2 ? bytes.subarray(0, Math.floor(next() * bytes.length)) : bytes);
  for (let n = Math.floor(next() * 4); n > 0; n--) out[Math.floor(next() * out.length)] = Math.floor(next() * 256);
  return out;
}

describe('protocol fuzzing', () => {
  it(`${COUNT} mutated JSON and ${COUNT} mutated binary messages: no failure, no hang, the bystander bit-identical to the library`, async () => {
    const next = random(20240601);
    const bystander = await Client.connect(server.url);
    const opened = await bystander.open('bystander', { normalize: 'none' });
    const reference = (await createModel(SPEC)).openStream();
    let fuzzer = await Client.connect(server.url);
    let bystanderSeq = 0;
    for (let i = 0; i < COUNT; i++) {
      if (fuzzer.closeCode !== undefined) fuzzer = await Client.connect(server.url); // 1008/1009 are the server's to give
      fuzzer.send(mutatedJson(next));
      fuzzer.sendBytes(mutatedBinary(next, opened.id - 1 + Math.floor(next() * 3), Math.floor(next() * 10)));
      if (i % 100 === 99) {
        const values = [next() * 10, -next()];
        bystander.send({ type: 'frame', stream: 'bystander', seq: bystanderSeq, values });
        const answer = await bystander.next((m) => m.type === 'prediction' && m.seq === bystanderSeq, `bystander ${bystanderSeq}`);
        expect(answer.predicted.map(Math.fround)).toEqual(Array.from(reference.step(values)));
        bystanderSeq++;
      }
    }
    // the fuzzer still gets an answer, and nothing internal went wrong anywhere
    if (fuzzer.closeCode !== undefined) fuzzer = await Client.connect(server.url);
    fuzzer.send({ type: 'list' });
    await fuzzer.next((m) => m.type === 'streams', 'the answer to list after the fuzz', 10_000);
    expect(fuzzer.messages.concat(bystander.messages).filter((m) => m.type === 'error' && m.code === 'internal')).toEqual([]);
    expect(bystander.errors()).toEqual([]);
    expect(log.filter((line) => /pipeline failed|server failed|timer failed|sending its answers failed|delivering/.test(line))).toEqual([]);
    await Promise.all([bystander.close(), fuzzer.close()]);
  }, 60_000);
});
