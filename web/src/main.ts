// The dashboard's entry point: connects, keeps each stream's rings filled from the socket, and redraws once per animation frame.

import 'uplot/dist/uPlot.min.css';
import './styles.css';
import type uPlot from 'uplot';
import { Backfills } from './backfill';
import { SharedClock } from './clock';
import { DashboardSocket, type ConnectionState } from './connection';
import { detectionFrom, thresholdCrossings } from './detections';
import { HealthPanel } from './health';
import { LocalPanel } from './local/local-panel';
import { LocalSession, type LocalRun } from './local/local-session';
import type { LabelledWindows } from './overlays';
import {
  listMessage,
  subscribeMessage,
  unsubscribeMessage,
  type ErrorMessage,
  type HistoryMessage,
  type ListedModel,
  type ListedStream,
  type MetricsMessage,
  type PredictionMessage,
  type ReplyMessage,
  type ServerMessage,
  type StreamsMessage,
} from './protocol';
import { StreamList, type ListRow } from './stream-list';
import { actualColumn, ANOMALY, ERROR } from './stream-series';
import { StreamView } from './stream-view';
import { hashFor, hashParams, WINDOWS } from './address';
import { streamEntry } from './stream-entry';
import type { StreamEntry, ViewContext } from './view-context';
import { Acknowledgements, browserStorage } from './acknowledgements';
import { showConnectionState } from './connection-banner';
import { firstStream, isIdle, splitIdle } from './stream-order';
import { currentTheme, onThemeChange } from './theme';
import { askForToken, takeToken } from './token';

/** How often the page asks the server for its streams (new ones, closed ones, held or idle), ms. */
const LIST_INTERVAL_MS = 2000;
/** How often the stream list's numbers and sparklines are redrawn, ms. */
const LIST_REDRAW_MS = 250;
/** Seconds of history in a row's sparkline. */
const SPARK_SECONDS = 60;
/** A stream whose score crossed the threshold this many seconds ago or less is listed as "anomalous". */
const DETECTED_LATELY_SECONDS = 10;
/** The labelled anomaly windows of the demo's NAB replay (served by `seqcast serve`; 404 elsewhere). */
const LABELLED_WINDOWS_PATH = '/demo-windows.json';
/** Replies kept for the page's test hook. */
const REPLIES_KEPT = 50;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

const theme = currentTheme();
const clock = new SharedClock();
const entries = new Map<string, StreamEntry>();
const models = new Map<string, ListedModel>();
const paused = new Set<string>();
/** Streams this connection watches (the server forgets them on reconnect). */
const subscribed = new Set<string>();
const replies: ServerMessage[] = [];
/** When each stream's newest prediction reached the page, ms (performance.now): the page's own measure of idleness, whatever time axis frames are drawn on. */
const lastArrival = new Map<string, number>();
const firstSeen = new Map<string, number>();
/** The open view was chosen by the page (the first live stream), not by the viewer or the address. */
let autoSelected = false;
let labelledFile: Record<string, LabelledWindows & { model?: string }> = {};
let selected: string | undefined;
let view: StreamView | undefined;
let connectionState: ConnectionState = { status: 'connecting', attempt: 0 };
let everConnected = false;

const context: ViewContext = {
  clock,
  theme,
  windowSeconds: WINDOWS[0],
  peer: 'the server',
  // until the server says which profile it detects with (servers before it never do)
  detection: detectionFrom(undefined),
  learningAvailable: undefined,
  // until a `list` answer says (a server before roles never does: it answers each request itself)
  role: undefined,
  acks: new Acknowledgements(browserStorage()),
  send: (message) => link.send(message),
  isPaused: (stream) => paused.has(stream),
  setPaused,
};

const list = new StreamList($('#stream-list'), $('#filter'), $('#stream-count'), (name) => {
  location.hash = hashFor(name, context.windowSeconds);
});
const health = new HealthPanel($('#health-charts'), theme);
const socket = new DashboardSocket(location.origin, { messages: received, opened, state: showState, tokenNeeded: askForToken }, takeToken());
/** Where the page's protocol messages go: the server's socket, or, in local mode, the session running a file here. */
let link: { send(message: object | object[]): boolean } = socket;
let local: LocalSession | undefined;
const backfills = new Backfills((messages) => link === socket && socket.send(messages)); // not in local mode: no server, no past
const localPanel = new LocalPanel(runLocally);

