// The `seqcast` command line, run in-process (src/cli/main.ts with collected output) and, for what only a real process shows
// (its exit status, a closed pipe), as the built command (node bin/seqcast.js) in a child process; and its CSV helpers.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, loadModel, readSafetensors, writeSafetensors, type ModelSpec } from '../src/index.js';
import {
  csvField,
  formatFloat32,
  formatNumberRow,
  formatTextRow,
  isHeaderRow,
  parseNumberCell,
  readCsvRows,
  type CsvRow,
} from '../src/io/csv.js';
import { AtomicFile, isAtomicTempName, writeFileAtomic } from '../src/io/atomic-file.js';
import { AtomicFileSink } from '../src/io/files.js';
import { MAX_REPORTED_ROWS } from '../src/io/frames.js';
import { ROOT, runCli, runSeqcast, type Run } from './helpers/cli.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let dir: string;
/** Model files by name, made in beforeAll. */
const models = {
  frames: '', // 2-layer LSTM, 3 inputs, head 3
  named: '', // GRU, 3 inputs with channel names (one holds a comma) and a normalizer
  tokens: '', // token GRU, vocabulary 7
  corrupt: '', // cut short
  missingTensor: '', // head.weight removed
};

const SPECS: Record<'frames' | 'named' | 'tokens', ModelSpec> = {
  frames: { cell: 'lstm', inputSize: 3, hiddenSize: 8, layers: 2, seed: 1 },
  named: {
    cell: 'gru',
    inputSize: 3,
    hiddenSize: 6,
    seed: 2,
    metadata: { channels: ['temp', 'flow,rate', 'pressure'], normalizer: { mean: [20, 1, 100], std: [5, 0.5, 10] } },
  },
  tokens: { cell: 'gru', vocabSize: 7, hiddenSize: 5, seed: 3 },
};

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'seqcast-cli-'));
  for (const name of ['frames', 'named', 'tokens'] as const) {
    models[name] = join(dir, `${name}.safetensors`);
    await (await createModel(SPECS[name])).save(models[name]);
  }
  const bytes = readFileSync(models.frames);
  models.corrupt = join(dir, 'corrupt.safetensors');
  writeFileSync(models.corrupt, bytes.subarray(0, 100));
  const file = readSafetensors(bytes, 'frames');
  const tensors = [...file.tensors].filter(([name]) => name !== 'head.weight').map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  models.missingTensor = join(dir, 'missing-tensor.safetensors');
  writeFileSync(models.missingTensor, writeSafetensors(tensors, file.metadata));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `seqcast <args…>` in this process (src/cli/main.ts), from the repository root's point of view. */
function seqcast(...args: string[]): Promise<Run> {
  return runCli(args);
}

