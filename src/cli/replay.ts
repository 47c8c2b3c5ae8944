// `seqcast replay`: streams a CSV to a seqcast server as a producer would, at a chosen rate, and sums up the prediction errors.

import { basename, extname } from 'node:path';
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import WebSocket from 'ws';
import { InputError, SeqcastError } from '../errors.js';
import { BINARY_HEADER_BYTES, decodePredictions, encodeFrames, frameRecordBytes, MAX_BINARY_RECORDS } from '../protocol/binary.js';
import { isHeaderRow, parseNumberCell, readCsvRows } from '../io/csv.js';

export interface ReplayOptions {
  file: string;
  url: string;
  /** Frames per second; 0 = as fast as the server answers (a window of frames in flight). */
  rate: number;
  stream?: string;
  model?: string;
  binary?: boolean;
  token?: string;
  /** Replay only the first rows. */
  rows?: number;
  out: NodeJS.WritableStream;
  /** Where the progress bar goes (only drawn on a terminal). */
  progress?: NodeJS.WritableStream;
}

/** What a replay measured; also printed by runReplay. */
export interface ReplaySummary {
  stream: string;
  rows: number;
  predictions: number;
  errorsByCode: Record<string, number>;
  /** One-step errors: each row against the prediction made after the row before it. */
  mae: number;
  rmse: number;
  /** Persistence (each row predicted as the row before), for scale. */
  persistenceRmse: number;
  maxAnomaly: number;
  /** Rows whose anomaly likelihood was ≥ 0.99. */
  anomalies: number;
  seconds: number;
  /** predicted[i] is the prediction received for row i (the model's guess at row i + 1); undefined where an error came back. */
  predicted: (Float32Array | undefined)[];
}

/** Frames in flight when replaying as fast as possible. */
const WINDOW = 512;
/** ms between sends when pacing a rate. */
const TICK_MS = 10;
/** Give up when nothing has come back for this long, ms. */
const ANSWER_TIMEOUT_MS = 15_000;

export function addReplayCommand(program: Command, finish: (exitCode: number) => void): Command {
  return program
    .command('replay')
    .summary('stream a CSV file to a seqcast server and sum up the errors')
    .description('Streams the rows of a CSV to a running seqcast server (one frame per row), as a producer would, with a progress bar; prints the prediction error summary at the end.')
    .argument('<file.csv>', 'one frame per row; a header row is allowed, and columns named timestamp, time, date or t are sent as the frame time')
    .requiredOption('--url <ws-url>', 'the server\'s WebSocket, e.g. ws://127.0.0.1:8080/ws')
    .addOption(new Option('--rate <hz>', 'frames per second; 0 = as fast as the server answers').default(100).argParser(nonNegativeNumber))
    .option('--stream <name>', 'stream name (default: the file name)')
    .option('--model <name>', 'model to open the stream on (default: the server\'s first)')
    .option('--binary', 'send binary frames (docs/protocol.md) instead of JSON')
    .addOption(new Option('--rows <n>', 'replay only the first n rows').argParser(positiveWhole))
    .addOption(new Option('--token <token>', 'access token, if the server wants one').env('SEQCAST_TOKEN'))
    .action(async (file: string, options: Omit<ReplayOptions, 'file' | 'out'>) => {
      const summary = await runReplay({ ...options, file, out: process.stdout, progress: process.stderr });
      finish(Object.keys(summary.errorsByCode).length === 0 ? 0 : 1);
    });
}

/** Reads the CSV: the frames and, when a time column exists, each row's time (ms since the epoch, or the number as written). */
export async function readReplayFile(file: string, limit = Infinity): Promise<{ frames: number[][]; times: (number | undefined)[]; channels: string[] }> {
  const frames: number[][] = [];
  const times: (number | undefined)[] = [];
  let valueColumns: number[] | undefined;
  let timeColumn = -1;
  let channels: string[] = [];
  for await (const row of readCsvRows(file)) {
    if (!valueColumns) {
      if (isHeaderRow(row.cells)) {
        timeColumn = row.cells.findIndex((c) => /^(timestamp|time|date|datetime|t)$/i.test(c));
        valueColumns = row.cells.map((_, i) => i).filter((i) => i !== timeColumn);
        channels = valueColumns.map((i) => row.cells[i]);
        continue;
      }
      valueColumns = row.cells.map((_, i) => i);
      channels = valueColumns.map((i) => `column ${i + 1}`);
    }
    if (frames.length >= limit) break;
    if (row.cells.length !== valueColumns.length + (timeColumn >= 0 ? 1 : 0)) {
      throw new InputError(`${file} line ${row.line}: ${row.cells.length} cells, expected ${valueColumns.length + (timeColumn >= 0 ? 1 : 0)} like the first row`);
    }
    frames.push(valueColumns.map((i) => parseNumberCell(row.cells[i], { file, line: row.line, column: i + 1 })));
    if (timeColumn >= 0) {
      const cell = row.cells[timeColumn];
      const t = /^[+-]?\d+(\.\d+)?$/.test(cell) ? Number(cell) : Date.parse(cell.includes('T') || cell.endsWith('Z') ? cell : `${cell.replace(' ', 'T')}Z`);
      times.push(Number.isFinite(t) ? t : undefined);
    } else times.push(undefined);
  }
  if (frames.length === 0) throw new InputError(`${file} has no rows to replay`);
  return { frames, times, channels };
}

