// CSV held as text (a file dropped on the dashboard's page): the same records, line numbers and errors as csv.ts reads from
// files, with csv-parse's browser build, so nothing of Node is needed.

import { CsvError, parse } from 'csv-parse/browser/esm/sync';
import { InputError } from '../errors.js';
import { checkSeparator, CSV_OPTIONS, RecordLines, type CsvRow } from './csv-cells.js';

/**
 * Every record of `text` with the line it starts on, blank lines skipped, as
 * readCsvRows gives them for a file; `source` names it in messages. Malformed
 * CSV (an unclosed quote) throws InputError naming `source`.
 */
export function csvTextRows(text: string, source: string): CsvRow[] {
  let records: string[][];
  try {
    records = parse(text, CSV_OPTIONS) as string[][];
  } catch (err) {
    if (err instanceof CsvError) throw new InputError(`${source}: ${err.message}`);
    throw err;
  }
  const lines = new RecordLines();
  const rows: CsvRow[] = [];
  for (const cells of records) {
    const line = lines.next(cells);
    if (line === undefined) continue;
    if (rows.length === 0) checkSeparator(cells, line, source);
    rows.push({ line, cells });
  }
  return rows;
}
