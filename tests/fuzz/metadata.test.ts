// Seeded, bounded fuzzing of the seqcast metadata: generated metadata (sizes of 1e9, 2³² + 4, 1e300, −0, null,
// strings, arrays of the wrong length) on a model of every kind is accepted within its stated limits or refused with
// a ModelFormatError before anything is allocated; none crashes, and a sample loads into the kernel.

import { beforeAll, describe, expect, it } from 'vitest';
import { metadataBases, metadataCase, type MetadataBase } from './metadata-cases.js';
import { fuzzLoad, fuzzParse } from './oracles.js';
import { crashReport, runFuzz } from './run.js';

let bases: MetadataBase[];
beforeAll(async () => {
  bases = await metadataBases();
});

describe('fuzzed seqcast metadata', () => {
  it('3,000 generated metadata objects: each accepted within the limits or refused with a typed error, none crashes', async () => {
    const tally = await runFuzz(3000, 13, (random) => fuzzParse(metadataCase(random, bases)));
    expect(tally.counts.crashed, crashReport(tally)).toBe(0);
    expect(tally.counts.accepted).toBeGreaterThan(300);
    expect(tally.counts.refused).toBeGreaterThan(1500);
    const reasons = [...tally.refusals.keys()].join('\n');
    for (const check of [/above the limit/, /does not divide/, /normalizer is/, /normalizer\.(mean|std)/, /format/, /kind/, /vocab/, /channels/, /shape is/, /not valid JSON/]) {
      expect(reasons).toMatch(check);
    }
  });

  it('200 of them loaded into a kernel and stepped: what the checks accept, the kernel builds', async () => {
    const tally = await runFuzz(200, 14, (random) => fuzzLoad(metadataCase(random, bases)));
    expect(tally.counts.crashed, crashReport(tally)).toBe(0);
    expect(tally.counts.accepted).toBeGreaterThan(20);
  });
});
