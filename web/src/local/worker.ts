// The dashboard's local mode, in a Web Worker: seqcast's kernel learns a dropped CSV online and predicts it, row by row at
// the page's pace, with `seqcast detect`'s detector (src/stream/online-detector.ts) scoring every row. No server, no network:
// the kernel's .wasm is one of the page's own files.

import { createModel, modelFromSafetensors, type Model } from '../../../src/api/model.js';
import { csvTextRows } from '../../../src/io/csv-text.js';
import { resolveVariant } from '../../../src/kernel/variant.js';
import { TimeSeriesReader, type DetectInput } from '../../../src/io/time-series.js';
import { DETECT_MODEL, OnlineDetector } from '../../../src/stream/online-detector.js';
import type { ListedModel, ListedStream, PredictionMessage } from '../protocol';
import type { FromWorker, ToWorker } from './messages';

/** How often a paced replay wakes up, ms. */
const TICK_MS = 50;
/** How long one turn of an unpaced replay computes before it posts and lets messages in, ms. */
const SLICE_MS = 30;
/** Rows per second of the time axis when the replay runs as fast as it computes: the charts spread its rows this far apart. */
const UNPACED_AXIS_RATE = 1000;

// the worker's global scope, typed as far as this file uses it (the page's lib is DOM, not WebWorker)
const scope = self as unknown as { postMessage(message: FromWorker): void; onmessage: ((event: MessageEvent<ToWorker>) => void) | null };

let replay: Replay | undefined;

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'start') {
    if (replay) return scope.postMessage({ type: 'failed', message: 'this page already runs a file; reload it to run another' });
    start(message).catch((err: unknown) => scope.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) }));
  } else if (message.type === 'configure') {
    replay?.configure(message);
  } else if (message.type === 'pause') {
    replay?.pause(message.paused);
  }
};

async function start(request: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const reader = new TimeSeriesReader(request.csvName);
  for (const row of csvTextRows(request.csv, request.csvName)) reader.add(row);
  const input = reader.finish();
  const width = input.header.length - 1;
  const options = { kernel: request.kernel };
  const model = request.model
    ? await modelFromSafetensors(new Uint8Array(request.model.bytes), request.model.name, options)
    : await createModel({ ...DETECT_MODEL, inputSize: width, metadata: { channels: input.header.filter((_, c) => c !== input.timeColumn) } }, options);
  const modelName = request.model ? request.model.name.replace(/\.safetensors$/i, '') : 'new-lstm';
  if (model.isTokenModel || model.inputSize !== width || model.outputSize !== width) {
    model.close();
    const takes = model.isTokenModel ? 'is a token model' : `takes ${model.inputSize} values and predicts ${model.outputSize}`;
    throw new Error(`${request.model?.name ?? 'the model'} ${takes}; ${request.csvName} has ${width} value column${width === 1 ? '' : 's'}, and the page needs a model that predicts its own input`);
  }
  replay = new Replay(request, input, model, modelName);
  scope.postMessage({ type: 'ready', stream: replay.listedStream(), model: listedModel(modelName, model), rows: input.values.length, kernel: resolveVariant(request.kernel) });
}

/** One file replayed through the detector, at `rowsPerSecond` (0: as fast as it computes). */
class Replay {
  private readonly detector: OnlineDetector;
  private row = 0;
  private horizon: number;
  private learn = true;
  /** Paused until the page watches the stream (its first subscribe), and while its view is paused. */
  private paused = true;
  /** Rows due by now, counted from `startedAt` (paced replays). */
  private startedAt = 0;
  private startRow = 0;
  /**
   * The time (ms since the epoch) each row is shown at: the replay is its producer, so a row's `t` is when the replay
   * plays it, evenly spaced at its rate from when it started. The file's own timestamps (years old, 5 minutes apart
   * in NAB's files) go to the detector, whose seasonal memory compares days.
   */
  private readonly shownFrom = Date.now();
  /** ms spent in the rows' steps (detector and forecast), for the page's measure of speed. */
  private computeMs = 0;

