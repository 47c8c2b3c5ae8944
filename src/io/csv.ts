// CSV read by the command line, training and the demo: rows streamed from a file or stream with their line numbers (the cells'
// rules, and writing rows back: csv-cells.ts, re-exported here).

import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { InputError } from '../errors.js';
import { checkSeparator, CSV_OPTIONS, RecordLines, type CsvRow } from './csv-cells.js';
import { describeFileError, isFileError } from './files.js';

export * from './csv-cells.js';

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
  const parser = parse(CSV_OPTIONS);
  // pipeline hands a read error (EISDIR, EIO) to the parser, so the loop below throws it
  pipeline(input, parser, () => {});
  try {
    const lines = new RecordLines();
    let first = true;
    for await (const cells of parser as AsyncIterable<string[]>) {
      const line = lines.next(cells);
      if (line === undefined) continue;
      if (first) checkSeparator(cells, line, source);
      first = false;
      yield { line, cells };
    }
  } catch (err) {
    if (err instanceof CsvError) throw new InputError(`${source}: ${err.message}`);
    if (isFileError(err)) throw new InputError(`cannot read ${source}: ${describeFileError(err)}`);
    throw err;
  } finally {
    parser.destroy();
  }
}
