// Which CSV columns are a command's frames: a header or none, the time column set aside, columns picked by name or
// 0-based index. train, predict and replay decide it here, the same way.

import { InputError } from '../errors.js';
import { isHeaderRow, quote } from './csv.js';

/** Column names that mark a time column (any case), set aside from the frames. `t` is the protocol's name for a frame's time. */
export const TIME_NAMES: ReadonlySet<string> = new Set(['timestamp', 'time', 'date', 'datetime', 't']);
/** A number as csv.ts accepts it, or a spelling of NaN/infinity. */
const NUMERIC = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)$/i;

/** True for a cell written as a number (NaN and infinities included). */
export function isNumeric(cell: string): boolean {
  return NUMERIC.test(cell);
}

/**
 * True when a file's first row is a header: some cell is not a number, and it is not a data row with a leading time
 * cell ("2024-01-01 00:00,1.5,2" is data with a time column, not a header).
 */
export function isHeader(cells: string[]): boolean {
  const dataWithTime = cells.length > 1 && !isNumeric(cells[0]) && cells.slice(1).every((c) => c === '' || isNumeric(c));
  return isHeaderRow(cells) && !dataWithTime;
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

/** What to pick: input columns by name or index (default: all but the time and label columns), and a label column. */
export interface ColumnChoice {
  columns?: string[];
  label?: string;
}

/** The columns chosen: `picked` empty means "not known yet" (a header without a time name, before the first data row). */
export interface ChosenColumns {
  /** 0-based file columns of the inputs, in order. */
  picked: number[];
  /** 0-based file column of the label, or −1. */
  labelColumn: number;
  /** The time column set aside, if any. */
  timeColumn?: { index: number; name: string };
}

/**
 * Picks the columns of a file `width` cells wide. The time column is the one named as in TIME_NAMES, else a first
 * column whose first value is not a number. Without data yet (`firstData` undefined) and no named time column, the
 * choice waits for the first data row (picked is empty). Throws InputError for columns that do not exist or clash.
 */
export function chooseColumns(file: string, header: string[] | undefined, width: number, options: ColumnChoice, firstData: string[] | undefined): ChosenColumns {
  const labelColumn = options.label !== undefined ? resolveColumn(options.label, header, width, file, 'label column') : -1;
  let timeColumn: ChosenColumns['timeColumn'];
  const named = header?.findIndex((h) => TIME_NAMES.has(h.trim().toLowerCase())) ?? -1;
  if (named >= 0) timeColumn = { index: named, name: header![named] };
  else if (firstData && firstData.length > 1 && !isNumeric(firstData[0]) && firstData[0] !== '') timeColumn = { index: 0, name: header ? header[0] : 'column 0' };
  let picked: number[];
  if (options.columns && options.columns.length) {
    picked = options.columns.map((spec) => resolveColumn(spec, header, width, file));
    const twice = picked.find((c, i) => picked.indexOf(c) !== i);
    if (twice !== undefined) throw new InputError(`--columns names column ${header ? quote(header[twice]) : twice} twice`);
    if (labelColumn >= 0 && picked.includes(labelColumn)) throw new InputError(`the label column ${quote(options.label!)} is also an input column; leave it out of --columns`);
    if (timeColumn && picked.includes(timeColumn.index)) timeColumn = undefined; // asked for as an input: it is one
  } else {
    if (!firstData && named < 0) return { picked: [], labelColumn, timeColumn };
    picked = Array.from({ length: width }, (_, c) => c).filter((c) => c !== labelColumn && c !== timeColumn?.index);
    if (!picked.length) throw new InputError(`${file} has no input columns left once the time and label columns are set aside`);
  }
  return { picked, labelColumn, timeColumn };
}

/** A --columns list, "temp,flow" or "0,2", as names; undefined stays undefined. Throws InputError for an empty name. */
export function parseColumnList(list: string | undefined): string[] | undefined {
  const columns = list?.split(',').map((c) => c.trim());
  if (columns?.some((c) => c === '')) throw new InputError(`--columns has an empty name: ${JSON.stringify(list)}`);
  return columns;
}
