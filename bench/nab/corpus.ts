// NAB's files as the scorer reads them: the labelled windows (combined_windows.json), the profiles (profiles.json), and a
// detector's per-row results (`timestamp,…,anomaly_score` CSV, or the same gzipped), with timestamps matched to rows.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { CostMatrix, RowWindow } from './sweeper.js';

/** NAB's seven categories, in the order its corpus lists them. */
export const CATEGORIES = [
  'artificialNoAnomaly',
  'artificialWithAnomaly',
  'realAdExchange',
  'realAWSCloudwatch',
  'realKnownCause',
  'realTraffic',
  'realTweets',
] as const;

/** A window as two timestamps (ms since the epoch, read as UTC), both ends included. */
export type TimeWindow = readonly [start: number, end: number];

/** The windows of every file, keyed by its path in NAB's data folder: "realKnownCause/nyc_taxi.csv". */
export type CorpusWindows = ReadonlyMap<string, readonly TimeWindow[]>;

/** One file's results: a timestamp (ms) and an anomaly score for every row. */
export interface ResultRows {
  timestamps: Float64Array;
  scores: Float64Array;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * A NAB timestamp ("2014-04-10 07:15:00" or with ".000000") as ms since the
 * epoch, read as UTC; NaN when it is not written so.
 */
export function parseNabTimestamp(text: string): number {
  const m = TIMESTAMP.exec(text.trim());
  if (!m) return Number.NaN;
  const micros = m[7] ? Number(m[7].padEnd(6, '0')) : 0;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + micros / 1000;
}

/** The category of a file path such as "realKnownCause/nyc_taxi.csv". */
export function categoryOf(file: string): string {
  return file.split('/')[0];
}

/** Reads combined_windows.json: every file's windows, their timestamps parsed. */
export function loadWindows(path: string): CorpusWindows {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, [string, string][]>;
  const windows = new Map<string, TimeWindow[]>();
  for (const [file, list] of Object.entries(json)) {
    windows.set(
      file,
      list.map(([start, end]) => {
        const window = [parseNabTimestamp(start), parseNabTimestamp(end)] as const;
        if (!window.every(Number.isFinite)) throw new Error(`${path}: ${file} has a window [${start}, ${end}] that is not two timestamps`);
        return window;
      }),
    );
  }
  return windows;
}

/** Reads profiles.json: each profile's cost matrix. */
export function loadProfiles(path: string): Record<string, CostMatrix> {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, { CostMatrix: CostMatrix }>;
  return Object.fromEntries(Object.entries(json).map(([name, profile]) => [name, profile.CostMatrix]));
}

/** A CSV file's text, gunzipped when its name ends in .gz. */
export function readText(path: string): string {
  const bytes = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

/**
 * Parses a results CSV (NAB's layout: a header naming `timestamp` and
 * `anomaly_score`, other columns ignored). Unquoted cells only, as NAB writes.
 */
export function parseResults(text: string, name: string): ResultRows {
  const lines = text.split(/\r?\n/);
  const header = lines[0].split(',').map((cell) => cell.trim());
  const timeColumn = header.indexOf('timestamp');
  const scoreColumn = header.indexOf('anomaly_score');
  if (timeColumn < 0 || scoreColumn < 0) throw new Error(`${name}: the header must name timestamp and anomaly_score, found ${header.join(',')}`);
  let rows = lines.length - 1;
  while (rows > 0 && lines[rows].trim() === '') rows--;
  const timestamps = new Float64Array(rows);
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const cells = lines[r + 1].split(',');
    timestamps[r] = parseNabTimestamp(cells[timeColumn] ?? '');
    scores[r] = Number(cells[scoreColumn]);
    if (!Number.isFinite(timestamps[r])) throw new Error(`${name} line ${r + 2}: ${JSON.stringify(cells[timeColumn])} is not a timestamp`);
    if (!Number.isFinite(scores[r]) || cells[scoreColumn].trim() === '') throw new Error(`${name} line ${r + 2}: ${JSON.stringify(cells[scoreColumn])} is not an anomaly score`);
  }
  return { timestamps, scores };
}

/** Reads and parses a results file (.csv or .csv.gz). */
export function readResults(path: string): ResultRows {
  return parseResults(readText(path), path);
}

/**
 * The row indices of `windows` in a file with these timestamps: each end is
 * the first row with exactly that timestamp (as NAB's labeler and sweeper
 * require; a timestamp missing from the file is an error, as in NAB).
 */
export function windowRows(timestamps: Float64Array, windows: readonly TimeWindow[], file: string): RowWindow[] {
  const firstRow = new Map<number, number>();
  for (let r = timestamps.length - 1; r >= 0; r--) firstRow.set(timestamps[r], r);
  return windows.map(([start, end]) => {
    const first = firstRow.get(start);
    const last = firstRow.get(end);
    if (first === undefined || last === undefined) {
      const missing = new Date(first === undefined ? start : end).toISOString();
      throw new Error(`${file}: the window timestamp ${missing} is not a row of the file`);
    }
    return { first, last };
  });
}