let fileCount = 0;
/** Writes `text` to a new file in the temp dir and returns its path. */
function file(text: string, name = `in-${++fileCount}.csv`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A path in the temp dir that does not exist yet. */
function outPath(): string {
  return join(dir, `out-${++fileCount}.csv`);
}

/** What the library's stream.step returns for these inputs, one row each; +0 for -0 so toEqual compares values. */
async function libraryOutputs(modelPath: string, inputs: (number[] | number)[]): Promise<number[][]> {
  const model = await loadModel(modelPath);
  const stream = model.openStream();
  const rows = inputs.map((input) => Array.from(stream.step(input), (v) => v + 0));
  model.close();
  return rows;
}

/** A CSV from the command, parsed: header and rows of float32 values. */
function parseOutput(text: string): { header: string[]; rows: number[][] } {
  const [header, ...rows] = parse(text) as string[][];
  return { header, rows: rows.map((row) => row.map((cell) => Math.fround(Number(cell)) + 0)) };
}

/** Expects a failed run: the exit code, one `seqcast: …` line on stderr matching `message`. */
function expectFailure(run: Run, message: RegExp, status = 1): void {
  expect(run.stderr).toMatch(/^seqcast: [^\n]+\n$/);
  expect(run.stderr).toMatch(message);
  expect(run.status).toBe(status);
}

const FRAMES = [
  [0.5, -1.25, 3],
  [1e-3, 2, -0.75],
  [4, 4, 4],
  [-2.5, 0, 1.5],
];

describe('seqcast help and version', () => {
  it('--help describes seqcast in one line and lists the commands', async () => {
    const run = await seqcast('--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: seqcast /);
    expect(run.stdout.split('\n')[2]).toMatch(/^Predict live streams/);
    expect(run.stdout.split('\n')[3]).toBe('');
    expect(run.stdout).toMatch(/^ {2}predict \[options\] +\S/m);
    expect(run.stdout).toMatch(/^ {2}demo \[options\] +\S/m);
    expect(run.stderr).toBe('');
  });

  it('predict --help lists its options', async () => {
    const run = await seqcast('predict', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: seqcast predict /);
    for (const option of ['--model <file>', '--input <file>', '--output <file>']) expect(run.stdout).toContain(option);
  });

  it('demo --help lists --rows', async () => {
    const run = await seqcast('demo', '--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('--rows <n>');
  });

  it('--version prints the version from package.json', async () => {
    const run = await seqcast('--version');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${VERSION}\n`);
  });
});

describe('the built command (node bin/seqcast.js, a child process)', () => {
  it('prints the version and exits 0', () => {
    const run = runSeqcast(['--version']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${VERSION}\n`);
  });

  it('exits 2 on a usage error, with one line on stderr', () => {
    expectFailure(runSeqcast(['predict', '--input', 'x.csv']), /required option '-m, --model <file>' not specified/, 2);
  });

  it('exits 1 when the command fails, and 0 when it succeeds', () => {
    expectFailure(runSeqcast(['predict', '--model', join(dir, 'nope.safetensors'), '--input', file('1,2,3\n')]), /cannot read model file .*nope\.safetensors: ENOENT/);
    const run = runSeqcast(['predict', '--model', models.frames, '--input', file('1,2,3\n')]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^y0,y1,y2\n[^\n]+\n$/);
  });
});

describe('seqcast usage errors', () => {
  it('a mistyped option is reported as unknown, not as the required option it misses', async () => {
    const run = await seqcast('predict', '--modle', models.frames, '--input', 'x.csv');
    expectFailure(run, /unknown option '--modle' \(Did you mean --model\?\) \(see 'seqcast predict --help'\)/, 2);
    for (const command of [['train', '--dat', 'x.csv'], ['replay', 'x.csv', '--ulr', 'ws://x'], ['detect', '--inptu', 'x.csv'], ['serve', '--prot', '1'], ['demo', '--row', '3']]) {
      expectFailure(await seqcast(...command), new RegExp(`unknown option '${command.find((a) => a.startsWith('--'))}'`), 2);
    }
  });

  it('--help lists the exit statuses: 0, 1 (the command failed), 2 (usage error), 130', async () => {
    const run = await seqcast('--help');
    expect(run.stdout).toMatch(/^Exit status:\n {2}0 +success\n {2}1 +the command failed: .*\n {2}2 +usage error: an unknown command or option, a missing option, or a value an option does not take\n {2}130 +interrupted/m);
  });

  it('a bad option value exits 2 whichever command and option it is', async () => {
    const cases = [
      ['replay', 'x.csv', '--url', 'ws://127.0.0.1:9/ws', '--rows', 'ten'],
      ['replay', 'x.csv', '--url', 'ws://127.0.0.1:9/ws', '--rate', '-1'],
      ['replay', 'x.csv', '--url', 'ws://127.0.0.1:9/ws', '--horizon', '0'],
      ['serve', '--port', '70000'],
      ['demo', '--rows', '0'],
      ['predict', '--model', 'm.safetensors', '--input', 'x.csv', '--columns', 'a,,b'],
      ['train', '--data', 'x.csv', '--out', join(dir, 'never.safetensors'), '--lr', '-1'],
      ['train', '--data', 'x.csv', '--out', join(dir, 'never.safetensors'), '--kind', 'lstmm'],
    ];
    for (const args of cases) {
      const run = await seqcast(...args);
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`\\(see 'seqcast ${args[0]} --help'\\)\n$`));
    }
  });

  it('an unknown option exits 2 with one line naming it', async () => {
    expectFailure(await seqcast('predict', '--model', models.frames, '--input', 'x.csv', '--bogus'), /unknown option '--bogus'.*seqcast predict --help/, 2);
  });

  it('a missing required option exits 2', async () => {
    expectFailure(await seqcast('predict', '--input', 'x.csv'), /required option '-m, --model <file>' not specified/, 2);
  });

  it('an unknown command exits 2', async () => {
    expectFailure(await seqcast('forecast'), /unknown command 'forecast'/, 2);
  });

  it('demo --rows must be a positive whole number', async () => {
    expectFailure(await seqcast('demo', '--rows', 'ten'), /'--rows <n>' argument 'ten' is invalid/, 2);
    expectFailure(await seqcast('demo', '--rows', '0'), /'--rows <n>' argument '0' is invalid/, 2);
  });

  it('no command prints the help to stderr and exits 2', async () => {
    const run = await seqcast();
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^Usage: seqcast /);
  });
});

