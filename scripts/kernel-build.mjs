// Builds the kernel (`npm run build:wasm`): from one source, the three production builds, build/seqcast.wasm
// (SIMD128), build/seqcast-relaxed.wasm (relaxed SIMD's fused multiply-add) and build/seqcast-scalar.wasm (no SIMD:
// for runtimes and translators without it, such as wasm2c; ASC_FEATURE_SIMD is false there and asc compiles the
// scalar side of each branch), from assembly/index.ts, and their test-only diagnostics twins from
// assembly/diagnostics.ts (docs/abi.md). The compilations are independent, so they run side by side, as many at a
// time as the machine has cores. Exits non-zero if any fails, with its output.

import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ASC = fileURLToPath(new URL('../node_modules/assemblyscript/bin/asc.js', import.meta.url));
const COMMON = ['--runtime', 'stub', '--noAssert', '--use', 'abort='];
const SIMD = ['--enable', 'simd'];
const RELAXED = ['--enable', 'simd', '--enable', 'relaxed-simd'];
const SCALAR = ['--disable', 'simd'];
/** -O3, but the configure-time helpers out of line: scripts/asc-cold-code.mjs says why (~9 KB a build). */
const PRODUCTION = ['-O3', '--transform', './scripts/asc-cold-code.mjs'];

/**
 * Each build: its entry, its file, and its flags beyond the common ones. The diagnostics builds are optimized less
 * (-O1: half the compile time); binaryen keeps float semantics at every level, and tests/kernel-bit-identity.test.ts
 * checks that they compute exactly what the production builds do.
 */
const BUILDS = [
  { entry: 'assembly/index.ts', out: 'build/seqcast.wasm', flags: [...PRODUCTION, ...SIMD, '--textFile', 'build/seqcast.wat'] },
  { entry: 'assembly/index.ts', out: 'build/seqcast-relaxed.wasm', flags: [...PRODUCTION, ...RELAXED] },
  { entry: 'assembly/index.ts', out: 'build/seqcast-scalar.wasm', flags: [...PRODUCTION, ...SCALAR] },
  { entry: 'assembly/diagnostics.ts', out: 'build/seqcast-diagnostics.wasm', flags: ['-O1', ...SIMD] },
  { entry: 'assembly/diagnostics.ts', out: 'build/seqcast-diagnostics-relaxed.wasm', flags: ['-O1', ...RELAXED] },
  { entry: 'assembly/diagnostics.ts', out: 'build/seqcast-diagnostics-scalar.wasm', flags: ['-O1', ...SCALAR] },
];

/** Compiles one build; resolves to its exit code and output. */
function compile({ entry, out, flags }) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ASC, entry, '--outFile', out, ...COMMON, ...flags], { cwd: ROOT });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('close', (code) => resolve({ out, code: code ?? 1, output }));
  });
}

const queue = [...BUILDS];
const results = [];
await Promise.all(Array.from({ length: Math.min(availableParallelism(), BUILDS.length) }, async () => {
  for (let build = queue.shift(); build; build = queue.shift()) results.push(await compile(build));
}));
const failed = results.filter((r) => r.code !== 0);
for (const r of results) if (r.output.trim()) process.stderr.write(`${r.out}:\n${r.output}`);
if (failed.length > 0) {
  process.stderr.write(`kernel build failed: ${failed.map((r) => r.out).join(', ')}\n`);
  process.exit(1);
}
