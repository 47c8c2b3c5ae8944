// A refused message changes nothing: open, configure and the rest check everything before they apply anything.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, eventually } from './client.js';

let model: Model;
let server: SeqcastServer;

beforeAll(async () => {
  model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, seed: 5 });
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null });
});

afterAll(async () => {
  await server.close();
  model.close();
});

describe('a refused open', () => {
  it('of a stream it holds leaves its horizon and learning as they were', async () => {
    const producer = await Client.connect(server.url);
    await producer.open('plain', { normalize: 'none' });
    // normalize "none" cannot learn: the whole open is refused, horizon 7 included
    expect(await producer.open('plain', { learn: true, horizon: 7 })).toMatchObject({ type: 'error', code: 'bad_field' });
    expect(server.streams.get('plain')).toMatchObject({ horizon: 0, learn: false, learning: undefined });
    await producer.close();
  });

  it('of an orphaned stream does not take it over: the refused connection cannot feed it, its producer takes it back', async () => {
    const owner = await Client.connect(server.url);
    await owner.open('orphan', { normalize: 'none' });
    owner.send({ type: 'frame', stream: 'orphan', seq: 0, values: [1, 2] });
    await owner.until(() => owner.predictions('orphan').length === 1, 'a prediction');
    await owner.close();
    await eventually(() => server.streams.get('orphan')!.owner === undefined, 'the stream orphaned');
    const intruder = await Client.connect(server.url);
    expect(await intruder.open('orphan', { learn: true, horizon: 7 })).toMatchObject({ type: 'error', code: 'bad_field' });
    expect(server.streams.get('orphan')).toMatchObject({ owner: undefined, horizon: 0 });
    intruder.send({ type: 'frame', stream: 'orphan', seq: 1, values: [1, 2] });
    expect(await intruder.next((m) => m.type === 'error' && m.seq === 1)).toMatchObject({ code: 'unknown_stream' });
    expect(server.streams.get('orphan')!.lastSeq).toBe(0);
    const back = await Client.connect(server.url);
    expect(await back.open('orphan')).toMatchObject({ type: 'opened', resumed: true, lastSeq: 0, horizon: 0 });
    await Promise.all([intruder.close(), back.close()]);
  });
});
