// `seqcast demo`: the bundled model (an LSTM trained by seqcast train) predicting the bundled NAB machine-temperature
// stream, one step ahead, from a zero state.

import { fileURLToPath } from 'node:url';
import { loadModel, type Model } from '../api/model.js';
import { DEMO_MODEL_URL, loadDemoData, NAB_FILE, trainRowCount, type DemoData } from '../demo/data.js';
import { InputError } from '../errors.js';

export interface DemoOptions {
  /** Rows of the bundled stream to run; default all. */
  rows?: number;
  out: NodeJS.WritableStream;
}

/** Index of the anomaly window holding `timestamp`, or −1. */
function windowOf(timestamp: string, windows: [string, string][]): number {
  return windows.findIndex(([start, end]) => timestamp >= start && timestamp <= end);
}

/** Rows printed outside anomaly windows: one in this many. */
const SAMPLE_EVERY = 500;
/** Rows printed inside anomaly windows: one in this many (every 6 hours of 5-minute readings), plus each window's first and last row. */
const WINDOW_SAMPLE_EVERY = 72;

/**
 * Runs the demo: streams the bundled NAB file (all of it, or its first `rows`
 * rows) through the bundled model one reading at a time, printing a sample of
 * one-step-ahead predictions and a summary with the error against a persistence
 * forecast and the measured stepping speed. Returns the exit code.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  if (options.rows !== undefined && (!Number.isInteger(options.rows) || options.rows < 1)) {
    throw new InputError(`demo rows must be a positive integer, got ${options.rows}`);
  }
  const model = await loadModel(fileURLToPath(DEMO_MODEL_URL));
  const data = await loadDemoData();
  const fileRows = data.values.length;
  const rows = Math.min(options.rows ?? fileRows, fileRows);

  // predicted[t] is the forecast of row t, made after stepping row t − 1; row 0 has none
  const predicted = new Float64Array(rows).fill(NaN);
  const stream = model.openStream({ name: 'machine-temperature' });
  const frame = new Float64Array(1);
  const started = process.hrtime.bigint();
  for (let t = 0; t < rows; t++) {
    frame[0] = data.values[t];
    const next = stream.step(frame)[0];
    if (t + 1 < rows) predicted[t + 1] = next;
  }
  const elapsedNs = Number(process.hrtime.bigint() - started);
  stream.close();

  ignoreClosedPipe(out);
  const write = (line = '') => out.write(`${line}\n`);
  writeHeader(write, model, data, rows);
  writeTable(write, data, predicted, rows);
  writeSummary(write, data.values, predicted, rows, fileRows, elapsedNs);
  model.close();
  return 0;
}

type WriteLine = (line?: string) => void;

/** Outputs already listening for a closed pipe, so repeated demos add no more listeners. */
const listening = new WeakSet<NodeJS.WritableStream>();

