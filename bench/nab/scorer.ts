// NAB's scorer (nab/optimizer.py, scorer.py and runner.py's normalize in numenta/NAB, MIT): per profile, the threshold that
// maximises the corpus's summed score, each file's score at it, and the score normalised between the null and perfect detectors.

import { categoryOf, windowRows, type CorpusWindows, type ResultRows } from './corpus.js';
import {
  OUTSIDE,
  PROBATIONARY,
  bestThreshold,
  labelFile,
  sweepThresholds,
  weightedScore,
  type CostMatrix,
  type LabelledFile,
  type RowCounts,
} from './sweeper.js';

/** One detector's results for one file, named by the file's path in NAB's data folder ("realKnownCause/nyc_taxi.csv"). */
export interface FileResults extends ResultRows {
  file: string;
}

/** A score summed over some files and its normalised form. */
export interface ScoreSummary extends RowCounts {
  /** Summed weighted score (NAB's "Score" column). */
  raw: number;
  /** The null detector's summed score: −fnWeight per scored window. */
  nullScore: number;
  /** The perfect detector's: tpWeight per window. */
  perfect: number;
  /** 100 · (raw − null) / (perfect − null): NAB's final score. */
  normalized: number;
}

/** One profile's outcome: the threshold chosen for the corpus, the corpus's score, and each category's and file's at it. */
export interface ProfileScore extends ScoreSummary {
  profile: string;
  threshold: number;
  categories: Record<string, ScoreSummary>;
  files: Record<string, ScoreSummary>;
}

interface LabelledResults {
  file: string;
  scores: Float64Array;
  labels: LabelledFile;
}

/**
 * Scores a detector over a corpus as NAB's runner does (optimize, score,
 * normalize) for every profile. `files` must each have windows in `windows`
 * (an empty list for files without anomalies).
 */
export function scoreCorpus(files: readonly FileResults[], windows: CorpusWindows, profiles: Record<string, CostMatrix>): ProfileScore[] {
  const labelled: LabelledResults[] = files.map(({ file, timestamps, scores }) => {
    const fileWindows = windows.get(file);
    if (!fileWindows) throw new Error(`${file}: no windows for this file in the labels`);
    return { file, scores, labels: labelFile(scores.length, windowRows(timestamps, fileWindows, file)) };
  });
  return Object.entries(profiles).map(([profile, cost]) => scoreProfile(labelled, profile, cost));
}

function scoreProfile(files: readonly LabelledResults[], profile: string, cost: CostMatrix): ProfileScore {
  const { threshold } = optimizeThreshold(files, cost);
  const perFile: Record<string, ScoreSummary> = {};
  const perCategory: Record<string, ScoreSummary[]> = {};
  for (const { file, scores, labels } of files) {
    const summary = scoreFile(labels, scores, threshold, cost);
    perFile[file] = summary;
    (perCategory[categoryOf(file)] ??= []).push(summary);
  }
  const categories = Object.fromEntries(Object.entries(perCategory).map(([name, list]) => [name, combine(list)]));
  return { profile, threshold, ...combine(Object.values(perFile)), categories, files: perFile };
}

/**
 * The corpus-wide threshold with the highest summed score under `cost`
 * (nab/optimizer.py's exhaustive sweep over every distinct anomaly score).
 */
export function optimizeThreshold(files: readonly LabelledResults[], cost: CostMatrix): { threshold: number; score: number } {
  let scoredRows = 0;
  let windows = 0;
  let scoredWindows = 0;
  for (const { labels } of files) {
    for (const w of labels.window) if (w !== PROBATIONARY) scoredRows++;
    windows += labels.windows;
    scoredWindows += labels.scoredWindows;
  }
  const anomaly = new Float64Array(scoredRows);
  const window = new Int32Array(scoredRows);
  const weighted = new Float64Array(scoredRows);
  let at = 0;
  let windowBase = 0;
  for (const { scores, labels } of files) {
    for (let r = 0; r < scores.length; r++) {
      const w = labels.window[r];
      if (w === PROBATIONARY) continue;
      anomaly[at] = scores[r];
      window[at] = w === OUTSIDE ? OUTSIDE : windowBase + w;
      weighted[at] = weightedScore(labels.unweighted[r], w !== OUTSIDE, cost);
      at++;
    }
    windowBase += labels.windows;
  }
  const best = bestThreshold(sweepThresholds({ anomaly, window, weighted, windows, scoredWindows }, cost));
  return { threshold: best.threshold, score: best.score };
}

/** One file's score at `threshold`: a row with an anomaly score at or above it is a detection (nab/scorer.py scoreDataSet). */
export function scoreFile(labels: LabelledFile, scores: Float64Array, threshold: number, cost: CostMatrix): ScoreSummary {
  const best = new Float64Array(labels.windows).fill(Number.NaN);
  let fpTotal = 0;
  const counts: RowCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let r = 0; r < scores.length; r++) {
    const w = labels.window[r];
    if (w === PROBATIONARY) continue;
    const detected = scores[r] >= threshold;
    if (w === OUTSIDE) {
      if (detected) {
        counts.fp++;
        fpTotal += weightedScore(labels.unweighted[r], false, cost);
      } else counts.tn++;
      continue;
    }
    if (Number.isNaN(best[w])) best[w] = -cost.fnWeight; // the window has scored rows: a miss unless detected
    if (detected) {
      counts.tp++;
      best[w] = Math.max(best[w], weightedScore(labels.unweighted[r], true, cost));
    } else counts.fn++;
  }
  let raw = fpTotal;
  for (const value of best) if (!Number.isNaN(value)) raw += value;
  return summarize(raw, -cost.fnWeight * labels.scoredWindows, cost.tpWeight * labels.windows, counts);
}

function summarize(raw: number, nullScore: number, perfect: number, counts: RowCounts): ScoreSummary {
  const normalized = perfect === nullScore ? Number.NaN : (100 * (raw - nullScore)) / (perfect - nullScore);
  return { raw, nullScore, perfect, normalized, ...counts };
}

function combine(list: readonly ScoreSummary[]): ScoreSummary {
  const sum = (key: keyof ScoreSummary) => list.reduce((total, s) => total + s[key], 0);
  return summarize(sum('raw'), sum('nullScore'), sum('perfect'), { tp: sum('tp'), fp: sum('fp'), tn: sum('tn'), fn: sum('fn') });
}
