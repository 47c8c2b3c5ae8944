// CSV read and written by the command line, training and the demo: rows streamed from a file with their line numbers, number cells checked, float32 rows written back.

import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { InputError } from '../errors.js';
import { describeFileError, isFileError } from './files.js';

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

/**
 * Reads the CSV file at `path` one record at a time, with the line each record
 * starts on. Blank lines are skipped, cells are trimmed, a UTF-8 BOM is dropped,
 * and \n, \r\n and \r line ends may be mixed. An unreadable file or malformed
 * CSV (an unclosed quote) throws InputError naming the file.
 */
export async function* readCsvRows(path: string): AsyncGenerator<CsvRow> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${describeFileError(err)}`);
  }
  try {
    yield* csvRows(handle.createReadStream({ autoClose: false }), path);
  } finally {
    await handle.close();
  }
}

/**
 * readCsvRows over any byte stream (a file's, stdin, a buffer's); `source` names it in messages. A read error
 * or malformed CSV throws InputError naming `source`.
 */
export async function* csvRows(input: NodeJS.ReadableStream, source: string): AsyncGenerator<CsvRow> {
  const parser = parse({
    bom: true,
    trim: true,
    relax_column_count: true, // the caller reports rows of the wrong width with the model's expectation
    record_delimiter: ['\r\n', '\n', '\r'],
  });
  // pipeline hands a read error (EISDIR, EIO) to the parser, so the loop below throws it
  pipeline(input, parser, () => {});
  try {
    // Every record, blank ones included, ends at one line break, so lines are counted here
    // (csv-parse's `info` option would do it too, at a quarter of the run time).
    let line = 1;
    let first = true;
    for await (const cells of parser as AsyncIterable<string[]>) {
      const start = line;
      line += 1 + countLineBreaks(cells); // quoted cells may span lines
      if (cells.length === 1 && cells[0] === '') continue; // a blank line
      if (first) checkSeparator(cells, start, source);
      first = false;
      yield { line: start, cells };
    }
  } catch (err) {
    if (err instanceof CsvError) throw new InputError(`${source}: ${err.message}`);
    if (isFileError(err)) throw new InputError(`cannot read ${source}: ${describeFileError(err)}`);
    throw err;
  } finally {
    parser.destroy();
  }
}

/**
 * Refuses a file whose first row is one cell holding semicolons or tabs: it was written with another separator
 * (a spreadsheet's "CSV" in a locale with decimal commas), and read as commas it would be one column of text.
 */
function checkSeparator(cells: string[], line: number, source: string): void {
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
