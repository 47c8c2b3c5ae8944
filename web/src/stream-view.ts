// One stream's view: its controls, and its charts on the shared scrolling time axis (values and forecast per channel, error and RMSE, anomaly and threshold), frames for image streams, attention for attention models.

import type uPlot from 'uplot';
import { createChart, emptyOverlay, fitWidth, type Overlay } from './charts';
import { decimateRows, pickRows } from './decimate';
import { DetectionList, listDetections } from './detection-list';
import { card, element, setText } from './dom';
import { thresholdCrossings, thresholdLabel } from './detections';
import { formatNumber, learningSummary } from './format';
import { labelledRuns } from './overlays';
import type { ErrorMessage, ReplyMessage } from './protocol';
import { ANOMALY, actualColumn, ERROR, MAX_CHART_CHANNELS, predictedColumn, RMSE, SEQ, T } from './stream-series';
import type { StreamEntry, ViewContext } from './view-context';
import { ViewControls } from './view-controls';
import { AttentionPanel, FramesPanel, TokenPanel, type ViewPanel } from './view-panels';

/** Share of the window left free right of "now", so the forecast has room even with a short horizon. */
const AHEAD_FRACTION = 0.04;
/** Forecast rows are this far apart when the stream's step is not known yet, seconds. */
const DEFAULT_STEP_SECONDS = 0.1;
/** New rows wait at most this long (ms) for a redraw when the axis has not moved a pixel. */
const DATA_REDRAW_MS = 100;
interface ChartBinding {
  chart: uPlot;
  /** Columns drawn, in series order. */
  columns: number[];
  /** Channel whose forecast is appended as the last series. */
  forecastChannel?: number;
  stopFitting: () => void;
}

/**
 * Builds and runs the view of `entry` inside `root`. `render()` is called once
 * per animation frame: it rebuilds chart data only when rows arrived or the
 * window changed, and otherwise just slides the time axis.
 */
export class StreamView {
  readonly charts: uPlot[] = [];
  private readonly bindings: ChartBinding[] = [];
  private readonly overlay: Overlay = emptyOverlay();
  private builtVersion = -1;
  private builtWindow = -1;
  private builtWidth = -1;
  private drawnFramesVersion = -1;
  private now = NaN;
  /** The right edge of the time axis at the last redraw, seconds, and when that was (ms). */
  private drawnXMax = -Infinity;
  private drawnAt = -Infinity;
  private readonly meta: HTMLElement;
  private readonly controls: ViewControls;
  private detectionList: DetectionList | undefined;
  /** Frames, tokens, attention: what the view draws besides its time charts. */
  private readonly panels: ViewPanel[] = [];

  constructor(
    private readonly root: HTMLElement,
    readonly entry: StreamEntry,
    private readonly context: ViewContext,
  ) {
    this.overlay.zoomed = () => this.rebuildNow();
    root.replaceChildren();
    const head = element('div', 'view-head');
    const title = element('h2', 'view-title', entry.name);
    title.id = 'view-title';
    this.meta = element('p', 'view-meta');
    head.append(title, this.meta);
    root.append(head);
    this.controls = new ViewControls(root, entry, context);
    const figures = element('div', 'figures');
    root.append(figures);
    this.buildPanels(figures);
    this.updateInfo();
  }

  /** Refreshes the header and controls from the entry (after a `list` answer or new metrics). */
  updateInfo(): void {
    const { listed, model, kind, shape } = this.entry;
    const parts = [
      model ? `model ${model.name}: ${model.description}` : undefined,
      kind === 'image' && shape ? `${shape[0]}×${shape[1]} frames` : undefined,
      listed ? `horizon ${listed.horizon}` : undefined,
      learningSummary(listed),
      listed ? `normalize ${listed.normalize}` : undefined,
      listed ? (listed.held ? 'producer connected' : 'no producer') : undefined,
      listed?.parked ? 'idle (parked)' : undefined,
      listed?.worker ? `on worker ${listed.worker}` : undefined,
    ].filter(Boolean);
    setText(this.meta, parts.join(' · '));
    this.controls.update();
  }

  /** An answer (or error) the server sent about this stream. */
  reply(message: ReplyMessage | ErrorMessage): void {
    this.controls.reply(message);
  }

  /** Detections in the window drawn last: where the score rose to the threshold. */
  get detections(): number {
    return this.overlay.crossings.filter((c) => c.x >= this.overlay.xMin).length;
  }

