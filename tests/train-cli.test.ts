// `seqcast train`, run in-process (src/cli/main.ts) and once as the real built command (node bin/seqcast.js)
// in a child process, on small real files: a sine CSV learned to low loss, a tiny text,
// labels, --delta, every bad input (clear message, nothing written) and --seed.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, loadModel } from '../src/index.js';
import { ROOT, runCli, runSeqcast, type Run } from './helpers/cli.js';

let dir: string;
const files = { sine: '', text: '', labels: '', empty: '', short: '', letters: '', nan: '' };

/** The sine CSV's rows: time, then two channels in their own units. */
const SINE_ROWS = 1200;
const sineRow = (i: number) => [10 + 3 * Math.sin(i * 0.1), 5 * Math.cos(i * 0.1) - 2].map((v) => Number(v.toFixed(5)));
const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(60);

/** Is dist/ older than the sources this command is built from? */
function distIsStale(): boolean {
  const built = join(ROOT, 'dist/cli/train.js');
  if (!existsSync(built) || !existsSync(join(ROOT, 'dist/cli/main.js'))) return true;
  const builtAt = statSync(built).mtimeMs;
  const sources = [join(ROOT, 'src/cli/train.ts'), join(ROOT, 'src/cli/main.ts'), ...readdirSync(join(ROOT, 'src/train')).map((f) => join(ROOT, 'src/train', f))];
  return sources.some((f) => statSync(f).mtimeMs > builtAt);
}

beforeAll(() => {
  // tsc emits even when files this test does not use have type errors, so its exit code is not checked here
  if (distIsStale()) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  expect(existsSync(join(ROOT, 'dist/cli/train.js')), 'dist/cli/train.js built').toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'seqcast-train-'));
  const start = Date.UTC(2024, 0, 1);
  const sine = ['timestamp,sin,cos', ...Array.from({ length: SINE_ROWS }, (_, i) => [new Date(start + i * 60_000).toISOString(), ...sineRow(i)].join(','))];
  files.sine = join(dir, 'sine.csv');
  writeFileSync(files.sine, `${sine.join('\n')}\n`);
  files.text = join(dir, 'tiny.txt');
  writeFileSync(files.text, TEXT);
  // two inputs and a class label (is the first one rising?), 2 classes for 2 inputs
  const labels = ['time,a,b,rising', ...Array.from({ length: 1500 }, (_, i) => `${i},${Math.sin(i * 0.07).toFixed(4)},${Math.sin(i * 0.031).toFixed(4)},${Math.cos(i * 0.07) > 0 ? 1 : 0}`)];
  files.labels = join(dir, 'labels.csv');
  writeFileSync(files.labels, `${labels.join('\n')}\n`);
  files.empty = join(dir, 'empty.csv');
  writeFileSync(files.empty, '');
  files.short = join(dir, 'short.csv');
  writeFileSync(files.short, `${sine.slice(0, 8).join('\n')}\n`);
  files.letters = join(dir, 'letters.csv');
  writeFileSync(files.letters, `${[...sine.slice(0, 5), '2024-02-01T00:00:00Z,abc,1', ...sine.slice(5, 200)].join('\n')}\n`);
  files.nan = join(dir, 'nan.csv');
  writeFileSync(files.nan, `${[...sine.slice(0, 5), '2024-02-01T00:00:00Z,NaN,1', '2024-02-01T00:01:00Z,,1', ...sine.slice(5, 300)].join('\n')}\n`);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `seqcast train <args…>` in this process (src/cli/main.ts), its output collected. */
function train(args: string[]): Promise<Run> {
  return runCli(['train', ...args]);
}

/** A fresh empty directory for one run's output. */
function outDir(name: string): string {
  const path = join(dir, `out-${name}`);
  mkdirSync(path);
  return path;
}

/** The number after `label` in the output, e.g. "best validation loss 0.0012". */
function numberAfter(text: string, label: string): number {
  const match = new RegExp(`${label} ([0-9.e+-]+)`).exec(text);
  expect(match, `"${label}" in:\n${text}`).not.toBeNull();
  return Number(match![1]);
}

const FAST = ['--hidden', '16', '--batch', '16', '--lr', '0.01'];

