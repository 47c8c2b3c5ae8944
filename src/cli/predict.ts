// `seqcast predict`: steps one stream through a CSV of frames (or token ids) and writes the model's prediction for
// every row as CSV, in the producer's units (a delta model's next frame, a label model's logits and label).

import type { Command } from 'commander';
import { argmax, loadModel, type Model, type StepInput } from '../api/model.js';
import type { Stream } from '../api/stream.js';
import { InputError } from '../errors.js';
import { formatNumberRow, formatTextRow, isHeaderRow, parseNumberCell, readCsvRows, type CsvRow } from '../io/csv.js';
import { type TextSink, writeTextOutput } from '../io/files.js';

export interface PredictOptions {
  /** Path of the .safetensors model. */
  model: string;
  /** Path of the input CSV: one frame (or one token id) per row, an optional header row first. */
  input: string;
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
    .option('-o, --output <file>', 'output CSV, replaced atomically (default: standard output)')
    .addHelpText(
      'after',
      [
        '',
        'Input: comma-separated numbers, as many per row as the model takes (for a',
        'token model, one token id per row). A first row that is not all numbers is a',
        'header and is skipped.',
        'Output: a header (y0,y1,… or the model\'s channel names), then one row per',
        'input row with the model\'s prediction as float32: the next frame in the',
        'input\'s units (for a --delta model, the row plus the predicted change),',
        'logits for token models; for a class label model the class logits, then the',
        'most likely class (docs/model-format.md, "What the outputs are").',
        '',
        'Example:',
        '  seqcast predict --model pump.safetensors --input readings.csv --output forecast.csv',
      ].join('\n'),
    )
    .action(async (options: { model: string; input: string; output?: string }) => {
      finish(await runPredict({ ...options, stdout }));
    });
}

/**
 * Runs `seqcast predict`: loads the model, streams the input rows through one
 * stream and writes an output row per input row. Throws a SeqcastError (a
 * ModelFormatError, an InputError naming file, line and value, or an
 * OutputError); on any error the --output file is left as it was.
 * Returns the exit code.
 */
export async function runPredict(options: PredictOptions): Promise<number> {
  const model = await loadModel(options.model);
  try {
    await writeTextOutput(options.output, options.stdout, (sink) => predictRows(model, options.input, sink));
    return 0;
  } finally {
    model.close();
  }
}

async function predictRows(model: Model, input: string, sink: TextSink): Promise<void> {
  const stream = model.openStream();
  await sink.write(formatTextRow(outputNames(model)));
  let firstRow = true;
  for await (const row of readCsvRows(input)) {
    if (firstRow) {
      firstRow = false;
      if (isHeaderRow(row.cells)) {
        checkHeader(row, model, input);
        continue;
      }
    }
    const output = stepRow(stream, inputFromRow(row, model, input), row, input);
    await sink.write(classCount(model) > 0 ? `${formatNumberRow(output).slice(0, -1)},${argmax(output)}\n` : formatNumberRow(output));
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

function checkHeader(row: CsvRow, model: Model, file: string): void {
  if (row.cells.length !== rowWidth(model)) {
    throw new InputError(`${file} line ${row.line}: the header names ${plural(row.cells.length, 'column')}, the model expects ${describeWidth(model)}`);
  }
}

/**
 * The model input a CSV row holds: a frame of numbers, or one token id inside
 * the vocabulary. Throws InputError naming file, line and the bad value.
 */
export function inputFromRow(row: CsvRow, model: Model, file: string): StepInput {
  const { line, cells } = row;
  if (cells.length !== rowWidth(model)) {
    throw new InputError(`${file} line ${line}: ${plural(cells.length, 'value')}, the model expects ${describeWidth(model)}`);
  }
  const values = cells.map((cell, i) => parseNumberCell(cell, { file, line, column: i + 1 }));
  if (!model.isTokenModel) return values;
  const token = values[0];
  const vocabSize = model.arch.vocabSize;
  if (!Number.isInteger(token)) throw new InputError(`${file} line ${line}: token id ${cells[0]} is not an integer`);
  if (token < 0 || token >= vocabSize) {
    throw new InputError(`${file} line ${line}: token id ${cells[0]} is outside the vocabulary (0..${vocabSize - 1})`);
  }
  return token;
}

function stepRow(stream: Stream, input: StepInput, row: CsvRow, file: string): Float32Array {
  try {
    return stream.step(input);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`${file} line ${row.line}: ${err.message}`);
    throw err;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
