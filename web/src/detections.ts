// When an anomaly score is a detection: the threshold the server benchmarked (NAB's optimiser, per profile), and the rows
// where a stream's score rises to it. A detection fires at score >= threshold (NAB's rule), once per rise from below.

import { DEFAULT_DETECTION_PROFILE, DETECTION_PROFILES } from '../../src/stream/detection-thresholds.js';
import { formatNumber } from './format';

/** The threshold the page detects at and the profile it was benchmarked on. */
export interface Detection {
  /** standard, low-fp or low-fn, as the server names it. */
  profile: string;
  /** Words for the legend, e.g. "reward low FP". */
  label: string;
  /** A score at or above it detects. */
  threshold: number;
}

/** A detection mark: where (x, seconds on the shared clock) and the score that crossed. */
export interface Crossing {
  x: number;
  value: number;
  /** Acknowledged by this viewer (acknowledgements.ts): drawn muted. */
  acknowledged?: boolean;
}

/** The detector scores exactly this while it learns (src/stream/error-scorer.ts: the probationary period). */
export const PROBATION_SCORE = 0.5;

/**
 * The detection as `list` reports it (`detection`), or the standard profile's
 * benchmarked threshold when the server does not say (servers before it).
 */
export function detectionFrom(report: { profile: string; threshold: number } | undefined): Detection {
  const known = DETECTION_PROFILES.find((p) => p.profile === (report?.profile ?? DEFAULT_DETECTION_PROFILE));
  if (report && Number.isFinite(report.threshold)) return { profile: report.profile, label: known?.label ?? report.profile, threshold: report.threshold };
  const standard = DETECTION_PROFILES.find((p) => p.profile === DEFAULT_DETECTION_PROFILE)!;
  return { profile: standard.profile, label: standard.label, threshold: standard.threshold };
}

/**
 * Where `values` rise to `threshold` or above from below it: the x and score
 * of each first row at or over it. A score that starts above the threshold is
 * no detection (the detector's probation scores 0.5, above the standard
 * threshold). A NaN row is a break (a restart, or frames missing): the side
 * is forgotten there, so the next detection needs a row below first.
 *
 * @example
 * thresholdCrossings([0, 1, 2, 3, 4], [0.5, 0.2, 0.7, 0.6, 0.1], 0.5); // [{ x: 2, value: 0.7 }]
 */
export function thresholdCrossings(x: ArrayLike<number>, values: ArrayLike<number>, threshold: number): Crossing[] {
  const crossings: Crossing[] = [];
  let below = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) below = false;
    else {
      if (below && v >= threshold) crossings.push({ x: x[i], value: v });
      below = v < threshold;
    }
  }
  return crossings;
}

/** The words for a stream's anomaly state (the badge says them, so colour is never the only cue). */
export type AnomalyState = 'anomalous' | 'watch' | 'normal' | 'learning' | 'no data';

/** A score this high is "watch": a likelihood 3.09 σ out (tail 1e-3), what the detector holds at right after a detection. */
export const WATCH_LEVEL = 0.3;

/**
 * A stream's state: "anomalous" when it detected lately (`detectedLately`:
 * a crossing in the last seconds), "learning" while the detector is in its
 * probation, "watch" at WATCH_LEVEL and above, else "normal".
 */
export function anomalyState(score: number | null, detectedLately: boolean): AnomalyState {
  if (score === null || !Number.isFinite(score)) return 'no data';
  if (detectedLately) return 'anomalous';
  if (score === PROBATION_SCORE) return 'learning';
  return score >= WATCH_LEVEL ? 'watch' : 'normal';
}

/**
 * A score as the badge shows it: two decimals, three within 0.01 of the
 * threshold (0.4994 would round to 0.50 on either side of it).
 */
export function formatScore(score: number, threshold: number): string {
  return score.toFixed(Math.abs(score - threshold) < 0.01 ? 3 : 2);
}

/** The threshold line's label on the anomaly chart: "threshold 0.499 (standard profile)". */
export function thresholdLabel(detection: Detection): string {
  return `threshold ${formatNumber(detection.threshold)} (${detection.label} profile)`;
}
