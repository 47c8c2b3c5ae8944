// What `seqcast replay` reports: the answers gathered per row, the summary it prints, and the --output CSV of every row.

import type { TextSink } from '../io/files.js';
import { csvField, formatFloat32, formatTextRow } from '../io/csv.js';
import type { FrameFile } from '../io/frames.js';

/** What came back for each row (index = row of the file). */
export interface ReplayAnswers {
  /** (rows) the prediction received for the row (the model's guess at the next row); undefined where none came. */
  predicted: (Float32Array | undefined)[];
  /** (rows) with a horizon k: k rows for t+1 … t+k, row 0 equal to `predicted`. */
  forecast: (Float32Array[] | undefined)[];
  /** (rows) the server's error of the previous prediction against this row (RMS over channels); NaN where none. */
  error: Float64Array;
  /** (rows) anomaly likelihood in [0, 1]; NaN where none. */
  anomaly: Float64Array;
  /** (rows) the error code the server refused the row's frame with. */
  refused: (string | undefined)[];
}

/** Answers for `rows` rows, none received yet. */
export function noAnswers(rows: number): ReplayAnswers {
  return {
    predicted: new Array(rows).fill(undefined),
    forecast: new Array(rows).fill(undefined),
    error: new Float64Array(rows).fill(NaN),
    anomaly: new Float64Array(rows).fill(NaN),
    refused: new Array(rows).fill(undefined),
  };
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
  /** The stream was taken over where the server had it (its state, and a learning stream's weights, carried on). */
  resumed: boolean;
  /** The seq of the file's first row. */
  firstSeq: number;
}

/** Sums up a replay's answers against the rows sent. */
export function summarize(stream: string, frames: number[][], answers: ReplayAnswers, errorsByCode: Record<string, number>, seconds: number, opened: { resumed: boolean; firstSeq: number }): ReplaySummary {
  const { predicted } = answers;
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
  for (const a of answers.anomaly) {
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
    resumed: opened.resumed,
    firstSeq: opened.firstSeq,
  };
}

/** Prints the summary: what was replayed, the one-step errors against persistence, anomalies, and the first refusals. */
export function writeSummary(out: NodeJS.WritableStream, file: string, binary: boolean, s: ReplaySummary, firstErrors: string[]): void {
  const write = (line = '') => out.write(`${line}\n`);
  write(`replayed ${s.rows.toLocaleString('en-US')} rows of ${file} to stream "${s.stream}" in ${s.seconds.toFixed(2)} s (${Math.round(s.rows / s.seconds).toLocaleString('en-US')} frames/s, ${binary ? 'binary' : 'JSON'})`);
  if (s.resumed) write(`  the stream was already on the server: continued from seq ${s.firstSeq} with its state from before (--fresh starts it afresh)`);
  write(`  predictions: ${s.predictions.toLocaleString('en-US')}; one-step error: MAE ${fmt(s.mae)}, RMSE ${fmt(s.rmse)} (persistence RMSE ${fmt(s.persistenceRmse)})`);
  write(`  anomaly likelihood: max ${s.maxAnomaly.toFixed(4)}, ${s.anomalies} row${s.anomalies === 1 ? '' : 's'} at 0.99 or above`);
  const codes = Object.entries(s.errorsByCode);
  if (codes.length === 0) write('  errors: none');
  else {
    write(`  errors: ${codes.map(([code, n]) => `${code} ×${n}`).join(', ')}`);
    for (const line of firstErrors) write(`    ${line}`);
  }
}

/**
 * Writes one CSV row per file row: seq, the time cell (when the file has a time column), the values sent, the
 * prediction of the next row (predicted_<channel>), with a horizon k the further forecast rows (h<step>_<channel>,
 * step 2 … k), the error of the previous prediction against this row, the anomaly likelihood, and the error code a
 * refused frame got. Cells without an answer are empty.
 */
export async function writeReplayCsv(sink: TextSink, input: FrameFile, answers: ReplayAnswers, firstSeq: number, horizon: number): Promise<void> {
  const channels = input.channels;
  const time = input.timeColumn ? [input.timeColumn.name] : [];
  const steps = Array.from({ length: Math.max(0, horizon - 1) }, (_, i) => i + 2);
  const forecastNames = steps.flatMap((step) => channels.map((c) => `h${step}_${c}`));
  await sink.write(formatTextRow(['seq', ...time, ...channels, ...channels.map((c) => `predicted_${c}`), ...forecastNames, 'error', 'anomaly', 'refused']));
  const number = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : formatFloat32(v));
  for (let row = 0; row < input.frames.length; row++) {
    const predicted = answers.predicted[row];
    const forecast = answers.forecast[row];
    const cells = [
      String(firstSeq + row),
      ...(input.timeCells ? [csvField(input.timeCells[row])] : []),
      ...input.frames[row].map((v) => String(v)),
      ...channels.map((_, c) => number(predicted?.[c])),
      ...steps.flatMap((step) => channels.map((_, c) => number(forecast?.[step - 1]?.[c]))),
      number(answers.error[row]),
      Number.isNaN(answers.anomaly[row]) ? '' : String(answers.anomaly[row]),
      answers.refused[row] ?? '',
    ];
    await sink.write(`${cells.join(',')}\n`);
  }
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toPrecision(5) : 'n/a';
}