  constructor(
    private readonly request: Extract<ToWorker, { type: 'start' }>,
    private readonly input: DetectInput,
    private readonly model: Model,
    private readonly modelName: string,
  ) {
    this.detector = new OnlineDetector(model, input.values.length);
    this.horizon = request.horizon;
  }

  listedStream(): ListedStream {
    return {
      stream: this.request.stream,
      id: 1,
      model: this.modelName,
      lastSeq: this.row - 1,
      horizon: this.horizon,
      learn: this.learn,
      learning: this.detector.learning,
      normalize: 'online',
      held: true,
      parked: false,
    };
  }

  configure(change: { horizon?: number; learn?: boolean }): void {
    if (change.horizon !== undefined) this.horizon = change.horizon;
    if (change.learn !== undefined) {
      this.learn = change.learn;
      this.detector.setLearning(change.learn);
    }
    scope.postMessage({ type: 'configured', horizon: this.horizon, learn: this.learn, lastSeq: this.row - 1 });
  }

  pause(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (!paused) this.run();
  }

  /** Steps the rows due, posts their predictions, and comes back for the next ones until the file ends. */
  run(): void {
    this.startedAt = performance.now();
    this.startRow = this.row;
    this.turn();
  }

  private turn(): void {
    if (this.paused) return;
    const rows = this.input.values.length;
    const began = performance.now();
    const paced = this.request.rowsPerSecond > 0;
    const due = paced ? Math.min(rows, this.startRow + Math.floor(((began - this.startedAt) / 1000) * this.request.rowsPerSecond)) : rows;
    const predictions: PredictionMessage[] = [];
    while (this.row < due && (paced || performance.now() - began < SLICE_MS)) predictions.push(this.step());
    this.computeMs += performance.now() - began;
    if (predictions.length > 0) scope.postMessage({ type: 'predictions', predictions });
    if (this.row >= rows) {
      this.detector.close();
      scope.postMessage({ type: 'done', rows, computeSeconds: this.computeMs / 1000 });
      return;
    }
    setTimeout(() => this.turn(), paced ? TICK_MS : 0);
  }

  /** The next row through the detector, as the server would send its prediction. */
  private step(): PredictionMessage {
    const row = this.row++;
    const values = this.input.values[row];
    const began = performance.now();
    const detected = this.detector.step(values, this.input.dates ? this.input.timestamps[row] : undefined);
    const stepMicros = (performance.now() - began) * 1000;
    const forecast = this.horizon > 0 ? this.detector.forecast(this.horizon).map((r) => Array.from(r)) : undefined;
    return {
      type: 'prediction',
      stream: this.request.stream,
      seq: row,
      t: this.shownFrom + (row * 1000) / (this.request.rowsPerSecond || UNPACED_AXIS_RATE),
      actual: Array.from(values),
      predicted: Array.from(detected.predicted),
      ...(forecast ? { forecast } : {}),
      error: detected.error ?? null,
      rmse: detected.rmse ?? null,
      anomaly: detected.anomaly,
      stepMicros,
      batch: 1,
      ...(detected.event ? { learnEvent: detected.event, ...(detected.loss !== undefined ? { loss: detected.loss } : {}) } : {}),
    };
  }
}

/** The model as `list` would show it (src/server/stream-reports.ts listedModel, for a recurrent model). */
function listedModel(name: string, model: Model): ListedModel {
  return {
    name,
    description: model.describe(),
    kind: model.arch.kind,
    cell: model.arch.cell,
    layers: model.arch.layers,
    hiddenSize: model.arch.hiddenSize,
    inputSize: model.inputSize,
    outputSize: model.outputSize,
    ...(model.metadata.channels ? { channels: model.metadata.channels } : {}),
  };
}
