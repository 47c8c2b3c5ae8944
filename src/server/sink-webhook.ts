// A prediction sink that POSTs batches of JSON lines to a webhook: a bounded queue (the oldest dropped when full),
// one request in flight, retries with exponential backoff, and every drop counted.

import type { PredictionSink, SinkCounters } from './sink-counters.js';

/** How a webhook sink queues, batches and retries; every field has a default. */
export interface WebhookOptions {
  /** Predictions waiting at most; when full the oldest is dropped (reason queue_full). Default 10,000. */
  maxQueue?: number;
  /** Predictions per request at most. Default 500. */
  maxBatch?: number;
  /** Retries of a failed request before its batch is dropped (reason retries_exhausted). Default 5. */
  retries?: number;
  /** The first retry's delay, ms; each next one doubles, up to maxBackoffMs. Default 250. */
  backoffMs?: number;
  /** The longest delay between retries, ms. Default 10,000. */
  maxBackoffMs?: number;
  /** ms one request may take. Default 10,000. */
  timeoutMs?: number;
  /** ms close waits for the queue to drain before dropping the rest (reason shutdown). Default 5,000. */
  closeTimeoutMs?: number;
}

const DEFAULTS: Required<WebhookOptions> = { maxQueue: 10_000, maxBatch: 500, retries: 5, backoffMs: 250, maxBackoffMs: 10_000, timeoutMs: 10_000, closeTimeoutMs: 5000 };

/**
 * POSTs predictions to `url` as `application/x-ndjson` (one prediction message per line). A 2xx answer delivers a
 * batch; a network error, a timeout or any other status is retried after backoffMs, 2·backoffMs, … (at most
 * maxBackoffMs), `retries` times, then the batch is dropped. Nothing here ever throws into the server.
 */
export class WebhookSink implements PredictionSink {
  readonly label: string;
  private readonly options: Required<WebhookOptions>;
  /** (queued) JSON lines, oldest first, from `head` on. */
  private queue: string[] = [];
  private head = 0;
  private running: Promise<void> | undefined;
  private closing = false;
  /** Cuts a backoff wait or a request short when closing gives up. */
  private readonly abort = new AbortController();

  constructor(
    private readonly url: string,
    options: WebhookOptions,
    private readonly counters: SinkCounters,
    private readonly log: (line: string) => void,
  ) {
    this.options = { ...DEFAULTS, ...definedOnly(options) };
    this.label = `webhook:${new URL(url).origin}`;
    counters.declare(this.label);
  }

  private get size(): number {
    return this.queue.length - this.head;
  }

  publish(line: string): void {
    if (this.closing) {
      this.counters.dropped.inc({ sink: this.label, reason: 'shutdown' });
      return;
    }
    if (this.size >= this.options.maxQueue) {
      this.head++;
      this.counters.dropped.inc({ sink: this.label, reason: 'queue_full' });
    }
    this.queue.push(line);
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.counters.queued.set({ sink: this.label }, this.size);
    this.running ??= this.run();
  }

  /** Deliveries are not waited for here: a webhook is not a file to fsync. */
  async sync(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeTimeoutMs);
    });
    await Promise.race([this.running, gaveUp]);
    clearTimeout(timer);
    this.abort.abort();
    await this.running;
    const left = this.size;
    if (left > 0) this.counters.dropped.inc({ sink: this.label, reason: 'shutdown' }, left);
    this.queue = [];
    this.head = 0;
    this.counters.queued.set({ sink: this.label }, 0);
  }

  /** Sends batches while any are queued; one request at a time. */
  private async run(): Promise<void> {
    while (this.size > 0 && !this.abort.signal.aborted) {
      const batch = this.queue.slice(this.head, this.head + this.options.maxBatch);
      this.head += batch.length;
      this.counters.queued.set({ sink: this.label }, this.size);
      await this.deliver(batch);
    }
    this.running = undefined;
  }

  /** POSTs one batch, retrying with backoff; counts it delivered or dropped. */
  private async deliver(batch: string[]): Promise<void> {
    const body = `${batch.join('\n')}\n`;
    for (let attempt = 0; ; attempt++) {
      const failure = await this.post(body);
      if (failure === undefined) {
        this.counters.delivered.inc({ sink: this.label }, batch.length);
        return;
      }
      if (attempt >= this.options.retries || this.abort.signal.aborted) {
        const reason = this.abort.signal.aborted ? 'shutdown' : 'retries_exhausted';
        this.counters.dropped.inc({ sink: this.label, reason }, batch.length);
        this.log(`${this.label}: dropped ${batch.length} predictions (${reason}): ${failure}`);
        return;
      }
      this.counters.retries.inc({ sink: this.label });
      await this.wait(Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** attempt));
    }
  }

  /** One request; undefined when it was answered 2xx, else what went wrong. */
  private async post(body: string): Promise<string | undefined> {
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.timeoutMs)]);
      const response = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body, signal });
      await response.arrayBuffer(); // read to the end, so the connection can be reused
      return response.ok ? undefined : `HTTP ${response.status} ${response.statusText}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return `${(err as Error).message}${cause ? ` (${cause})` : ''}`;
    }
  }

  /** Waits `ms`, or less if closing gives up meanwhile. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}

/** The fields of `options` that are set (an explicit undefined does not override a default). */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