describe('seqcast train on CSV frames', () => {
  it('drives a sine to low loss, stores the training-part normalizer, and the model predicts in original units', async () => {
    const out = join(outDir('sine'), 'sine.safetensors');
    const run = await train(['--data', files.sine, '--kind', 'lstm', ...FAST, '--window', '16', '--stride', '2', '--epochs', '8', '--seed', '3', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/time column "timestamp" skipped/);
    expect(run.stdout).toMatch(/1,080 rows for training, 120 rows for validation/);
    expect(run.stdout).toMatch(/^epoch 8: training [0-9.e-]+, validation [0-9.e-]+/m);
    const persistence = numberAfter(run.stdout, 'validation loss of persistence, for scale:');
    const best = numberAfter(run.stdout, 'best validation loss');
    expect(best).toBeLessThan(2e-3); // normalized units; the channels' variance is 1
    expect(best).toBeLessThan(persistence / 5);

    const model = await loadModel(out);
    expect(model.describe()).toBe('a 1-layer lstm with input 2, hidden 16, head 2');
    expect(model.metadata.channels).toEqual(['sin', 'cos']);
    expect(model.metadata.target).toBe('next');
    // mean and std of the first 1,080 rows only
    const rows = Array.from({ length: SINE_ROWS }, (_, i) => sineRow(i));
    const mean = [0, 1].map((c) => rows.slice(0, 1080).reduce((a, r) => a + r[c], 0) / 1080);
    const std = [0, 1].map((c) => Math.sqrt(rows.slice(0, 1080).reduce((a, r) => a + (r[c] - mean[c]) ** 2, 0) / 1080));
    model.metadata.normalizer!.mean.forEach((m, c) => expect(m).toBeCloseTo(mean[c], 9));
    model.metadata.normalizer!.std.forEach((s, c) => expect(s).toBeCloseTo(std[c], 9));
    // one stream through the whole file: over the validation rows, its next-row predictions in original units
    const stream = model.openStream();
    let error = 0, persistenceError = 0;
    for (let i = 0; i + 1 < SINE_ROWS; i++) {
      const y = stream.step(rows[i]);
      if (i < 1080) continue;
      for (let c = 0; c < 2; c++) {
        error += (y[c] - rows[i + 1][c]) ** 2;
        persistenceError += (rows[i][c] - rows[i + 1][c]) ** 2;
      }
    }
    expect(error).toBeLessThan(persistenceError / 10);
    model.close();
  });

  it('reports validation the way the model runs: one stream over the validation rows from zero state, and persistence on the same rows', async () => {
    const out = join(outDir('streamed'), 'streamed.safetensors');
    const run = await train(['--data', files.sine, ...FAST, '--window', '16', '--epochs', '3', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/validation: one stream over the validation part from zero state, its state carried/);
    const model = await loadModel(out);
    const { std } = model.metadata.normalizer!;
    const rows = Array.from({ length: SINE_ROWS }, (_, i) => sineRow(i)).slice(1080);
    const stream = model.openStream();
    let error = 0, persistence = 0;
    for (let i = 0; i + 1 < rows.length; i++) {
      const y = stream.step(rows[i]);
      for (let c = 0; c < 2; c++) {
        error += ((y[c] - rows[i + 1][c]) / std[c]) ** 2;
        persistence += ((rows[i][c] - rows[i + 1][c]) / std[c]) ** 2;
      }
    }
    const n = 2 * (rows.length - 1);
    const relative = (a: number, b: number) => Math.abs(a - b) / b;
    expect(relative(numberAfter(run.stdout, 'best validation loss'), error / n)).toBeLessThan(2e-3);
    expect(relative(numberAfter(run.stdout, 'validation loss of persistence, for scale:'), persistence / n)).toBeLessThan(2e-3);
    model.close();
  });

  it.each([
    ['a transformer', ['--kind', 'transformer', '--heads', '2', '--blocks', '2', '--attention-window', '8', '--sinks', '1']],
    ['a hybrid', ['--kind', 'hybrid', '--cell', 'gru', '--heads', '4']],
  ])('%s trains on the sine CSV, beats persistence and loads back with its attention settings', async (name, flags) => {
    const out = join(outDir(name.replace(/\W+/g, '-')), 'model.safetensors');
    const run = await train(['--data', files.sine, ...flags, ...FAST, '--window', '16', '--stride', '2', '--epochs', '8', '--seed', '3', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const persistence = numberAfter(run.stdout, 'validation loss of persistence, for scale:');
    const best = numberAfter(run.stdout, 'best validation loss');
    // validation streams the validation part (120 positions, state carried), as serve runs the model: both beat
    // persistence there by half, the transformer's ALiBi attention (the default) seeing at any position the offsets
    // its 16-step training windows showed it
    expect(best).toBeLessThan(persistence / 2);
    const model = await loadModel(out);
    expect(model.arch.kind).toBe(flags[1]);
    expect(model.arch.attention!.positional).toBe('alibi');
    expect(model.arch.attention!.heads).toBe(Number(flags[flags.indexOf('--heads') + 1]));
    model.close();
  });

  it('--delta predicts the change: the stream returns the next row, x[t] plus the change, in original units; a raw stream the change in model units', async () => {
    const out = join(outDir('delta'), 'delta.safetensors');
    const run = await train(['--data', files.sine, ...FAST, '--window', '16', '--stride', '4', '--epochs', '10', '--delta', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    const model = await loadModel(out);
    expect(model.metadata.target).toBe('delta');
    expect(model.target).toBe('delta');
    const { mean, std } = model.metadata.normalizer!;
    const rows = Array.from({ length: SINE_ROWS }, (_, i) => sineRow(i));
    const stream = model.openStream();
    const raw = model.openStream({ raw: true });
    let error = 0, persistenceError = 0;
    for (let i = 0; i + 1 < SINE_ROWS; i++) {
      const next = stream.step(rows[i]);
      const change = raw.step(rows[i]);
      // the mapping of docs/model-format.md: next = x + change · std
      for (let c = 0; c < 2; c++) expect(next[c]).toBeCloseTo(rows[i][c] + change[c] * std[c], 4);
      if (i < 1080) continue;
      for (let c = 0; c < 2; c++) {
        error += (next[c] - rows[i + 1][c]) ** 2;
        persistenceError += (rows[i][c] - rows[i + 1][c]) ** 2;
      }
    }
    expect(mean.length).toBe(2);
    expect(error).toBeLessThan(persistenceError / 10);
    model.close();
  });

  it('many-to-one with a class label column: cross-entropy on the last step; the stream returns the logits', async () => {
    const out = join(outDir('classes'), 'classes.safetensors');
    const run = await train(['--data', files.labels, '--columns', 'a,b', '--label', 'rising', '--task', 'many-to-one', ...FAST, '--window', '10', '--stride', '2', '--epochs', '8', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/label "rising" \(2 classes, cross-entropy\)/);
    const model = await loadModel(out);
    expect(model.outputSize).toBe(2);
    expect(model.metadata.label).toMatchObject({ column: 'rising', type: 'class', classes: 2 });
    expect(model.target).toBe('label');
    expect(model.denormalizesOutput).toBe(false); // 2 classes for 2 inputs: the head's outputs are the logits as they are
    const data = readFileSync(files.labels, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    let right = 0, windows = 0;
    for (let s = 1350; s + 10 <= 1500; s += 3, windows++) {
      const stream = model.openStream();
      let logits!: Float32Array;
      for (let t = s; t < s + 10; t++) logits = stream.step([data[t][1], data[t][2]]);
      stream.close();
      if (argmax(logits) === data[s + 9][3]) right++;
    }
    expect(right / windows).toBeGreaterThan(0.9);
    model.close();
  });

  it('--nan skip skips and counts rows with a missing value', async () => {
    const out = join(outDir('nan-skip'), 'm.safetensors');
    const run = await train(['--data', files.nan, ...FAST, '--window', '8', '--epochs', '1', '--nan', 'skip', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/skipped 2 rows with missing values \(lines 6, 7\)/);
    expect(existsSync(out)).toBe(true);
  });
});

describe('seqcast train on text', () => {
  it('learns a tiny text char by char (truncated BPTT) and stores the sorted vocabulary', async () => {
    const out = join(outDir('text'), 'chars.safetensors');
    const run = await train(['--data', files.text, '--kind', 'gru', '--hidden', '32', '--embed', '16', '--window', '16', '--batch', '8', '--lr', '0.01', '--epochs', '10', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/2,700 characters, vocabulary of 28/);
    expect(run.stdout).toMatch(/tokens\/s/);
    const baseline = numberAfter(run.stdout, 'validation loss of character frequencies, for scale:');
    const best = numberAfter(run.stdout, 'best validation loss');
    expect(best).toBeLessThan(0.2);
    expect(best).toBeLessThan(baseline / 10);
    const model = await loadModel(out);
    const vocab = [...new Set(TEXT)].sort().join('');
    expect(model.metadata.vocab).toBe(vocab);
    expect(model.describe()).toBe('a 1-layer gru with vocabulary 28, embedding 16, hidden 32, head 28');
    // greedy continuation of a prompt
    const stream = model.openStream();
    let logits!: Float32Array;
    for (const ch of 'the quick brown f') logits = stream.step(vocab.indexOf(ch));
    let text = '';
    for (let i = 0; i < 15; i++) {
      const next = argmax(logits);
      text += vocab[next];
      logits = stream.step(next);
    }
    expect(text).toBe('ox jumps over t');
    model.close();
  });
});

describe('seqcast train refuses bad input with a clear error and writes nothing', () => {
  // exit 1: the data cannot be trained on; exit 2 (a usage error, pointing at --help): a value a flag does not take
  const cases: [string, () => string[], RegExp, number?][] = [
    ['empty data', () => ['--data', files.empty], /empty\.csv is empty/],
    ['data shorter than one window', () => ['--data', files.short, '--window', '8'], /short\.csv is too short: it has 7 data rows, and one window of 8 steps needs 9 rows/],
    ['a non-numeric cell, with its line', () => ['--data', files.letters], /letters\.csv line 6, column 2: "abc" is not a number/],
    ['a column that does not exist (name)', () => ['--data', files.sine, '--columns', 'sin,pressure'], /column "pressure" does not exist in .*sine\.csv: its columns are "timestamp", "sin", "cos"/],
    ['a column that does not exist (index)', () => ['--data', files.sine, '--columns', '1,5'], /column 5 does not exist: .*sine\.csv has 3 columns/],
    ['a label column that does not exist', () => ['--data', files.labels, '--label', 'falling', '--task', 'many-to-one'], /label column "falling" does not exist/],
    ['NaN rows, refused by default, naming the line', () => ['--data', files.nan], /nan\.csv line 6, column 2 \("sin"\): the cell is "NaN", not a number; .*--nan skip/],
    ['a kind that does not exist', () => ['--data', files.sine, '--kind', 'lstmm'], /--kind must be lstm, gru, rnn, transformer or hybrid, got "lstmm"/, 2],
    ['lr of 0', () => ['--data', files.sine, '--lr', '0'], /--lr must be above 0, got 0/, 2],
    ['a negative lr', () => ['--data', files.sine, '--lr', '-0.01'], /--lr must be above 0, got -0\.01/, 2],
    ['a window below 2', () => ['--data', files.sine, '--window', '1'], /--window must be 2 or more for many-to-many/, 2],
    ['heads that do not divide the width', () => ['--data', files.sine, '--kind', 'transformer', '--heads', '3'], /--heads 3 does not divide --hidden 16/, 2],
    ['attention flags on a recurrent kind', () => ['--data', files.sine, '--kind', 'gru', '--sinks', '2'], /--sinks applies to --kind transformer or hybrid, not gru/, 2],
    ['one-to-many', () => ['--data', files.sine, '--task', 'one-to-many'], /one-to-many is a way to run a trained model/, 2],
  ];
  it.each(cases)('%s', async (name, args, message, status = 1) => {
    const where = outDir(name.replace(/\W+/g, '-'));
    const run = await train([...FAST, '--epochs', '1', ...args(), '--out', join(where, 'model.safetensors')]);
    expect(run.status).toBe(status);
    expect(run.stderr).toMatch(/^seqcast: /);
    if (status === 2) expect(run.stderr).toMatch(/\(see 'seqcast train --help'\)\n$/);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).not.toMatch(/epoch 1/);
    expect(readdirSync(where)).toEqual([]);
  });

  it('an output path that cannot be written is found before training starts', async () => {
    const missing = join(dir, 'no-such-dir', 'model.safetensors');
    let run = await train(['--data', files.sine, ...FAST, '--out', missing]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/cannot write .*no-such-dir\/model\.safetensors: no such file or directory/);
    expect(run.stdout).toBe('');
    const where = outDir('is-a-directory');
    run = await train(['--data', files.sine, ...FAST, '--out', where]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/cannot write .*: it is a directory/);
    expect(run.stdout).toBe('');
    expect(readdirSync(where)).toEqual([]);
  });

  it('a flag that is not a number is a usage error', async () => {
    const run = await train(['--data', files.sine, '--lr', 'fast', '--out', join(dir, 'never.safetensors')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--lr <rate>' argument 'fast' is invalid/);
    expect(existsSync(join(dir, 'never.safetensors'))).toBe(false);
  });
});

describe('seqcast train as the built command (node bin/seqcast.js, a child process)', () => {
  it('exits 1 on bad data, writing nothing, and 0 after a run', () => {
    const where = outDir('bin');
    const failed = runSeqcast(['train', '--data', files.empty, ...FAST, '--epochs', '1', '--out', join(where, 'model.safetensors')], 30_000);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^seqcast: .*empty\.csv is empty/);
    expect(readdirSync(where)).toEqual([]);
    const run = runSeqcast(['train', '--data', files.short, ...FAST, '--window', '4', '--val-split', '0', '--epochs', '1', '--out', join(where, 'model.safetensors')], 30_000);
    expect(run.status, run.stderr).toBe(0);
    expect(readdirSync(where)).toEqual(['model.safetensors']);
  });
});

describe('seqcast train --seed', () => {
  it('makes a run bit-reproducible; another seed gives another model', async () => {
    const where = outDir('seed');
    const args = (seed: string, name: string) => ['--data', files.sine, ...FAST, '--window', '16', '--epochs', '3', '--seed', seed, '--out', join(where, name)];
    for (const [seed, name] of [['11', 'a.safetensors'], ['11', 'b.safetensors'], ['12', 'c.safetensors']]) expect((await train(args(seed, name))).status).toBe(0);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => readFileSync(join(where, `${n}.safetensors`)));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    expect(readdirSync(where).sort()).toEqual(['a.safetensors', 'b.safetensors', 'c.safetensors']);
  });
});
