// uPlot charts for the dashboard: one factory for the small time charts, and the overlays they share (now, forecast region, labelled windows, threshold, detections).

import uPlot from 'uplot';
import type { Crossing } from './detections';
import { formatClock, formatNumber, formatTick } from './format';
import type { Theme } from './theme';

/** What a view's charts draw besides their series; the view updates it before each redraw. */
export interface Overlay {
  /** The visible x range, seconds; every chart of a view shows the same one. */
  xMin: number;
  xMax: number;
  /** Now, and the end of the forecast horizon ahead of it (NaN: none). */
  now: number;
  forecastEnd: number;
  /** Labelled anomaly windows in view, [x0, x1]. */
  labelled: [number, number][];
  /** Detections in view: where the anomaly score rises to the threshold. */
  crossings: Crossing[];
  /** The anomaly threshold, and its label on the anomaly chart (e.g. "threshold 0.499 (standard)"). */
  threshold: number;
  thresholdLabel: string;
  /** The x range the viewer dragged out (seconds), or undefined: the view follows now. */
  zoom: [number, number] | undefined;
  /** Called when a drag sets `zoom` or a double-click clears it. */
  zoomed: () => void;
}

export function emptyOverlay(): Overlay {
  return { xMin: 0, xMax: 1, now: NaN, forecastEnd: NaN, labelled: [], crossings: [], threshold: NaN, thresholdLabel: '', zoom: undefined, zoomed: () => {} };
}

export interface SeriesSpec {
  label: string;
  stroke: string;
  width?: number;
  dash?: number[];
  points?: boolean;
}

export interface ChartSpec {
  /** Read by assistive technology (the canvas is an image to them). */
  description: string;
  height: number;
  series: SeriesSpec[];
  /** Fixed y range, or 'zero' to start at 0; default: fitted to the data. */
  y?: [number, number] | 'zero';
  /** Draw the threshold line, its label and the detections on it (the anomaly chart). */
  threshold?: boolean;
  /** Mark the detections as lines across the plot with a triangle at the top (the value charts). */
  detections?: boolean;
  /** Charts with the same key share the cursor. */
  syncKey?: string;
  /** The x axis spans the overlay's range (a streaming time axis); false: fitted to the data. */
  followOverlay?: boolean;
  /** Labels on the time axis (off keeps stacked charts compact). */
  timeLabels?: boolean;
  /** The legend under the chart; default shown. */
  legend?: boolean;
  /** The legend shows the values under the cursor; default true. */
  liveLegend?: boolean;
}

