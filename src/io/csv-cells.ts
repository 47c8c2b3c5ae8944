// CSV cells as seqcast reads and writes them, with nothing of Node: number cells checked, header rows told apart, float32
// rows written back. csv.ts reads files and streams with them; the dashboard's local mode reads dropped files with them.

import { InputError } from '../errors.js';

/** One CSV record and the 1-based file line it starts on. */
export interface CsvRow {
  line: number;
  cells: string[];
}

/** Where a cell sits, for error messages: "in.csv line 7, column 2". */
export interface CellLocation {
  file: string;
  line: number;
  /** 1-based column. */
  column: number;
}

/** A decimal number as people write it: 3, -0.5, .25, 1e-3. No hex, no separators. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Spellings of NaN and infinity that spreadsheets and numpy write. */
const NOT_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** The smallest normal float32. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/** How csv-parse reads seqcast's CSV, from a file or from text: BOM dropped, cells trimmed, any line end. */
export const CSV_OPTIONS = {
  bom: true,
  trim: true,
  relax_column_count: true, // the caller reports rows of the wrong width with the model's expectation
  record_delimiter: ['\r\n', '\n', '\r'],
};

/**
 * The file line each record starts on, counted as csv-parse hands records over: every record, blank ones included,
 * ends at one line break, and quoted cells may span lines (csv-parse's `info` option would count them too, at a
 * quarter of the run time).
 */
export class RecordLines {
  private line = 1;

  /** The line `cells` starts on, or undefined for a blank line (which callers skip). */
  next(cells: string[]): number | undefined {
    const start = this.line;
    this.line += 1 + countLineBreaks(cells);
    return cells.length === 1 && cells[0] === '' ? undefined : start;
  }
}

/**
 * Refuses a file whose first row is one cell holding semicolons or tabs: it was written with another separator
 * (a spreadsheet's "CSV" in a locale with decimal commas), and read as commas it would be one column of text.
 */
export function checkSeparator(cells: string[], line: number, source: string): void {
  if (cells.length !== 1) return;
  const separator = cells[0].includes(';') ? 'semicolons' : cells[0].includes('\t') ? 'tabs' : undefined;
  if (separator) {
    throw new InputError(`${source} line ${line}: ${quote(cells[0])} is separated by ${separator}, not commas; seqcast reads comma-separated files (with . as the decimal point)`);
  }
}

function countLineBreaks(cells: string[]): number {
  let count = 0;
  for (const cell of cells) count += cell.match(/\r\n|\r|\n/g)?.length ?? 0;
  return count;
}

/** True when a first row is a header: some cell is neither empty nor written as a number (NaN and Infinity count as numbers). */
export function isHeaderRow(cells: string[]): boolean {
  return cells.some((cell) => cell !== '' && !NUMBER.test(cell) && !NOT_FINITE.test(cell));
}

/**
 * Parses one trimmed cell as a finite number that fits a float32. Throws
 * InputError naming file, line, column and the cell otherwise.
 */
export function parseNumberCell(cell: string, at: CellLocation): number {
  const where = `${at.file} line ${at.line}, column ${at.column}`;
  if (cell === '') throw new InputError(`${where}: the cell is empty; expected a number`);
  if (NOT_FINITE.test(cell)) throw new InputError(`${where}: ${quote(cell)} is not a finite number`);
  if (!NUMBER.test(cell)) throw new InputError(`${where}: ${quote(cell)} is not a number`);
  const value = Number(cell);
  if (!Number.isFinite(value)) throw new InputError(`${where}: ${quote(cell)} is not a finite number`);
  if (Math.abs(value) > FLOAT32_MAX) throw new InputError(`${where}: ${quote(cell)} is too large for a float32 (largest is ±3.4028235e38)`);
  return value;
}

/** A cell as shown in messages: quoted, cut to 20 characters. */
export function quote(cell: string): string {
  return JSON.stringify(cell.length > 20 ? `${cell.slice(0, 20)}…` : cell);
}

/** The shortest decimal that reads back as the same float32 (0.1, not 0.10000000149011612). */
export function formatFloat32(value: number): string {
  const f = Math.fround(value);
  if (!Number.isFinite(f)) return String(f);
  // A normal float32 lies so close to its shortest decimal d that, when d has at most 6 digits,
  // rounding to 6 digits gives d itself (String(Number(…)) drops the padding zeros): start there.
  // Subnormals have fewer significant bits and may need only 1.
  for (let digits = Math.abs(f) < FLOAT32_MIN_NORMAL ? 1 : 6; digits < 9; digits++) {
    const text = f.toPrecision(digits);
    if (Math.fround(Number(text)) === f) return String(Number(text));
  }
  return String(Number(f.toPrecision(9))); // 9 significant digits always round-trip a float32
}

/** A text cell, quoted when it holds a comma, quote or line break. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line (with its "\n") of float32 values. */
export function formatNumberRow(values: ArrayLike<number>): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i > 0 ? ',' : '') + formatFloat32(values[i]);
  return `${line}\n`;
}

/** One CSV line (with its "\n") of text cells, e.g. a header. */
export function formatTextRow(cells: string[]): string {
  return `${cells.map(csvField).join(',')}\n`;
}
