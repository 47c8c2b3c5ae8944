// Checks what scripts/asc-cold-code.mjs promises: that keeping the configure-time helpers out of line leaves every
// function on the kernel's hot paths as it was. Compiles build/seqcast.wasm's source twice at -O3 (with and without
// the transform) into a temporary folder and compares, in the text format, every function that stepBatch,
// trainStep, trainForwardBackward and optimizerStep reach (the labels of inlined blocks are numbered apart in the two
// builds; they are compared without their numbers). Prints the functions that differ; exits 1 if any does.
//
//   node scripts/kernel-hot-path.mjs        (two -O3 compilations: about a minute of CPU)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ASC = fileURLToPath(new URL('../node_modules/assemblyscript/bin/asc.js', import.meta.url));
const FLAGS = ['--runtime', 'stub', '--noAssert', '--use', 'abort=', '--enable', 'simd', '-O3'];
const ROOTS = ['stepBatch', 'trainStep', 'trainForwardBackward', 'optimizerStep'];

/** Compiles assembly/index.ts with `extra` flags; returns its functions' text by name. */
function functions(dir, name, extra) {
  const wat = join(dir, `${name}.wat`);
  const run = spawnSync(process.execPath, [ASC, 'assembly/index.ts', ...FLAGS, ...extra, '--outFile', join(dir, `${name}.wasm`), '--textFile', wat], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`asc failed:\n${run.stdout}${run.stderr}`);
  const byName = new Map();
  for (const body of readFileSync(wat, 'utf8').split('\n (func ').slice(1)) {
    byName.set(body.split(/\s/)[0], body.replace(/\$__inlined_func\$(\S+?)\$\d+/g, '$1'));
  }
  return byName;
}

/** The functions `root` (an export) calls, directly or not, itself included. */
function reach(byName, root) {
  const start = [...byName.keys()].find((name) => name.endsWith(`/${root}`));
  const seen = new Set();
  const stack = start ? [start] : [];
  while (stack.length > 0) {
    const name = stack.pop();
    if (seen.has(name) || !byName.has(name)) continue;
    seen.add(name);
    for (const match of byName.get(name).matchAll(/call (\$\S+)/g)) stack.push(match[1]);
  }
  return seen;
}

const dir = mkdtempSync(join(tmpdir(), 'seqcast-hot-path-'));
try {
  const plain = functions(dir, 'plain', []);
  const cold = functions(dir, 'cold', ['--transform', './scripts/asc-cold-code.mjs']);
  let differ = 0;
  for (const root of ROOTS) {
    const names = new Set([...reach(plain, root), ...reach(cold, root)]);
    const changed = [...names].filter((name) => plain.get(name) !== cold.get(name));
    differ += changed.length;
    console.log(`${root}: ${names.size} functions, ${changed.length === 0 ? 'all the same' : `differ: ${changed.join(', ')}`}`);
  }
  process.exitCode = differ === 0 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
