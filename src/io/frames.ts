// A CSV of frames read whole for predict and replay: a header or none, the time column set aside (its cells read as
// timestamps), columns picked by name or index, every bad row reported at once (up to a limit), nothing half-read.

import { InputError } from '../errors.js';
import { chooseColumns, isHeader, type ChosenColumns } from './columns.js';
import { parseNumberCell, readCsvRows, type CsvRow } from './csv.js';
import { parseTimestamp, TIMESTAMP_FORMS } from './timestamps.js';

/** Bad rows listed in one error; the others are counted. */
export const MAX_REPORTED_ROWS = 20;

export interface FrameFileOptions {
  /** Input columns by header name or 0-based index (--columns); default every column but the time column. */
  columns?: string[];
  /** Read at most this many data rows. */
  limit?: number;
  /**
   * Values each row must hold, and how to say so ("the model expects 3"): checked against the header once, and
   * against each row's cells (without --columns, a row holds the time cell and exactly these values).
   */
  width?: { count: number; expects: string };
  /** Checks one row's values beyond being finite numbers (a token id inside the vocabulary); throws InputError naming `line`. */
  checkRow?: (values: number[], line: number) => void;
  /** What the rows are for, in the message for a file without any: "to predict". */
  purpose: string;
}

/** The frames of a CSV, as read and checked. */
export interface FrameFile {
  file: string;
  /** The header row's cells, if there was one. */
  header?: string[];
  /** Names of the value columns: the header's, or "column N" (1-based). */
  channels: string[];
  /** The time column set aside, if any (0-based index). */
  timeColumn?: { index: number; name: string };
  /** (rows) each row's values. */
  frames: number[][];
  /** (rows) each row's time cell as written, when there is a time column. */
  timeCells?: string[];
  /** (rows) each row's time: ms since the epoch for date-times, the number as written otherwise; undefined without a time column. */
  times: (number | undefined)[];
  /** (rows) the file line of each row. */
  lines: number[];
}

/**
 * Reads and checks a CSV of frames whole. Every bad row is reported in one InputError (the first
 * MAX_REPORTED_ROWS listed, naming file, line and column; the rest counted); an empty file, a header
 * without rows, a header of the wrong width or columns that do not exist throw InputError at once.
 */
export async function readFrameFile(file: string, options: FrameFileOptions): Promise<FrameFile> {
  let header: string[] | undefined;
  let width = -1;
  let chosen: ChosenColumns | undefined;
  const out: FrameFile = { file, channels: [], frames: [], times: [], lines: [] };
  const problems: string[] = [];
  let badRows = 0;
  const limit = options.limit ?? Infinity;
  let headerRow: CsvRow | undefined;
  for await (const row of readCsvRows(file)) {
    if (width < 0) {
      width = row.cells.length;
      if (isHeader(row.cells)) {
        headerRow = row;
        header = row.cells;
        const early = chooseColumns(file, header, width, options, undefined);
        if (early.picked.length > 0) {
          chosen = early;
          checkHeader(chosen, row, file, options);
        }
        continue;
      }
    }
    if (!chosen) {
      // a header without a named time column: the first data row decides (chooseColumns always picks with data)
      chosen = chooseColumns(file, header, width, options, row.cells);
      if (headerRow) checkHeader(chosen, headerRow, file, options);
    }
    if (out.frames.length + badRows >= limit) break;
    try {
      readRow(row, chosen, width, header !== undefined, file, options, out);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      badRows++;
      if (problems.length < MAX_REPORTED_ROWS) problems.push(err.message);
    }
  }
  if (width < 0) throw new InputError(`${file} is empty: there is nothing ${options.purpose}`);
  if (out.frames.length === 0 && badRows === 0) throw new InputError(`${file} has a header but no data rows: there is nothing ${options.purpose}`);
  if (badRows === 1) throw new InputError(problems[0]);
  if (badRows > 1) {
    const listed = badRows > problems.length ? ` (the first ${problems.length} are listed)` : '';
    throw new InputError(`${file} has ${badRows} bad rows${listed}:\n  ${problems.join('\n  ')}`);
  }
  out.header = header;
  out.timeColumn = chosen?.timeColumn;
  out.channels = (chosen?.picked ?? []).map((c) => (header ? header[c] : `column ${c + 1}`));
  return out;
}

function checkHeader(chosen: ChosenColumns, row: CsvRow, file: string, options: FrameFileOptions): void {
  const count = chosen.picked.length;
  if (options.width && count !== options.width.count) {
    const time = chosen.timeColumn ? ` besides the time column ${JSON.stringify(chosen.timeColumn.name)}` : '';
    throw new InputError(`${file} line ${row.line}: the header names ${count} column${count === 1 ? '' : 's'}${time}, ${options.width.expects}`);
  }
}

/** Checks one data row and appends it to `out`; throws InputError naming its line (and column). */
function readRow(row: CsvRow, chosen: ChosenColumns, width: number, hasHeader: boolean, file: string, options: FrameFileOptions, out: FrameFile): void {
  const { line, cells } = row;
  if (cells.length !== width) {
    const time = chosen.timeColumn ? 1 : 0;
    if (options.width && !options.columns) {
      const values = cells.length - time;
      throw new InputError(`${file} line ${line}: ${values} value${values === 1 ? '' : 's'}, ${options.width.expects}`);
    }
    throw new InputError(`${file} line ${line}: ${cells.length} cell${cells.length === 1 ? '' : 's'}, but ${hasHeader ? 'the header has' : 'the first row has'} ${width}`);
  }
  const values = chosen.picked.map((c) => parseNumberCell(cells[c], { file, line, column: c + 1 }));
  if (options.width && values.length !== options.width.count) {
    throw new InputError(`${file} line ${line}: ${values.length} value${values.length === 1 ? '' : 's'}, ${options.width.expects}`);
  }
  let t: number | undefined;
  if (chosen.timeColumn) {
    const cell = cells[chosen.timeColumn.index];
    t = parseTimestamp(cell).at;
    if (Number.isNaN(t)) throw new InputError(`${file} line ${line}, column ${chosen.timeColumn.index + 1}: ${JSON.stringify(cell)} is not a timestamp (${TIMESTAMP_FORMS})`);
  }
  options.checkRow?.(values, line);
  out.frames.push(values);
  out.times.push(t);
  out.lines.push(line);
  if (chosen.timeColumn) (out.timeCells ??= []).push(cells[chosen.timeColumn.index]);
}
