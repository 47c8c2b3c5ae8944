// A time series as `seqcast detect` reads it (a header naming a timestamp column, then rows of a timestamp and numbers),
// checked row by row with nothing of Node: detect feeds it a file's rows, the dashboard's local mode a dropped file's.

import { InputError } from '../errors.js';
import { isHeaderRow, parseNumberCell, type CsvRow } from './csv-cells.js';
import { parseTimestamp, TIMESTAMP_FORMS } from './timestamps.js';

export { parseTimestamp } from './timestamps.js';

/** The column the input must have. */
export const TIME_COLUMN = 'timestamp';
/** How far a timestamp may step back, ms: a clock put back an hour (daylight saving; NAB's machine_temperature file has one). */
const CLOCK_SET_BACK_MS = 3_600_000;

/** A CSV read and checked whole before anything is written. */
export interface DetectInput {
  header: string[];
  /** Index of the timestamp column in `header`. */
  timeColumn: number;
  /** (rows) the cells of every row, as read. */
  cells: string[][];
  /** (rows) ms since the epoch (date-times) or the number as written. */
  timestamps: Float64Array;
  /** The timestamps are date-times (so ms since the epoch), not plain numbers of an unknown unit. */
  dates: boolean;
  /** (rows × values) the value columns of every row. */
  values: Float64Array[];
}

/**
 * Checks a time series' rows as they come (`add`, in file order) and hands
 * the whole series over at the end (`finish`). InputError names the file and
 * line of the first problem: no timestamp column, a row of the wrong width, a
 * cell that is not a timestamp or a number, timestamps out of order (a clock
 * may step back at most an hour), no rows.
 */
export class TimeSeriesReader {
  private header: string[] | undefined;
  private timeColumn = -1;
  private readonly cells: string[][] = [];
  private readonly timestamps: number[] = [];
  private readonly values: Float64Array[] = [];
  private latest = -Infinity;
  private latestLine = 0;
  private dates: boolean | undefined;

  /** `file` names the input in messages. */
  constructor(private readonly file: string) {}

  /** The next record of the file (blank lines already skipped). */
  add(row: CsvRow): void {
    const { file } = this;
    const header = this.header;
    if (!header) {
      this.timeColumn = row.cells.indexOf(TIME_COLUMN);
      if (!isHeaderRow(row.cells) || this.timeColumn < 0) {
        throw new InputError(`${file} line ${row.line}: no "${TIME_COLUMN}" column; the first row must be a header naming a timestamp column and the value columns (as timestamp,value)`);
      }
      if (row.cells.length < 2) throw new InputError(`${file} line ${row.line}: the header names no value column besides "${TIME_COLUMN}"`);
      this.header = row.cells;
      return;
    }
    const timeColumn = this.timeColumn;
    if (row.cells.length !== header.length) {
      throw new InputError(`${file} line ${row.line}: ${row.cells.length} cells, the header names ${header.length} columns`);
    }
    const text = row.cells[timeColumn];
    const time = parseTimestamp(text);
    if (Number.isNaN(time.at)) throw new InputError(`${file} line ${row.line}, column ${timeColumn + 1}: ${JSON.stringify(text)} is not a timestamp (${TIMESTAMP_FORMS})`);
    this.dates ??= time.isDate;
    const dates = this.dates;
    if (time.isDate !== dates) throw new InputError(`${file} line ${row.line}: timestamp ${JSON.stringify(text)} is ${time.isDate ? 'a date-time' : 'a number'}, the rows before have ${dates ? 'date-times' : 'numbers'}`);
    const allowed = dates ? CLOCK_SET_BACK_MS : 0;
    if (time.at < this.latest - allowed) {
      throw new InputError(`${file} line ${row.line}: timestamp ${JSON.stringify(text)} is out of order: it comes before line ${this.latestLine}'s`);
    }
    if (time.at > this.latest) {
      this.latest = time.at;
      this.latestLine = row.line;
    }
    const frame = new Float64Array(header.length - 1);
    let at = 0;
    for (let column = 0; column < header.length; column++) {
      if (column !== timeColumn) frame[at++] = parseNumberCell(row.cells[column], { file, line: row.line, column: column + 1 });
    }
    this.cells.push(row.cells);
    this.timestamps.push(time.at);
    this.values.push(frame);
  }

  /** The series read; InputError when the file had no header or no rows. */
  finish(): DetectInput {
    const { file, header } = this;
    if (!header) throw new InputError(`${file} is empty; detect needs a header naming a timestamp column, then rows`);
    if (this.values.length === 0) throw new InputError(`${file} has a header and no rows`);
    return { header, timeColumn: this.timeColumn, cells: this.cells, timestamps: Float64Array.from(this.timestamps), dates: this.dates ?? false, values: this.values };
  }
}
