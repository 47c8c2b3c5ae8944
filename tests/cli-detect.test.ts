// `seqcast detect`, run in-process: every row of a CSV time series with its anomaly score, learned online from scratch,
// with no look-ahead; bad input named by line with nothing written.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { parseTimestamp } from '../src/io/timestamps.js';
import { createModel } from '../src/index.js';
import { Collector, runCli, type Run } from './helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-detect-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
function file(text: string, name = `in-${++fileCount}.csv`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Five-minute timestamps from 2014-04-01 00:00, as NAB writes them. */
function stamp(row: number): string {
  return new Date(Date.UTC(2014, 3, 1) + row * 300_000).toISOString().replace('T', ' ').slice(0, 19);
}

/** A daily-looking sine with a little deterministic noise, and a jump of +8 from row `spikeAt` for 3 rows. */
function series(rows: number, spikeAt = -1): string {
  const lines = ['timestamp,value'];
  for (let r = 0; r < rows; r++) {
    const spike = r >= spikeAt && r < spikeAt + 3 && spikeAt >= 0 ? 8 : 0;
    lines.push(`${stamp(r)},${(Math.sin((2 * Math.PI * r) / 48) + 0.05 * Math.sin(r * 12.9898) + spike).toFixed(4)}`);
  }
  return `${lines.join('\n')}\n`;
}

function outputRows(text: string): string[][] {
  return text.trim().split('\n').map((line) => line.split(','));
}

function expectFailure(run: Run, message: RegExp): void {
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(message);
  expect(run.stdout).toBe('');
}

describe('seqcast detect', () => {
  it('writes every input row with its columns and an anomaly_score in [0, 1], 0.5 through the probationary period', async () => {
    const output = join(dir, 'scores.csv');
    const run = await runCli(['detect', '--input', file(series(400)), '--output', output]);
    expect(run).toMatchObject({ status: 0, stdout: '', stderr: '' });
    const rows = outputRows(readFileSync(output, 'utf8'));
    expect(rows[0]).toEqual(['timestamp', 'value', 'anomaly_score']);
    expect(rows).toHaveLength(401);
    expect(rows[1].slice(0, 2)).toEqual([stamp(0), '0.0000']);
    const scores = rows.slice(1).map((row) => Number(row[2]));
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores.slice(0, 60).every((s) => s === 0.5)).toBe(true); // 15% of 400 rows
    expect(new Set(scores.slice(60)).size).toBeGreaterThan(10);
  });

  it('writes to standard output without --output', async () => {
    const run = await runCli(['detect', '--input', file(series(50))]);
    expect(run.status).toBe(0);
    expect(outputRows(run.stdout)).toHaveLength(51);
  });

  it('scores a jump far above the rows around it', async () => {
    const run = await runCli(['detect', '--input', file(series(1500, 1200))]);
    const scores = outputRows(run.stdout).slice(1).map((row) => Number(row[2]));
    const atJump = Math.max(...scores.slice(1200, 1205));
    expect(atJump).toBeGreaterThan(0.99);
    expect(atJump).toBeGreaterThan(Math.max(...scores.slice(300, 1190)));
  });

  it("uses no look-ahead: a row's score is the same whatever rows follow it", async () => {
    // both files are long enough for the whole probationary period (750 rows)
    const full = await runCli(['detect', '--input', file(series(5200, 5150))]);
    const cut = await runCli(['detect', '--input', file(series(5100))]);
    expect(outputRows(cut.stdout)).toEqual(outputRows(full.stdout).slice(0, 5101));
  });

  it('keeps the input columns as written, several value columns included, and starts from --model', async () => {
    const model = join(dir, 'two.safetensors');
    await (await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, seed: 3 })).save(model);
    const input = file('value_a,timestamp,"b, c"\n1.50,2020-01-01T00:00:00Z,2\n2,2020-01-01T00:01:00Z,3e0\n');
    const run = await runCli(['detect', '--input', input, '--model', model]);
    expect(run.status).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual(['value_a,timestamp,"b, c",anomaly_score', '1.50,2020-01-01T00:00:00Z,2,0.5']);
    expect(lines[2]).toMatch(/^2,2020-01-01T00:01:00Z,3e0,(0|1|0\.\d+)$/);
    const wrong = await runCli(['detect', '--input', file(series(10)), '--model', model]);
    expectFailure(wrong, /two\.safetensors takes 2 values and predicts 2; .*in-\d+\.csv has 1 value column/);
  });

  it('accepts a clock put back an hour (daylight saving), not more', async () => {
    const back = (minutes: number) => file(`timestamp,value\n2014-01-07 02:55:00,1\n2014-01-07 ${String(3 - Math.ceil(minutes / 60)).padStart(2, '0')}:${String((60 - (minutes % 60)) % 60).padStart(2, '0')}:00,2\n`);
    expect((await runCli(['detect', '--input', back(55)])).status).toBe(0);
    expectFailure(await runCli(['detect', '--input', back(120)]), /line 3: timestamp "2014-01-07 01:00:00" is out of order: it comes before line 2's/);
  });

  it('draws a progress bar on a terminal', async () => {
    const stdout = new Collector();
    const stderr = Object.assign(new Collector(), { isTTY: true, columns: 100 });
    const status = await main(['detect', '--input', file(series(600)), '--output', join(dir, 'bar.csv')], { stdout, stderr });
    expect(status).toBe(0);
    expect(stderr.text).toMatch(/detect \|.*\| 600\/600 rows/);
  });
});