  /** Once per animation frame. */
  render(): void {
    const { series } = this.entry;
    const paused = this.context.isPaused(this.entry.name);
    if (!paused || Number.isNaN(this.now)) this.now = series.now(this.context.clock.now());
    const step = series.secondsPerStep > 0 ? series.secondsPerStep : DEFAULT_STEP_SECONDS;
    const horizonRows = this.forecastRows().length;
    const forecastEnd = horizonRows > 0 && Number.isFinite(series.newestX) ? series.newestX + horizonRows * step : NaN;
    const windowSeconds = this.context.windowSeconds;
    const overlay = this.overlay;
    overlay.now = this.now;
    overlay.forecastEnd = forecastEnd;
    // zoomed, the axis holds the dragged range; else it follows now
    overlay.xMin = overlay.zoom?.[0] ?? this.now - windowSeconds;
    overlay.xMax = overlay.zoom?.[1] ?? this.now + Math.max(windowSeconds * AHEAD_FRACTION, Number.isFinite(forecastEnd) ? forecastEnd - this.now : 0);
    overlay.threshold = this.context.detection.threshold;
    overlay.thresholdLabel = thresholdLabel(this.context.detection);
    const width = this.charts[0]?.width ?? 0;
    const layoutChanged = windowSeconds !== this.builtWindow || width !== this.builtWidth;
    const dataChanged = series.version !== this.builtVersion;
    // a redraw that moves the axis by less than a pixel changes nothing on screen: scroll one pixel at a time
    const movedPixels = ((overlay.xMax - this.drawnXMax) * width * devicePixelRatio) / (overlay.xMax - overlay.xMin);
    const sinceDraw = performance.now() - this.drawnAt;
    if (layoutChanged || (dataChanged && sinceDraw >= DATA_REDRAW_MS) || (!paused && movedPixels >= 1 && !overlay.zoom)) {
      if (layoutChanged || dataChanged) this.rebuild(step);
      else for (const chart of this.charts) chart.setScale('x', { min: overlay.xMin, max: overlay.xMax });
      this.drawnXMax = overlay.xMax;
      this.drawnAt = performance.now();
    }
    if (series.version !== this.drawnFramesVersion) this.drawPanels();
  }

  /** The x range on screen, seconds, and whether the viewer zoomed to it (for the test hook). */
  get xRange(): { min: number; max: number; zoomed: boolean } {
    const [min, max] = this.overlay.zoom ?? [this.overlay.xMin, this.overlay.xMax];
    return { min, max, zoomed: this.overlay.zoom !== undefined };
  }

  /** Rebuilds the charts at the next frame (a zoom, an acknowledgement). */
  private rebuildNow(): void {
    this.builtWindow = -1;
  }

  destroy(): void {
    for (const binding of this.bindings) {
      binding.stopFitting();
      binding.chart.destroy();
    }
    this.root.replaceChildren();
  }

  // ---- building ---------------------------------------------------------------------------------------------------

  private buildPanels(figures: HTMLElement): void {
    const { entry } = this;
    const theme = this.context.theme;
    const syncKey = `view-${entry.name}`;
    if (entry.kind === 'image' && entry.shape) this.panels.push(new FramesPanel(figures, entry.shape, entry.listed?.horizon ?? 0));
    if (entry.kind === 'tokens') this.panels.push(new TokenPanel(figures));
    if (entry.kind === 'values') {
      entry.channels.forEach((channel, c) => {
        const target = element('div', 'chart');
        const note = entry.labelled ? ' Shaded: NAB labelled anomaly window.' : '';
        figures.append(card(`${channel}: actual and predicted`, target, `In the stream’s units. Thick line: actual; thin: one-step prediction; dashed: forecast from the newest value ahead of now. Red marks: detections. Drag to zoom, double-click to follow again.${note}`));
        this.addChart(
          target,
          {
            description: `${channel} of ${entry.name}: actual values, one-step predictions and the forecast, over time`,
            height: entry.channels.length > 2 ? 120 : 170,
            // predicted first so the actual line is drawn over it (uPlot draws series in order)
            series: [
              { label: 'predicted', stroke: theme.predicted, width: 1.25 },
              { label: 'actual', stroke: theme.actual, width: 2 },
              { label: 'forecast', stroke: theme.forecast, width: 1.75, dash: [5, 4] },
            ],
            syncKey,
            timeLabels: false,
            detections: true,
          },
          [predictedColumn(c), actualColumn(c)],
          c,
        );
      });
      if (entry.channelTotal > entry.channels.length) {
        figures.append(element('p', 'note', `Charting the first ${MAX_CHART_CHANNELS} of ${entry.channelTotal} channels.`));
      }
    }
    const errorTarget = element('div', 'chart');
    figures.append(card('Prediction error', errorTarget, 'RMS over channels of actual − predicted, and its rolling RMSE (last 100).'));
    this.addChart(
      errorTarget,
      {
        description: `Prediction error of ${entry.name} and its rolling RMSE over time`,
        height: 130,
        y: 'zero',
        series: [
          { label: 'error', stroke: theme.error, width: 1 },
          { label: 'RMSE', stroke: theme.rmse, width: 2 },
        ],
        syncKey,
        timeLabels: false,
      },
      [ERROR, RMSE],
    );
    // the anomaly chart comes last and carries the time labels for the whole stack
    const anomalyTarget = element('div', 'chart');
    figures.append(
      card(
        'Anomaly likelihood',
        anomalyTarget,
        `Dashed line: the ${this.context.detection.label} profile’s threshold, ${formatNumber(this.context.detection.threshold)}, chosen on the NAB benchmark; triangles: detections, where the score rises to it.${entry.labelled ? ' Shaded: NAB labelled anomaly windows.' : ''}`,
      ),
    );
    this.addChart(
      anomalyTarget,
      {
        description: `Anomaly likelihood of ${entry.name} over time, with the threshold`,
        height: 130,
        y: [0, 1.05],
        threshold: true,
        series: [{ label: 'anomaly', stroke: theme.anomaly, width: 1.5 }],
        syncKey,
      },
      [ANOMALY],
    );
    this.detectionList = new DetectionList(figures, entry.name, this.context.acks, () => this.context.detection.threshold, () => this.rebuildNow());
    if (entry.attentionModel) this.panels.push(new AttentionPanel(figures));
  }