// ---- connection -----------------------------------------------------------------------------------------------------

function opened(): void {
  everConnected = true;
  subscribed.clear();
  // metrics come with any subscription, even to no stream yet; streams are added as `list` names them
  link.send([listMessage(), subscribeMessage([])]);
}

function received(messages: ServerMessage[], arrivalMs: number): void {
  let newestLive = -Infinity;
  const perStream = new Map<string, number>();
  for (const message of messages) if (message.type === 'prediction') perStream.set(message.stream, (perStream.get(message.stream) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const message of messages) {
    switch (message.type) {
      case 'prediction': {
        const m = message as PredictionMessage;
        const entry = entries.get(m.stream) ?? addEntry(m.stream, undefined, m);
        if (clock.isLive(m.t, arrivalMs)) newestLive = Math.max(newestLive, m.t);
        // without a live time, a batch's frames are spread over the delivery interval before its arrival
        const index = seen.get(m.stream) ?? 0;
        seen.set(m.stream, index + 1);
        const count = perStream.get(m.stream)!;
        entry.series.ingest(m, clock.frameX(m.t, arrivalMs - ((count - 1 - index) * 50) / count), typeof m.t === 'number' && !clock.isLive(m.t, arrivalMs));
        lastArrival.set(m.stream, performance.now());
        break;
      }
      case 'metrics': {
        const m = message as MetricsMessage;
        health.add(m, clock.frameX(m.t, arrivalMs));
        if (context.learningAvailable !== m.learning.available) {
          context.learningAvailable = m.learning.available;
          view?.updateInfo();
        }
        break;
      }
      case 'streams':
        listed(message as StreamsMessage);
        break;
      case 'history':
        entries.get(message.stream)?.series.backfill(message as HistoryMessage, (t) => clock.isLive(t, arrivalMs));
        break;
      default:
        remember(message);
        if ('stream' in message && message.stream !== undefined && message.stream === selected) view?.reply(message as ReplyMessage | ErrorMessage);
        else if (message.type === 'error') showNotice(`Server: ${(message as ErrorMessage).message}`);
    }
  }
  if (Number.isFinite(newestLive)) clock.observe(newestLive, arrivalMs);
}

function remember(message: ServerMessage): void {
  replies.push(message);
  if (replies.length > REPLIES_KEPT) replies.shift();
}

/** The server's streams: new ones get an entry and a subscription; closed ones go. */
function listed(message: StreamsMessage): void {
  context.role = message.role;
  const detection = detectionFrom(message.detection);
  const detectionChanged = detection.threshold !== context.detection.threshold || detection.profile !== context.detection.profile;
  context.detection = detection;
  models.clear();
  for (const model of message.models) models.set(model.name, model);
  const names = new Set(message.streams.map((s) => s.stream));
  for (const name of [...entries.keys()]) if (!names.has(name) && name !== selected) entries.delete(name);
  for (const listed of message.streams) {
    const existing = entries.get(listed.stream);
    if (existing && existing.model?.name === listed.model) existing.listed = listed;
    else addEntry(listed.stream, listed);
  }
  const toWatch = message.streams.map((s) => s.stream).filter((name) => !subscribed.has(name) && !paused.has(name));
  if (toWatch.length > 0 && link.send(subscribeMessage(toWatch))) {
    for (const name of toWatch) subscribed.add(name);
    backfills.want(toWatch, selected ?? hashParams().stream);
  }
  const listedNow = ordered(message.streams.map((s) => entries.get(s.stream)!));
  // a view the page chose moves to a live stream once its own goes idle; one the viewer chose stays
  const autoMove = autoSelected && selected !== undefined && listedNow.some((s) => s.name === selected && s.idle);
  if (selected === undefined || !entries.has(selected) || autoMove) {
    const first = firstStream(listedNow, hashParams().stream);
    if (first && first !== selected) select(first);
    autoSelected = first !== hashParams().stream;
  } else if (detectionChanged) {
    openView(selected);
  } else if (view) {
    view.updateInfo();
  }
  redrawList();
}

/** A stream's entry, shaped by its model (channels, image, tokens); the first prediction stands in for an unlisted one. */
function addEntry(name: string, listed: ListedStream | undefined, first?: PredictionMessage): StreamEntry {
  const entry = streamEntry(name, listed, listed ? models.get(listed.model) : undefined, first, labelledFile[name]);
  entries.set(name, entry);
  if (!firstSeen.has(name)) firstSeen.set(name, performance.now());
  if (name === selected) openView(name);
  return entry;
}

function setPaused(stream: string, pause: boolean): void {
  if (pause) {
    paused.add(stream);
    if (link.send(unsubscribeMessage([stream]))) subscribed.delete(stream);
  } else {
    paused.delete(stream);
    if (link.send(subscribeMessage([stream]))) subscribed.add(stream);
    backfills.want([stream], stream);
  }
  redrawList();
}

// ---- banner and status -----------------------------------------------------------------------------------------

function showState(state: ConnectionState): void {
  if (local) return;
  connectionState = state;
  showConnectionState(state, everConnected);
}

// ---- local mode: a file run in this page ------------------------------------------------------------------------------

/** Leaves the server (if any) and runs `run` in this page: its stream replaces the server's in the list and the view. */
function runLocally(run: LocalRun): void {
  socket.stop();
  local?.stop();
  local = new LocalSession({ messages: received, progress: (state, detail) => showNotice(state === 'failed' ? `Could not run the file: ${detail}` : detail) });
  link = local;
  context.peer = 'the local run';
  view?.destroy();
  view = undefined;
  selected = undefined;
  entries.clear();
  subscribed.clear();
  $('#connection-status').dataset.status = 'local';
  $('#connection-status').textContent = 'Running in this browser';
  $('#banner').hidden = true;
  $('.health').hidden = true;
  void local.start(run).then(opened, (err: Error) => showNotice(`Could not read the files: ${err.message}`));
}

function showNotice(text: string): void {
  $('#notice').textContent = text;
}

// ---- selection, window, rendering -----------------------------------------------------------------------------------

function select(name: string): void {
  if (selected === name && view) return;
  selected = name;
  openView(name);
  redrawList();
}

function openView(name: string): void {
  view?.destroy();
  view = undefined;
  const entry = entries.get(name);
  if (entry) view = new StreamView($('#view-body'), entry, context);
}

function applyHash(): void {
  const params = hashParams();
  const windowSeconds = Number(params.window);
  if (WINDOWS.includes(windowSeconds) && windowSeconds !== context.windowSeconds) {
    context.windowSeconds = windowSeconds;
    const radio = document.querySelector<HTMLInputElement>(`input[name="window"][value="${windowSeconds}"]`);
    if (radio) radio.checked = true;
  }
  if (params.stream && entries.has(params.stream)) {
    autoSelected = false;
    select(params.stream);
  }
}

/** The entries with what stream-order.ts reads of them: held and parked from `list`, and how long since their newest prediction. */
function ordered(list: StreamEntry[]) {
  const now = performance.now();
  return list.map((entry) => ({
    name: entry.name,
    entry,
    held: entry.listed?.held,
    parked: entry.listed?.parked,
    // a stream not heard from yet counts from when the page first saw it
    silentSeconds: (now - (lastArrival.get(entry.name) ?? firstSeen.get(entry.name) ?? now)) / 1000,
    get idle() {
      return isIdle(this);
    },
  }));
}

let lastListDraw = 0;
function redrawList(): void {
  const clockNow = clock.now();
  const { live, idle } = splitIdle(ordered([...entries.values()]));
  const rows: ListRow[] = [...live, ...idle].map(({ entry, idle }) => {
    const { series, listed } = entry;
    const now = series.now(clockNow);
    return {
      idle,
      name: entry.name,
      model: entry.model?.name ?? listed?.model ?? '',
      rate: series.rate(now),
      rmse: series.latest?.rmse ?? null,
      anomaly: series.latest?.anomaly ?? null,
      lastDetection: (threshold) => {
        const recent = series.recent(ANOMALY, now - DETECTED_LATELY_SECONDS);
        return thresholdCrossings(recent.x, recent.y, threshold).at(-1);
      },
      note: paused.has(entry.name) ? 'paused' : listed && !listed.held ? 'no producer' : listed?.parked ? 'idle' : '',
      spark: () => ({ ...series.recent(entry.kind === 'values' ? actualColumn(0) : ERROR, now - SPARK_SECONDS), xMin: now - SPARK_SECONDS, xMax: now, color: theme.actual }),
    };
  });
  list.update(rows, selected, context.detection.threshold);
  lastListDraw = performance.now();
}

function frame(time: number): void {
  view?.render();
  health.render(clock.now());
  if (time - lastListDraw > LIST_REDRAW_MS) redrawList();
  requestAnimationFrame(frame);
}

// ---- start ----------------------------------------------------------------------------------------------------------

for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="window"]')) {
  radio.addEventListener('change', () => {
    if (!radio.checked) return;
    context.windowSeconds = Number(radio.value);
    history.replaceState(null, '', `#${hashFor(selected, context.windowSeconds)}`);
  });
}
window.addEventListener('hashchange', applyHash);
for (const button of ['#local-open', '#banner-local']) $(button).addEventListener('click', () => localPanel.open());
onThemeChange(() => {
  Object.assign(theme, currentTheme());
  health.rebuild(theme);
  if (selected) openView(selected);
});

