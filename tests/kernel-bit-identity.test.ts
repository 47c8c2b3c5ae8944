// The kernel computes exactly what it computed before the assembly/ refactor: for every golden case, a few odd-sized,
// token-table, hybrid and refusal cases, and five 10,000-step learning streams, the sha256 of the state words it
// leaves (outputs, slot states, attention weights, gradients, parameters after training, optimizer moments) equals
// the digest in tests/fixtures/kernel-digests.json, made by scripts/kernel-digests.ts from the build before it.
// Every production build: the relaxed-SIMD one where this runtime runs it (the kernel-relaxed project of
// vitest.config.ts) and fuses multiply-adds as the machine that made the fixture did; the scalar one (no SIMD) against
// its own digests, which are the SIMD build's: it sums every lane in the vector code's order.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { supportsRelaxedSimd } from '../src/kernel/kernel.js';
import { GOLDEN_CASES } from './helpers/kernel-digest-golden.js';
import { STREAM_CASES } from './helpers/kernel-digest-streams.js';
import { SYNTHETIC_CASES } from './helpers/kernel-digest-synthetic.js';
import { digestOf, FIXTURE_URL, fusesMultiplyAdd, loadBuilds, type DigestFixture, type Variant } from './helpers/kernel-digests.js';

const BUILD = fileURLToPath(new URL('../build', import.meta.url));
const fixture = JSON.parse(readFileSync(FIXTURE_URL, 'utf8')) as DigestFixture;
const cases = [...GOLDEN_CASES, ...SYNTHETIC_CASES, ...STREAM_CASES];

/**
 * The relaxed project checks the relaxed build, the scalar project the scalar build; the main one the baseline build,
 * and the relaxed one too where it runs unflagged.
 */
const variants: Variant[] = process.env.SEQCAST_KERNEL === 'relaxed' ? ['relaxed']
  : process.env.SEQCAST_KERNEL === 'scalar' ? ['scalar']
    : supportsRelaxedSimd() ? ['baseline', 'relaxed'] : ['baseline'];

function expected(variant: Variant): Record<string, string> | undefined {
  if (variant === 'baseline') return fixture.baseline;
  if (variant === 'scalar') return fixture.scalar?.digests;
  return fixture.relaxed?.fusedMultiplyAdd === fusesMultiplyAdd() ? fixture.relaxed.digests : undefined;
}

describe('the fixture', () => {
  it('records for the scalar build the very digests of the SIMD build: the same numbers, bit for bit, without SIMD', () => {
    expect(fixture.scalar?.digests).toEqual(fixture.baseline);
  });
});

describe.each(variants)('the %s build', (variant) => {
  const digests = expected(variant);

  it('has a recorded digest for every case, and the fixture no case that is gone', () => {
    expect(digests, 'the fixture holds digests for this build on a machine like this one').toBeDefined();
    expect(Object.keys(digests!).sort()).toEqual(cases.map((c) => c.name).sort());
  });

  describe.runIf(digests !== undefined)('leaves the same state words as the build before the refactor', () => {
    const builds = loadBuilds(BUILD, variant);
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
      expect(digestOf(builds, c)).toBe(digests![c.name]);
    });
  });

  describe.runIf(digests !== undefined)('has a diagnostics twin that computes the same, so the tests that need its probes test production numerics', () => {
    const builds = loadBuilds(BUILD, variant);
    const twin = { production: builds.diagnostics, diagnostics: builds.diagnostics };
    const production = [...GOLDEN_CASES, ...SYNTHETIC_CASES].filter((c) => c.build === 'production');
    it.each(production.map((c) => [c.name, c] as const))('%s', (_, c) => {
      expect(digestOf(twin, c)).toBe(digests![c.name]);
    });
  });
});
