// The NAB section of bench/RESULTS.md: seqcast beside NAB's scoreboard, per category, the thresholds, the time per row,
// the variants' table and the plot.

import { CATEGORIES } from './corpus.js';
import type { ProfileScore, ScoreSummary } from './scorer.js';

/** NAB's scoreboard as issue 14 quotes it (NAB's README; standard / reward low FP / reward low FN). */
export const SCOREBOARD: readonly { detector: string; scores: readonly [string, string, string]; standard: number }[] = [
  { detector: 'ARTime', scores: ['74.9', '65.1', '80.4'], standard: 74.9 },
  { detector: 'Numenta HTM', scores: ['70.5–69.7', '62.6–61.7', '75.2–74.2'], standard: 70.1 },
  { detector: 'CAD OSE', scores: ['69.9', '67.0', '73.2'], standard: 69.9 },
  { detector: 'KNN CAD', scores: ['58.0', '43.4', '64.8'], standard: 58.0 },
  { detector: 'Random Cut Forest', scores: ['51.7', '38.4', '59.7'], standard: 51.7 },
  { detector: 'Windowed Gaussian', scores: ['39.6', '20.9', '47.4'], standard: 39.6 },
];

/** The profiles in the scoreboard's column order. */
export const PROFILE_ORDER = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;

export interface NabReport {
  machine: string;
  /** seqcast's scores, one per profile. */
  scores: ProfileScore[];
  /** Numenta's published results scored by the same scorer (the check that it is NAB's). */
  reference?: ProfileScore[];
  rows: number;
  files: number;
  /** Summed seconds of every detect run (CPU-seconds of detection), and the bench's wall time. */
  detectSeconds: number;
  wallSeconds: number;
  workers: number;
  /** Variants' rows: name, what changed, the three normalised scores. */
  variants?: { name: string; change: string; scores: ProfileScore[] }[];
  /** The plot's file name beside RESULTS.md and the files it shows. */
  plot: { file: string; shows: string[] };
}

function byProfile(scores: readonly ProfileScore[]): ProfileScore[] {
  return PROFILE_ORDER.map((name) => {
    const found = scores.find((s) => s.profile === name);
    if (!found) throw new Error(`no score for profile ${name}`);
    return found;
  });
}

const fmt = (value: number) => (Number.isNaN(value) ? '–' : value.toFixed(2));

/** Per category: files, windows, the normalised score per profile (a category without windows shows its raw cost). */
function categoryRows(scores: ProfileScore[]): string[] {
  const [standard] = scores;
  return CATEGORIES.filter((name) => standard.categories[name]).map((name) => {
    const files = Object.keys(standard.files).filter((file) => file.startsWith(`${name}/`)).length;
    const cell = (summary: ScoreSummary) => (summary.perfect === 0 ? `${summary.raw.toFixed(2)} (raw)` : fmt(summary.normalized));
    const windows = standard.categories[name].perfect;
    const fp = standard.categories[name].fp;
    return `| ${name} | ${files} | ${windows} | ${scores.map((s) => cell(s.categories[name])).join(' | ')} | ${fp} |`;
  });
}