/** For tests and the screenshot script: the charts and what the page has received (read with page.evaluate). */
const testHook = {
  charts: (): uPlot[] => [...(view?.charts ?? []), ...health.charts],
  viewCharts: (): uPlot[] => view?.charts ?? [],
  snapshot: () => ({
    status: local ? 'local' : connectionState.status,
    everConnected,
    bannerShown: !$('#banner').hidden,
    streams: [...entries.keys()],
    selected,
    paused: [...paused],
    received: Object.fromEntries([...entries].map(([name, e]) => [name, e.series.received])),
    forecastRows: Object.fromEntries([...entries].map(([name, e]) => [name, e.series.latest?.forecast?.length ?? 0])),
    lastSeq: Object.fromEntries([...entries].map(([name, e]) => [name, e.series.latest?.seq ?? -1])),
    seqs: Object.fromEntries([...entries].map(([name, e]) => [name, e.series.seqSummary()])),
    listed: Object.fromEntries([...entries].map(([name, e]) => [name, { horizon: e.listed?.horizon, learn: e.listed?.learn }])),
    charts: (view?.charts ?? []).map((u) => ({
      rows: u.data[0].length,
      values: u.data.slice(1).map((s) => (s as (number | null)[]).filter((v) => v !== null && v !== undefined).length),
    })),
    replies: replies.slice(),
    local: local?.status,
    detection: context.detection,
    /** Detections in the open view's window, and the marks each chart drew (null: a chart that marks none). */
    detections: view?.detections ?? 0,
    role: context.role,
    xRange: view?.xRange,
    marks: (view?.charts ?? []).map((u) => (u.root.dataset.detections === undefined ? null : Number(u.root.dataset.detections))),
  }),
};
(window as unknown as { seqcast: typeof testHook }).seqcast = testHook;

// #local opens the page in local mode: no socket and no request to a server at all (the embedded default for a file and no server)
const localOnly = 'local' in hashParams();
void (localOnly ? Promise.resolve({}) : fetch(LABELLED_WINDOWS_PATH, { cache: 'no-store' }).then((response) => (response.ok ? response.json() : {})))
  .catch(() => ({}))
  .then((file: typeof labelledFile) => {
    labelledFile = file;
    // entries made before the file arrived get their windows now
    for (const entry of entries.values()) {
      const labels = labelledFile[entry.name];
      if (!entry.labelled && labels && (labels.model === undefined || labels.model === entry.model?.name)) {
        entry.labelled = labels;
        if (entry.name === selected) openView(entry.name);
      }
    }
  })
  .finally(() => {
    applyHash();
    if (localOnly) localPanel.open();
    else socket.start();
    window.setInterval(() => link.send(listMessage()), LIST_INTERVAL_MS);
    requestAnimationFrame(frame);
  });
