// Fuzzing at scale: a million seeded cases each through the safetensors loader, the seqcast metadata checks, the
// CSV reader and the protocol's JSON and binary decoding, counted as accepted, refused with a typed error, or
// crashed (anything else, or an accepted case that breaks a promise of the loader). Every 100th safetensors and
// metadata case is also built in a kernel and stepped. The suite runs the same cases a few thousand at a time
// (tests/fuzz/).
//
// Run: `npx tsx bench/fuzz.ts` (about half an hour on 2 vCPUs), or `--cases 10000` for a quick look, `--only csv`.
// Writes the fuzz section of bench/RESULTS.md and bench/results-fuzz.json (not with --cases below 10^6 or --only).

import { csvCase } from '../tests/fuzz/csv-cases.js';
import { metadataBases, metadataCase } from '../tests/fuzz/metadata-cases.js';
import { fuzzCsv, fuzzLoad, fuzzParse } from '../tests/fuzz/oracles.js';
import type { Random, Tally } from '../tests/fuzz/random.js';
import { runFuzz, type CaseResult } from '../tests/fuzz/run.js';
import { safetensorsCase, safetensorsCorpus } from '../tests/fuzz/safetensors-cases.js';
import { machineInfo } from './common.js';
import { binaryCase, fuzzBinary, fuzzText, textCase } from './fuzz-protocol.js';
import { writeResultsJson, writeResultsSection } from './report.js';

const MILLION = 1_000_000;
/** One case in this many of the loader's is also loaded into a kernel. */
const LOAD_EVERY = 100;

interface Target {
  name: string;
  what: string;
  seed: number;
  /** Share of the run's cases (kernel loads are a hundredth). */
  share: number;
  run: (random: Random) => CaseResult | Promise<CaseResult>;
}

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const cases = Number(option('cases') ?? MILLION);
  const only = option('only')?.split(',');
  const corpus = await safetensorsCorpus();
  const bases = await metadataBases();
  const all: Target[] = [
    { name: 'safetensors', what: 'mutated files, parsed (header, tensors, architecture, metadata)', seed: 1, share: 1, run: (r) => { const c = safetensorsCase(r, corpus); return fuzzParse(c.bytes, c.sameTensorsAs); } },
    { name: 'safetensors-load', what: 'the same kind of files, built in a kernel and stepped', seed: 2, share: 1 / LOAD_EVERY, run: (r) => fuzzLoad(safetensorsCase(r, corpus).bytes) },
    { name: 'metadata', what: 'generated seqcast metadata on every model kind, checked', seed: 3, share: 1, run: (r) => fuzzParse(metadataCase(r, bases)) },
    { name: 'metadata-load', what: 'the same kind of metadata, built in a kernel and stepped', seed: 4, share: 1 / LOAD_EVERY, run: (r) => fuzzLoad(metadataCase(r, bases)) },
    { name: 'csv', what: 'tables and mutated bytes through the CSV reader and number cells', seed: 5, share: 1, run: (r) => fuzzCsv(csvCase(r)) },
    { name: 'protocol-json', what: 'text messages: parsed, each message checked', seed: 6, share: 1, run: (r) => fuzzText(textCase(r)) },
    { name: 'protocol-binary', what: 'binary frames messages: header checked, every record read', seed: 7, share: 1, run: (r) => fuzzBinary(binaryCase(r)) },
  ];
  const targets = all.filter((t) => !only || only.some((o) => t.name.startsWith(o)));

  const rows: { target: Target; count: number; tally: Tally; seconds: number }[] = [];
  for (const target of targets) {
    const count = Math.max(1, Math.round(cases * target.share));
    const started = performance.now();
    const tally = await runFuzz(count, target.seed, target.run, (done, t) => {
      if (done % 100_000 === 0) console.error(`  ${target.name}: ${done} cases, ${t.counts.crashed} crashed`);
    });
    const seconds = (performance.now() - started) / 1000;
    rows.push({ target, count, tally, seconds });
    const { accepted, refused, crashed } = tally.counts;
    console.log(`${target.name}: ${count} cases in ${seconds.toFixed(0)} s: ${accepted} accepted, ${refused} refused with a typed error, ${crashed} crashed`);
    for (const crash of tally.crashes) console.log(`  crash at case ${crash.index}: ${crash.error.split('\n').slice(0, 3).join(' | ')}`);
  }

  const table = [
    '| target | cases | accepted | refused (typed error) | crashed | µs per case | what |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows.map(({ target, count, tally, seconds }) =>
      `| ${target.name} | ${count.toLocaleString('en')} | ${tally.counts.accepted.toLocaleString('en')} | ${tally.counts.refused.toLocaleString('en')} | ${tally.counts.crashed} | ${((seconds * 1e6) / count).toFixed(0)} | ${target.what} |`),
  ].join('\n');
  console.log(`\n${table}`);
  if (cases < MILLION || only) return;
  const machine = machineInfo();
  await writeResultsJson(new URL('./results-fuzz.json', import.meta.url), {
    machine,
    targets: rows.map(({ target, count, tally, seconds }) => ({ name: target.name, seed: target.seed, cases: count, ...tally.counts, seconds, crashes: tally.crashes, refusals: Object.fromEntries([...tally.refusals].sort((a, b) => b[1] - a[1]).slice(0, 30)) })),
  });
  await writeResultsSection(
    new URL('./RESULTS.md', import.meta.url),
    '<!-- fuzz:start -->',
    '<!-- fuzz:end -->',
    [
      '<!-- fuzz:start -->',
      '## Fuzzing (bench/fuzz.ts)',
      '',
      `Seeded cases through each decoder; "crashed" counts any error that is not a SeqcastError (or problem answer), and any accepted case that breaks a loader promise (tensors other than the file's, a limit exceeded, a non-finite weight). ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}.`,
      '',
      table,
      '<!-- fuzz:end -->',
    ].join('\n'),
  );
}

await main();
