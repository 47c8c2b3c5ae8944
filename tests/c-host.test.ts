// The kernel embedded in C with no JavaScript (examples/c-host): build/seqcast-scalar.wasm translated by wabt's
// wasm2c, compiled by gcc with wabt's runtime and main.c, run on real model files and CSV frames. Its every output
// is bit for bit what Node computes with the same scalar build through the library (and with the SIMD build, which
// the scalar build equals), for recurrent (GRU, ReLU RNN), token, hybrid-attention and transformer models and the
// demo model.
// Needs make, gcc and wasm2c (Debian: apt-get install wabt gcc make; .ci/run installs them); skipped without them.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, loadModel, type KernelVariant, type ModelSpec } from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/c-host');
const TOOLS = ['make', 'gcc', 'wasm2c'];
const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missing.length > 0) {
  console.warn(`tests/c-host.test.ts skipped: ${missing.join(', ')} not installed (Debian: apt-get install wabt gcc make)`);
}

const ROWS = 23;

/** The models: a kind each, sizes odd so every tail path runs. */
const MODELS: Array<{ name: string; spec: ModelSpec }> = [
  { name: 'a 2-layer GRU on 3-channel frames', spec: { cell: 'gru', layers: 2, inputSize: 3, hiddenSize: 13, outputSize: 2, seed: 11 } },
  { name: 'a ReLU RNN (its metadata says so: its tensors are a tanh one\'s)', spec: { cell: 'rnn', nonlinearity: 'relu', inputSize: 2, hiddenSize: 7, outputSize: 1, seed: 15 } },
  { name: 'a char-level LSTM on tokens (the token-table path)', spec: { cell: 'lstm', vocabSize: 11, inputSize: 8, hiddenSize: 9, seed: 12 } },
  {
    name: 'a hybrid: LSTM under 2 attention blocks, window 4 and a sink',
    spec: { kind: 'hybrid', cell: 'lstm', inputSize: 2, hiddenSize: 6, heads: 3, mlpSize: 5, blocks: 2, window: 4, sinks: 1, outputSize: 2, seed: 13 },
  },
  {
    name: 'a frame transformer',
    spec: { kind: 'transformer', inputSize: 3, width: 6, heads: 2, mlpSize: 5, blocks: 1, window: 5, sinks: 2, outputSize: 3, seed: 14 },
  },
];

/** Deterministic CSV text: a header, then ROWS rows of `columns` numbers (or token ids below `vocab`). */
function framesCsv(columns: number, vocab: number): string {
  const lines = [vocab > 0 ? 'token' : Array.from({ length: columns }, (_, j) => `x${j}`).join(',')];
  for (let t = 0; t < ROWS; t++) {
    if (vocab > 0) lines.push(String((t * 7 + 3) % vocab));
    else lines.push(Array.from({ length: columns }, (_, j) => (Math.sin(0.37 * t + 1.1 * j) * 2.5).toFixed(6)).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** The rows of a CSV as the C host reads them: a first line that does not start with a number is a header. */
function csvRows(text: string, tokens: boolean): Array<number | number[]> {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (!/^\s*[-+.0-9]/.test(lines[0])) lines.shift();
  return lines.map((line) => (tokens ? Number(line) : line.split(',').map(Number)));
}

const hex = (values: Float32Array) => Array.from(new Uint32Array(Float32Array.from(values).buffer), (b) => b.toString(16).padStart(8, '0')).join(' ');

/** What examples/c-host/main.c does, through the library in Node: the lines it prints, but for its '#' line. */
async function nodeRun(modelPath: string, csvText: string, kernel: KernelVariant): Promise<string[]> {
  const model = await loadModel(modelPath, { kernel });
  const rows = csvRows(csvText, model.isTokenModel);
  const a = model.openStream({ raw: true }), b = model.openStream({ raw: true });
  const half = Math.floor(rows.length / 2);
  const lines: string[] = [];
  let snapshot: Uint8Array = new Uint8Array();
  for (let t = 0; t < rows.length; t++) {
    if (t === half) snapshot = a.snapshot();
    const [outA, outB] = model.stepBatch([a, b], [rows[t], rows[rows.length - 1 - t]]);
    lines.push(`step ${t} A ${hex(outA)}`, `step ${t} B ${hex(outB)}`);
  }
  a.restore(snapshot);
  for (let t = half; t < rows.length; t++) lines.push(`replay ${t} A ${hex(a.step(rows[t]))}`);
  model.close();
  return lines;
}

describe.skipIf(missing.length > 0)('the C host (examples/c-host: wasm2c + gcc -O2, no JavaScript)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqcast-c-host-'));
  const host = join(dir, 'seqcast-host');

  beforeAll(() => {
    // the translated kernel is ~0.7 MB of C: gcc -O2 takes tens of seconds on a busy machine
    execFileSync('make', ['-s', '-C', EXAMPLE, `OUT=${dir}`, `WASM=${join(ROOT, 'build/seqcast-scalar.wasm')}`], { stdio: 'pipe' });
  }, 600_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const runHost = (model: string, csv: string) => execFileSync(host, [model, csv], { encoding: 'utf8' }).split('\n').filter((l) => l !== '' && !l.startsWith('#'));

  it.each(MODELS)('prints for $name exactly the outputs Node computes with the scalar and the SIMD builds', async ({ name, spec }) => {
    const model = await createModel(spec);
    const modelPath = join(dir, `${name.replace(/\W+/g, '-')}.safetensors`);
    await model.save(modelPath);
    const csvText = framesCsv(model.inputSize, model.isTokenModel ? (spec as { vocabSize: number }).vocabSize : 0);
    model.close();
    const csvPath = `${modelPath}.csv`;
    writeFileSync(csvPath, csvText);

    const fromC = runHost(modelPath, csvPath);
    expect(fromC.length).toBe(2 * ROWS + (ROWS - Math.floor(ROWS / 2)));
    expect(fromC).toEqual(await nodeRun(modelPath, csvText, 'scalar'));
    expect(fromC).toEqual(await nodeRun(modelPath, csvText, 'baseline'));
    // the restored slot, stepped alone, repeats what it computed in a batch of two
    const replayed = fromC.filter((l) => l.startsWith('replay')).map((l) => l.replace('replay', 'step'));
    for (const line of replayed) expect(fromC).toContain(line);
  });

  it('runs the demo model (an LSTM with a normalizer, predicting changes) on the demo\'s temperatures as Node does', async () => {
    const modelPath = join(ROOT, 'demo/machine-temperature.safetensors');
    const readings = readFileSync(join(ROOT, 'demo/machine_temperature_system_failure.csv'), 'utf8').split('\n').slice(1, 1 + ROWS);
    const csvText = `value\n${readings.map((line) => line.split(',')[1]).join('\n')}\n`;
    const csvPath = join(dir, 'temperatures.csv');
    writeFileSync(csvPath, csvText);
    expect(runHost(modelPath, csvPath)).toEqual(await nodeRun(modelPath, csvText, 'scalar'));
  });

  it('refuses a CSV row with too few values, naming the file, the line and the width the model reads', () => {
    const csvPath = join(dir, 'short.csv');
    writeFileSync(csvPath, '1,2\n3\n');
    const modelPath = join(dir, 'short.safetensors');
    return createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3, seed: 1 }).then(async (model) => {
      await model.save(modelPath);
      const run = spawnSync(host, [modelPath, csvPath], { encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(`seqcast-host: ${csvPath} line 2: 1 values, the model reads 2 per row\n`);
    });
  });
});
