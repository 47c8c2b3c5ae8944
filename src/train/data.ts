// Training data for `seqcast train`: CSV frames (columns by name or index, a
// timestamp column skipped, NaN rows skipped or refused, an optional label
// column) and text files (a char-level vocabulary). Every fault is an
// InputError naming the file, the line and the value.

import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { chooseColumns, isHeader } from '../io/columns.js';
import { parseNumberCell, quote, readCsvRows } from '../io/csv.js';
import { describeFileError } from '../io/files.js';

/** Cells that mean "no value here": empty, or NaN as spreadsheets, numpy and pandas write it. */
const MISSING = /^(?:[+-]?nan)?$/i;

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
      if (isHeader(cells)) {
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
