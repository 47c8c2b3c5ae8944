// Seeded, bounded fuzzing of the model loader: mutated safetensors files of every model kind and dtype are accepted
// (and then give exactly their tensors, finite, within the stated limits) or refused with a ModelFormatError; none
// crashes the parser, the architecture inference, the metadata checks or, for a sample, the kernel.

import { beforeAll, describe, expect, it } from 'vitest';
import { fuzzLoad, fuzzParse } from './oracles.js';
import { crashReport, runFuzz } from './run.js';
import { safetensorsCase, safetensorsCorpus } from './safetensors-cases.js';

let corpus: Uint8Array[];
beforeAll(async () => {
  corpus = await safetensorsCorpus();
});

describe('fuzzed safetensors files', () => {
  it('3,000 mutated files: each accepted with its own tensors or refused with a typed error, none crashes the parser', async () => {
    const tally = await runFuzz(3000, 19, (random) => {
      const { bytes, sameTensorsAs } = safetensorsCase(random, corpus);
      return fuzzParse(bytes, sameTensorsAs);
    });
    expect(tally.counts.crashed, crashReport(tally)).toBe(0);
    // the cases reach both sides, and every check the loader makes on the format
    expect(tally.counts.accepted).toBeGreaterThan(150);
    expect(tally.counts.refused).toBeGreaterThan(2000);
    const reasons = [...tally.refusals.keys()].join('\n');
    for (const check of [/not valid JSON/, /twice/, /belong to no tensor/, /has a hole/, /header length # does not fit/, /byte order mark/, /padded with/, /unsupported dtype/, /invalid shape/, /data_offsets/, /missing tensor/, /not valid UTF/]) {
      expect(reasons).toMatch(check);
    }
  });

  it('150 of them loaded into a kernel and stepped: accepted or refused with a typed error, never a crash', async () => {
    const tally = await runFuzz(150, 20, (random) => fuzzLoad(safetensorsCase(random, corpus).bytes));
    expect(tally.counts.crashed, crashReport(tally)).toBe(0);
    expect(tally.counts.accepted).toBeGreaterThan(5);
  });
});