  private addChart(target: HTMLElement, spec: Parameters<typeof createChart>[1], columns: number[], forecastChannel?: number): void {
    const chart = createChart(target, spec, this.overlay, this.context.theme);
    this.charts.push(chart);
    this.bindings.push({ chart, columns, forecastChannel, stopFitting: fitWidth(chart, target) });
  }

  // ---- data -------------------------------------------------------------------------------------------------------

  /** The latest forecast rows, or the one-step prediction alone when the stream has no horizon. */
  private forecastRows(): number[][] {
    const latest = this.entry.series.latest;
    if (!latest || this.entry.kind !== 'values') return [];
    return latest.forecast && latest.forecast.length > 0 ? latest.forecast : [latest.predicted];
  }

  private rebuild(step: number): void {
    const { series, labelled } = this.entry;
    const overlay = this.overlay;
    const rows = series.window(overlay.xMin);
    const x = rows.columns[T];
    overlay.labelled = labelled ? labelledRuns(x, rows.columns[SEQ], labelled) : [];
    const detections = listDetections(this.entry.name, thresholdCrossings(x, rows.columns[ANOMALY], this.context.detection.threshold), x, rows.columns[SEQ], this.context.acks);
    overlay.crossings = detections;
    this.detectionList?.show(detections.filter((d) => d.x >= overlay.xMin && d.x <= overlay.xMax));
    const forecast = this.forecastRows();
    for (const binding of this.bindings) {
      const { chart, columns } = binding;
      const values = columns.map((c) => rows.columns[c]);
      const plotWidth = chart.bbox.width > 0 ? chart.bbox.width / devicePixelRatio : chart.width;
      const keep = decimateRows(x, values, overlay.xMin, overlay.xMax, plotWidth);
      const xs = pickRows(x, keep) as number[];
      const ys = values.map((v) => pickRows(v, keep));
      if (binding.forecastChannel !== undefined) {
        const c = binding.forecastChannel;
        const tail = new Array<number | null>(xs.length).fill(null);
        if (xs.length > 0 && forecast.length > 0) {
          // the dashed line starts at the newest actual value and runs through the forecast rows
          tail[xs.length - 1] = ys[1][xs.length - 1];
          const newest = xs[xs.length - 1];
          forecast.forEach((row, i) => {
            xs.push(newest + (i + 1) * step);
            for (const y of ys) y.push(null);
            tail.push(row[c] ?? null);
          });
        }
        ys.push(tail);
      }
      chart.setData([xs, ...ys] as uPlot.AlignedData);
    }
    this.builtVersion = series.version;
    this.builtWindow = this.context.windowSeconds;
    this.builtWidth = this.charts[0]?.width ?? 0;
  }

  private drawPanels(): void {
    const latest = this.entry.series.latest;
    this.drawnFramesVersion = this.entry.series.version;
    if (latest) for (const panel of this.panels) panel.draw(latest);
  }
}
