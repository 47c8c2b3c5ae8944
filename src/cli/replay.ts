// `seqcast replay`: streams a CSV to a seqcast server as a producer would, at a chosen rate, and sums up the prediction errors.

import { basename, extname } from 'node:path';
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseColumnList } from '../io/columns.js';
import { AtomicFileSink } from '../io/files.js';
import { type FrameFile, readFrameFile } from '../io/frames.js';
import { BINARY_HEADER_BYTES, decodePredictions, encodeFrames, frameRecordBytes, MAX_BINARY_RECORDS } from '../protocol/binary.js';
import { MAX_HORIZON, type OpenedMessage } from '../protocol/messages.js';
import { describe, ProducerSocket, ReplayError } from './replay-client.js';
import { checkUsage } from './usage.js';
import { noAnswers, summarize, type ReplayAnswers, type ReplaySummary, writeReplayCsv, writeSummary } from './replay-report.js';

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
  /** Value columns by header name or 0-based index, comma-separated (default: all but the time column). */
  columns?: string;
  /** Close a stream the server already has and open it anew, instead of continuing it. */
  fresh?: boolean;
  /** Open the stream as a learning stream (online training as it goes). */
  learn?: boolean;
  /** Forecast rows per frame (the stream's horizon). */
  horizon?: number;
  /** Write every row's prediction and scores to this CSV (replaced atomically once the replay is done). */
  output?: string;
  out: NodeJS.WritableStream;
  /** Where the progress bar goes (only drawn on a terminal). */
  progress?: NodeJS.WritableStream;
}

export type { ReplaySummary } from './replay-report.js';

/** Frames in flight when replaying as fast as possible. */
const WINDOW = 512;
/** ms between sends when pacing a rate. */
const TICK_MS = 10;
/** Give up when nothing has come back for this long, ms. */
const ANSWER_TIMEOUT_MS = 15_000;

/** Adds the `replay` command to `program`; its action hands its exit code to `finish` (1 when any frame was refused). */
export function addReplayCommand(program: Command, finish: (exitCode: number) => void): Command {
  return program
    .command('replay')
    .summary('stream a CSV file to a seqcast server and sum up the errors')
    .description('Streams the rows of a CSV to a running seqcast server (one frame per row), as a producer would, with a progress bar; prints the prediction error summary at the end.')
    .argument('<file.csv>', 'one frame per row; a header row is allowed, and a column named timestamp, time, date, datetime or t is sent as the frame time')
    .requiredOption('--url <ws-url>', 'the server\'s WebSocket, e.g. ws://127.0.0.1:8080/ws')
    .addOption(new Option('--rate <hz>', 'frames per second; 0 = as fast as the server answers').default(100).argParser(nonNegativeNumber))
    .option('--stream <name>', 'stream name (default: the file name)')
    .option('--model <name>', 'model to open the stream on (default: the server\'s first)')
    .option('--columns <list>', 'value columns by header name or 0-based index, comma-separated (default: all but the time column)')
    .option('--fresh', 'if the server already has the stream, close it and start it anew instead of continuing its state')
    .option('--learn', 'open the stream as a learning stream: the model trains online as the rows arrive')
    .addOption(new Option('--horizon <k>', `forecast k rows ahead with every prediction (1..${MAX_HORIZON})`).argParser(horizon))
    .option('-o, --output <file.csv>', 'write every row with its prediction, forecast, error, anomaly likelihood and refusal as CSV (replaced atomically at the end)')
    .option('--binary', 'send binary frames (docs/protocol.md) instead of JSON')
    .addOption(new Option('--rows <n>', 'replay only the first n rows').argParser(positiveWhole))
    .addOption(new Option('--token <token>', 'access token, if the server wants one').env('SEQCAST_TOKEN'))
    .addHelpText(
      'after',
      [
        '',
        'A stream the server already has (a replay before this one left it) is continued where it',
        'stopped, its state carried on; --fresh starts it anew. A refused open (unknown model, a stream',
        'another producer holds, a horizon past the server\'s limit) exits 1 at once.',
        '',
        'Example:',
        '  seqcast replay demo/machine_temperature_system_failure.csv --url ws://127.0.0.1:8080/ws --rate 500 --fresh --output replay.csv',
      ].join('\n'),
    )
    .action(async (file: string, options: Omit<ReplayOptions, 'file' | 'out'>) => {
      const summary = await runReplay({ ...options, file, out: process.stdout, progress: process.stderr });
      finish(Object.keys(summary.errorsByCode).length === 0 ? 0 : 1);
    });
}

