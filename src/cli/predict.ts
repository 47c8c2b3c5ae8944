// `seqcast predict`: steps one stream through a CSV of frames (or token ids) and writes the model's prediction for
// every row as CSV, in the producer's units (a delta model's next frame, a label model's logits and label).

import type { Command } from 'commander';
import { argmax, loadModel, type Model, type StepInput } from '../api/model.js';
import type { Stream } from '../api/stream.js';
import { InputError } from '../errors.js';
import { parseColumnList } from '../io/columns.js';
import { csvField, formatNumberRow, formatTextRow } from '../io/csv.js';
import { type TextSink, writeTextOutput } from '../io/files.js';
import { type FrameFile, MAX_REPORTED_ROWS, readFrameFile } from '../io/frames.js';
import { checkUsage } from './usage.js';

export interface PredictOptions {
  /** Path of the .safetensors model. */
  model: string;
  /** Path of the input CSV: one frame (or one token id) per row, an optional header row first. */
  input: string;
  /** Input columns by header name or 0-based index, comma-separated (default: all but the time column). */
  columns?: string;
  /** Path of the output CSV; written atomically. Without it the rows go to `stdout`. */
  output?: string;
  stdout: NodeJS.WritableStream;
}

/** Adds the `predict` command to `program`, writing to `stdout` without --output; its action hands its exit code to `finish`. */
export function addPredictCommand(program: Command, finish: (exitCode: number) => void, stdout: NodeJS.WritableStream = process.stdout): Command {
  return program
    .command('predict')
    .summary("write a model's output for every row of a CSV")
    .description('Steps one stream of a model through a CSV of frames (or token ids), one row per step, and writes what the model outputs after each step as CSV.')
    .requiredOption('-m, --model <file>', 'the model, a .safetensors file')
    .requiredOption('-i, --input <file>', 'input CSV: one frame of numbers (or one token id) per row; a header row is allowed')
    .option('--columns <list>', 'input columns by header name or 0-based index, comma-separated (default: all but the time column)')
    .option('-o, --output <file>', 'output CSV, replaced atomically (default: standard output)')
    .addHelpText(
      'after',
      [
        '',
        'Input: comma-separated numbers, as many per row as the model takes (for a',
        'token model, one token id per row). A first row that is not all numbers is a',
        'header. A column named timestamp, time, date, datetime or t (or a first column',
        'of date-times) is the time column: it is not fed to the model, and is copied to',
        'the output as the first column. The whole input is checked before anything is',
        `written: every bad row is reported (the first ${MAX_REPORTED_ROWS} listed) and nothing is written.`,
        'Output: a header (y0,y1,… or the model\'s channel names), then one row per',
        'input row with the model\'s prediction as float32: the next frame in the',
        'input\'s units (for a --delta model, the row plus the predicted change),',
        'logits for token models; for a class label model the class logits, then the',
        'most likely class (docs/model-format.md, "What the outputs are").',
        '',
        'Examples:',
        '  seqcast predict --model pump.safetensors --input readings.csv --output forecast.csv',
        '  seqcast predict --model demo/machine-temperature.safetensors --input demo/machine_temperature_system_failure.csv',
      ].join('\n'),
    )
    .action(async (options: { model: string; input: string; columns?: string; output?: string }) => {
      finish(await runPredict({ ...options, stdout }));
    });
}

/**
 * Runs `seqcast predict`: loads the model, reads and checks the whole input,
 * then streams its rows through one stream and writes an output row per input
 * row. Throws a SeqcastError (a ModelFormatError, an InputError naming file,
 * line and value of every bad row, or an OutputError); on any error nothing is
 * written: the --output file is left as it was, and stdout gets nothing.
 * Returns the exit code.
 */
export async function runPredict(options: PredictOptions): Promise<number> {
  const columns = checkUsage('predict', () => parseColumnList(options.columns));
  const model = await loadModel(options.model);
  try {
    const input = await readFrameFile(options.input, {
      columns,
      width: { count: rowWidth(model), expects: `the model expects ${describeWidth(model)}` },
      checkRow: model.isTokenModel ? (values, line) => checkToken(values[0], line, model, options.input) : undefined,
      purpose: 'to predict',
    });
    await writeTextOutput(options.output, options.stdout, (sink) => predictRows(model, input, sink));
    return 0;
  } finally {
    model.close();
  }
}

async function predictRows(model: Model, input: FrameFile, sink: TextSink): Promise<void> {
  const stream = model.openStream();
  const time = input.timeColumn ? [input.timeColumn.name] : [];
  await sink.write(formatTextRow([...time, ...outputNames(model)]));
  for (let row = 0; row < input.frames.length; row++) {
    const values = input.frames[row];
    const output = stepRow(stream, model.isTokenModel ? values[0] : values, input.lines[row], input.file);
    const cells = classCount(model) > 0 ? `${formatNumberRow(output).slice(0, -1)},${argmax(output)}\n` : formatNumberRow(output);
    await sink.write(input.timeCells ? `${csvField(input.timeCells[row])},${cells}` : cells);
    if (sink.readerGone) break;
  }
}

/** Classes of a class label model (its logits are written, then the most likely class), else 0. */
function classCount(model: Model): number {
  const label = model.metadata.label as { type?: unknown } | undefined;
  return model.target === 'label' && label?.type !== 'value' ? model.outputSize : 0;
}

/**
 * Column names of the output: for a label model, logit0… and the label column's name (or one column of the label
 * value); otherwise the model's channel names when they describe its outputs, else y0, y1, …
 */
export function outputNames(model: Model): string[] {
  const label = model.metadata.label as { column?: unknown } | undefined;
  const labelName = typeof label?.column === 'string' ? label.column : 'label';
  if (classCount(model) > 0) return [...Array.from({ length: model.outputSize }, (_, i) => `logit${i}`), labelName];
  if (model.target === 'label' && model.outputSize === 1) return [labelName];
  const channels = model.metadata.channels;
  if (!model.isTokenModel && channels && channels.length === model.outputSize) return channels;
  return Array.from({ length: model.outputSize }, (_, i) => `y${i}`);
}

/** Values one input row must hold: the frame width, or 1 token id. */
function rowWidth(model: Model): number {
  return model.isTokenModel ? 1 : model.inputSize;
}

function describeWidth(model: Model): string {
  return model.isTokenModel ? '1 token id per row' : String(model.inputSize);
}

/** A token id must be an integer inside the vocabulary. */
function checkToken(token: number, line: number, model: Model, file: string): void {
  const vocabSize = model.arch.vocabSize;
  if (!Number.isInteger(token)) throw new InputError(`${file} line ${line}: token id ${token} is not an integer`);
  if (token < 0 || token >= vocabSize) throw new InputError(`${file} line ${line}: token id ${token} is outside the vocabulary (0..${vocabSize - 1})`);
}

function stepRow(stream: Stream, input: StepInput, line: number, file: string): Float32Array {
  try {
    return stream.step(input);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`${file} line ${line}: ${err.message}`);
    throw err;
  }
}