/** `seqcast demo | head` closes the pipe early; that is the reader's choice, not a failure, so EPIPE is ignored. */
function ignoreClosedPipe(out: NodeJS.WritableStream): void {
  if (listening.has(out)) return;
  listening.add(out);
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

function writeHeader(write: WriteLine, model: Model, data: DemoData, rows: number): void {
  const demo = model.metadata.demo as { description?: string } | undefined;
  write(`seqcast demo — model: ${model.describe()}`);
  if (demo?.description) write(`  ${demo.description}`);
  write(`data: Numenta Anomaly Benchmark ${NAB_FILE} (MIT licence), ${rows.toLocaleString('en-US')} of ${data.values.length.toLocaleString('en-US')} rows, 5-minute readings`);
  write(`  each reading is stepped through one stream; "predicted" is the forecast of that reading made one step earlier`);
  write(`  showing every ${SAMPLE_EVERY}th row, and rows inside NAB's ${data.windows.length} labelled anomaly windows every ${WINDOW_SAMPLE_EVERY} rows, i.e. 6 hours (marked !)`);
  write();
}

function writeTable(write: WriteLine, data: DemoData, predicted: Float64Array, rows: number): void {
  write(`${'row'.padStart(7)}   ${'timestamp'.padEnd(19)}  ${'actual'.padStart(9)}  ${'predicted'.padStart(9)}  ${'|error|'.padStart(8)}`);
  let previousWindow = -1;
  for (let t = 1; t < rows; t++) {
    const timestamp = data.timestamps[t];
    const window = windowOf(timestamp, data.windows);
    const inWindow = window >= 0;
    const windowEdge = inWindow && (window !== previousWindow || windowOf(data.timestamps[t + 1] ?? '', data.windows) !== window);
    if (inWindow && window !== previousWindow) write(`  -- NAB anomaly window ${window + 1}: ${data.windows[window][0]} to ${data.windows[window][1]}`);
    previousWindow = window;
    const sampled = inWindow ? windowEdge || t % WINDOW_SAMPLE_EVERY === 0 : t % SAMPLE_EVERY === 0;
    if (!sampled && t !== rows - 1) continue;
    const actual = data.values[t];
    const error = Math.abs(actual - predicted[t]);
    write(
      `${String(t).padStart(7)} ${inWindow ? '!' : ' '} ${timestamp.padEnd(19)}  ${actual.toFixed(3).padStart(9)}  ${predicted[t].toFixed(3).padStart(9)}  ${error.toFixed(3).padStart(8)}`,
    );
  }
  write();
}

/** Mean squared one-step error of the model and of persistence (x̂[t] = x[t − 1]) over rows [from, to). */
function oneStepMse(values: Float64Array, predicted: Float64Array, from: number, to: number): { model: number; persistence: number; count: number } {
  let model = 0;
  let persistence = 0;
  for (let t = from; t < to; t++) {
    model += (values[t] - predicted[t]) ** 2;
    persistence += (values[t] - values[t - 1]) ** 2;
  }
  const count = to - from;
  return { model: model / count, persistence: persistence / count, count };
}

function formatMse(label: string, mse: { model: number; persistence: number; count: number }): string {
  return `${label}, ${mse.count.toLocaleString('en-US')} predictions: MSE model ${mse.model.toFixed(4)}, persistence ${mse.persistence.toFixed(4)} (model/persistence ${(mse.model / mse.persistence).toFixed(3)})`;
}

function writeSummary(write: WriteLine, values: Float64Array, predicted: Float64Array, rows: number, fileRows: number, elapsedNs: number): void {
  const trainRows = trainRowCount(fileRows);
  write(`summary: ${rows.toLocaleString('en-US')} rows streamed; one-step MSE in squared sensor units, persistence predicting each reading as the one before`);
  const fittedEnd = Math.min(rows, trainRows);
  if (fittedEnd > 1) {
    write(`  ${formatMse(`first half, rows 1–${fittedEnd - 1} (in-sample: they trained and validated the model)`, oneStepMse(values, predicted, 1, fittedEnd))}`);
  }
  if (rows > trainRows) {
    write(`  ${formatMse(`held-out second half, rows ${trainRows}–${rows - 1}`, oneStepMse(values, predicted, trainRows, rows))}`);
  } else {
    write(`  held-out second half (rows ${trainRows}–${fileRows - 1}) not reached; run more rows to see the model on data it was not fitted on`);
  }
  const first = Array.from({ length: Math.min(3, rows - 1) }, (_, i) => `${predicted[i + 1].toFixed(2)} (actual ${values[i + 1].toFixed(2)})`);
  write(`  every prediction counts, the first ones too: the stream starts from a zero state, and its first predictions are ${first.join(', ')}`);
  const seconds = elapsedNs / 1e9;
  write(`  speed: ${rows.toLocaleString('en-US')} steps in ${(seconds * 1e3).toFixed(1)} ms, ${Math.round(rows / seconds).toLocaleString('en-US')} steps/s, ${(elapsedNs / 1e3 / rows).toFixed(2)} µs per step (one stream, stepped one reading at a time)`);
}
