// A plain PyTorch model (a state_dict saved as safetensors, no normalizer: trained on values in raw units) served
// over a real socket: a default `open` gives exactly PyTorch's numbers, because "auto" means what the model was
// trained with. Fixtures: tests/fixtures/pytorch/, made by scripts/make-pytorch-fixtures.py with a real PyTorch.

import { afterEach, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { expectWithin, readPytorchCase } from '../helpers/pytorch-fixtures.js';
import { Client, type Message } from './client.js';
import { ManualClock } from './clock.js';

let server: SeqcastServer | undefined;
let model: Model | undefined;
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
  model?.close();
  model = undefined;
});

async function serve(file: string): Promise<Client> {
  model = await loadModel(file);
  server = await SeqcastServer.start({ models: [{ name: 'pytorch', model }], port: 0, webRoot: null, clock: new ManualClock() });
  const client = await Client.connect(server.url);
  clients.push(client);
  return client;
}

async function predictions(client: Client, stream: string, rows: number[][]): Promise<Message[]> {
  rows.forEach((values, seq) => client.send({ type: 'frame', stream, seq, values }));
  await client.until(() => client.predictions(stream).length === rows.length, `${rows.length} predictions of ${stream}`);
  return client.predictions(stream);
}

describe('a PyTorch model without a normalizer, over the wire', () => {
  it('gets its values as sent with a default open, and every prediction is PyTorch\'s', async () => {
    const { file, rows, expected, tolerance } = readPytorchCase('lstm_raw_units');
    const client = await serve(file);
    expect(await client.open('s')).toMatchObject({ type: 'opened', normalize: 'none' });
    const got = await predictions(client, 's', rows);
    expectWithin(got.map((m) => m.predicted), expected, tolerance);
  });

  it('is scaled online only when asked to, and then its numbers are not PyTorch\'s', async () => {
    const { file, rows, expected } = readPytorchCase('lstm_raw_units');
    const client = await serve(file);
    expect(await client.open('scaled', { normalize: 'online' })).toMatchObject({ type: 'opened', normalize: 'online' });
    const got = await predictions(client, 'scaled', rows);
    const worst = Math.max(...got.flatMap((m, t) => m.predicted.map((v: number, j: number) => Math.abs(v - expected[t][j]))));
    expect(worst).toBeGreaterThan(0.5);
  });

  it('lets a stream opened by default start learning later (the learner scales its own inputs), but not one opened with normalize "none"', async () => {
    const { file } = readPytorchCase('lstm_raw_units');
    const client = await serve(file);
    await client.open('plain');
    await client.open('raw', { normalize: 'none' });
    client.send({ type: 'configure', stream: 'plain', learn: true });
    expect(await client.next((m) => m.type === 'configured' || m.type === 'error')).toMatchObject({ type: 'configured', stream: 'plain', learn: true });
    client.send({ type: 'configure', stream: 'raw', learn: true });
    expect(await client.next((m) => m.type === 'configured' || m.type === 'error')).toMatchObject({ type: 'error', code: 'bad_field', stream: 'raw' });
  });
});
