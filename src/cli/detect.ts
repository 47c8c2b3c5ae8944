// `seqcast detect`: learns a CSV time series online from scratch while it reads it, and writes every row with its anomaly score.

import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { createModel, loadModel, type Model } from '../api/model.js';
import { InputError } from '../errors.js';
import { csvField, readCsvRows } from '../io/csv.js';
import { type TextSink, writeTextOutput } from '../io/files.js';
import { TimeSeriesReader, type DetectInput } from '../io/time-series.js';
import { DETECT_MODEL, OnlineDetector, type DetectorOptions } from '../stream/online-detector.js';

export { parseTimestamp, type DetectInput } from '../io/time-series.js';
export { DETECT_MODEL } from '../stream/online-detector.js';

/** Where `seqcast detect` writes: the scores (without --output) and the progress bar (on a terminal). */
export interface DetectIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface DetectOptions {
  /** Path of the input CSV: a header naming a `timestamp` column and one or more value columns. */
  input: string;
  /** Path of the output CSV, written atomically; without it the rows go to `io.stdout`. */
  output?: string;
  /** A .safetensors model to start from (it must predict its own input); without it a fresh LSTM. */
  model?: string;
  io: DetectIo;
}

/** The column detect adds. */
const SCORE_COLUMN = 'anomaly_score';

/** Adds the `detect` command to `program`; its action hands its exit code to `finish`. */
export function addDetectCommand(program: Command, finish: (exitCode: number) => void, io: DetectIo): Command {
  return program
    .command('detect')
    .summary('score every row of a CSV time series for anomalies, learning online as it reads')
    .description(
      'Reads a CSV with a timestamp column and one or more value columns, learns to predict it online from scratch as it reads (or starts from --model), and writes every row with an anomaly_score in [0, 1] that uses that row and the rows before it only.',
    )
    .requiredOption('-i, --input <file>', 'input CSV: a header naming a timestamp column, then rows of a timestamp and numbers')
    .option('-o, --output <file>', 'output CSV, replaced atomically (default: standard output)')
    .option('-m, --model <file>', 'start from this model (.safetensors) instead of a fresh LSTM; it must predict its own input')
    .addHelpText(
      'after',
      [
        '',
        'Input: a header row naming a timestamp column (as NAB\'s files: timestamp,value), then',
        'one row per time step. Timestamps are date-times (2014-04-10 07:15:00, ISO 8601) or',
        'numbers, in order (a clock may step back at most an hour).',
        'Output: the input\'s columns, then anomaly_score. The first 15% of rows (at most 750)',
        'are for learning, as NAB\'s probationary period: their score is 0.5.',
        '',
        'Example:',
        '  seqcast detect --input nyc_taxi.csv --output nyc_taxi_scores.csv',
      ].join('\n'),
    )
    .action(async (options: { input: string; output?: string; model?: string }) => {
      finish(await runDetect({ ...options, io }));
    });
}

/**
 * Runs `seqcast detect`: reads and checks the whole input (an InputError names
 * the line of the first bad row, and nothing is written), scores every row,
 * and writes the input's columns with anomaly_score. Returns the exit code.
 */
export async function runDetect(options: DetectOptions): Promise<number> {
  const input = await readDetectInput(options.input);
  const model = options.model === undefined ? await createModel({ ...DETECT_MODEL, inputSize: input.header.length - 1 }) : await loadModel(options.model);
  try {
    checkModel(model, input, options);
    const progress = new DetectProgress(options.io.stderr, input.values.length);
    let scores: Float64Array;
    try {
      scores = detectAnomalies(model, input.values, input.dates ? input.timestamps : undefined, { onRow: (row) => progress.update(row) });
    } finally {
      progress.stop();
    }
    await writeTextOutput(options.output, options.io.stdout, (sink) => writeScores(sink, input, scores));
    return 0;
  } finally {
    model.close();
  }
}

/** What detectAnomalies may be told besides its defaults (the bench's variants). */
export interface DetectorSettings extends DetectorOptions {
  /** Hears of the rows' progress every 256 rows. */
  onRow?: (row: number) => void;
}

/**
 * The anomaly score of every row, by the OnlineDetector (src/stream/online-detector.ts): one learning stream predicts
 * each next row and trains the model as it goes, and the stream layer's ErrorScorer (what `serve` reports as each
 * stream's `anomaly`) turns its errors into a score. `timestamps` (ms since the epoch, or undefined) let it compare
 * each row with the same time on past days. Row t's score depends on rows 0 … t only. The first nabProbation(rows)
 * rows are learnt from and scored 0.5. It trains `model`'s weights.
 */
export function detectAnomalies(model: Model, values: readonly Float64Array[], timestamps: Float64Array | undefined, settings: DetectorSettings = {}): Float64Array {
  const detector = new OnlineDetector(model, values.length, settings);
  const scores = new Float64Array(values.length);
  const onRow = settings.onRow;
  try {
    for (let row = 0; row < values.length; row++) {
      scores[row] = detector.step(values[row], timestamps?.[row]).anomaly;
      if (onRow && (row & 255) === 0) onRow(row);
    }
  } finally {
    detector.close();
  }
  return scores;
}

/** Reads and checks the input CSV whole: InputError names the file and line of the first problem. */
export async function readDetectInput(file: string): Promise<DetectInput> {
  const reader = new TimeSeriesReader(file);
  for await (const row of readCsvRows(file)) reader.add(row);
  return reader.finish();
}

function checkModel(model: Model, input: DetectInput, options: DetectOptions): void {
  const width = input.header.length - 1;
  const where = options.model ?? 'the model';
  if (model.isTokenModel) throw new InputError(`${where} is a token model; detect needs a model of frames of ${width} values`);
  if (model.inputSize !== width || model.outputSize !== width) {
    throw new InputError(`${where} takes ${model.inputSize} values and predicts ${model.outputSize}; ${options.input} has ${width} value column${width === 1 ? '' : 's'}, and detect needs a model that predicts its own input`);
  }
}

async function writeScores(sink: TextSink, input: DetectInput, scores: Float64Array): Promise<void> {
  await sink.write(`${[...input.header, SCORE_COLUMN].map(csvField).join(',')}\n`);
  for (let row = 0; row < scores.length; row++) {
    await sink.write(`${input.cells[row].map(csvField).join(',')},${scores[row]}\n`);
    if (sink.readerGone) break;
  }
}

/** A progress bar on stderr while rows are scored, on a terminal only. */
class DetectProgress {
  private readonly bar?: SingleBar;

  constructor(stderr: DetectIo['stderr'], total: number) {
    if (!stderr.isTTY) return;
    this.bar = new SingleBar({ format: 'detect |{bar}| {value}/{total} rows | ETA {eta_formatted}', stream: stderr, hideCursor: true, barsize: 24, fps: 5 });
    this.bar.start(total, 0);
  }

  update(row: number): void {
    this.bar?.update(row);
  }

  stop(): void {
    if (!this.bar) return;
    this.bar.update(this.bar.getTotal());
    this.bar.stop();
  }
}