/** The markdown section, between its markers. */
export function nabSection(report: NabReport): string {
  const scores = byProfile(report.scores);
  const seqcastStandard = scores[0].normalized;
  const board = [...SCOREBOARD.map((row) => ({ ...row, line: `| ${row.detector} | ${row.scores.join(' | ')} |` }))];
  const ours = { detector: 'seqcast', standard: seqcastStandard, line: `| **seqcast** (this run) | **${scores.map((s) => fmt(s.normalized)).join('** | **')}** |` };
  const ranked = [...board, ours].sort((a, b) => b.standard - a.standard);
  const lines = [
    '<!-- nab:start -->',
    '## Anomaly detection: the Numenta Anomaly Benchmark',
    '',
    'Written by `npm run bench:nab` (bench/nab.ts): `seqcast detect` (learning online from scratch, one default setting for',
    `every file, no look-ahead) over all ${report.files} NAB v1.1 files (${report.rows.toLocaleString('en-US')} rows), scored by bench/nab's`,
    "TypeScript port of NAB's scorer (windows, scaled sigmoid, probationary period, threshold optimised per profile,",
    'normalised between the null and the perfect detector). Per-row results in NAB\'s layout: results/seqcast/ (not committed).',
    '',
    `Machine: ${report.machine}.`,
    '',
    '| detector | standard | reward low FP | reward low FN |',
    '|---|---:|---:|---:|',
    ...ranked.map((row) => row.line),
    '',
  ];
  if (report.reference) {
    const ref = byProfile(report.reference);
    lines.push(`The scorer's check: Numenta's published HTM results (results/numenta) score ${ref.map((s) => fmt(s.normalized)).join(' / ')} here, as NAB's own scorer gives (70.10 / 63.21 / 74.32).`, '');
  }
  lines.push(
    'Thresholds chosen by the optimiser, and what they detect (rows at or above the threshold, after the probationary period):',
    '',
    '| profile | threshold | raw score | null | perfect | normalised | detections in windows | outside |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...scores.map((s) => `| ${s.profile} | ${s.threshold} | ${s.raw.toFixed(3)} | ${s.nullScore} | ${s.perfect} | ${fmt(s.normalized)} | ${s.tp} | ${s.fp} |`),
    '',
    'Per category, at the corpus\'s thresholds (each category normalised between its own null and perfect scores; fp: standard profile\'s detections outside windows):',
    '',
    '| category | files | windows | standard | reward low FP | reward low FN | fp |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...categoryRows(scores),
    '',
    `Time: ${((report.detectSeconds / report.rows) * 1e6).toFixed(1)} µs per row (detect's whole run per file: read, learn, score, write; summed over files), ` +
      `${report.wallSeconds.toFixed(1)} s wall on ${report.workers} worker thread${report.workers === 1 ? '' : 's'}.`,
    '',
  );
  if (report.variants) {
    lines.push(
      'What each change to the detector did (bench/nab/variants.ts; each row adds one change to the row above, down to the default; the rows after it take one part out of the default):',
      '',
      '| variant | change | standard | reward low FP | reward low FN |',
      '|---|---|---:|---:|---:|',
      '| before | the stream layer\'s likelihood before issue 14 (mean of 10 errors against an exponential history of 1000, no detection rule; commit 0f9cace) | 29.85 | 22.88 | 34.28 |',
      ...report.variants.map((v) => `| ${v.name} | ${v.change} | ${byProfile(v.scores).map((s) => fmt(s.normalized)).join(' | ')} |`),
      '',
    );
    const seeds = [scores, ...report.variants.filter((v) => v.name.startsWith('default, model seed')).map((v) => byProfile(v.scores))];
    if (seeds.length > 1) {
      const mean = PROFILE_ORDER.map((_, k) => seeds.reduce((total, list) => total + list[k].normalized, 0) / seeds.length);
      const spread = PROFILE_ORDER.map((_, k) => seeds.map((list) => list[k].normalized)).map((list) => Math.max(...list) - Math.min(...list));
      lines.push(
        `Over ${seeds.length} initialisations of the LSTM (seeds 1–${seeds.length}) the default scores ${mean.map(fmt).join(' / ')} on average (spread ${spread.map((x) => x.toFixed(2)).join(' / ')}): a difference between variants smaller than that spread is luck, not the change. The settings (history 4000, 1.5×, 300 frames, 14 days ±4, 5%) were chosen on this corpus, as NAB's detectors' were; one setting serves every file.`,
        '',
      );
    }
  }
  lines.push(`![NAB files: values, anomaly scores, windows and detections](${report.plot.file})`, '', `The plot: ${report.plot.shows.join(', ')}. Shaded: the labelled windows (grey: the probationary period); blue: the value; orange: the anomaly score; red marks: detections at the standard profile's threshold.`, '<!-- nab:end -->');
  return lines.join('\n');
}