describe('seqcast predict', () => {
  it('writes what stream.step returns for every row to stdout', async () => {
    const input = file(FRAMES.map((f) => f.join(',')).join('\n') + '\n');
    const run = await seqcast('predict', '--model', models.frames, '--input', input);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const { header, rows } = parseOutput(run.stdout);
    expect(header).toEqual(['y0', 'y1', 'y2']);
    expect(rows).toEqual(await libraryOutputs(models.frames, FRAMES));
  });

  it('writes --output (header row in the input, channel names and a normalizer in the model), printing nothing', async () => {
    const input = file(`temp,"flow,rate",pressure\n${FRAMES.map((f) => f.join(',')).join('\r\n')}`);
    const output = outPath();
    const run = await seqcast('predict', '-m', models.named, '-i', input, '-o', output);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);
    const { header, rows } = parseOutput(readFileSync(output, 'utf8'));
    expect(header).toEqual(['temp', 'flow,rate', 'pressure']);
    expect(rows).toEqual(await libraryOutputs(models.named, FRAMES));
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('prints each value with the fewest digits that read back as the same float32', async () => {
    const run = await seqcast('predict', '--model', models.frames, '--input', file('1,2,3\n'));
    const cells = run.stdout.split('\n')[1].split(',');
    for (const cell of cells) {
      expect(cell).toBe(formatFloat32(Number(cell)));
      expect(cell.replace(/^-|e.*$|\./g, '').replace(/^0+/, '').length).toBeLessThanOrEqual(9);
    }
  });

  it('runs a token model: one token id per row, logits out', async () => {
    const tokens = [3, 0, 6, 6, 1];
    const input = file(`token\n${tokens.join('\n')}\n`);
    const run = await seqcast('predict', '--model', models.tokens, '--input', input);
    expect(run.status).toBe(0);
    const { header, rows } = parseOutput(run.stdout);
    expect(header).toEqual(['y0', 'y1', 'y2', 'y3', 'y4', 'y5', 'y6']);
    expect(rows).toEqual(await libraryOutputs(models.tokens, tokens));
  });

  it('skips blank lines and trims cells', async () => {
    const input = file(`\n ${FRAMES[0].join(' , ')} \n\n   \n${FRAMES[1].join(',')}\n`);
    const run = await seqcast('predict', '--model', models.frames, '--input', input);
    expect(run.status).toBe(0);
    expect(parseOutput(run.stdout).rows).toEqual(await libraryOutputs(models.frames, FRAMES.slice(0, 2)));
  });

  it('reads a header with a time column: the time is not an input, and is copied to the output as its first column', async () => {
    const input = file(['timestamp,a,b,c', ...FRAMES.map((f, i) => `2013-12-02 21:${10 + 5 * i}:00,${f.join(',')}`)].join('\n'));
    const run = await seqcast('predict', '--model', models.frames, '--input', input);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const [header, ...rows] = parse(run.stdout) as string[][];
    expect(header).toEqual(['timestamp', 'y0', 'y1', 'y2']);
    expect(rows.map((row) => row[0])).toEqual(['2013-12-02 21:10:00', '2013-12-02 21:15:00', '2013-12-02 21:20:00', '2013-12-02 21:25:00']);
    expect(rows.map((row) => row.slice(1).map((cell) => Math.fround(Number(cell)) + 0))).toEqual(await libraryOutputs(models.frames, FRAMES));
  });

  it('reads the bundled NAB file (timestamp,value) with the bundled model', async () => {
    const nab = readFileSync(join(ROOT, 'demo/machine_temperature_system_failure.csv'), 'utf8').split('\n').slice(0, 51).join('\n');
    const run = await seqcast('predict', '--model', join(ROOT, 'demo/machine-temperature.safetensors'), '--input', file(nab));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^timestamp,/);
    expect(lines).toHaveLength(51);
    expect(lines[1]).toMatch(/^2013-12-02 21:15:00,7\d\.\d+$/);
  });

  it('--columns picks the inputs by header name or 0-based index, in the order given', async () => {
    const input = file(['t,c,extra,a,b', ...FRAMES.map((f, i) => `${i},${f[2]},99,${f[0]},${f[1]}`)].join('\n'));
    const expected = await libraryOutputs(models.frames, FRAMES);
    for (const columns of ['a,b,c', '3,4,1']) {
      const run = await seqcast('predict', '--model', models.frames, '--input', input, '--columns', columns);
      expect(run.stderr).toBe('');
      const [header, ...rows] = parse(run.stdout) as string[][];
      expect(header).toEqual(['t', 'y0', 'y1', 'y2']);
      expect(rows.map((row) => row.slice(1).map((cell) => Math.fround(Number(cell)) + 0))).toEqual(expected);
    }
    expectFailure(await seqcast('predict', '--model', models.frames, '--input', input, '--columns', 'a,b,nope'), /column "nope" does not exist in .*: its columns are "t", "c", "extra", "a", "b"/);
  });

  it('replaces an existing --output file', async () => {
    const output = file('old contents\n', `existing-${++fileCount}.csv`);
    const run = await seqcast('predict', '--model', models.frames, '--input', file('1,2,3\n'), '--output', output);
    expect(run.status).toBe(0);
    expect(parseOutput(readFileSync(output, 'utf8')).rows).toEqual(await libraryOutputs(models.frames, [[1, 2, 3]]));
  });

  it('stops quietly when the reader of stdout goes away', async () => {
    const input = file(Array.from({ length: 40_000 }, (_, i) => `${i % 5},1,2`).join('\n'));
    const child = spawn(process.execPath, ['bin/seqcast.js', 'predict', '--model', models.frames, '--input', input], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
});

describe('seqcast predict with bad input', () => {
  /** Runs predict with --output and expects failure with `message`, leaving no output file. */
  async function expectRejected(model: string, input: string, message: RegExp): Promise<void> {
    const output = outPath();
    expectFailure(await seqcast('predict', '--model', model, '--input', input, '--output', output), message);
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }

  /** A frame CSV with a header, a blank line and CRLF line ends, whose file line 7 is `bad`. */
  function framesWithBadLine7(bad: string): string {
    return file(['a,b,c', '1,2,3', '', '4,5,6\r', '7,8,9', '\r', bad, '1,1,1'].join('\n'));
  }

  it('a missing model file', async () => {
    await expectRejected(join(dir, 'nope.safetensors'), file('1,2,3\n'), /seqcast: cannot read model file .*nope\.safetensors: ENOENT/);
  });

  it('a corrupt model file, named', async () => {
    await expectRejected(models.corrupt, file('1,2,3\n'), /seqcast: .*corrupt\.safetensors: corrupt safetensors file/);
  });

  it('a model file missing a tensor, naming file and tensor', async () => {
    await expectRejected(models.missingTensor, file('1,2,3\n'), /seqcast: .*missing-tensor\.safetensors: .*"head\.bias"/);
  });

  it('an input file that does not exist', async () => {
    await expectRejected(models.frames, join(dir, 'nope.csv'), /seqcast: cannot read .*nope\.csv: no such file or directory \(ENOENT\)/);
  });

  it('an input that is a directory', async () => {
    const folder = join(dir, 'folder.csv');
    mkdirSync(folder, { recursive: true });
    await expectRejected(models.frames, folder, /seqcast: cannot read .*folder\.csv: it is a directory \(EISDIR\)/);
  });

  it('a row with the wrong number of values, by file line', async () => {
    await expectRejected(models.frames, framesWithBadLine7('1,2'), /in-\d+\.csv line 7: 2 values, the model expects 3$/m);
    await expectRejected(models.frames, framesWithBadLine7('1,2,3,4'), /line 7: 4 values, the model expects 3$/m);
  });

  it('a header with the wrong number of names', async () => {
    await expectRejected(models.frames, file('a,b\n1,2,3\n'), /line 1: the header names 2 columns, the model expects 3/);
  });

  it('a cell that is not a number', async () => {
    await expectRejected(models.frames, framesWithBadLine7('1,abc,3'), /in-\d+\.csv line 7, column 2: "abc" is not a number/);
    await expectRejected(models.frames, framesWithBadLine7('1,2,0x10'), /line 7, column 3: "0x10" is not a number/);
  });

  it('an empty cell', async () => {
    await expectRejected(models.frames, framesWithBadLine7('1,,3'), /line 7, column 2: the cell is empty; expected a number/);
  });

  it('NaN and infinite cells', async () => {
    await expectRejected(models.frames, framesWithBadLine7('NaN,2,3'), /line 7, column 1: "NaN" is not a finite number/);
    await expectRejected(models.frames, framesWithBadLine7('1,-Infinity,3'), /line 7, column 2: "-Infinity" is not a finite number/);
    await expectRejected(models.frames, framesWithBadLine7('1,2,inf'), /line 7, column 3: "inf" is not a finite number/);
    await expectRejected(models.frames, framesWithBadLine7('1e999,2,3'), /line 7, column 1: "1e999" is not a finite number/);
    await expectRejected(models.frames, framesWithBadLine7('1,1e39,3'), /line 7, column 2: "1e39" is too large for a float32/);
  });

  it('NaN in the first row is bad data, not a header', async () => {
    await expectRejected(models.frames, file('1,nan,3\n'), /line 1, column 2: "nan" is not a finite number/);
  });

  it('a token id outside the vocabulary', async () => {
    await expectRejected(models.tokens, file('token\n1\n7\n'), /line 3: token id 7 is outside the vocabulary \(0\.\.6\)/);
    await expectRejected(models.tokens, file('1\n-1\n'), /line 2: token id -1 is outside the vocabulary \(0\.\.6\)/);
  });

  it('a token id that is not an integer', async () => {
    await expectRejected(models.tokens, file('1\n2.5\n'), /line 2: token id 2\.5 is not an integer/);
  });

  it('a token row with two values', async () => {
    await expectRejected(models.tokens, file('1\n2,3\n'), /line 2: 2 values, the model expects 1 token id per row/);
  });

  it('a quote that is never closed', async () => {
    await expectRejected(models.frames, file('1,2,3\n4,"5,6\n'), /in-\d+\.csv: Quote Not Closed/);
  });

  it('a failure leaves an existing --output file as it was', async () => {
    const output = file('old contents\n', `existing-${++fileCount}.csv`);
    expectFailure(await seqcast('predict', '--model', models.frames, '--input', file('1,2,3\n4,5\n'), '--output', output), /line 2: 2 values/);
    expect(readFileSync(output, 'utf8')).toBe('old contents\n');
  });

  it('an --output in a directory that does not exist', async () => {
    expectFailure(await seqcast('predict', '--model', models.frames, '--input', file('1,2,3\n'), '--output', join(dir, 'no-dir', 'out.csv')), /cannot write .*out\.csv: no such file or directory/);
  });

  it('on stdout too, nothing is written when a row is bad', async () => {
    const run = await seqcast('predict', '--model', models.frames, '--input', file('1,2,3\n4,5,6\n7,x,9\n'));
    expectFailure(run, /line 3, column 2: "x" is not a number/);
    expect(run.stdout).toBe('');
  });

  it('reports every bad row, each with its line, and writes nothing', async () => {
    const input = file(['a,b,c', '1,2,3', '1,x,3', '4,5,6', '1,2', '', 'nan,2,3', '7,8,9'].join('\n'));
    const run = await seqcast('predict', '--model', models.frames, '--input', input);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')).toEqual([
      expect.stringMatching(/^seqcast: .*in-\d+\.csv has 3 bad rows:$/),
      expect.stringMatching(/^ {2}.*line 3, column 2: "x" is not a number$/),
      expect.stringMatching(/^ {2}.*line 5: 2 values, the model expects 3$/),
      expect.stringMatching(/^ {2}.*line 7, column 1: "nan" is not a finite number$/),
      '',
    ]);
  });

  it(`lists the first ${MAX_REPORTED_ROWS} bad rows and counts the rest`, async () => {
    const input = file(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? '1,2,3' : `1,bad${i},3`)).join('\n'));
    const run = await seqcast('predict', '--model', models.frames, '--input', input, '--output', outPath());
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`has 25 bad rows \\(the first ${MAX_REPORTED_ROWS} are listed\\):$`));
    expect(lines).toHaveLength(1 + MAX_REPORTED_ROWS);
    expect(lines[MAX_REPORTED_ROWS]).toMatch(/line 40, column 2: "bad39" is not a number/);
  });

  it('an empty file, a header without rows, and a file separated by semicolons are refused', async () => {
    await expectRejected(models.frames, file(''), /in-\d+\.csv is empty: there is nothing to predict/);
    await expectRejected(models.frames, file('\n\n'), /is empty: there is nothing to predict/);
    await expectRejected(models.frames, file('a,b,c\n'), /in-\d+\.csv has a header but no data rows: there is nothing to predict/);
    await expectRejected(models.frames, file('timestamp;value\n2013-12-02 21:15:00;73.96\n'), /line 1: "timestamp;value" is separated by semicolons, not commas; seqcast reads comma-separated files/);
    await expectRejected(models.frames, file('1;2;3\n4;5;6\n'), /line 1: "1;2;3" is separated by semicolons/);
  });

  it('a time cell that is not a timestamp', async () => {
    await expectRejected(models.frames, file('time,a,b,c\n2013-12-02,1,2,3\nyesterday,1,2,3\n'), /line 3, column 1: "yesterday" is not a timestamp \(a date-time such as 2014-04-10 07:15:00, or a number\)/);
  });
});

