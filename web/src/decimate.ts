// Decimation to the pixel width: when a window holds more rows than the chart has pixels, keep only the rows that change the picture.

/** Below this many rows per pixel column, every row is drawn: decimating would save nothing. */
export const ROWS_PER_COLUMN_BEFORE_DECIMATING = 2;

/**
 * The rows to draw for `x` (ascending) and its `series` over `columns` pixel
 * columns spanning [xMin, xMax]: in each column the first and last row, and the
 * rows holding each series' smallest and largest value (M4 decimation, for a
 * shared x). Every peak and dip survives, lines keep their ends, and at most
 * 2 + 2·series rows per column remain. Rows left or right of the range count
 * in the first or last column. NaN and null values are ignored for the
 * extremes. With few rows (≤ ROWS_PER_COLUMN_BEFORE_DECIMATING per column)
 * every row is returned.
 *
 * @example
 * // 1,000 rows onto 10 columns: the spike at row 500 is kept
 * const x = Array.from({ length: 1000 }, (_, i) => i);
 * const y = x.map((i) => (i === 500 ? 9 : 0));
 * decimateRows(x, [y], 0, 1000, 10).includes(500); // true
 */
export function decimateRows(x: ArrayLike<number>, series: ArrayLike<number | null>[], xMin: number, xMax: number, columns: number): Int32Array {
  const rows = x.length;
  const columnCount = Math.max(1, Math.floor(columns));
  if (rows <= ROWS_PER_COLUMN_BEFORE_DECIMATING * columnCount || !(xMax > xMin)) return Int32Array.from({ length: rows }, (_, i) => i);

  const kept = new Int32Array(rows);
  let keptCount = 0;
  const perSeries = series.length;
  const minRow = new Int32Array(perSeries);
  const maxRow = new Int32Array(perSeries);
  const candidates: number[] = [];
  const scale = columnCount / (xMax - xMin);

  let start = 0;
  while (start < rows) {
    const column = columnOf(x[start], xMin, scale, columnCount);
    let end = start + 1;
    while (end < rows && columnOf(x[end], xMin, scale, columnCount) === column) end++;
    // rows [start, end) fall in this column
    minRow.fill(-1);
    maxRow.fill(-1);
    for (let s = 0; s < perSeries; s++) {
      const values = series[s];
      let low = Infinity;
      let high = -Infinity;
      for (let i = start; i < end; i++) {
        const v = values[i];
        if (v === null || v === undefined || Number.isNaN(v)) continue;
        if (v < low) {
          low = v;
          minRow[s] = i;
        }
        if (v > high) {
          high = v;
          maxRow[s] = i;
        }
      }
    }
    candidates.length = 0;
    candidates.push(start, end - 1);
    for (let s = 0; s < perSeries; s++) {
      if (minRow[s] >= 0) candidates.push(minRow[s]);
      if (maxRow[s] >= 0) candidates.push(maxRow[s]);
    }
    candidates.sort((a, b) => a - b);
    for (let i = 0; i < candidates.length; i++) {
      if (i === 0 || candidates[i] !== candidates[i - 1]) kept[keptCount++] = candidates[i];
    }
    start = end;
  }
  return kept.slice(0, keptCount);
}

function columnOf(value: number, xMin: number, scale: number, columnCount: number): number {
  const column = Math.floor((value - xMin) * scale);
  return column < 0 ? 0 : column >= columnCount ? columnCount - 1 : column;
}

/** `values` at `rows`, in that order, as a plain array (what uPlot takes). NaN becomes null, a gap in the line. */
export function pickRows(values: ArrayLike<number>, rows: ArrayLike<number>): (number | null)[] {
  const out = new Array<number | null>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = values[rows[i]];
    out[i] = Number.isNaN(v) ? null : v;
  }
  return out;
}
