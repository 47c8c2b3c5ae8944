// The server's counters, histograms and gauges in Prometheus' text format (GET /metrics), kept by prom-client in one
// registry per server (so two servers in one process keep apart).

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { StreamCounts } from '../protocol/messages.js';
import type { LearnEvent } from '../stream/types.js';
import { TallyHistogram } from './tally-histogram.js';

/** What the gauges read at each scrape. */
export interface GaugeReadings {
  streams: StreamCounts & { learning: number };
  connections: number;
}

/** Kernel step buckets, seconds: 2 µs … 0.5 s (one stepBatch call takes µs for small models, ms for big batches). */
const STEP_BUCKETS = [2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5];
/** Batch latency buckets, seconds: 50 µs … 5 s (from the arrival of a batch's first frame to its answers being queued). */
const LATENCY_BUCKETS = [5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1, 2, 5];

/**
 * The server's Prometheus metrics. Names follow Prometheus' conventions: seqcast_ prefix, _total for counters,
 * seconds for durations. What happens per frame or per batch costs plain additions here (a prom-client call costs
 * about a microsecond, a tenth of a frame's whole cost in the server, and a batch may hold one frame): counts are
 * summed and handed to their counters when scraped, histograms are TallyHistograms. The stream and connection
 * gauges are read from `read` when scraped. Errors and learning steps, rarer, go to prom-client as they happen.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly framesReceived: Counter;
  private readonly predictions: Counter<'model'>;
  /** Predictions per model since the start, and the part already handed to the counter. */
  private readonly predicted = new Map<string, { total: number; reported: number }>();
  private readonly errors: Counter<'code'>;
  private readonly stepSeconds: TallyHistogram;
  private readonly latencySeconds: TallyHistogram;
  private readonly learningSteps: Counter<'model' | 'outcome'>;
  private readonly learningUpdates: Counter<'model'>;
  private readonly rollbacks: Counter<'model'>;
  private read: () => GaugeReadings = () => ({ streams: { open: 0, held: 0, parked: 0, learning: 0 }, connections: 0 });
  /** Frames received since the start, and the part of them already handed to the counter. */
  private received = 0;
  private receivedReported = 0;

  constructor() {
    const registers = [this.registry];
    const tally = () => {
      const delta = this.received - this.receivedReported;
      this.receivedReported = this.received;
      return delta;
    };
    this.framesReceived = new Counter({
      name: 'seqcast_frames_received_total',
      help: 'Frames received from producers, refused ones included.',
      registers,
      collect() {
        this.inc(tally());
      },
    });
    const predicted = this.predicted;
    this.predictions = new Counter({
      name: 'seqcast_predictions_total',
      help: 'Frames stepped and answered with a prediction, by model.',
      labelNames: ['model'],
      registers,
      collect() {
        for (const [model, tally] of predicted) {
          this.inc({ model }, tally.total - tally.reported);
          tally.reported = tally.total;
        }
      },
    });
    this.errors = new Counter({ name: 'seqcast_errors_total', help: 'Error messages sent to clients, by error code (docs/protocol.md).', labelNames: ['code'], registers });
    this.stepSeconds = new TallyHistogram('seqcast_kernel_step_seconds', 'Duration of one stepBatch kernel call (one batch of frames of one model), by model.', STEP_BUCKETS, this.registry, 'model');
    this.latencySeconds = new TallyHistogram(
      'seqcast_batch_latency_seconds',
      "Per stepped batch: time from its first frame's message arriving to the batch's predictions being queued for sending.",
      LATENCY_BUCKETS,
      this.registry,
    );
    this.learningSteps = new Counter({
      name: 'seqcast_learning_steps_total',
      help: "Learning streams' training steps, by model and outcome: trained, rolled-back (applied, then older weights restored), skipped-spike, refused (non-finite).",
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.learningUpdates = new Counter({ name: 'seqcast_learning_updates_total', help: 'Online learning updates applied to the weights, by model.', labelNames: ['model'], registers });
    this.rollbacks = new Counter({ name: 'seqcast_learning_rollbacks_total', help: 'Online learning updates rolled back by the guard, by model.', labelNames: ['model'], registers });
    const read = () => this.read();
    new Gauge({
      name: 'seqcast_streams',
      help: 'Streams the server holds, by state: open (all), held (a producer connected), parked (idle, out of the kernel), learning.',
      labelNames: ['state'],
      registers,
      collect() {
        const { open, held, parked, learning } = read().streams;
        this.set({ state: 'open' }, open);
        this.set({ state: 'held' }, held);
        this.set({ state: 'parked' }, parked);
        this.set({ state: 'learning' }, learning);
      },
    });
    new Gauge({
      name: 'seqcast_connections',
      help: 'WebSocket connections open (producers and dashboards).',
      registers,
      collect() {
        this.set(read().connections);
      },
    });
  }

  /** Starts the per-model counters at 0, so a scrape shows every model before its first frame. */
  declareModels(models: Iterable<string>): void {
    for (const model of models) {
      if (!this.predicted.has(model)) this.predicted.set(model, { total: 0, reported: 0 });
      this.learningUpdates.inc({ model }, 0);
      this.rollbacks.inc({ model }, 0);
    }
  }

  /** Where the gauges read the stream table and connections at a scrape. */
  readGaugesFrom(read: () => GaugeReadings): void {
    this.read = read;
  }

  /** Frames arrived (a plain addition: the counter takes the sum when scraped). */
  frameReceived(count = 1): void {
    this.received += count;
  }

  /** One stepBatch call of `model`: `micros` µs, `frames` predictions, `latencyMs` from its first frame's arrival to its answers. */
  batchStepped(model: string, micros: number, frames: number, latencyMs: number): void {
    this.stepSeconds.observe(micros / 1e6, model);
    const tally = this.predicted.get(model);
    if (tally) tally.total += frames;
    else this.predicted.set(model, { total: frames, reported: 0 });
    this.latencySeconds.observe(latencyMs / 1000);
  }

  errorSent(code: string): void {
    this.errors.inc({ code });
  }

  learned(model: string, event: LearnEvent): void {
    this.learningSteps.inc({ model, outcome: event });
    if (event === 'trained' || event === 'rolled-back') this.learningUpdates.inc({ model });
    if (event === 'rolled-back') this.rollbacks.inc({ model });
  }

  /** The text exposition (content type `contentType`): this server's metrics, then the process's (memory, CPU, event loop, GC). */
  async render(): Promise<string> {
    return `${await this.registry.metrics()}\n${await processRegistry().metrics()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

let processMetrics: Registry | undefined;

/** prom-client's default metrics of the process, collected once per process (they watch GC and the event loop). */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'seqcast_' });
  }
  return processMetrics;
}
