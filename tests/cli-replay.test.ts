// `seqcast replay` against a real server on a loopback port: a refused open ends the command at once (a real process,
// bounded by a deadline that fails the test), no stream is left behind by a refusal, and --fresh, --learn, --horizon,
// --output and --columns do what they say.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { DEMO_CSV_URL, DEMO_MODEL_URL } from '../src/demo/data.js';
import { runReplay, type ReplayOptions } from '../src/cli/replay.js';
import { SeqcastServer } from '../src/server/server.js';
import { ROOT, type Run } from './helpers/cli.js';

const ROWS = 120;
/** A child replay that has not ended by then has hung: the test fails (the bug this file pins took 150 s and more). */
const CHILD_DEADLINE_MS = 30_000;

let dir: string;
let csv: string;
let model: Model;
let server: SeqcastServer;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-cli-replay-'));
  csv = join(dir, 'machine_temperature.csv');
  // the header (timestamp,value) and the first ROWS rows of the bundled NAB file
  writeFileSync(csv, readFileSync(DEMO_CSV_URL, 'utf8').split('\n').slice(0, ROWS + 1).join('\n'));
  model = await loadModel(fileURLToPath(DEMO_MODEL_URL));
  server = await SeqcastServer.start({ models: [{ name: 'machine-temperature', model }], port: 0, webRoot: null });
  url = `${server.url.replace('http', 'ws')}ws`;
});

afterAll(async () => {
  await server?.close();
  model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `seqcast <args…>` in a child process (from the sources), killed and failed if it runs past CHILD_DEADLINE_MS. */
function seqcastChild(args: string[]): Promise<Run & { ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`seqcast ${args.join(' ')} did not exit within ${CHILD_DEADLINE_MS / 1000} s (it hangs); stderr so far: ${stderr}`));
    }, CHILD_DEADLINE_MS);
    child.on('close', (status) => {
      clearTimeout(deadline);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Replays in this process, the summary printed to a string. */
async function replay(options: Partial<ReplayOptions> & { stream: string }): Promise<{ summary: Awaited<ReturnType<typeof runReplay>>; printed: string }> {
  const out = new PassThrough();
  let printed = '';
  out.on('data', (chunk) => (printed += chunk));
  const summary = await runReplay({ file: csv, url, rate: 0, out, progress: new PassThrough(), ...options });
  return { summary, printed };
}

/** A producer connection of the test's own, holding `stream`. */
async function holdStream(stream: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const opened = new Promise<unknown>((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()))));
  ws.send(JSON.stringify({ type: 'open', stream }));
  expect(await opened).toMatchObject({ type: 'opened', stream });
  return ws;
}

describe('seqcast replay ends at once when the server refuses to open the stream', () => {
  it('an unknown --model: exit 1, the refusal on stderr, no stream left on the server', async () => {
    const run = await seqcastChild(['replay', csv, '--url', url, '--model', 'nosuch', '--stream', 'refused-model']);
    expect(run.stderr).toMatch(/seqcast: the server refused to open stream "refused-model": .*nosuch/);
    expect(run.status).toBe(1);
    expect(server.streams.has('refused-model')).toBe(false);
  });

  it('a stream another producer holds: exit 1 with stream_busy, the holder keeps it', async () => {
    const holder = await holdStream('held');
    try {
      const run = await seqcastChild(['replay', csv, '--url', url, '--stream', 'held']);
      expect(run.stderr).toMatch(/seqcast: the server refused to open stream "held": .*\(stream_busy\)/);
      expect(run.status).toBe(1);
      expect(server.streams.get('held')?.owner).toBeDefined();
    } finally {
      holder.terminate();
    }
  });

  it('a horizon past the server\'s limit is refused the same way', async () => {
    const small = await SeqcastServer.start({ models: [{ name: 'machine-temperature', model }], port: 0, webRoot: null, maxForecastRows: 2 });
    try {
      const run = await seqcastChild(['replay', csv, '--url', `${small.url.replace('http', 'ws')}ws`, '--horizon', '5', '--stream', 'far']);
      expect(run.stderr).toMatch(/seqcast: the server refused to open stream "far"/);
      expect(run.status).toBe(1);
    } finally {
      await small.close();
    }
  });

  it('a file that does not fit the model: exit 1, and the stream the replay opened is closed again', async () => {
    const wide = join(dir, 'wide.csv');
    writeFileSync(wide, 'a,b\n1,2\n3,4\n');
    const run = await seqcastChild(['replay', wide, '--url', url, '--stream', 'too-wide']);
    expect(run.stderr).toMatch(/has 2 value columns, but model "machine-temperature" takes 1 values per frame/);
    expect(run.status).toBe(1);
    expect(server.streams.has('too-wide')).toBe(false);
  });

  it('nothing listening: exit 1 naming the address', async () => {
    const closed = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null });
    const deadUrl = `${closed.url.replace('http', 'ws')}ws`;
    await closed.close();
    const run = await seqcastChild(['replay', csv, '--url', deadUrl]);
    expect(run.stderr).toMatch(/seqcast: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/ws: .*ECONNREFUSED/);
    expect(run.status).toBe(1);
  });

  it('a bad file is refused before connecting: an empty file, a header only, semicolons', async () => {
    for (const [text, message] of [
      ['', /is empty: there is nothing to replay/],
      ['timestamp,value\n', /has a header but no data rows: there is nothing to replay/],
      ['timestamp;value\n2013-12-02 21:15:00;73.96\n', /is separated by semicolons, not commas/],
    ] as const) {
      const bad = join(dir, 'bad.csv');
      writeFileSync(bad, text);
      await expect(replay({ file: bad, stream: 'bad-file' })).rejects.toThrow(message);
      expect(server.streams.has('bad-file')).toBe(false);
    }
  });
});

