// Training data for `seqcast train`: CSV frames (columns by name or index, a
// timestamp column skipped, NaN rows skipped or refused, an optional label
// column) and text files (a char-level vocabulary). Every fault is an
// InputError naming the file, the line and the value.

import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { isHeaderRow, parseNumberCell, quote, readCsvRows } from '../io/csv.js';
import { describeFileError } from '../io/files.js';

/** Column names that mark a time column, skipped from the frames by default. */
const TIME_NAMES = new Set(['timestamp', 'time', 'date', 'datetime']);
/** Cells that mean "no value here": empty, or NaN as spreadsheets, numpy and pandas write it. */
const MISSING = /^(?:[+-]?nan)?$/i;
/** A number as csv.ts accepts it, or a spelling of NaN/infinity. */
const NUMERIC = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)$/i;

export type NanPolicy = 'skip' | 'refuse';

export interface CsvDataOptions {
  /** Input columns, by header name or 0-based index; default every column but the time and label columns. */
  columns?: string[];
  /** The label column (many-to-one / one-to-one with a label), by name or 0-based index. */
  label?: string;
  /** Rows with a missing (empty or NaN) value: skipped and counted, or refused (the default). */
  nan?: NanPolicy;
}

export interface CsvData {
  file: string;
  /** Names of the input channels (header names, or "c<index>" without a header). */
  channels: string[];
  /** 0-based file columns of the channels. */
  columns: number[];
  /** The time column that was skipped, if any. */
  timeColumn?: { index: number; name: string };
  /** Frames, row-major: rows × channels. */
  values: Float64Array;
  rows: number;
  /** File line of each kept row. */
  lines: number[];
  /** The label of each kept row, when a label column was given. */
  labels?: Float64Array;
  labelName?: string;
  /** Rows skipped for a missing value (--nan skip), and the first few of their lines. */
  skipped: number;
  skippedLines: number[];
}

function isNumeric(cell: string): boolean {
  return NUMERIC.test(cell);
}

/**
 * Resolves a column given by header name or 0-based index. Throws InputError
 * listing the columns that do exist.
 */
export function resolveColumn(spec: string, header: string[] | undefined, width: number, file: string, what = 'column'): number {
  const name = spec.trim();
  if (header) {
    const at = header.indexOf(name);
    if (at >= 0) return at;
  }
  if (/^\d+$/.test(name)) {
    const index = Number(name);
    if (index < width) return index;
    throw new InputError(`${what} ${name} does not exist: ${file} has ${width} column${width === 1 ? '' : 's'} (indices 0..${width - 1})`);
  }
  const known = header ? `its columns are ${header.map((h) => quote(h)).join(', ')}` : 'it has no header row, so name columns by 0-based index';
  throw new InputError(`${what} ${quote(name)} does not exist in ${file}: ${known}`);
}

/**
 * Reads CSV frames. The first row is a header when some cell besides a
 * leading time cell is not a number. The time column (named timestamp, time,
 * date or datetime, or a first column whose first value is not a number) is
 * left out of the frames unless asked for.
 */
export async function readCsvData(file: string, options: CsvDataOptions = {}): Promise<CsvData> {
  const nan = options.nan ?? 'refuse';
  let header: string[] | undefined;
  let width = -1;
  let picked: number[] = [];
  let labelColumn = -1;
  let timeColumn: CsvData['timeColumn'];
  const values: number[] = [];
  const labels: number[] = [];
  const lines: number[] = [];
  let skipped = 0;
  const skippedLines: number[] = [];
  let first = true;

  for await (const { line, cells } of readCsvRows(file)) {
    if (first) {
      first = false;
      // "2024-01-01 00:00,1.5,2" is data with a time column, not a header
      const dataWithTime = cells.length > 1 && !isNumeric(cells[0]) && cells.slice(1).every((c) => c === '' || isNumeric(c));
      if (isHeaderRow(cells) && !dataWithTime) {
        header = cells;
        width = cells.length;
        ({ picked, labelColumn, timeColumn } = chooseColumns(file, header, width, options, undefined));
        continue;
      }
    }
    if (width < 0) {
      width = cells.length;
      ({ picked, labelColumn, timeColumn } = chooseColumns(file, undefined, width, options, cells));
    } else if (!picked.length) {
      ({ picked, labelColumn, timeColumn } = chooseColumns(file, header, width, options, cells));
    }
    if (cells.length !== width) {
      throw new InputError(`${file} line ${line}: ${cells.length} cell${cells.length === 1 ? '' : 's'}, but ${header ? 'the header has' : 'the first row has'} ${width}`);
    }
    const wanted = labelColumn >= 0 ? [...picked, labelColumn] : picked;
    const missing = wanted.find((c) => MISSING.test(cells[c]));
    if (missing !== undefined) {
      if (nan === 'refuse') {
        const name = header ? ` (${quote(header[missing])})` : '';
        throw new InputError(
          `${file} line ${line}, column ${missing + 1}${name}: ${cells[missing] === '' ? 'the cell is empty' : `the cell is ${quote(cells[missing])}, not a number`}; ` +
            'rows with missing values are refused (use --nan skip to skip and count them)',
        );
      }
      skipped++;
      if (skippedLines.length < 5) skippedLines.push(line);
      continue;
    }
    for (const c of picked) values.push(parseNumberCell(cells[c], { file, line, column: c + 1 }));
    if (labelColumn >= 0) labels.push(parseNumberCell(cells[labelColumn], { file, line, column: labelColumn + 1 }));
    lines.push(line);
  }
  if (width < 0) throw new InputError(`${file} is empty: there is nothing to train on`);
  if (lines.length === 0 && skipped === 0) throw new InputError(`${file} has a header but no data rows: there is nothing to train on`);
  if (lines.length === 0) throw new InputError(`${file}: every one of its ${skipped} data rows has a missing value (skipped with --nan skip); nothing is left to train on`);
  const channels = picked.map((c) => (header ? header[c] : `c${c}`));
  return {
    file,
    channels,
    columns: picked,
    timeColumn,
    values: Float64Array.from(values),
    rows: lines.length,
    lines,
    labels: labelColumn >= 0 ? Float64Array.from(labels) : undefined,
    labelName: labelColumn >= 0 ? (header ? header[labelColumn] : `c${labelColumn}`) : undefined,
    skipped,
    skippedLines,
  };
}

