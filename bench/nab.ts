// The Numenta Anomaly Benchmark: `seqcast detect` over NAB's 58 files (worker threads, both CPUs), scored by bench/nab's port
// of NAB's scorer; writes results/seqcast/ in NAB's layout, the NAB section of bench/RESULTS.md, bench/nab-plot.svg and the
// thresholds the server and the dashboard detect with (src/stream/detection-thresholds.ts).
//
// Run: `npm run bench:nab` (or `npx tsx bench/nab.ts [--workers N] [--ablation]`). The corpus is ../shared/datasets/nab-corpus
// (NAB_CORPUS overrides). --ablation also scores every variant of bench/nab/variants.ts for the table of changes.
// BENCH_SMOKE=1: three files, nothing written to bench/.

import { mkdirSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './common.js';
import { loadProfiles, loadWindows, readResults, readText, windowRows, type CorpusWindows } from './nab/corpus.js';
import { plotPanels } from './nab/plot.js';
import { runJobs } from './nab/pool.js';
import { nabSection, type NabReport } from './nab/report.js';
import { scoreCorpus, type FileResults } from './nab/scorer.js';
import { THRESHOLDS_MODULE, thresholdsModule } from './nab/thresholds.js';
import { probationaryLength, type CostMatrix } from './nab/sweeper.js';
import { DEFAULT_VARIANT, VARIANTS } from './nab/variants.js';
import type { DetectJob } from './nab/worker.js';
import { writeResultsFile, writeResultsSection } from './report.js';
import { SMOKE } from './timing.js';

const CORPUS = process.env.NAB_CORPUS ? new URL(`file://${process.env.NAB_CORPUS.replace(/\/?$/, '/')}`) : new URL('../../shared/datasets/nab-corpus/', import.meta.url);
const RESULTS = new URL('../results/seqcast/', import.meta.url);
const PLOT = 'nab-plot.svg';
/** The files the plot shows: a known failure, a cloud metric, a traffic sensor, a tweet volume. */
const PLOTTED = ['realKnownCause/machine_temperature_system_failure.csv', 'realKnownCause/nyc_taxi.csv', 'realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv', 'realTweets/Twitter_volume_AAPL.csv'];

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

/** Every file of the corpus (the keys of combined_windows.json) as a job: its data CSV in, its NAB results CSV out. */
function corpusJobs(windows: CorpusWindows, variants: boolean): { file: string; job: DetectJob }[] {
  const files = [...windows.keys()].sort();
  const chosen = SMOKE ? files.filter((_, i) => i % 20 === 3) : files;
  return chosen.map((file) => {
    const [category, name] = file.split('/');
    const folder = new URL(`${category}/`, RESULTS);
    mkdirSync(folder, { recursive: true });
    const input = fileURLToPath(new URL(`data/${file}`, CORPUS));
    return { file, job: { input, output: fileURLToPath(new URL(`seqcast_${name}`, folder)), size: 0, variants } };
  });
}

/** Numenta's published per-row results, if the corpus has them, as FileResults. */
function numentaResults(): FileResults[] | undefined {
  const root = new URL('reference-numenta/', CORPUS);
  try {
    return readdirSync(root).flatMap((category) =>
      readdirSync(new URL(`${category}/`, root)).map((name) => ({
        file: `${category}/${name.replace(/^numenta_/, '')}`,
        ...readResults(fileURLToPath(new URL(`${category}/${name}`, root))),
      })),
    );
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const windows = loadWindows(fileURLToPath(new URL('combined_windows.json', CORPUS)));
  const profiles: Record<string, CostMatrix> = loadProfiles(fileURLToPath(new URL('profiles.json', CORPUS)));
  const ablation = process.argv.includes('--ablation');
  const workers = Number(option('--workers') ?? Math.min(2, availableParallelism()));
  const jobs = corpusJobs(windows, ablation);
  for (const { job } of jobs) job.size = readValues(job.input).length;
  console.log(`NAB: ${jobs.length} files on ${workers} worker thread(s)${ablation ? `, with ${VARIANTS.length} variants` : ''}`);
  const outcomes = await runJobs(
    jobs.map((j) => j.job),
    workers,
    (result, done) => process.stdout.write(`\r  ${done}/${jobs.length} files, last ${result.seconds.toFixed(1)} s   `),
  );
  process.stdout.write('\n');
  const wallSeconds = (performance.now() - started) / 1000;

  const results: FileResults[] = jobs.map(({ file, job }) => ({ file, ...readResults(job.output) }));
  const scores = scoreCorpus(results, windows, profiles);
  const rows = results.reduce((total, r) => total + r.scores.length, 0);
  for (const s of scores) console.log(`  ${s.profile}: ${s.normalized.toFixed(2)} (threshold ${s.threshold}, raw ${s.raw.toFixed(3)}, ${s.tp} in windows, ${s.fp} outside)`);

  const variants = ablation
    ? VARIANTS.map((variant) => {
        const variantResults = results.map((r, i) => ({ ...r, scores: outcomes[i].variants![variant.name] }));
        if (variant.name === DEFAULT_VARIANT && variantResults.some((r, i) => r.scores.some((s, row) => s !== results[i].scores[row]))) {
          throw new Error(`variant "${variant.name}" should be seqcast detect's default, and its scores differ from detect's`);
        }
        const variantScores = scoreCorpus(variantResults, windows, profiles);
        console.log(`  variant ${variant.name}: ${variantScores.map((s) => s.normalized.toFixed(2)).join(' / ')}`);
        return { name: variant.name, change: variant.change, scores: variantScores };
      })
    : undefined;

  const reference = numentaResults();
  const machine = machineInfo();
  const report: NabReport = {
    machine: `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}`,
    scores,
    reference: reference ? scoreCorpus(reference, windows, profiles) : undefined,
    rows,
    files: results.length,
    detectSeconds: outcomes.reduce((total, o) => total + o.seconds, 0),
    wallSeconds,
    workers,
    variants,
    plot: { file: PLOT, shows: PLOTTED },
  };
  const standard = scores.find((s) => s.profile === 'standard')!;
  const panels = PLOTTED.filter((file) => results.some((r) => r.file === file)).map((file) => {
    const r = results.find((x) => x.file === file)!;
    const data = readValues(jobs.find((j) => j.file === file)!.job.output);
    return { title: `${file}: standard ${standard.files[file].normalized.toFixed(1)}`, values: data, scores: r.scores, windows: windowRows(r.timestamps, windows.get(file)!, file), probation: probationaryLength(r.scores.length), threshold: standard.threshold };
  });
  await writeResultsFile(new URL(PLOT, import.meta.url), plotPanels(panels));
  await writeResultsSection(new URL('RESULTS.md', import.meta.url), '<!-- nab:start -->', '<!-- nab:end -->', nabSection(report));
  // the thresholds the server and the dashboard detect with are the ones this run chose
  await writeResultsFile(new URL(`../${THRESHOLDS_MODULE}`, import.meta.url), thresholdsModule(Object.fromEntries(scores.map((s) => [s.profile, s.threshold]))));
  console.log(`categories (standard): ${Object.entries(standard.categories).map(([name, c]) => `${name} ${c.perfect ? c.normalized.toFixed(1) : c.raw.toFixed(2)}`).join(', ')}`);
  console.log(`whole run ${wallSeconds.toFixed(1)} s`);
}

/** The `value` column of a NAB data or results CSV. */
function readValues(path: string): Float64Array {
  const lines = readText(path).trim().split('\n');
  const column = lines[0].split(',').indexOf('value');
  return Float64Array.from(lines.slice(1), (line) => Number(line.split(',')[column]));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