/**
 * Replays the file and prints the summary to `out` (and, with `output`, writes every row's answers). Throws
 * SeqcastError when the file is bad (before connecting), when it cannot connect, when the server refuses to open
 * the stream, or when the file does not fit the stream's model (a stream this replay created is closed again
 * then). Never leaves the connection open: it has ended when this returns or throws.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const input = await readFrameFile(options.file, { columns: checkUsage('replay', () => parseColumnList(options.columns)), limit: options.rows, purpose: 'to replay' });
  const streamName = options.stream ?? basename(options.file, extname(options.file));
  const output = options.output === undefined ? undefined : await AtomicFileSink.create(options.output);
  try {
    const socket = await ProducerSocket.connect(options.url, options.token);
    let result: Awaited<ReturnType<typeof replayOn>>;
    try {
      result = await replayOn(socket, input, streamName, options);
      await socket.end();
    } finally {
      socket.terminate();
    }
    if (output) {
      await writeReplayCsv(output, input, result.answers, result.summary.firstSeq, options.horizon ?? 0);
      await output.commit();
    }
    writeSummary(options.out, options.file, options.binary === true, result.summary, result.firstErrors);
    return result.summary;
  } catch (err) {
    await output?.abort();
    throw err;
  }
}

/** Opens the stream (afresh with `fresh`) and checks that the file fits its model; a stream this call created is closed again when it does not. */
async function openStream(socket: ProducerSocket, input: FrameFile, streamName: string, options: ReplayOptions): Promise<OpenedMessage> {
  const request = {
    stream: streamName,
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.learn ? { learn: true } : {}),
    ...(options.horizon !== undefined ? { horizon: options.horizon } : {}),
  };
  let opened = await socket.open(request);
  if (options.fresh && opened.resumed) {
    const closed = await socket.close(streamName);
    if (closed.type !== 'closed') throw new ReplayError(`cannot start stream "${streamName}" afresh: ${describe(closed)}`);
    opened = await socket.open(request);
  }
  const width = input.frames[0].length;
  if (opened.inputSize !== width) {
    if (!opened.resumed) await socket.close(streamName).catch(() => undefined);
    throw new ReplayError(`${options.file} has ${width} value column${width === 1 ? '' : 's'}, but model "${opened.model}" takes ${opened.inputSize} values per frame`);
  }
  return opened;
}