/** Replays the file and prints the summary to `out`. Throws SeqcastError when it cannot connect or the stream cannot be opened. */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const { frames, times } = await readReplayFile(options.file, options.rows);
  const streamName = options.stream ?? basename(options.file, extname(options.file));
  const ws = await connect(options.url, options.token);
  const total = frames.length;
  const predicted: (Float32Array | undefined)[] = new Array(total).fill(undefined);
  const anomalies = new Float64Array(total).fill(NaN);
  const errorsByCode: Record<string, number> = {};
  const firstErrors: string[] = [];
  let answered = 0;
  let sent = 0;
  let lastAnswerAt = performance.now();

  const opened = await new Promise<{ id: number; inputSize: number; lastSeq: number; model: string }>((resolve, reject) => {
    ws.once('message', (data) => {
      const parsed = JSON.parse(data.toString()) as Record<string, unknown> | Record<string, unknown>[];
      const reply = Array.isArray(parsed) ? parsed[0] : parsed;
      if (reply.type === 'opened') resolve(reply as never);
      else reject(new ReplayError(`the server refused to open stream "${streamName}": ${reply.message ?? JSON.stringify(reply)}`));
    });
    ws.send(JSON.stringify({ type: 'open', stream: streamName, ...(options.model ? { model: options.model } : {}) }));
  });
  const width = frames[0].length;
  if (opened.inputSize !== width) {
    ws.close();
    throw new ReplayError(`${options.file} has ${width} value column${width === 1 ? '' : 's'}, but model "${opened.model}" takes ${opened.inputSize} values per frame`);
  }
  const firstSeq = opened.lastSeq + 1;
  const rowOf = (seq: number) => seq - firstSeq;

  const bar = new SingleBar({ format: 'replay |{bar}| {value}/{total} frames | {speed} frames/s | errors {errors}', stream: options.progress ?? process.stderr, hideCursor: true }, undefined);
  bar.start(total, 0, { speed: 0, errors: 0 });
  const started = performance.now();
  let errorCount = 0;

  const done = new Promise<void>((resolve, reject) => {
    const answeredOne = () => {
      answered++;
      lastAnswerAt = performance.now();
      if (answered % 64 === 0 || answered === total) bar.update(answered, { speed: Math.round(answered / ((performance.now() - started) / 1000)), errors: errorCount });
      if (answered === total) resolve();
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        for (const p of decodePredictions(new Uint8Array(data as Buffer))) {
          const row = rowOf(p.seq);
          predicted[row] = p.predicted;
          anomalies[row] = p.anomaly;
          answeredOne();
        }
        return;
      }
      const parsed = JSON.parse(data.toString()) as Record<string, unknown> | Record<string, unknown>[];
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        if (message.type === 'prediction') {
          const row = rowOf(message.seq as number);
          predicted[row] = Float32Array.from(message.predicted as number[]);
          anomalies[row] = message.anomaly as number;
          answeredOne();
        } else if (message.type === 'error') {
          const code = String(message.code);
          errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
          errorCount++;
          if (firstErrors.length < 5) firstErrors.push(`${code}: ${message.message}`);
          // a refused frame is answered too; a rate-limit error answers every frame from its seq to the end of that message
          if (typeof message.seq === 'number') for (let n = 0; n < ((message.count as number | undefined) ?? 1); n++) answeredOne();
        }
      }
    });
    ws.on('close', () => reject(new ReplayError(`the server closed the connection after ${answered} of ${total} answers`)));
  });

  const send = (from: number, to: number) => {
    if (to <= from) return;
    if (options.binary) {
      const perMessage = Math.max(1, Math.min(MAX_BINARY_RECORDS, Math.floor((256 * 1024 - BINARY_HEADER_BYTES) / frameRecordBytes(width))));
      for (let at = from; at < to; at += perMessage) {
        const end = Math.min(to, at + perMessage);
        const batch = [];
        for (let i = at; i < end; i++) batch.push({ streamId: opened.id, seq: firstSeq + i, t: times[i], values: Float32Array.from(frames[i]) });
        ws.send(encodeFrames(batch));
      }
    } else {
      const batch = [];
      for (let i = from; i < to; i++) batch.push({ type: 'frame', stream: streamName, seq: firstSeq + i, ...(times[i] !== undefined ? { t: times[i] } : {}), values: frames[i] });
      ws.send(JSON.stringify(batch.length === 1 ? batch[0] : batch));
    }
    sent = to;
  };

  const pacer = setInterval(() => {
    const due = options.rate > 0 ? Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate) + 1) : Math.min(total, answered + WINDOW);
    send(sent, due);
    if (performance.now() - lastAnswerAt > ANSWER_TIMEOUT_MS) ws.terminate();
  }, options.rate > 0 ? Math.min(TICK_MS, 1000 / options.rate) : 1);
  try {
    await done;
  } finally {
    clearInterval(pacer);
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  ws.close();

  const summary = summarize(streamName, frames, predicted, anomalies, errorsByCode, seconds);
  writeSummary(options, summary, firstErrors);
  return summary;
}