describe('seqcast replay options', () => {
  it('the whole replay as a process: exit 0 and the summary on stdout', async () => {
    const run = await seqcastChild(['replay', csv, '--url', url, '--rate', '0', '--stream', 'whole']);
    expect(run.stderr).not.toMatch(/seqcast:/);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`replayed ${ROWS} rows`);
  });

  it('a second replay continues the stream and says so; --fresh starts it anew and predicts as the first did', async () => {
    const first = await replay({ stream: 'again' });
    expect(first.printed).not.toMatch(/already on the server/);
    const second = await replay({ stream: 'again' });
    expect(second.printed).toMatch(/the stream was already on the server: continued from seq 120 with its state from before \(--fresh starts it afresh\)/);
    expect(server.streams.get('again')!.lastSeq).toBe(2 * ROWS - 1);
    expect(second.summary.predicted).not.toEqual(first.summary.predicted);
    const fresh = await replay({ stream: 'again', fresh: true });
    expect(fresh.printed).not.toMatch(/already on the server/);
    expect(fresh.summary.firstSeq).toBe(0);
    expect(fresh.summary.predicted.map((p) => Array.from(p!))).toEqual(first.summary.predicted.map((p) => Array.from(p!)));
  });

  it('--fresh on a stream another producer holds is refused, and the stream stays its holder\'s', async () => {
    const holder = await holdStream('held-fresh');
    try {
      await expect(replay({ stream: 'held-fresh', fresh: true })).rejects.toThrow(/refused to open stream "held-fresh": .*stream_busy/);
      expect(server.streams.get('held-fresh')?.owner).toBeDefined();
    } finally {
      holder.terminate();
    }
  });

  it('--learn opens a learning stream; --horizon k asks for k forecast rows', async () => {
    const { summary } = await replay({ stream: 'learner', learn: true, horizon: 3 });
    expect(summary.errorsByCode).toEqual({});
    const entry = server.streams.get('learner')!;
    expect(entry.learn).toBe(true);
    expect(entry.learning).toBeDefined();
    expect(entry.horizon).toBe(3);
  });

  for (const binary of [false, true]) {
    it(`--output writes every row: seq, time, value, prediction, forecast, error, anomaly (${binary ? 'binary' : 'JSON'} frames)`, async () => {
      const output = join(dir, `rows-${binary}.csv`);
      const { summary } = await replay({ stream: `rows-${binary}`, horizon: 2, output, binary });
      const [header, ...rows] = parse(readFileSync(output, 'utf8')) as string[][];
      expect(header).toEqual(['seq', 'timestamp', 'value', 'predicted_value', 'h2_value', 'error', 'anomaly', 'refused']);
      expect(rows).toHaveLength(ROWS);
      expect(rows[0].slice(0, 3)).toEqual(['0', '2013-12-02 21:15:00', '73.96732207']);
      for (const [i, row] of rows.entries()) {
        expect(Math.fround(Number(row[3]))).toBe(summary.predicted[i]![0]);
        expect(Number.isFinite(Number(row[4]))).toBe(true);
        expect(Number(row[6])).toBeGreaterThanOrEqual(0);
        expect(row[7]).toBe('');
      }
      expect(rows[0][5]).toBe(''); // a stream's first frame has no previous prediction to score
      expect(Number(rows[1][5])).toBeCloseTo(Math.abs(Number(rows[1][2]) - Number(rows[0][3])), 3);
    });
  }

  it('--output is not written when the replay fails', async () => {
    const output = join(dir, 'never.csv');
    await expect(replay({ stream: 'no-output', model: 'nosuch', output })).rejects.toThrow(/refused to open/);
    expect(existsSync(output)).toBe(false);
  });

  it('--columns picks the value column by name, leaving the others out', async () => {
    const extra = join(dir, 'extra.csv');
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    writeFileSync(extra, [`${lines[0]},other`, ...lines.slice(1).map((line) => `${line},1000`)].join('\n'));
    const output = join(dir, 'columns.csv');
    const { summary } = await replay({ file: extra, stream: 'columns', columns: 'value', output });
    expect(summary.errorsByCode).toEqual({});
    const first = await replay({ stream: 'columns-reference' });
    expect(summary.predicted.map((p) => Array.from(p!))).toEqual(first.summary.predicted.map((p) => Array.from(p!)));
  });
});
