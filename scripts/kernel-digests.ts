// Writes tests/fixtures/kernel-digests.json: the digests of every case of tests/helpers/kernel-digests.ts for the
// production builds (and their diagnostics builds) in a folder, build/ by default. The fixture is made from the
// build BEFORE a refactor of assembly/; tests/kernel-bit-identity.test.ts then checks the new build against it.
//
//   npx tsx scripts/kernel-digests.ts [--from DIR]     write the fixture from DIR (e.g. a copy of the old build)
//   npx tsx scripts/kernel-digests.ts --check [--from DIR]   compare DIR's digests with the fixture, list differences
//   npx tsx scripts/kernel-digests.ts --only scalar [--from DIR]   (re)write the scalar build's section alone, keeping
//                                                     the baseline and relaxed digests as they are
//
// The relaxed-SIMD build needs relaxed SIMD: on Node 20 the script runs itself again with --experimental-wasm-relaxed-simd.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SYNTHETIC_CASES } from '../tests/helpers/kernel-digest-synthetic.js';
import { GOLDEN_CASES } from '../tests/helpers/kernel-digest-golden.js';
import { STREAM_CASES } from '../tests/helpers/kernel-digest-streams.js';
import { digestOf, FIXTURE_URL, fusesMultiplyAdd, loadBuilds, type DigestFixture, type Variant } from '../tests/helpers/kernel-digests.js';

const FLAG = '--experimental-wasm-relaxed-simd';
const args = process.argv.slice(2);
const check = args.includes('--check');
const fromAt = args.indexOf('--from');
const dir = fromAt >= 0 ? args[fromAt + 1] : fileURLToPath(new URL('../build', import.meta.url));
const onlyScalar = args.includes('--only') && args[args.indexOf('--only') + 1] === 'scalar';
if (args.includes('--only') && !onlyScalar) {
  console.error('--only takes "scalar" (the one section that can be written alone)');
  process.exit(2);
}

const relaxedRuns = WebAssembly.validate(readFileSync(`${dir}/seqcast-relaxed.wasm`));
if (!relaxedRuns && !process.execArgv.includes(FLAG)) {
  const run = spawnSync(process.execPath, [FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}

const cases = [...GOLDEN_CASES, ...SYNTHETIC_CASES, ...STREAM_CASES];

function digests(variant: Variant): Record<string, string> {
  const builds = loadBuilds(dir, variant);
  const started = Date.now();
  const result = Object.fromEntries(cases.map((c) => [c.name, digestOf(builds, c)]));
  console.log(`${variant}: ${cases.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

const commit = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const hasScalar = existsSync(`${dir}/seqcast-scalar.wasm`);

if (onlyScalar) {
  const fixture = JSON.parse(readFileSync(FIXTURE_URL, 'utf8')) as DigestFixture;
  fixture.scalar = { madeFrom: `${dir} (repository at ${commit})`, digests: digests('scalar') };
  writeFileSync(FIXTURE_URL, `${JSON.stringify(fixture, null, 2)}\n`);
  console.log(`wrote the scalar section of ${fileURLToPath(FIXTURE_URL)}`);
  process.exit(0);
}

const baseline = digests('baseline');
const relaxed = relaxedRuns || process.execArgv.includes(FLAG) ? digests('relaxed') : undefined;
const scalar = hasScalar ? digests('scalar') : undefined;
const fused = fusesMultiplyAdd();

if (check) {
  const fixture = JSON.parse(readFileSync(FIXTURE_URL, 'utf8')) as DigestFixture;
  const differ = (mine: Record<string, string>, theirs: Record<string, string>, label: string) =>
    Object.keys({ ...mine, ...theirs }).filter((name) => mine[name] !== theirs[name]).map((name) => `${label} ${name}`);
  const differences = [
    ...differ(baseline, fixture.baseline, 'baseline'),
    ...(relaxed && fixture.relaxed?.fusedMultiplyAdd === fused ? differ(relaxed, fixture.relaxed.digests, 'relaxed') : []),
    ...(scalar && fixture.scalar ? differ(scalar, fixture.scalar.digests, 'scalar') : []),
  ];
  console.log(differences.length === 0 ? `every digest of ${dir} equals the fixture's` : `differences:\n${differences.join('\n')}`);
  process.exit(differences.length === 0 ? 0 : 1);
}

const fixture: DigestFixture = {
  about: 'sha256 of the kernel state words per case of tests/helpers/kernel-digests.ts; made by scripts/kernel-digests.ts from the build before the assembly/ refactor',
  madeFrom: `${dir} (repository at ${commit})`,
  baseline,
  ...(relaxed ? { relaxed: { fusedMultiplyAdd: fused, digests: relaxed } } : {}),
  ...(scalar ? { scalar: { madeFrom: `${dir} (repository at ${commit})`, digests: scalar } } : {}),
};
writeFileSync(FIXTURE_URL, `${JSON.stringify(fixture, null, 2)}\n`);
console.log(`wrote ${fileURLToPath(FIXTURE_URL)}`);