/** Streams the rows on an open connection and gathers the answers. */
async function replayOn(socket: ProducerSocket, input: FrameFile, streamName: string, options: ReplayOptions): Promise<{ summary: ReplaySummary; answers: ReplayAnswers; firstErrors: string[] }> {
  const opened = await openStream(socket, input, streamName, options);
  const { frames, times } = input;
  const width = frames[0].length;
  const total = frames.length;
  const answers = noAnswers(total);
  const errorsByCode: Record<string, number> = {};
  const firstErrors: string[] = [];
  let answered = 0;
  let sent = 0;
  let lastAnswerAt = performance.now();
  const firstSeq = opened.lastSeq + 1;
  const rowOf = (seq: number) => seq - firstSeq;

  const bar = new SingleBar({ format: 'replay |{bar}| {value}/{total} frames | {speed} frames/s | errors {errors}', stream: options.progress ?? process.stderr, hideCursor: true }, undefined);
  bar.start(total, 0, { speed: 0, errors: 0 });
  const started = performance.now();
  let errorCount = 0;
  let pacer: NodeJS.Timeout | undefined;

  const done = new Promise<void>((resolve, reject) => {
    const answeredOne = () => {
      answered++;
      lastAnswerAt = performance.now();
      if (answered % 64 === 0 || answered === total) bar.update(answered, { speed: Math.round(answered / ((performance.now() - started) / 1000)), errors: errorCount });
      if (answered === total) resolve();
    };
    socket.onBinary = (bytes) => {
      for (const p of decodePredictions(bytes)) {
        const row = rowOf(p.seq);
        answers.predicted[row] = p.predicted;
        answers.forecast[row] = p.forecast.length > 0 ? p.forecast : undefined;
        answers.error[row] = p.error ?? NaN;
        answers.anomaly[row] = p.anomaly;
        answeredOne();
      }
    };
    socket.onFrameAnswer = (message) => {
      if (message.type === 'prediction') {
        const row = rowOf(message.seq as number);
        answers.predicted[row] = Float32Array.from(message.predicted as number[]);
        if (Array.isArray(message.forecast)) answers.forecast[row] = (message.forecast as number[][]).map((r) => Float32Array.from(r));
        answers.error[row] = typeof message.error === 'number' ? message.error : NaN;
        answers.anomaly[row] = message.anomaly as number;
        answeredOne();
      } else if (message.type === 'error') {
        const code = String(message.code);
        errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
        errorCount++;
        if (firstErrors.length < 5) firstErrors.push(`${code}: ${message.message}`);
        // a refused frame is answered too; a rate-limit error answers every frame from its seq to the end of that message
        const count = (message.count as number | undefined) ?? 1;
        for (let n = 0; n < count; n++) {
          const row = rowOf((message.seq as number) + n);
          if (row >= 0 && row < total) answers.refused[row] = code;
          answeredOne();
        }
      }
    };
    socket.onClose = (reason) => reject(new ReplayError(`${reason.message} after ${answered} of ${total} answers`));
    pacer = setInterval(() => {
      const due = options.rate > 0 ? Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate) + 1) : Math.min(total, answered + WINDOW);
      send(sent, due);
      if (performance.now() - lastAnswerAt > ANSWER_TIMEOUT_MS) reject(new ReplayError(`the server stopped answering: nothing for ${ANSWER_TIMEOUT_MS / 1000} s after ${answered} of ${total} answers`));
    }, options.rate > 0 ? Math.min(TICK_MS, 1000 / options.rate) : 1);
  });

  const send = (from: number, to: number) => {
    if (to <= from) return;
    if (options.binary) {
      const perMessage = Math.max(1, Math.min(MAX_BINARY_RECORDS, Math.floor((256 * 1024 - BINARY_HEADER_BYTES) / frameRecordBytes(width))));
      for (let at = from; at < to; at += perMessage) {
        const end = Math.min(to, at + perMessage);
        const batch = [];
        for (let i = at; i < end; i++) batch.push({ streamId: opened.id, seq: firstSeq + i, t: times[i], values: Float32Array.from(frames[i]) });
        socket.send(encodeFrames(batch));
      }
    } else {
      const batch = [];
      for (let i = from; i < to; i++) batch.push({ type: 'frame', stream: streamName, seq: firstSeq + i, ...(times[i] !== undefined ? { t: times[i] } : {}), values: frames[i] });
      socket.send(JSON.stringify(batch.length === 1 ? batch[0] : batch));
    }
    sent = to;
  };

  try {
    await done;
  } finally {
    clearInterval(pacer);
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(streamName, frames, answers, errorsByCode, seconds, { resumed: opened.resumed, firstSeq });
  return { summary, answers, firstErrors };
}

function nonNegativeNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError('Expected a number of frames per second (0 = as fast as possible).');
  return value;
}

function positiveWhole(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1) throw new InvalidArgumentError('Expected a positive whole number.');
  return value;
}

function horizon(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1 || value > MAX_HORIZON) throw new InvalidArgumentError(`Expected a whole number of rows from 1 to ${MAX_HORIZON}.`);
  return value;
}
