// An SVG of a few NAB files, one panel each: the value, the anomaly score, the labelled windows, the probationary period and
// the detections at a threshold. Made by bench/nab.ts, no dependency.

import type { RowWindow } from './sweeper.js';

export interface PlotPanel {
  title: string;
  values: ArrayLike<number>;
  scores: ArrayLike<number>;
  windows: readonly RowWindow[];
  /** Rows not scored at the start. */
  probation: number;
  /** A row is a detection when its score is at or above this. */
  threshold: number;
}

const WIDTH = 960;
const PANEL_HEIGHT = 170;
const MARGIN = { left: 48, right: 12, top: 22, bottom: 16 };
/** Columns of the plot area a series is reduced to (min and max per column). */
const COLUMNS = 900;

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Min and max of `series` in each of `columns` buckets of rows, as an SVG path over [x0, x0 + width] × [y0 + height, y0]. */
function envelopePath(series: ArrayLike<number>, low: number, high: number, x0: number, y0: number, width: number, height: number): string {
  const n = series.length;
  const columns = Math.min(COLUMNS, n);
  const span = high - low || 1;
  const y = (v: number) => (y0 + height - ((v - low) / span) * height).toFixed(1);
  let path = '';
  for (let c = 0; c < columns; c++) {
    const from = Math.floor((c * n) / columns);
    const to = Math.max(from + 1, Math.floor(((c + 1) * n) / columns));
    let min = Infinity;
    let max = -Infinity;
    for (let r = from; r < to; r++) {
      min = Math.min(min, series[r]);
      max = Math.max(max, series[r]);
    }
    const x = (x0 + ((c + 0.5) / columns) * width).toFixed(1);
    path += `${c === 0 ? 'M' : 'L'}${x},${y(max)}L${x},${y(min)}`;
  }
  return path;
}

function range(series: ArrayLike<number>): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < series.length; i++) {
    low = Math.min(low, series[i]);
    high = Math.max(high, series[i]);
  }
  return [low, high];
}

/** The SVG document: one panel per file, stacked. */
export function plotPanels(panels: readonly PlotPanel[]): string {
  const height = PANEL_HEIGHT * panels.length;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`, `<rect width="${WIDTH}" height="${height}" fill="white"/>`];
  panels.forEach((panel, i) => {
    const x0 = MARGIN.left;
    const y0 = i * PANEL_HEIGHT + MARGIN.top;
    const w = WIDTH - MARGIN.left - MARGIN.right;
    const h = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
    const rows = panel.values.length;
    const xOf = (row: number) => x0 + (row / rows) * w;
    parts.push(`<text x="${x0}" y="${y0 - 6}" font-weight="bold">${escape(panel.title)}</text>`);
    parts.push(`<rect x="${x0}" y="${y0}" width="${(xOf(panel.probation) - x0).toFixed(1)}" height="${h}" fill="#e5e5e5"/>`);
    for (const window of panel.windows) {
      parts.push(`<rect x="${xOf(window.first).toFixed(1)}" y="${y0}" width="${Math.max(1, xOf(window.last + 1) - xOf(window.first)).toFixed(1)}" height="${h}" fill="#c6e8c6"/>`);
    }
    // the value in the top three quarters, the score (0 … 1) in the bottom half, overlapping
    const [low, high] = range(panel.values);
    parts.push(`<path d="${envelopePath(panel.values, low, high, x0, y0, w, h * 0.75)}" stroke="#1f5fa8" stroke-width="1" fill="none"/>`);
    parts.push(`<path d="${envelopePath(panel.scores, 0, 1, x0, y0 + h * 0.5, w, h * 0.5)}" stroke="#e08a00" stroke-width="1" fill="none" opacity="0.85"/>`);
    const thresholdY = (y0 + h - panel.threshold * h * 0.5).toFixed(1);
    parts.push(`<line x1="${x0}" x2="${x0 + w}" y1="${thresholdY}" y2="${thresholdY}" stroke="#e08a00" stroke-dasharray="3,3" stroke-width="0.8"/>`);
    let lastX = -Infinity;
    for (let r = Math.ceil(panel.probation); r < rows; r++) {
      if (panel.scores[r] < panel.threshold) continue;
      const x = xOf(r);
      if (x - lastX < 1) continue; // one mark per pixel column
      lastX = x;
      parts.push(`<path d="M${x.toFixed(1)},${y0 + h}l-3,8h6z" fill="#d62728"/>`);
    }
    parts.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999" stroke-width="0.5"/>`);
    parts.push(`<text x="${x0 - 4}" y="${y0 + 9}" text-anchor="end" fill="#1f5fa8">${escape(high.toPrecision(3))}</text>`);
    parts.push(`<text x="${x0 - 4}" y="${y0 + h * 0.75}" text-anchor="end" fill="#1f5fa8">${escape(low.toPrecision(3))}</text>`);
    parts.push(`<text x="${x0 + w - 3}" y="${(+thresholdY - 3).toFixed(1)}" text-anchor="end" fill="#e08a00">threshold ${panel.threshold.toFixed(3)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