/** A uPlot for `spec` inside `target`, sized to its width, reading `overlay` for its x range and decorations. */
export function createChart(target: HTMLElement, spec: ChartSpec, overlay: Overlay, theme: Theme): uPlot {
  const follow = spec.followOverlay ?? true;
  const axisFont = '12px system-ui, sans-serif';
  const options: uPlot.Options = {
    width: Math.max(MIN_WIDTH, target.clientWidth),
    height: spec.height,
    pxAlign: 1,
    scales: {
      x: { time: true, ...(follow ? { range: (): uPlot.Range.MinMax => [overlay.xMin, overlay.xMax] } : {}) },
      y:
        spec.y === 'zero'
          ? { range: (_u, _min, max): uPlot.Range.MinMax => [0, max > 0 ? max * 1.1 : 1] }
          : spec.y
            ? { range: (): uPlot.Range.MinMax => spec.y as [number, number] }
            : {},
    },
    series: [
      // the hover legend's first entry: the time under the cursor
      { label: 'time', value: (_u, v) => (v === null || v === undefined ? '–' : formatClock(v)) },
      ...spec.series.map(
        (s): uPlot.Series => ({
          label: s.label,
          stroke: s.stroke,
          width: s.width ?? 1.5,
          dash: s.dash,
          points: { show: s.points ?? false },
          spanGaps: false,
          value: (_u, v) => formatNumber(v),
        }),
      ),
    ],
    axes: [
      {
        stroke: theme.muted,
        font: axisFont,
        grid: { stroke: theme.grid, width: 1 },
        ticks: { stroke: theme.grid, width: 1 },
        values: spec.timeLabels === false ? (_u: uPlot, splits: number[]) => splits.map(() => '') : clockLabels,
        ...(spec.timeLabels === false ? { size: 10 } : { size: 30 }),
      },
      {
        stroke: theme.muted,
        font: axisFont,
        size: 56,
        // small charts still get a labelled tick above zero
        space: spec.height < 120 ? 18 : 30,
        grid: { stroke: theme.grid, width: 1 },
        ticks: { stroke: theme.grid, width: 1 },
        values: (_u, splits) => splits.map(formatTick),
      },
    ],
    // dragging selects an x range (zoomPlugin turns it into the overlay's zoom); uPlot's own zoom would be undone by the range above
    cursor: { drag: { x: follow, y: false, setScale: false }, ...(spec.syncKey ? { sync: { key: spec.syncKey } } : {}) },
    legend: { show: spec.legend ?? true, live: spec.liveLegend ?? true },
    plugins: [overlayPlugin(overlay, theme, spec.threshold ?? false, spec.detections ?? false), ...(follow ? [zoomPlugin(overlay)] : [])],
  };
  const chart = new uPlot(options, [[], ...spec.series.map(() => [])], target);
  chart.ctx.canvas.setAttribute('role', 'img');
  chart.ctx.canvas.setAttribute('aria-label', spec.description);
  return chart;
}

/** Narrowest chart, CSS pixels: a chart never pushes a 400 px page sideways. */
const MIN_WIDTH = 120;

/** Wall-clock tick labels on one line: hh:mm:ss when ticks are under a minute apart, else hh:mm. */
function clockLabels(_u: uPlot, splits: number[], _axis: number, _space: number, increment: number): string[] {
  const two = (n: number) => String(n).padStart(2, '0');
  return splits.map((seconds) => {
    const d = new Date(seconds * 1000);
    // zoomed in below a second apart, ticks get tenths (else neighbours read the same)
    if (increment < 1) return formatClock(seconds);
    return increment < 60 ? `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}` : `${two(d.getHours())}:${two(d.getMinutes())}`;
  });
}

/** Narrowest drag that zooms, CSS pixels: a click with a tremor is no zoom. */
const MIN_ZOOM_DRAG = 4;

/** Drag across the plot: the overlay zooms to that x range (every chart of the view follows); double-click: back to following now. */
function zoomPlugin(overlay: Overlay): uPlot.Plugin {
  return {
    hooks: {
      init: (u) => {
        u.over.addEventListener('dblclick', () => {
          if (overlay.zoom === undefined) return;
          overlay.zoom = undefined;
          overlay.zoomed();
        });
      },
      setSelect: (u) => {
        const { left, width } = u.select;
        if (width < MIN_ZOOM_DRAG) return;
        overlay.zoom = [u.posToVal(left, 'x'), u.posToVal(left + width, 'x')];
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        overlay.zoomed();
      },
    },
  };
}

/** Keeps `chart` as wide as `target`; returns a function that stops. */
export function fitWidth(chart: uPlot, target: HTMLElement): () => void {
  const observer = new ResizeObserver(() => {
    const width = Math.max(MIN_WIDTH, Math.floor(target.clientWidth));
    if (width !== chart.width) chart.setSize({ width, height: chart.height });
  });
  observer.observe(target);
  return () => observer.disconnect();
}

/**
 * Labelled windows and the forecast region under the series; now, the threshold and the detections over them.
 * The chart's root element carries `data-detections`: how many detection marks the last draw put in the plot.
 */