describe('CSV helpers', () => {
  async function rows(text: string): Promise<CsvRow[]> {
    const out: CsvRow[] = [];
    for await (const row of readCsvRows(file(text))) out.push(row);
    return out;
  }

  it('readCsvRows gives 1-based file lines across blank lines, CRLF, lone CR and quoted line breaks', async () => {
    expect(await rows('\ufeffa,b\r\n1,2\r\n\r\n3,4\n\n  \n5,6\r7,8')).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['1', '2'] },
      { line: 4, cells: ['3', '4'] },
      { line: 7, cells: ['5', '6'] },
      { line: 8, cells: ['7', '8'] },
    ]);
    expect(await rows('"two\nline",x\n1,2\n')).toEqual([
      { line: 1, cells: ['two\nline', 'x'] },
      { line: 3, cells: ['1', '2'] },
    ]);
  });

  it('readCsvRows keeps rows of any width and trims cells', async () => {
    expect(await rows(' 1 ,2\n3\n')).toEqual([
      { line: 1, cells: ['1', '2'] },
      { line: 2, cells: ['3'] },
    ]);
  });

  it('isHeaderRow: any cell that is not written as a number', async () => {
    expect(isHeaderRow(['temp', 'flow'])).toBe(true);
    expect(isHeaderRow(['1', 'x'])).toBe(true);
    expect(isHeaderRow(['1', '-2.5e3', '.5'])).toBe(false);
    expect(isHeaderRow(['NaN', 'inf', '-Infinity'])).toBe(false);
    expect(isHeaderRow(['1', ''])).toBe(false);
  });

  it('parseNumberCell reads decimals and rejects everything else with file, line and column', async () => {
    const at = { file: 'in.csv', line: 7, column: 2 };
    expect(parseNumberCell('-1.5e-3', at)).toBe(-0.0015);
    expect(parseNumberCell('+.5', at)).toBe(0.5);
    expect(parseNumberCell('3.', at)).toBe(3);
    expect(() => parseNumberCell('abc', at)).toThrow('in.csv line 7, column 2: "abc" is not a number');
    expect(() => parseNumberCell('1,5', at)).toThrow('"1,5" is not a number');
    expect(() => parseNumberCell('Infinity', at)).toThrow('"Infinity" is not a finite number');
    expect(() => parseNumberCell('', at)).toThrow('the cell is empty');
    expect(() => parseNumberCell('x'.repeat(50), at)).toThrow(`"${'x'.repeat(20)}…" is not a number`);
  });

  it('formatFloat32 writes the shortest decimal that reads back as the same float32', async () => {
    expect(formatFloat32(0.1)).toBe('0.1');
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(-2)).toBe('-2');
    expect(formatFloat32(-0)).toBe('0');
    expect(formatFloat32(3.4028234663852886e38)).toBe('3.4028235e+38');
    expect(formatFloat32(1.401298464324817e-45)).toBe('1e-45');
    const shortest = (f: number) => {
      for (let digits = 1; ; digits++) if (Math.fround(Number(f.toPrecision(digits))) === f) return String(Number(f.toPrecision(digits)));
    };
    const bits = new Uint32Array(1);
    const f32 = new Float32Array(bits.buffer);
    let seed = 12345;
    for (let i = 0; i < 20_000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      // half random bit patterns, half floats nearest to short decimals
      bits[0] = seed;
      const f = i % 2 ? f32[0] : Math.fround(Number(`${seed % 10 ** (1 + (i % 7))}e${(seed % 70) - 35}`));
      if (!Number.isFinite(f)) continue;
      const text = formatFloat32(f);
      expect(Math.fround(Number(text))).toBe(f);
      expect(text).toBe(shortest(f));
    }
  });

  it('formats rows: numbers, and text quoted when needed', async () => {
    expect(formatNumberRow(Float32Array.of(0.25, -1, 1e-7))).toBe('0.25,-1,1e-7\n');
    expect(formatTextRow(['a', 'b,c', 'say "hi"'])).toBe('a,"b,c","say ""hi"""\n');
    expect(csvField(' padded ')).toBe('" padded "');
  });
});

