// A delta model (`seqcast train --delta`, and one made in PyTorch) run the ways users run it: served over a real
// socket, `seqcast predict` in process and `seqcast replay` against the server. Everywhere the predictions are next
// readings in the producer's units (a reading of 74 is predicted near 74, not as a change near 0), each the
// library's Stream.step, and their error is on the scale of persistence's.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplay } from '../../src/cli/replay.js';
import { loadModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { runCli } from '../helpers/cli.js';
import { expectWithin, readPytorchCase } from '../helpers/pytorch-fixtures.js';
import { Client } from './client.js';
import { ManualClock } from './clock.js';

const ROWS = 1500;
/** A pump's temperature around 74: a slow cycle, a faster ripple and a little seeded noise, 3 decimals. */
const reading = (i: number) => Number((74 + 3 * Math.sin(i / 40) + 0.5 * Math.sin(i / 6) + 0.05 * Math.sin(i * 12.9898)).toFixed(3));

let dir: string;
let csv: string;
let modelFile: string;
let model: Model;
let server: SeqcastServer;
let wsUrl: string;
const readings = Array.from({ length: ROWS }, (_, i) => reading(i));
/** The last 300 rows: a part the model was not trained on (--val-split 0.2 keeps the last 300 for validation). */
const heldOut = readings.slice(ROWS - 300);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-delta-'));
  csv = join(dir, 'pump.csv');
  writeFileSync(csv, `value\n${readings.join('\n')}\n`);
  modelFile = join(dir, 'pump-delta.safetensors');
  const run = await runCli(['train', '--data', csv, '--delta', '--hidden', '16', '--window', '16', '--batch', '16', '--lr', '0.01', '--epochs', '4', '--val-split', '0.2', '--quiet', '--out', modelFile]);
  expect(run.status, run.stderr).toBe(0);
  model = await loadModel(modelFile);
  server = await SeqcastServer.start({ models: [{ name: 'pump', model }], port: 0, webRoot: null, clock: new ManualClock() });
  wsUrl = `${server.url.replace('http', 'ws')}ws`;
}, 60_000);

afterAll(async () => {
  await server?.close();
  model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the library's Stream.step returns for `rows` on a fresh stream of the delta model. */
async function libraryPredictions(rows: number[]): Promise<number[]> {
  const reference = await loadModel(modelFile);
  const stream = reference.openStream();
  const out = rows.map((v) => stream.step([v])[0]);
  reference.close();
  return out;
}

/** RMSE of predictions[i] against rows[i + 1], and of persistence (rows[i]) against it. */
function oneStep(rows: number[], predictions: number[]): { rmse: number; persistence: number } {
  let model = 0, persistence = 0;
  for (let i = 0; i + 1 < rows.length; i++) {
    model += (predictions[i] - rows[i + 1]) ** 2;
    persistence += (rows[i] - rows[i + 1]) ** 2;
  }
  return { rmse: Math.sqrt(model / (rows.length - 1)), persistence: Math.sqrt(persistence / (rows.length - 1)) };
}

describe('a delta model trained by seqcast train', () => {
  it('is served in producer units over a real socket: each prediction is the library\'s next reading, near the reading', async () => {
    const client = await Client.connect(server.url);
    try {
      expect(await client.open('pump-7', { horizon: 3 })).toMatchObject({ type: 'opened', normalize: 'model' });
      heldOut.forEach((v, seq) => client.send({ type: 'frame', stream: 'pump-7', seq, values: [v] }));
      await client.until(() => client.predictions('pump-7').length === heldOut.length, 'every prediction');
      const got = client.predictions('pump-7');
      const predicted = got.map((m) => m.predicted[0] as number);
      expect(predicted.map(Math.fround)).toEqual((await libraryPredictions(heldOut)).map(Math.fround));
      got.forEach((m, i) => {
        expect(Math.abs(m.predicted[0] - heldOut[i])).toBeLessThan(2);
        expect(m.forecast[0][0]).toBe(m.predicted[0]);
        expect(Math.abs(m.forecast[2][0] - heldOut[i])).toBeLessThan(3);
      });
      const { rmse, persistence } = oneStep(heldOut, predicted);
      expect(rmse).toBeLessThan(2 * persistence);
      // the anomaly score and errors are in units too: the error of a prediction is |actual − predicted|
      expect(got[10].error).toBeCloseTo(Math.abs(heldOut[10] - predicted[9]), 3);
    } finally {
      await client.close();
    }
  });

  it('seqcast predict writes next readings, not changes, under the channel\'s name', async () => {
    const input = join(dir, 'held-out.csv');
    writeFileSync(input, `value\n${heldOut.join('\n')}\n`);
    const output = join(dir, 'predicted.csv');
    const run = await runCli(['predict', '--model', modelFile, '--input', input, '--output', output]);
    expect(run.status, run.stderr).toBe(0);
    const [header, ...lines] = readFileSync(output, 'utf8').trim().split('\n');
    expect(header).toBe('value');
    const predicted = lines.map(Number);
    expect(predicted.map(Math.fround)).toEqual((await libraryPredictions(heldOut)).map(Math.fround));
    expect(Math.min(...predicted)).toBeGreaterThan(65);
    const { rmse, persistence } = oneStep(heldOut, predicted);
    expect(rmse).toBeLessThan(2 * persistence);
  });

  it('seqcast replay sums up errors on the scale of persistence\'s', async () => {
    const file = join(dir, 'replay.csv');
    writeFileSync(file, `value\n${heldOut.join('\n')}\n`);
    const summary = await runReplay({ file, url: wsUrl, rate: 0, stream: 'replayed', out: new PassThrough() });
    expect(summary).toMatchObject({ rows: heldOut.length, predictions: heldOut.length, errorsByCode: {} });
    expect(summary.predicted.map((p) => Math.fround(p![0]))).toEqual((await libraryPredictions(heldOut)).map(Math.fround));
    expect(summary.rmse).toBeLessThan(2 * summary.persistenceRmse);
  });
});

describe('a delta model made in PyTorch', () => {
  it('is served as the frame plus PyTorch\'s predicted change', async () => {
    const { file, rows, expected, tolerance } = readPytorchCase('lstm_delta');
    const pytorch = await loadModel(file);
    const local = await SeqcastServer.start({ models: [{ name: 'delta', model: pytorch }], port: 0, webRoot: null, clock: new ManualClock() });
    const client = await Client.connect(local.url);
    try {
      expect(await client.open('s')).toMatchObject({ type: 'opened', normalize: 'none' });
      rows.forEach((values, seq) => client.send({ type: 'frame', stream: 's', seq, values }));
      await client.until(() => client.predictions('s').length === rows.length, 'every prediction');
      expectWithin(client.predictions('s').map((m) => m.predicted), expected.map((change, t) => change.map((d, j) => rows[t][j] + d)), tolerance);
    } finally {
      await client.close();
      await local.close();
      pytorch.close();
    }
  });
});