function overlayPlugin(overlay: Overlay, theme: Theme, threshold: boolean, detections: boolean): uPlot.Plugin {
  const band = (u: uPlot, x0: number, x1: number, fill: string, minWidth: number) => {
    const { left, top, width, height } = u.bbox;
    let p0 = u.valToPos(x0, 'x', true);
    let p1 = u.valToPos(x1, 'x', true);
    if (p1 - p0 < minWidth) [p0, p1] = [p0 - minWidth / 2, p1 + minWidth / 2];
    const from = Math.max(left, p0);
    const to = Math.min(left + width, p1);
    if (to <= from) return;
    u.ctx.fillStyle = fill;
    u.ctx.fillRect(from, top, to - from, height);
  };
  return {
    hooks: {
      drawClear: (u) => {
        u.ctx.save();
        const px = devicePixelRatio;
        for (const [x0, x1] of overlay.labelled) band(u, x0, x1, theme.nabShade, 2 * px);
        if (overlay.forecastEnd > overlay.now) band(u, overlay.now, overlay.forecastEnd, theme.forecastShade, 0);
        u.ctx.restore();
      },
      draw: (u) => {
        const { ctx } = u;
        const { left, top, width, height } = u.bbox;
        const px = devicePixelRatio;
        ctx.save();
        ctx.beginPath();
        ctx.rect(left, top, width, height);
        ctx.clip();
        const dashed = (colour: string, dash: number[], x0: number, y0: number, x1: number, y1: number) => {
          ctx.strokeStyle = colour;
          ctx.lineWidth = px;
          ctx.setLineDash(dash.map((d) => d * px));
          ctx.beginPath();
          ctx.moveTo(x0, y0);
          ctx.lineTo(x1, y1);
          ctx.stroke();
          ctx.setLineDash([]);
        };
        if (Number.isFinite(overlay.now)) {
          const x = Math.round(u.valToPos(overlay.now, 'x', true)) + 0.5;
          dashed(theme.now, [2, 3], x, top, x, top + height);
        }
        const size = 5 * px;
        /** A downward triangle with its tip at (cx, tipY). */
        const triangle = (cx: number, tipY: number, colour: string) => {
          ctx.fillStyle = colour;
          ctx.beginPath();
          ctx.moveTo(cx - size, tipY - 2 * size);
          ctx.lineTo(cx + size, tipY - 2 * size);
          ctx.lineTo(cx, tipY);
          ctx.closePath();
          ctx.fill();
        };
        const inView = overlay.crossings.filter((c) => c.x >= u.scales.x.min! && c.x <= u.scales.x.max!);
        let marks = 0;
        if (threshold && Number.isFinite(overlay.threshold)) {
          const y = Math.round(u.valToPos(overlay.threshold, 'y', true)) + 0.5;
          dashed(theme.threshold, [6, 4], left, y, left + width, y);
          ctx.fillStyle = theme.threshold;
          ctx.font = `${11 * px}px system-ui, sans-serif`;
          ctx.textAlign = 'left';
          ctx.textBaseline = 'bottom';
          ctx.fillText(overlay.thresholdLabel, left + 4 * px, y - 2 * px);
          // a triangle sitting on the threshold line at each detection
          for (const crossing of inView) triangle(u.valToPos(crossing.x, 'x', true), y, crossing.acknowledged ? theme.muted : theme.threshold);
          marks = inView.length;
        }
        if (detections) {
          for (const crossing of inView) {
            const x = Math.round(u.valToPos(crossing.x, 'x', true)) + 0.5;
            // an acknowledged detection is drawn muted: still there, no longer calling for attention
            const colour = crossing.acknowledged ? theme.muted : theme.threshold;
            dashed(colour, [3, 2], x, top + 2 * size, x, top + height);
            triangle(x, top + 2 * size, colour);
          }
          marks = inView.length;
        }
        if (threshold || detections) {
          u.root.dataset.detections = String(marks);
          u.root.dataset.acknowledged = String(inView.filter((c) => c.acknowledged).length);
        }
        ctx.restore();
      },
    },
  };
}
