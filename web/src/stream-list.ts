// The list of live streams: a filter, and one row per stream with its rate, error, anomaly state and a sparkline; a row opens its stream.

import { decimateRows } from './decimate';
import { anomalyState, formatScore, type Crossing } from './detections';
import { formatNumber, formatRate } from './format';
import { IDLE_AFTER_SECONDS } from './stream-order';

/** What a row shows. */
export interface ListRow {
  name: string;
  model: string;
  rate: number;
  rmse: number | null;
  anomaly: number | null;
  /** The latest detection (the score crossing the threshold) of the last seconds, if any; asked for only when the row is on screen. */
  lastDetection: (threshold: number) => Crossing | undefined;
  /** "paused", "no producer", "idle" or "". */
  note: string;
  /** Listed apart, in the collapsed "idle" group: no producer, parked, or silent a while (stream-order.ts). */
  idle: boolean;
  /** The sparkline's values (oldest first) and where they are in time; asked for only when the row is on screen. */
  spark: () => Sparkline;
}

export interface Sparkline {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  xMin: number;
  xMax: number;
  color: string;
}

interface RowElements {
  item: HTMLLIElement;
  button: HTMLButtonElement;
  rate: HTMLElement;
  rmse: HTMLElement;
  badge: HTMLElement;
  note: HTMLElement;
  canvas: HTMLCanvasElement;
}

/**
 * Renders rows into `list`, keeping each row's elements between updates (only
 * text and the sparkline change), filtered by what `filter` holds.
 */
export class StreamList {
  private readonly rows = new Map<string, RowElements>();
  /** Rows on screen: only they get new numbers and sparklines (a long list costs nothing below the fold). */
  private readonly onScreen = new WeakSet<Element>();
  private readonly visibility = new IntersectionObserver((changes) => {
    for (const change of changes) {
      if (change.isIntersecting) this.onScreen.add(change.target);
      else this.onScreen.delete(change.target);
    }
  });

  /** The idle group's heading: a button that shows or hides the idle rows after it. */
  private readonly idleHeading = document.createElement('li');
  private readonly idleToggle = document.createElement('button');
  private idleOpen = false;
  private idleNames = new Set<string>();
  private selected: string | undefined;
  /** Said when the filter hides every row. */
  private readonly noMatch = document.createElement('li');

  constructor(
    private readonly list: HTMLUListElement,
    private readonly filter: HTMLInputElement,
    private readonly count: HTMLElement,
    private readonly open: (name: string) => void,
  ) {
    list.addEventListener('keydown', (event) => this.keydown(event));
    filter.addEventListener('input', () => this.applyFilter());
    this.idleHeading.className = 'idle-heading';
    this.idleToggle.type = 'button';
    this.idleToggle.className = 'idle-toggle';
    this.idleToggle.setAttribute('aria-expanded', 'false');
    this.idleToggle.addEventListener('click', () => {
      this.idleOpen = !this.idleOpen;
      this.applyFilter();
    });
    this.idleHeading.append(this.idleToggle);
    this.noMatch.className = 'no-match';
    this.noMatch.setAttribute('role', 'status');
  }

  /** Shows `rows` (in this order), marks `selected`, and redraws sparklines. */
  update(rows: ListRow[], selected: string | undefined, threshold: number): void {
    const names = new Set(rows.map((row) => row.name));
    for (const [name, elements] of this.rows) {
      if (!names.has(name)) {
        this.visibility.unobserve(elements.item);
        elements.item.remove();
        this.rows.delete(name);
      }
    }
    this.selected = selected;
    this.idleNames = new Set(rows.filter((row) => row.idle).map((row) => row.name));
    let previous: HTMLLIElement | undefined;
    let headingPlaced = false;
    for (const row of rows) {
      if (row.idle && !headingPlaced) {
        // the idle rows come last (main.ts orders them so), under their heading
        const next = previous ? previous.nextSibling : this.list.firstChild;
        if (next !== this.idleHeading) this.list.insertBefore(this.idleHeading, next);
        previous = this.idleHeading;
        headingPlaced = true;
      }
      let elements = this.rows.get(row.name);
      if (!elements) {
        elements = this.createRow(row.name);
        this.rows.set(row.name, elements);
        this.visibility.observe(elements.item);
      }
      // keep DOM order equal to `rows` without moving rows that are already in place (focus stays put)
      const expectedNext = previous ? previous.nextSibling : this.list.firstChild;
      if (expectedNext !== elements.item) this.list.insertBefore(elements.item, expectedNext);
      previous = elements.item;
      if (this.onScreen.has(elements.item) || elements.badge.textContent === '') this.fill(elements, row, row.name === selected, threshold);
      else this.mark(elements, row.name === selected);
    }
    if (!headingPlaced) this.idleHeading.remove();
    if (this.noMatch.parentNode !== this.list) this.list.append(this.noMatch);
    else if (this.list.lastChild !== this.noMatch) this.list.append(this.noMatch);
    this.applyFilter();
  }

