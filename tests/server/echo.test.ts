// What a client sends is bounded before an error echoes it, and no error inside the pipeline costs another stream a frame.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';

let model: Model;
let server: SeqcastServer;
const log: string[] = [];

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, seed: 2 });
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, log: (line) => log.push(line) });
});

afterAll(async () => {
  await server.close();
  model.close();
});

/** A JSON array nested `depth` deep: JSON.stringify of it overflows the stack. */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('bounded echoes', () => {
  it('answers 240 frames with a deeply nested seq with errors that leave it out, and four other producers lose no frame', async () => {
    const hostile = await Client.connect(server.url);
    await hostile.open('hostile');
    const producers = await Promise.all([0, 1, 2, 3].map(() => Client.connect(server.url)));
    await Promise.all(producers.map((p, i) => p.open(`good-${i}`)));
    const frames = 60;
    for (let seq = 0; seq < frames; seq++) {
      for (let i = 0; i < producers.length; i++) producers[i].send({ type: 'frame', stream: `good-${i}`, seq, values: [seq] });
      for (let k = 0; k < 4; k++) hostile.send(`{"type":"frame","stream":"hostile","seq":${nested(20_000)},"values":[1]}`);
    }
    await Promise.all(producers.map((p, i) => p.until(() => p.predictions(`good-${i}`).length === frames, `every frame of good-${i} answered`, 15_000)));
    for (let i = 0; i < producers.length; i++) {
      expect(producers[i].predictions(`good-${i}`).map((m) => m.seq)).toEqual(Array.from({ length: frames }, (_, seq) => seq));
      expect(producers[i].errors()).toEqual([]);
    }
    await hostile.until(() => hostile.errors().length === 4 * frames, 'an error for every hostile frame', 15_000);
    for (const error of hostile.errors()) {
      expect(error).toMatchObject({ code: 'bad_field', stream: 'hostile' });
      expect(error).not.toHaveProperty('seq');
    }
    expect(log.filter((line) => line.includes('pipeline failed'))).toEqual([]);
    await Promise.all([hostile.close(), ...producers.map((p) => p.close())]);
  });

  it('cuts a long stream name or string seq to 200 characters and leaves out objects, in every error', async () => {
    const client = await Client.connect(server.url);
    const long = 'x'.repeat(100_000);
    client.send({ type: 'open', stream: long });
    client.send({ type: 'configure', stream: long, horizon: 1 });
    client.send({ type: 'frame', stream: 'nope', seq: long, values: [1] });
    client.send({ type: 'frame', stream: 'nope', seq: { deep: [[[1]]] }, values: [1] });
    await client.until(() => client.errors().length === 4, 'four errors');
    const [open, configure, stringSeq, objectSeq] = client.errors();
    for (const error of [open, configure]) expect(error.stream).toBe(`${'x'.repeat(200)}…`);
    expect(stringSeq.seq).toBe(`${'x'.repeat(200)}…`);
    expect(objectSeq).not.toHaveProperty('seq');
    for (const error of client.errors()) expect(JSON.stringify(error).length).toBeLessThan(600);
    await client.close();
  });
});
