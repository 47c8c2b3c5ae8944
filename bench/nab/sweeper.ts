// NAB's per-row scoring rules (nab/sweeper.py in numenta/NAB, MIT): the scaled sigmoid, the probationary period, and each row's
// reward or cost were it a detection; then the sweep over every threshold that finds the corpus's summed score at each.

import { nabProbation } from '../../src/stream/error-scorer.js';

/** A labelled anomaly window of one file, as row indices (both ends included). */
export interface RowWindow {
  first: number;
  last: number;
}

/** A profile's weights (profiles.json's CostMatrix). tnWeight is unused by NAB's scorer. */
export interface CostMatrix {
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
}

/** Where a row sits for scoring: in the probationary period (not scored), outside every window, or inside window k (k ≥ 0). */
export const PROBATIONARY = -2;
export const OUTSIDE = -1;


/**
 * One file's rows, labelled once for every profile: which window each row is
 * in, and the unweighted reward (inside a window) or cost (outside) that a
 * detection on that row would earn.
 */
export interface LabelledFile {
  /** (rows) the window index within the file, OUTSIDE or PROBATIONARY. */
  window: Int32Array;
  /** (rows) scaledSigmoid of the row's position: in (0, 0.987] inside a window, in [−1, 0) outside. */
  unweighted: Float64Array;
  /** Windows with at least one scored row: these count as misses when nothing is detected in them. */
  scoredWindows: number;
  /** Windows of the file. */
  windows: number;
}

/** 1 / (1 + e^−x). */
function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * NAB's scaled sigmoid of a relative position: −1 is a window's left edge
 * (0.98661), 0 its right edge (0), positive positions are past the window
 * (down to −0.98661 at 1, and −1 beyond 3).
 *
 * @example scaledSigmoid(-0.5) // 0.84828
 */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3) return -1;
  return 2 * sigmoid(-5 * relativePosition) - 1;
}

/** The largest reward a window gives: a detection on its first row. */
export const MAX_TP = scaledSigmoid(-1);

/** Rows at the start of a file that are not scored: min(floor(0.15 · rows), 750); row i is scored when i ≥ it. */
export const probationaryLength = nabProbation;

/**
 * Labels one file's rows as nab/sweeper.py's calcSweepScore does. `windows`
 * hold row indices in order; a detection inside a window is rewarded by how
 * early it comes, one outside by how far it lies past the preceding window
 * (−1 before the first).
 */
export function labelFile(rows: number, windows: readonly RowWindow[]): LabelledFile {
  const window = new Int32Array(rows);
  const unweighted = new Float64Array(rows);
  const probation = probationaryLength(rows);
  let next = 0;
  let current = -1;
  let previousLast = -1;
  let previousWidth = 0;
  const scored = new Set<number>();
  for (let i = 0; i < rows; i++) {
    if (current < 0 && next < windows.length && i === windows[next].first) current = next++;
    if (current >= 0) {
      const { first, last } = windows[current];
      const width = last - first + 1;
      unweighted[i] = scaledSigmoid(-(last - i + 1) / width);
    } else if (previousLast < 0) {
      unweighted[i] = -1;
    } else {
      unweighted[i] = scaledSigmoid(Math.abs(previousLast - i) / (previousWidth - 1));
    }
    if (i < probation) {
      window[i] = PROBATIONARY;
    } else {
      window[i] = current >= 0 ? current : OUTSIDE;
      if (current >= 0) scored.add(current);
    }
    if (current >= 0 && i === windows[current].last) {
      previousLast = i;
      previousWidth = windows[current].last - windows[current].first + 1;
      current = -1;
    }
  }
  return { window, unweighted, scoredWindows: scored.size, windows: windows.length };
}

/** The reward or cost of a detection on a row under `cost` (nab/sweeper.py's weightedScore). */
export function weightedScore(unweighted: number, inWindow: boolean, cost: CostMatrix): number {
  return inWindow ? (unweighted * cost.tpWeight) / MAX_TP : unweighted * cost.fpWeight;
}

/** Row counts at a threshold, over scored rows: detections inside windows (tp), outside (fp), and the rest. */
export interface RowCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** A threshold and the summed score it gives: a row is a detection when its anomaly score is at or above the threshold. */
export interface ThresholdScore extends RowCounts {
  threshold: number;
  score: number;
}

/** The scored rows (probationary rows left out) of one or many files, flattened: what the threshold sweep reads. */
export interface SweepRows {
  /** (rows) anomaly scores. */
  anomaly: Float64Array;
  /** (rows) the row's window as a corpus-wide index, or OUTSIDE. */
  window: Int32Array;
  /** (rows) the row's weighted score under the profile being swept. */
  weighted: Float64Array;
  /** Windows in the corpus (indices 0 … windows − 1). */
  windows: number;
  /** Windows with scored rows: each is a miss (−fnWeight) until detected; the others never count. */
  scoredWindows: number;
}

/**
 * Every threshold's summed score, highest threshold first (nab/sweeper.py
 * calcScoreByThreshold): the first entry, 1.1, detects nothing; each further
 * entry is a distinct anomaly score and counts every row at or above it.
 * A window counts its best (earliest) detection, or −fnWeight without one;
 * detections outside windows add their (negative) weighted scores.
 */
export function sweepThresholds(rows: SweepRows, cost: CostMatrix): ThresholdScore[] {
  const order = new Uint32Array(rows.anomaly.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const anomaly = rows.anomaly;
  order.sort((a, b) => anomaly[b] - anomaly[a]);
  const best = new Float64Array(rows.windows).fill(-cost.fnWeight);
  let windowsTotal = -cost.fnWeight * rows.scoredWindows;
  let fpTotal = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < rows.window.length; i++) if (rows.window[i] >= 0) fn++;
  let tn = rows.window.length - fn;
  const out: ThresholdScore[] = [];
  let threshold = 1.1;
  for (const i of order) {
    if (anomaly[i] !== threshold) {
      out.push({ threshold, score: fpTotal + windowsTotal, tp, tn, fp, fn });
      threshold = anomaly[i];
    }
    const w = rows.window[i];
    if (w >= 0) {
      tp++;
      fn--;
      if (rows.weighted[i] > best[w]) {
        windowsTotal += rows.weighted[i] - best[w];
        best[w] = rows.weighted[i];
      }
    } else {
      fp++;
      tn--;
      fpTotal += rows.weighted[i];
    }
  }
  out.push({ threshold, score: fpTotal + windowsTotal, tp, tn, fp, fn });
  return out;
}

/** The threshold with the highest score; among equal scores the highest threshold (Python's stable sort in nab/optimizer.py). */
export function bestThreshold(scores: readonly ThresholdScore[]): ThresholdScore {
  let best = scores[0];
  for (const s of scores) if (s.score > best.score) best = s;
  return best;
}
