// `seqcast replay`: a NAB file streamed end to end through a real server, predictions equal to the library's.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/index.js';
import { DEMO_CSV_URL, DEMO_MODEL_URL } from '../../src/demo/data.js';
import { runReplay } from '../../src/cli/replay.js';
import { SeqcastServer } from '../../src/server/server.js';

const ROWS = 400;
let dir: string;
let csv: string;
let model: Model;
let server: SeqcastServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-replay-'));
  csv = join(dir, 'machine_temperature.csv');
  // the header and the first ROWS rows of NAB's realKnownCause/machine_temperature_system_failure.csv
  writeFileSync(csv, readFileSync(DEMO_CSV_URL, 'utf8').split('\n').slice(0, ROWS + 1).join('\n'));
  model = await loadModel(fileURLToPath(DEMO_MODEL_URL));
  server = await SeqcastServer.start({ models: [{ name: 'machine-temperature', model }], port: 0, webRoot: null });
});

afterAll(async () => {
  await server.close();
  model.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The library stepping the same rows; binary frames carry float32 values, so those are rounded first. */
async function libraryPredictions(float32: boolean): Promise<Float32Array[]> {
  const reference = await loadModel(fileURLToPath(DEMO_MODEL_URL));
  const stream = reference.openStream();
  const values = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((line) => Number(line.split(',')[1]));
  return values.map((v) => stream.step([float32 ? Math.fround(v) : v]));
}

describe('seqcast replay', () => {
  for (const binary of [false, true]) {
    it(`streams ${ROWS} NAB rows ${binary ? 'as binary frames' : 'as JSON'} and sums up the errors; every prediction equals the library's`, async () => {
      const out = new PassThrough();
      let printed = '';
      out.on('data', (chunk) => (printed += chunk));
      const summary = await runReplay({ file: csv, url: `${server.url.replace('http', 'ws')}ws`, rate: 5000, stream: `nab-${binary}`, binary, out });
      expect(summary).toMatchObject({ rows: ROWS, predictions: ROWS, errorsByCode: {} });
      const expected = await libraryPredictions(binary);
      expect(summary.predicted.map((p) => Array.from(p!))).toEqual(expected.map((p) => Array.from(p)));
      expect(summary.rmse).toBeGreaterThan(0);
      expect(printed).toContain(`replayed ${ROWS} rows`);
      expect(printed).toMatch(/one-step error: MAE [\d.]+, RMSE [\d.]+ \(persistence RMSE [\d.]+\)/);
      expect(printed).toContain('errors: none');
    });
  }

  it('continues a stream from where the server has it, and reports refused frames in the summary', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (chunk) => (printed += chunk));
    const url = `${server.url.replace('http', 'ws')}ws`;
    await runReplay({ file: csv, url, rate: 0, stream: 'twice', rows: 50, out: new PassThrough() });
    const again = await runReplay({ file: csv, url, rate: 0, stream: 'twice', rows: 10, out });
    expect(again.predictions).toBe(10); // seq 50..59 on the same stream
    expect(server.streams.get('twice')!.lastSeq).toBe(59);
  });

  it('says why when the file does not fit the model', async () => {
    const wide = join(dir, 'wide.csv');
    writeFileSync(wide, 'a,b\n1,2\n3,4\n');
    await expect(runReplay({ file: wide, url: `${server.url.replace('http', 'ws')}ws`, rate: 0, out: new PassThrough() })).rejects.toThrow(/has 2 value columns, but model "machine-temperature" takes 1/);
  });
});
