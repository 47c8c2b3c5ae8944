// The server's `metrics` message (counts and latency quantiles over the last interval, about a second), and the
// same events fed to its Prometheus metrics (prometheus.ts, GET /metrics).

import type { MetricsMessage, StreamCounts } from '../protocol/messages.js';
import type { LearnEvent } from '../stream/types.js';
import { systemClock, type Clock } from './clock.js';
import { PrometheusMetrics } from './prometheus.js';

/** Latencies kept per interval for the quantiles; beyond it the most recent ones are kept. */
const LATENCY_SAMPLES = 8192;

/** The last memory figures read, for when reading fails. */
let lastMemory = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };

/** process.memoryUsage(), or the last figures read when it fails (it reads a file: at the descriptor limit it throws EMFILE). */
function memoryUsage(): typeof lastMemory {
  try {
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    lastMemory = { rss, heapUsed, external, arrayBuffers };
  } catch {
    // keep the last figures: a metrics message must not fail for them
  }
  return lastMemory;
}

/** Quantiles of a sample, by nearest rank. */
export function quantiles(sample: Float64Array, count: number, qs: number[]): number[] {
  if (count === 0) return qs.map(() => NaN);
  const sorted = sample.slice(0, count).sort();
  return qs.map((q) => sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))]);
}

/** Counts what happens between two snapshots, and since the start for Prometheus. */
export class Metrics {
  /** The same events as counters and histograms since the server started, for GET /metrics. */
  readonly prometheus = new PrometheusMetrics();
  private frames = 0;
  private batches = 0;
  private errors = 0;
  private latencies = new Float64Array(LATENCY_SAMPLES);
  private latencyCount = 0;
  private stepMicros = new Float64Array(LATENCY_SAMPLES);
  private stepCount = 0;
  /** When the current interval began, ms on the clock. */
  private since: number;
  /** Frames stepped since the server started. */
  totalFrames = 0;
  // online learning in this interval: updates applied, refused (spike or non-finite), rollbacks, and the applied windows' losses
  private updates = 0;
  private skipped = 0;
  private rolledBack = 0;
  private lossSum = 0;
  private lossCount = 0;
  /** Online learning since the server started. */
  private totals = { updates: 0, skipped: 0, rolledBack: 0 };

  /** `clock` times the intervals and stamps the messages (a test's clock makes them exact). */
  constructor(private readonly clock: Pick<Clock, 'now'> = systemClock) {
    this.since = clock.now();
  }

  /** Frames arrived from a producer (before any check). */
  framesReceived(count: number): void {
    this.prometheus.frameReceived(count);
  }

  /** A frame of a stream of `model` answered `latencyMs` after its message arrived. */
  frameAnswered(latencyMs: number, model = ''): void {
    this.prometheus.frameAnswered(model, latencyMs);
    this.frames++;
    this.totalFrames++;
    this.latencies[this.latencyCount++ % LATENCY_SAMPLES] = latencyMs;
  }

  /** One stepBatch call of `model`, `micros` µs. */
  batchStepped(micros: number, model = ''): void {
    this.prometheus.batchStepped(model, micros);
    this.batches++;
    this.stepMicros[this.stepCount++ % LATENCY_SAMPLES] = micros;
  }

  /** An error message sent to a client, with its code. */
  errorSent(code = 'unknown'): void {
    this.prometheus.errorSent(code);
    this.errors++;
  }

  /** A learning stream's frame ran a training step: 'trained' or 'rolled-back' applied it (a rollback then restored older weights); the others refused it. */
  learned(event: LearnEvent, loss: number | undefined, model = ''): void {
    this.prometheus.learned(model, event);
    if (event === 'trained' || event === 'rolled-back') {
      this.updates++;
      this.totals.updates++;
      if (loss !== undefined && Number.isFinite(loss)) {
        this.lossSum += loss;
        this.lossCount++;
      }
    } else {
      this.skipped++;
      this.totals.skipped++;
    }
    if (event === 'rolled-back') {
      this.rolledBack++;
      this.totals.rolledBack++;
    }
  }

  /** The `metrics` message for the interval since the last call, which starts a new interval. */
  take(streams: StreamCounts, connections: number, learningStreams = 0): MetricsMessage {
    const now = this.clock.now();
    const seconds = Math.max(1e-3, (now - this.since) / 1000);
    const [p50, p90, p99, max] = quantiles(this.latencies, Math.min(this.latencyCount, LATENCY_SAMPLES), [0.5, 0.9, 0.99, 1]);
    const [s50, s99] = quantiles(this.stepMicros, Math.min(this.stepCount, LATENCY_SAMPLES), [0.5, 0.99]);
    const memory = memoryUsage();
    const round = (v: number, digits = 3) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
    const message: MetricsMessage = {
      type: 'metrics',
      t: Math.round(now),
      interval: round(seconds),
      framesPerSecond: round(this.frames / seconds, 1),
      batchesPerSecond: round(this.batches / seconds, 1),
      errorsPerSecond: round(this.errors / seconds, 1),
      totalFrames: this.totalFrames,
      latencyMs: { p50: round(p50), p90: round(p90), p99: round(p99), max: round(max) },
      stepMicros: { p50: round(s50, 1), p99: round(s99, 1) },
      streams,
      connections,
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external, arrayBuffers: memory.arrayBuffers },
      learning: {
        available: true,
        streams: learningStreams,
        loss: this.lossCount > 0 ? Number((this.lossSum / this.lossCount).toPrecision(6)) : null,
        updates: this.updates,
        skipped: this.skipped,
        rolledBack: this.rolledBack,
        total: { ...this.totals },
      },
    };
    this.frames = this.batches = this.errors = 0;
    this.updates = this.skipped = this.rolledBack = this.lossCount = this.lossSum = 0;
    this.latencyCount = this.stepCount = 0;
    this.since = now;
    return message;
  }
}