describe('seqcast detect with bad input', () => {
  /** Runs detect with --output and expects failure with `message`, the output file left as it was. */
  async function expectRejected(text: string, message: RegExp): Promise<void> {
    const output = join(dir, `kept-${++fileCount}.csv`);
    writeFileSync(output, 'before\n');
    expectFailure(await runCli(['detect', '--input', file(text), '--output', output]), message);
    expect(readFileSync(output, 'utf8')).toBe('before\n');
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }

  it('a value that is not a number, by line and column', async () => {
    await expectRejected('timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n', /in-\d+\.csv line 3, column 2: "abc" is not a number/);
  });

  it('no timestamp column', async () => {
    await expectRejected('time,value\n2014-01-01 00:00:00,1\n', /line 1: no "timestamp" column; the first row must be a header/);
    await expectRejected('1,2\n3,4\n', /line 1: no "timestamp" column/);
  });

  it('timestamps out of order, by line', async () => {
    await expectRejected('timestamp,value\n2014-01-02 00:00:00,1\n2014-01-03 00:00:00,2\n2014-01-01 00:00:00,3\n', /line 4: timestamp "2014-01-01 00:00:00" is out of order: it comes before line 3's/);
    await expectRejected('timestamp,value\n5,1\n4,2\n', /line 3: timestamp "4" is out of order/);
  });

  it('a timestamp that is not one', async () => {
    await expectRejected('timestamp,value\n2014-01-01 00:00:00,1\nyesterday,2\n', /line 3, column 1: "yesterday" is not a timestamp/);
    await expectRejected('timestamp,value\n2014-13-01 00:00:00,1\n', /line 2, column 1: "2014-13-01 00:00:00" is not a timestamp/);
    await expectRejected('timestamp,value\n2014-01-01 00:00:00,1\n1388534700,2\n', /line 3: timestamp "1388534700" is a number, the rows before have date-times/);
  });

  it('a row with the wrong number of cells, an empty file, a header alone', async () => {
    await expectRejected('timestamp,value\n2014-01-01 00:00:00,1,2\n', /line 2: 3 cells, the header names 2 columns/);
    await expectRejected('', /in-\d+\.csv is empty/);
    await expectRejected('timestamp,value\n', /has a header and no rows/);
    await expectRejected('timestamp\n2014-01-01 00:00:00\n', /the header names no value column besides "timestamp"/);
  });

  it('an input file that does not exist', async () => {
    const output = join(dir, 'never.csv');
    expectFailure(await runCli(['detect', '--input', join(dir, 'nope.csv'), '--output', output]), /cannot read .*nope\.csv/);
    expect(existsSync(output)).toBe(false);
  });
});

describe('detect timestamps', () => {
  it('reads NAB date-times, ISO 8601 with zones, and plain numbers', () => {
    expect(parseTimestamp('2014-04-10 07:15:00')).toEqual({ at: Date.UTC(2014, 3, 10, 7, 15), isDate: true });
    expect(parseTimestamp('2014-04-10T07:15:00.250Z').at).toBe(Date.UTC(2014, 3, 10, 7, 15, 0, 250));
    expect(parseTimestamp('2014-04-10T09:15:00+02:00').at).toBe(Date.UTC(2014, 3, 10, 7, 15));
    expect(parseTimestamp('2014-04-10').at).toBe(Date.UTC(2014, 3, 10));
    expect(parseTimestamp('1397114100')).toEqual({ at: 1397114100, isDate: false });
    expect(parseTimestamp('10/04/2014 07:15').at).toBeNaN();
  });
});