class ReplayError extends SeqcastError {
  constructor(message: string) {
    super('REPLAY', message);
  }
}

function connect(url: string, token: string | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_request, response) => {
      reject(new ReplayError(`${url} refused the connection: HTTP ${response.statusCode} ${response.statusMessage}${response.statusCode === 401 ? ' (give the access token with --token or SEQCAST_TOKEN)' : ''}`));
    });
    ws.once('error', (err) => reject(new ReplayError(`cannot connect to ${url}: ${err.message}`)));
  });
}

function summarize(
  stream: string,
  frames: number[][],
  predicted: (Float32Array | undefined)[],
  anomalies: Float64Array,
  errorsByCode: Record<string, number>,
  seconds: number,
): ReplaySummary {
  let absolute = 0;
  let squared = 0;
  let persistence = 0;
  let count = 0;
  for (let i = 1; i < frames.length; i++) {
    const previous = predicted[i - 1];
    if (!previous) continue;
    for (let c = 0; c < frames[i].length; c++) {
      const error = frames[i][c] - previous[c];
      absolute += Math.abs(error);
      squared += error * error;
      persistence += (frames[i][c] - frames[i - 1][c]) ** 2;
      count++;
    }
  }
  let maxAnomaly = 0;
  let anomalyCount = 0;
  for (const a of anomalies) {
    if (Number.isNaN(a)) continue;
    maxAnomaly = Math.max(maxAnomaly, a);
    if (a >= 0.99) anomalyCount++;
  }
  return {
    stream,
    rows: frames.length,
    predictions: predicted.filter(Boolean).length,
    errorsByCode,
    mae: absolute / count,
    rmse: Math.sqrt(squared / count),
    persistenceRmse: Math.sqrt(persistence / count),
    maxAnomaly,
    anomalies: anomalyCount,
    seconds,
    predicted,
  };
}

function writeSummary(options: ReplayOptions, s: ReplaySummary, firstErrors: string[]): void {
  const write = (line = '') => options.out.write(`${line}\n`);
  write(`replayed ${s.rows.toLocaleString('en-US')} rows of ${options.file} to stream "${s.stream}" in ${s.seconds.toFixed(2)} s (${Math.round(s.rows / s.seconds).toLocaleString('en-US')} frames/s, ${options.binary ? 'binary' : 'JSON'})`);
  write(`  predictions: ${s.predictions.toLocaleString('en-US')}; one-step error: MAE ${fmt(s.mae)}, RMSE ${fmt(s.rmse)} (persistence RMSE ${fmt(s.persistenceRmse)})`);
  write(`  anomaly likelihood: max ${s.maxAnomaly.toFixed(4)}, ${s.anomalies} row${s.anomalies === 1 ? '' : 's'} at 0.99 or above`);
  const codes = Object.entries(s.errorsByCode);
  if (codes.length === 0) write('  errors: none');
  else {
    write(`  errors: ${codes.map(([code, n]) => `${code} ×${n}`).join(', ')}`);
    for (const line of firstErrors) write(`    ${line}`);
  }
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toPrecision(5) : 'n/a';
}

function nonNegativeNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError('Expected a number of frames per second (0 = as fast as possible).');
  return value;
}

function positiveWhole(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1) throw new InvalidArgumentError('Expected a positive whole number.');
  return value;
}
