// The bundled demo data: NAB's machine-temperature stream and its labelled anomaly windows, with the split the demo model was fitted on.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import { readCsvRows } from '../io/csv.js';

// Resolved against this module so the same paths work from src/demo (vitest, tsx) and dist/demo (npm start).
/** The bundled demo model (made by scripts/make-demo-model.ts with seqcast train). */
export const DEMO_MODEL_URL = new URL('../../demo/machine-temperature.safetensors', import.meta.url);
/** The bundled stream: NAB realKnownCause/machine_temperature_system_failure.csv. */
export const DEMO_CSV_URL = new URL('../../demo/machine_temperature_system_failure.csv', import.meta.url);
/** NAB's labelled anomaly windows for that file. */
export const DEMO_WINDOWS_URL = new URL('../../demo/machine_temperature_windows.json', import.meta.url);

/** The file's name in the Numenta Anomaly Benchmark, the key of its anomaly windows. */
export const NAB_FILE = 'realKnownCause/machine_temperature_system_failure.csv';

/**
 * The share of the file, from its start, that made the demo model (trained on and validated on); everything after
 * it is held out and only ever used for the reported test error.
 */
export const TRAIN_FRACTION = 0.5;

/** The bundled stream: one timestamp and one temperature reading per row, plus NAB's anomaly windows. */
export interface DemoData {
  timestamps: string[];
  values: Float64Array;
  /** [start, end] timestamps, inclusive, in the CSV's "YYYY-MM-DD HH:MM:SS" form. */
  windows: [string, string][];
}

/** Rows of the fitting part of a file of `rows` rows: the first TRAIN_FRACTION of them. */
export function trainRowCount(rows: number): number {
  return Math.floor(rows * TRAIN_FRACTION);
}

/**
 * Reads the bundled CSV (a "timestamp,value" header, then one row per reading)
 * and anomaly windows, or the given copies of them. A value that is not a
 * number throws InputError naming the file and line.
 */
export async function loadDemoData(csvUrl: URL = DEMO_CSV_URL, windowsUrl: URL = DEMO_WINDOWS_URL): Promise<DemoData> {
  const path = fileURLToPath(csvUrl);
  const timestamps: string[] = [];
  const values: number[] = [];
  let columns: { timestamp: number; value: number } | undefined;
  for await (const { line, cells } of readCsvRows(path)) {
    if (!columns) {
      columns = { timestamp: cells.indexOf('timestamp'), value: cells.indexOf('value') };
      if (columns.timestamp < 0 || columns.value < 0) throw new InputError(`${path} line ${line}: expected a header with columns "timestamp" and "value"`);
      continue;
    }
    const cell = cells[columns.value];
    const value = Number(cell);
    if (cell === undefined || cell === '' || !Number.isFinite(value)) {
      throw new InputError(`${path} line ${line}: value ${JSON.stringify(cell)} is not a number`);
    }
    timestamps.push(cells[columns.timestamp]);
    values.push(value);
  }
  const allWindows = JSON.parse(await readFile(windowsUrl, 'utf8')) as Record<string, string[][]>;
  // NAB writes "2013-12-10 06:25:00.000000"; the CSV has no fraction, and the fixed-width form compares as text
  const windows = (allWindows[NAB_FILE] ?? []).map(([start, end]) => [start.slice(0, 19), end.slice(0, 19)] as [string, string]);
  return { timestamps, values: Float64Array.from(values), windows };
}
