// Seeded, bounded fuzzing of the CSV reader (src/io/csv.ts) as predict, train and replay use it: tables with
// headers, blank lines, BOMs, mixed line ends, quotes, cells that are not numbers or beyond float32, and mutated
// bytes. Each is read into float32 rows that write back the same, or refused with an InputError naming the place.

import { describe, expect, it } from 'vitest';
import { csvCase } from './csv-cases.js';
import { fuzzCsv } from './oracles.js';
import { crashReport, runFuzz } from './run.js';

describe('fuzzed CSV', () => {
  it('1,000 tables: each read into float32 rows that write back the same, or refused with a typed error; none crashes', async () => {
    const tally = await runFuzz(1000, 7, (random) => fuzzCsv(csvCase(random)));
    expect(tally.counts.crashed, crashReport(tally)).toBe(0);
    expect(tally.counts.accepted).toBeGreaterThan(200);
    expect(tally.counts.refused).toBeGreaterThan(200);
    const reasons = [...tally.refusals.keys()].join('\n');
    for (const check of [/is not a number/, /is not a finite number/, /the cell is empty/, /too large for a float#/, /Quote Not Closed/]) expect(reasons).toMatch(check);
  });
});
