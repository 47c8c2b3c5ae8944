// What the charts shade under the lines: labelled anomaly windows, found in the rows of a window (detections: detections.ts).

/** Labelled anomaly windows of a replayed file: a frame with seq s is row s mod `period` of the file. */
export interface LabelledWindows {
  /** Rows of the file; the replay starts over after the last. */
  period: number;
  /** [first, last] row of each window, inclusive. */
  windows: [number, number][];
  /** Where the labels come from, for the legend. */
  source?: string;
}

/**
 * The x ranges where consecutive rows fall inside a labelled window:
 * [x of the first row inside, x of the last row inside] for each run.
 *
 * @example
 * labelledRuns([0, 1, 2, 3, 4], [10, 11, 12, 13, 14], { period: 100, windows: [[11, 12]] }); // [[1, 2]]
 */
export function labelledRuns(x: ArrayLike<number>, seq: ArrayLike<number>, labelled: LabelledWindows): [number, number][] {
  const runs: [number, number][] = [];
  let runStart = NaN;
  for (let i = 0; i < x.length; i++) {
    const row = ((seq[i] % labelled.period) + labelled.period) % labelled.period;
    const inside = labelled.windows.some(([first, last]) => row >= first && row <= last);
    if (inside && Number.isNaN(runStart)) runStart = x[i];
    if (!inside && !Number.isNaN(runStart)) {
      runs.push([runStart, x[i - 1]]);
      runStart = NaN;
    }
  }
  if (!Number.isNaN(runStart)) runs.push([runStart, x[x.length - 1]]);
  return runs;
}
