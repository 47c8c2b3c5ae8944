// The server's counters, histograms and gauges in Prometheus' text format (GET /metrics), kept by prom-client in one
// registry per server (so two servers in one process keep apart).

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StreamCounts } from '../protocol/messages.js';
import type { LearnEvent } from '../stream/types.js';

/** What the gauges read at each scrape. */
export interface GaugeReadings {
  streams: StreamCounts & { learning: number };
  connections: number;
}

/** Kernel step buckets, seconds: 2 µs … 0.5 s (one stepBatch call takes µs for small models, ms for big batches). */
const STEP_BUCKETS = [2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5];
/** Frame latency buckets, seconds: 50 µs … 5 s (from the message's arrival to its answer being queued). */
const LATENCY_BUCKETS = [5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1, 2, 5];

/**
 * The server's Prometheus metrics. Counters are fed as things happen (by Metrics); the stream and connection
 * gauges are read from `read` when scraped. Names follow Prometheus' conventions: seqcast_ prefix, _total for
 * counters, seconds for durations.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly framesReceived: Counter;
  private readonly predictions: Counter<'model'>;
  private readonly errors: Counter<'code'>;
  private readonly stepSeconds: Histogram<'model'>;
  private readonly latencySeconds: Histogram;
  private readonly learningSteps: Counter<'model' | 'outcome'>;
  private readonly learningUpdates: Counter<'model'>;
  private readonly rollbacks: Counter<'model'>;
  private read: () => GaugeReadings = () => ({ streams: { open: 0, held: 0, parked: 0, learning: 0 }, connections: 0 });

  constructor() {
    const registers = [this.registry];
    this.framesReceived = new Counter({ name: 'seqcast_frames_received_total', help: 'Frames received from producers, refused ones included.', registers });
    this.predictions = new Counter({ name: 'seqcast_predictions_total', help: 'Frames stepped and answered with a prediction, by model.', labelNames: ['model'], registers });
    this.errors = new Counter({ name: 'seqcast_errors_total', help: 'Error messages sent to clients, by error code (docs/protocol.md).', labelNames: ['code'], registers });
    this.stepSeconds = new Histogram({ name: 'seqcast_kernel_step_seconds', help: 'Duration of one stepBatch kernel call (one batch of frames of one model), by model.', labelNames: ['model'], buckets: STEP_BUCKETS, registers });
    this.latencySeconds = new Histogram({ name: 'seqcast_frame_latency_seconds', help: "Time from a frame's message arriving to its prediction being queued for sending.", buckets: LATENCY_BUCKETS, registers });
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
      this.predictions.inc({ model }, 0);
      this.learningUpdates.inc({ model }, 0);
      this.rollbacks.inc({ model }, 0);
    }
  }

  /** Where the gauges read the stream table and connections at a scrape. */
  readGaugesFrom(read: () => GaugeReadings): void {
    this.read = read;
  }

  frameReceived(count = 1): void {
    this.framesReceived.inc(count);
  }

  frameAnswered(model: string, latencyMs: number): void {
    this.predictions.inc({ model });
    this.latencySeconds.observe(latencyMs / 1000);
  }

  batchStepped(model: string, micros: number): void {
    this.stepSeconds.observe({ model }, micros / 1e6);
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
