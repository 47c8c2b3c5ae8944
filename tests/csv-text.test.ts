// CSV from text (a file dropped on the dashboard's page) reads as CSV from a file does: the same records, line numbers and errors.

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvRows } from '../src/io/csv.js';
import { csvTextRows } from '../src/io/csv-text.js';
import { TimeSeriesReader } from '../src/io/time-series.js';

async function fromStream(text: string) {
  const rows = [];
  for await (const row of csvRows(Readable.from([Buffer.from(text)]), 'in.csv')) rows.push(row);
  return rows;
}

describe('csvTextRows', () => {
  it('gives the records and lines csvRows gives for the same bytes: BOM, blank lines, mixed line ends, quoted line breaks', async () => {
    const text = '\ufefftimestamp, value\r\n\n2020-01-01,1\r"2020-01-02",  "two\nlines"\n\n2020-01-03,3\n';
    const rows = csvTextRows(text, 'in.csv');
    expect(rows).toEqual(await fromStream(text));
    expect(rows).toEqual([
      { line: 1, cells: ['timestamp', 'value'] },
      { line: 3, cells: ['2020-01-01', '1'] },
      { line: 4, cells: ['2020-01-02', 'two\nlines'] },
      { line: 7, cells: ['2020-01-03', '3'] },
    ]);
  });

  it('names the source of malformed CSV', () => {
    expect(() => csvTextRows('timestamp,value\n2020-01-01,"1\n', 'dropped.csv')).toThrow(/^dropped\.csv: .*quote/i);
  });

  it('feeds the time series reader detect uses, which names the line of a bad row', () => {
    const reader = new TimeSeriesReader('dropped.csv');
    expect(() => {
      for (const row of csvTextRows('timestamp,value\n2020-01-02,1\n2020-01-01,2\n', 'dropped.csv')) reader.add(row);
    }).toThrow("dropped.csv line 3: timestamp \"2020-01-01\" is out of order: it comes before line 2's");
  });
});
