// The command line names every model kind it trains (rnn, lstm, gru, transformer, hybrid) in its help, and
// `seqcast train --nonlinearity relu` trains an nn.RNN(nonlinearity="relu") whose file says so. In-process runs of
// src/cli/main.ts on a small real CSV.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, readSafetensors } from '../src/index.js';
import { runCli } from './helpers/cli.js';

let dir: string;
let csv: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-nonlinearity-'));
  csv = join(dir, 'sensors.csv');
  const rows = Array.from({ length: 400 }, (_, i) => `${(20 + 5 * Math.sin(i / 6)).toFixed(4)},${(3 + Math.cos(i / 11)).toFixed(4)}`);
  writeFileSync(csv, `temp,flow\n${rows.join('\n')}\n`);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const FAST = ['--hidden', '7', '--window', '8', '--batch', '8', '--epochs', '1', '--quiet'];

describe('seqcast help', () => {
  it('the top-level help says which models seqcast runs and that train trains all five kinds', async () => {
    const run = await runCli(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout.split('\n')[2]).toBe('Predict live streams with RNN, LSTM, GRU, transformer and hybrid models.');
    expect(run.stdout.replace(/\s+/g, ' ')).toContain(' train [options] train an RNN, LSTM, GRU, transformer or hybrid model on a CSV of frames or a text file ');
  });

  it('train --help lists transformer and hybrid among the kinds, and --nonlinearity', async () => {
    const run = await runCli(['train', '--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/-k, --kind <kind> +lstm, gru, rnn, transformer or hybrid \(default: lstm\)/);
    expect(run.stdout).toMatch(/--nonlinearity <fn> +rnn cells \(--kind rnn, or hybrid --cell rnn\): tanh\s+\(default\) or relu/);
    expect(run.stdout).toContain('seqcast train --data sensors.csv --kind rnn --nonlinearity relu');
    expect(run.stdout).toContain('--kind transformer');
  });
});

describe('seqcast train --nonlinearity', () => {
  it('relu trains a relu RNN, and the file records it for PyTorch and for loading back', async () => {
    const out = join(dir, 'relu.safetensors');
    const run = await runCli(['train', '--data', csv, '--kind', 'rnn', '--nonlinearity', 'relu', '--layers', '2', ...FAST, '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('training a 2-layer rnn (relu) with input 2, hidden 7, head 2');
    const meta = JSON.parse(readSafetensors(readFileSync(out), out).metadata.seqcast);
    expect(meta.nonlinearity).toBe('relu');
    const model = await loadModel(out);
    expect(model.arch).toMatchObject({ cell: 'rnn', nonlinearity: 'relu', layers: 2 });
  });

  it('relu under a hybrid\'s rnn stack trains too', async () => {
    const out = join(dir, 'hybrid-relu.safetensors');
    const run = await runCli(['train', '--data', csv, '--kind', 'hybrid', '--cell', 'rnn', '--nonlinearity', 'relu', '--heads', '1', ...FAST, '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect((await loadModel(out)).describe()).toMatch(/^a hybrid: a 1-layer rnn \(relu\) with input 2, hidden 7, then 1 attention block/);
  });

  it.each([
    [['--kind', 'rnn', '--nonlinearity', 'gelu'], 'seqcast: --nonlinearity must be tanh or relu, got "gelu" (see \'seqcast train --help\')\n'],
    [['--kind', 'lstm', '--nonlinearity', 'relu'], 'seqcast: --nonlinearity applies to rnn cells (--kind rnn, or --kind hybrid --cell rnn), not lstm (see \'seqcast train --help\')\n'],
    [['--kind', 'hybrid', '--cell', 'gru', '--nonlinearity', 'relu'], 'seqcast: --nonlinearity applies to rnn cells (--kind rnn, or --kind hybrid --cell rnn), not a hybrid\'s gru (see \'seqcast train --help\')\n'],
    [['--kind', 'transformer', '--nonlinearity', 'tanh'], 'seqcast: --nonlinearity applies to rnn cells (--kind rnn, or --kind hybrid --cell rnn), not transformer (see \'seqcast train --help\')\n'],
  ])('%j is refused as a usage error (exit 2) before anything is read or written', async (flags, message) => {
    const out = join(dir, 'refused.safetensors');
    const run = await runCli(['train', '--data', csv, ...flags, ...FAST, '--out', out]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(message);
    expect(existsSync(out)).toBe(false);
  });
});