describe('AtomicFileSink', () => {
  it('commit writes the file; abort leaves nothing behind', async () => {
    const committed = outPath();
    const sink = await AtomicFileSink.create(committed);
    await sink.write('a\n');
    expect(existsSync(committed)).toBe(false);
    await sink.commit();
    expect(readFileSync(committed, 'utf8')).toBe('a\n');

    const aborted = outPath();
    const other = await AtomicFileSink.create(aborted);
    await other.write('b\n'.repeat(100_000)); // past one chunk, so the temporary file has content
    await other.abort();
    expect(existsSync(aborted)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('writeFileAtomic (src/io/atomic-file.ts, the one atomic writer)', () => {
  it('replaces a file with bytes or text, leaving no temporary file', async () => {
    const target = file('old\n', `atomic-${++fileCount}.bin`);
    await writeFileAtomic(target, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(target)]).toEqual([1, 2, 3]);
    await writeFileAtomic(target, 'héllo\n');
    expect(readFileSync(target, 'utf8')).toBe('héllo\n');
    expect(readdirSync(dir).filter((name) => isAtomicTempName(name))).toEqual([]);
  });

  it('throws the file system error for a folder that does not exist, writing nothing', async () => {
    const target = join(dir, 'no-such-folder', 'x.bin');
    await expect(writeFileAtomic(target, 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(target)).toBe(false);
  });

  it('names its temporary files so a cleanup can find them, and nothing else', async () => {
    const file = await AtomicFile.create(join(dir, 'state.json'));
    const name = file.tempPath.slice(dir.length + 1);
    expect(isAtomicTempName(name)).toBe(true);
    await file.abort();
    expect(existsSync(file.tempPath)).toBe(false);
    for (const other of ['state.json', 'model.g3.safetensors', '.hidden', 'notes.tmp']) expect(isAtomicTempName(other)).toBe(false);
  });
});
