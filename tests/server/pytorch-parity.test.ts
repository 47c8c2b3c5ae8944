// A plain PyTorch model (a state_dict saved as safetensors, no normalizer: trained on values in raw units) served
// over a real socket: a default `open` gives exactly PyTorch's numbers, because "auto" means what the model was
// trained with. Fixtures: tests/fixtures/pytorch/, made by scripts/make-pytorch-fixtures.py with a real PyTorch.

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from './client.js';
import { ManualClock } from './clock.js';

const FIXTURES = new URL('../fixtures/pytorch/', import.meta.url);

interface Case {
  inputs: { shape: number[]; data: number[] };
  outputs: { shape: number[]; data: number[] };
  tolerance: { abs: number; rel: number };
}

function readCase(name: string): { file: string; rows: number[][]; expected: number[][]; tolerance: Case['tolerance'] } {
  const c = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Case;
  const rowsOf = ({ shape: [T, X], data }: { shape: number[]; data: number[] }) => Array.from({ length: T }, (_, t) => data.slice(t * X, (t + 1) * X));
  return { file: new URL(`${name}.safetensors`, FIXTURES).pathname, rows: rowsOf(c.inputs), expected: rowsOf(c.outputs), tolerance: c.tolerance };
}

/** Fails naming the first element outside |actual − expected| ≤ abs + rel·|expected|. */
function expectClose(actual: number[][], expected: number[][], { abs, rel }: Case['tolerance']): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, t) => row.forEach((v, j) => {
    const e = expected[t][j];
    if (!(Math.abs(v - e) <= abs + rel * Math.abs(e))) expect.fail(`step ${t} output ${j}: ${v}, PyTorch ${e}`);
  }));
}

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
    const { file, rows, expected, tolerance } = readCase('lstm_raw_units');
    const client = await serve(file);
    expect(await client.open('s')).toMatchObject({ type: 'opened', normalize: 'none' });
    const got = await predictions(client, 's', rows);
    expectClose(got.map((m) => m.predicted), expected, tolerance);
  });

  it('is scaled online only when asked to, and then its numbers are not PyTorch\'s', async () => {
    const { file, rows, expected } = readCase('lstm_raw_units');
    const client = await serve(file);
    expect(await client.open('scaled', { normalize: 'online' })).toMatchObject({ type: 'opened', normalize: 'online' });
    const got = await predictions(client, 'scaled', rows);
    const worst = Math.max(...got.flatMap((m, t) => m.predicted.map((v: number, j: number) => Math.abs(v - expected[t][j]))));
    expect(worst).toBeGreaterThan(0.5);
  });

  it('lets a stream opened by default start learning later (the learner scales its own inputs), but not one opened with normalize "none"', async () => {
    const { file } = readCase('lstm_raw_units');
    const client = await serve(file);
    await client.open('plain');
    await client.open('raw', { normalize: 'none' });
    client.send({ type: 'configure', stream: 'plain', learn: true });
    expect(await client.next((m) => m.type === 'configured' || m.type === 'error')).toMatchObject({ type: 'configured', stream: 'plain', learn: true });
    client.send({ type: 'configure', stream: 'raw', learn: true });
    expect(await client.next((m) => m.type === 'configured' || m.type === 'error')).toMatchObject({ type: 'error', code: 'bad_field', stream: 'raw' });
  });
});
