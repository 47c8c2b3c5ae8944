// What every prediction sink is (sinks.ts opens them) and the counters they report in /metrics.

import { Counter, Gauge, type Registry } from 'prom-client';

/** One sink: it takes lines, makes them durable on `sync`, and finishes on `close`. */
export interface PredictionSink {
  /** How logs and /metrics name it: "file:predictions.jsonl", "webhook:http://host:port" (never a URL's path or query, which may hold a secret). */
  readonly label: string;
  /** Takes one JSON line (without its line break). Never throws and never waits: a sink that cannot keep up drops and counts. */
  publish(line: string): void;
  /** Makes everything taken so far durable (a file: written and fsync'd); a webhook's deliveries are not waited for. */
  sync(): Promise<void>;
  /** Delivers or drops (and counts) what is left, and releases the file or connections. */
  close(): Promise<void>;
}

/** The counters every sink reports, by its label: in the server's Prometheus registry. */
export class SinkCounters {
  readonly delivered: Counter<'sink'>;
  readonly dropped: Counter<'sink' | 'reason'>;
  readonly retries: Counter<'sink'>;
  readonly queued: Gauge<'sink'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.delivered = new Counter({ name: 'seqcast_sink_delivered_total', help: 'Predictions a sink wrote (file) or delivered (webhook, a 2xx answer).', labelNames: ['sink'], registers });
    this.dropped = new Counter({
      name: 'seqcast_sink_dropped_total',
      help: 'Predictions a sink dropped, by reason: queue_full (it could not keep up), retries_exhausted, write_failed, shutdown (left when the server stopped).',
      labelNames: ['sink', 'reason'],
      registers,
    });
    this.retries = new Counter({ name: 'seqcast_sink_retries_total', help: "Webhook requests retried after a failure or a non-2xx answer.", labelNames: ['sink'], registers });
    this.queued = new Gauge({ name: 'seqcast_sink_queued', help: 'Predictions waiting in a sink.', labelNames: ['sink'], registers });
  }

  /** Starts a sink's counters at 0, so a scrape shows it before anything happens. */
  declare(sink: string): void {
    this.delivered.inc({ sink }, 0);
    this.dropped.inc({ sink, reason: 'queue_full' }, 0);
    this.queued.set({ sink }, 0);
  }
}