function chooseColumns(file: string, header: string[] | undefined, width: number, options: CsvDataOptions, firstData: string[] | undefined) {
  const labelColumn = options.label !== undefined ? resolveColumn(options.label, header, width, file, 'label column') : -1;
  let timeColumn: CsvData['timeColumn'];
  const named = header?.findIndex((h) => TIME_NAMES.has(h.trim().toLowerCase())) ?? -1;
  if (named >= 0) timeColumn = { index: named, name: header![named] };
  else if (firstData && firstData.length > 1 && !isNumeric(firstData[0]) && firstData[0] !== '') timeColumn = { index: 0, name: header ? header[0] : 'column 0' };
  let picked: number[];
  if (options.columns && options.columns.length) {
    picked = options.columns.map((spec) => resolveColumn(spec, header, width, file));
    const twice = picked.find((c, i) => picked.indexOf(c) !== i);
    if (twice !== undefined) throw new InputError(`--columns names column ${header ? quote(header[twice]) : twice} twice`);
    if (labelColumn >= 0 && picked.includes(labelColumn)) throw new InputError(`the label column ${quote(options.label!)} is also an input column; leave it out of --columns`);
  } else {
    // without data yet (a header only), the time column is decided on the first data row
    if (!firstData && named < 0) return { picked: [], labelColumn, timeColumn };
    picked = Array.from({ length: width }, (_, c) => c).filter((c) => c !== labelColumn && c !== timeColumn?.index);
    if (!picked.length) throw new InputError(`${file} has no input columns left once the time and label columns are set aside`);
  }
  return { picked, labelColumn, timeColumn };
}

export interface TextData {
  file: string;
  /** Sorted unique characters (by code point): token id k is the k-th. */
  vocab: string[];
  ids: Int32Array;
}

/** Reads a UTF-8 text file as character ids over its own sorted vocabulary. */
export async function readTextData(file: string): Promise<TextData> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${describeFileError(err)}`);
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const chars = Array.from(text);
  if (chars.length === 0) throw new InputError(`${file} is empty`);
  const vocab = [...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids = new Int32Array(chars.length);
  for (let i = 0; i < chars.length; i++) ids[i] = index.get(chars[i])!;
  return { file, vocab, ids };
}

/** Per-channel mean and (population) standard deviation of rows [from, to); a constant channel gets std 1. */
export function channelStats(values: Float64Array, channels: number, from: number, to: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(channels).fill(0);
  const std = new Array<number>(channels).fill(0);
  const n = to - from;
  for (let r = from; r < to; r++) for (let c = 0; c < channels; c++) mean[c] += values[r * channels + c];
  for (let c = 0; c < channels; c++) mean[c] /= n;
  for (let r = from; r < to; r++) {
    for (let c = 0; c < channels; c++) {
      const d = values[r * channels + c] - mean[c];
      std[c] += d * d;
    }
  }
  for (let c = 0; c < channels; c++) {
    const s = Math.sqrt(std[c] / n);
    // a constant channel (or one so flat that float32 cannot divide by it) is only centred
    std[c] = s > 1e-12 * Math.max(1, Math.abs(mean[c])) && Math.fround(s) > 0 && Number.isFinite(Math.fround(1 / s)) ? s : 1;
  }
  return { mean, std };
}