  private createRow(name: string): RowElements {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'stream-row';
    button.dataset.stream = name;
    button.innerHTML = `
      <span class="row-name"></span>
      <span class="row-model"></span>
      <span class="row-stats"><span class="row-rate"></span> · <abbr title="root mean square error of the last 100 predictions">RMSE</abbr> <span class="row-rmse"></span></span>
      <span class="row-badge"></span>
      <span class="row-note"></span>
      <canvas class="sparkline" aria-hidden="true"></canvas>`;
    button.querySelector('.row-name')!.textContent = name;
    button.addEventListener('click', () => this.open(name));
    item.append(button);
    return {
      item,
      button,
      rate: button.querySelector('.row-rate')!,
      rmse: button.querySelector('.row-rmse')!,
      badge: button.querySelector('.row-badge')!,
      note: button.querySelector('.row-note')!,
      canvas: button.querySelector('canvas')!,
    };
  }

  private fill(elements: RowElements, row: ListRow, selected: boolean, threshold: number): void {
    const detection = row.lastDetection(threshold);
    const state = anomalyState(row.anomaly, detection !== undefined);
    setText(elements.button.querySelector('.row-model')!, row.model);
    setText(elements.rate, formatRate(row.rate));
    setText(elements.rmse, formatNumber(row.rmse));
    // an anomalous stream shows the score that detected, the others their latest
    const shown = detection?.value ?? row.anomaly;
    setText(elements.badge, shown === null ? state : `${state} ${formatScore(shown, threshold)}`);
    elements.badge.dataset.state = state;
    setText(elements.note, row.note);
    this.mark(elements, selected);
    drawSparkline(elements.canvas, row.spark());
  }

  private mark(elements: RowElements, selected: boolean): void {
    if (selected === (elements.button.getAttribute('aria-current') === 'true')) return;
    if (selected) elements.button.setAttribute('aria-current', 'true');
    else elements.button.removeAttribute('aria-current');
  }

  /**
   * Hides the rows the filter does not match, and the idle rows while their group is collapsed (the open stream's row
   * stays; a filter shows the idle rows it matches). Says so when the filter matches nothing.
   */
  private applyFilter(): void {
    const text = this.filter.value.trim().toLowerCase();
    let matched = 0;
    let idleMatched = 0;
    for (const [name, elements] of this.rows) {
      const model = elements.button.querySelector('.row-model')!.textContent ?? '';
      const matches = text === '' || name.toLowerCase().includes(text) || model.toLowerCase().includes(text);
      const idle = this.idleNames.has(name);
      const collapsed = idle && !this.idleOpen && text === '' && name !== this.selected;
      elements.item.hidden = !matches || collapsed;
      if (matches) matched++;
      if (matches && idle) idleMatched++;
    }
    const idle = this.idleNames.size;
    setText(this.idleToggle, `${this.idleOpen || text !== '' ? '▾' : '▸'} Idle: ${idleMatched}${text === '' ? '' : ` of ${idle}`} (no producer, or no frames for ${IDLE_AFTER_SECONDS} s)`);
    this.idleToggle.setAttribute('aria-expanded', String(this.idleOpen || text !== ''));
    this.idleHeading.hidden = idleMatched === 0;
    this.noMatch.hidden = matched > 0 || this.rows.size === 0;
    setText(this.noMatch, `No stream matches “${this.filter.value.trim()}”.`);
    setText(this.count, matched === this.rows.size ? `${this.rows.size}` : `${matched} of ${this.rows.size}`);
  }

  /** Up and down arrows (and Home, End) move between the visible rows. */
  private keydown(event: KeyboardEvent): void {
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key)) return;
    const buttons = [...this.rows.values()].filter((r) => !r.item.hidden).map((r) => r.button);
    buttons.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    if (buttons.length === 0) return;
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const next =
      event.key === 'Home' ? 0 : event.key === 'End' ? buttons.length - 1 : event.key === 'ArrowDown' ? Math.min(buttons.length - 1, at + 1) : Math.max(0, at - 1);
    buttons[next].focus();
    event.preventDefault();
  }
}

function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** A sparkline's size in CSS pixels (styles.css gives the canvas the same): fixed, so drawing never waits for layout. */
const SPARK_WIDTH = 96;
const SPARK_HEIGHT = 34;

/** A line of `spark` across the canvas, decimated to its width. */
function drawSparkline(canvas: HTMLCanvasElement, spark: Sparkline): void {
  const ratio = devicePixelRatio;
  const width = Math.round(SPARK_WIDTH * ratio);
  const height = Math.round(SPARK_HEIGHT * ratio);
  if (canvas.width !== width || canvas.height !== height) [canvas.width, canvas.height] = [width, height];
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.clearRect(0, 0, width, height);
  const { x, y, xMin, xMax } = spark;
  if (x.length < 2) return;
  const rows = decimateRows(x, [y], xMin, xMax, width / ratio);
  let low = Infinity;
  let high = -Infinity;
  for (const i of rows) {
    if (Number.isNaN(y[i])) continue;
    low = Math.min(low, y[i]);
    high = Math.max(high, y[i]);
  }
  if (!Number.isFinite(low)) return;
  const span = high - low || 1;
  const pad = 2 * ratio;
  ctx.strokeStyle = spark.color;
  ctx.lineWidth = 1.25 * ratio;
  ctx.beginPath();
  let drawing = false;
  for (const i of rows) {
    if (Number.isNaN(y[i])) {
      drawing = false;
      continue;
    }
    const px = ((x[i] - xMin) / (xMax - xMin)) * width;
    const py = height - pad - ((y[i] - low) / span) * (height - 2 * pad);
    if (drawing) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    drawing = true;
  }
  ctx.stroke();
}
