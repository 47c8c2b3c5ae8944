// Server health: frames/s, kernel step latency p50/p99, streams and learning loss, each a small chart of the last minutes of metrics.

import type uPlot from 'uplot';
import { createChart, emptyOverlay, fitWidth } from './charts';
import { formatNumber } from './format';
import type { MetricsMessage } from './protocol';
import { RingTable } from './ring-buffer';
import type { Theme } from './theme';

/** Seconds of metrics the health charts show. */
export const HEALTH_WINDOW_SECONDS = 5 * 60;
/** Metrics kept (one a second): twice what is shown. */
const HEALTH_ROWS = 2 * HEALTH_WINDOW_SECONDS;

// Columns of the metrics ring.
const T = 0;
const FPS = 1;
const STEP_P50 = 2;
const STEP_P99 = 3;
const OPEN = 4;
const HELD = 5;
const PARKED = 6;
const LOSS = 7;
const COLUMNS = 8;

interface HealthChart {
  title: string;
  caption: (m: MetricsMessage) => string;
  series: { label: string; column: number }[];
  unit: string;
}

const CHARTS: HealthChart[] = [
  { title: 'Frames per second', unit: 'frames/s', caption: (m) => formatNumber(m.framesPerSecond), series: [{ label: 'frames/s', column: FPS }] },
  {
    title: 'Kernel step latency',
    unit: 'µs',
    caption: (m) => `p50 ${formatNumber(m.stepMicros.p50)} µs · p99 ${formatNumber(m.stepMicros.p99)} µs`,
    series: [
      { label: 'p50 µs', column: STEP_P50 },
      { label: 'p99 µs', column: STEP_P99 },
    ],
  },
  {
    title: 'Streams',
    unit: 'streams',
    caption: (m) => `${m.streams.open} open · ${m.streams.held} held · ${m.streams.parked} idle`,
    series: [
      { label: 'open', column: OPEN },
      { label: 'held', column: HELD },
      { label: 'idle', column: PARKED },
    ],
  },
  {
    title: 'Learning loss',
    unit: 'loss',
    caption: (m) =>
      !m.learning.available
        ? 'this server does not learn online'
        : m.learning.loss === null
          ? `no update this second${m.learning.streams !== undefined ? ` · ${m.learning.streams} learning` : ''}`
          : `${formatNumber(m.learning.loss)}${m.learning.updates !== undefined ? ` · ${m.learning.updates} updates/s` : ''}`,
    series: [{ label: 'loss', column: LOSS }],
  },
];

/** The health section: metrics go into a ring as they arrive; charts redraw when a new one came. */
export class HealthPanel {
  readonly charts: uPlot[] = [];
  private readonly rows = new RingTable(HEALTH_ROWS, COLUMNS);
  private readonly overlay = emptyOverlay();
  private readonly captions: HTMLElement[] = [];
  private readonly stops: (() => void)[] = [];
  private version = 0;
  private drawnVersion = -1;
  private latest: MetricsMessage | undefined;

  constructor(
    private readonly root: HTMLElement,
    theme: Theme,
  ) {
    this.build(theme);
  }

  /** Adds one metrics message, placed at `x` seconds on the shared clock. */
  add(metrics: MetricsMessage, x: number): void {
    this.rows.push([
      x,
      metrics.framesPerSecond ?? NaN,
      // an interval without a kernel step sends null: a gap in the chart, not a fall to 0
      metrics.stepMicros.p50 ?? NaN,
      metrics.stepMicros.p99 ?? NaN,
      metrics.streams.open,
      metrics.streams.held,
      metrics.streams.parked,
      metrics.learning.loss ?? NaN,
    ]);
    this.latest = metrics;
    this.version++;
  }

  /** Redraws when metrics arrived since the last draw; `now` in seconds on the shared clock. */
  render(now: number): void {
    if (this.version === this.drawnVersion) return;
    this.drawnVersion = this.version;
    this.overlay.xMin = now - HEALTH_WINDOW_SECONDS;
    this.overlay.xMax = now;
    const t = this.rows.columns[T];
    const from = Math.max(0, t.lowerBound(this.overlay.xMin) - 1);
    const column = (c: number) => {
      const out = new Array<number>(t.length - from);
      this.rows.columns[c].copyTo(out, from);
      return out.map((v) => (Number.isNaN(v) ? null : v));
    };
    const xs = column(T);
    CHARTS.forEach((spec, i) => {
      this.charts[i].setData([xs, ...spec.series.map((s) => column(s.column))] as uPlot.AlignedData);
      if (this.latest) this.captions[i].textContent = spec.caption(this.latest);
    });
  }

  /** Rebuilds the charts in `theme`'s colours (after a light/dark switch). */
  rebuild(theme: Theme): void {
    this.destroy();
    this.build(theme);
    this.drawnVersion = -1;
  }

  destroy(): void {
    for (const stop of this.stops) stop();
    for (const chart of this.charts) chart.destroy();
    this.charts.length = 0;
    this.captions.length = 0;
    this.stops.length = 0;
    this.root.replaceChildren();
  }

  private build(theme: Theme): void {
    for (const spec of CHARTS) {
      const figure = document.createElement('figure');
      figure.className = 'card health-card';
      const title = document.createElement('figcaption');
      title.className = 'card-title';
      const name = document.createElement('span');
      name.className = 'card-name';
      name.textContent = spec.title;
      const caption = document.createElement('span');
      caption.className = 'card-caption health-value';
      caption.textContent = '–';
      title.append(name, caption);
      const target = document.createElement('div');
      target.className = 'chart';
      figure.append(title, target);
      this.root.append(figure);
      const chart = createChart(
        target,
        {
          description: `${spec.title} over the last ${HEALTH_WINDOW_SECONDS / 60} minutes, in ${spec.unit}`,
          height: 90,
          y: 'zero',
          legend: spec.series.length > 1,
          liveLegend: false,
          series: spec.series.map((s, i) => ({ label: s.label, stroke: theme.health[i % theme.health.length], width: 1.5 })),
        },
        this.overlay,
        theme,
      );
      this.charts.push(chart);
      this.captions.push(caption);
      this.stops.push(fitWidth(chart, target));
    }
  }
}
