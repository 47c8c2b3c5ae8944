// The kernel's production builds as files an edge device gets: each within the size budget (64 KiB), the scalar one
// free of SIMD (decoded from its binary, and by wabt's wasm-validate where installed), all three shipped by the package.

import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_FILES } from '../src/kernel/kernel.js';
import { simdUse } from './helpers/wasm-features.js';

/** The budget of every production build, in bytes: 64 KiB (docs/abi.md "Sizes"). */
const SIZE_BUDGET = 65_536;

const buildUrl = (file: string) => new URL(`../build/${file}`, import.meta.url);
const PRODUCTION = Object.values(KERNEL_FILES);
const hasWasmValidate = spawnSync('wasm-validate', ['--version']).status === 0;

describe('the production builds', () => {
  it('are the SIMD, relaxed-SIMD and scalar builds', () => {
    expect(PRODUCTION.sort()).toEqual(['seqcast-relaxed.wasm', 'seqcast-scalar.wasm', 'seqcast.wasm']);
  });

  it.each(PRODUCTION)('build/%s fits the 64 KiB budget', (file) => {
    expect(statSync(buildUrl(file)).size).toBeLessThanOrEqual(SIZE_BUDGET);
  });

  it('are all shipped by the package (package.json "files")', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { files: string[] };
    for (const file of PRODUCTION) expect(pkg.files, file).toContain(`build/${file}`);
  });
});

describe('the scalar build', () => {
  it('holds no SIMD instruction and no v128 type in any function, though it decodes every instruction', () => {
    const use = simdUse(readFileSync(buildUrl('seqcast-scalar.wasm')));
    expect(use.simdInstructions).toBe(0);
    expect(use.v128Types).toBe(0);
    expect(use.instructions).toBeGreaterThan(10_000);
  });

  it('its diagnostics twin holds none either (the numerics suites test the scalar build through it)', () => {
    const use = simdUse(readFileSync(buildUrl('seqcast-diagnostics-scalar.wasm')));
    expect([use.simdInstructions, use.v128Types]).toEqual([0, 0]);
  });

  it('the decoder does see SIMD where there is some: in most of the SIMD build\'s hot functions', () => {
    for (const file of ['seqcast.wasm', 'seqcast-relaxed.wasm']) {
      const use = simdUse(readFileSync(buildUrl(file)));
      expect(use.simdInstructions, file).toBeGreaterThan(10);
      expect(use.v128Types, file).toBeGreaterThan(0);
    }
  });

  it.runIf(hasWasmValidate)('wabt\'s wasm-validate --disable-simd accepts it and refuses the SIMD build', () => {
    const scalar = spawnSync('wasm-validate', ['--disable-simd', buildUrl('seqcast-scalar.wasm').pathname], { encoding: 'utf8' });
    expect(scalar.status, scalar.stderr).toBe(0);
    const simd = spawnSync('wasm-validate', ['--disable-simd', buildUrl('seqcast.wasm').pathname], { encoding: 'utf8' });
    expect(simd.status).not.toBe(0);
  });
});
