// Prediction sinks: every prediction the server makes, as one JSON line (the protocol's `prediction` message), handed
// to files and webhooks besides the producer and the dashboards. This file parses `--sink` targets, opens the sinks
// and fans predictions out to them; sink-file.ts and sink-webhook.ts do the writing, sink-counters.ts counts.

import type { Registry } from 'prom-client';
import { InputError } from '../errors.js';
import { predictionJson } from '../protocol/json.js';
import type { ScoredFrame } from '../stream/types.js';
import type { Cancel, Clock } from './clock.js';
import { SinkCounters, type PredictionSink } from './sink-counters.js';
import { FileSink, type FileRotation } from './sink-file.js';
import { WebhookSink, type WebhookOptions } from './sink-webhook.js';

/** Where predictions go: a file (appended to, one JSON line each, rotated by size with `rotate`) or a webhook (POSTed in batches of JSON lines). */
export type SinkConfig = { file: string; rotate?: FileRotation } | ({ webhook: string } & WebhookOptions);

/** The prefix that makes a `--sink` target a webhook. */
const WEBHOOK_PREFIX = 'webhook:';

/**
 * Reads a `--sink` target: "webhook:http://host/path" (or https) is a webhook, anything else a file path.
 * Throws InputError for a webhook URL that is not http(s).
 */
export function parseSinkTarget(target: string): SinkConfig {
  if (!target.startsWith(WEBHOOK_PREFIX)) {
    if (target.trim() === '') throw new InputError('--sink needs a file path or webhook:URL');
    return { file: target };
  }
  const url = target.slice(WEBHOOK_PREFIX.length);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`--sink ${JSON.stringify(target)}: ${JSON.stringify(url)} is not a URL; give webhook:http://HOST:PORT/PATH`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InputError(`--sink ${JSON.stringify(target)}: a webhook URL must be http:// or https://, not ${parsed.protocol}`);
  return { webhook: url };
}

/** The server's sinks: each prediction is serialized once and handed to every sink. Synced every `syncIntervalMs` and on checkpoint. */
export class Sinks {
  private readonly stopTimer: Cancel | undefined;

  private constructor(
    private readonly sinks: PredictionSink[],
    clock: Clock,
    syncIntervalMs: number,
    log: (line: string) => void,
  ) {
    this.stopTimer = sinks.length > 0 ? clock.every(syncIntervalMs, () => void this.sync().catch((err) => log(`syncing the sinks failed: ${(err as Error).message}`))) : undefined;
  }

  /** Opens every sink (a file that cannot be opened throws InputError naming it, before the server listens). */
  static async open(configs: readonly SinkConfig[], settings: { registry: Registry; clock: Clock; syncIntervalMs: number; log: (line: string) => void }): Promise<Sinks> {
    if (configs.length === 0) return new Sinks([], settings.clock, settings.syncIntervalMs, settings.log);
    const counters = new SinkCounters(settings.registry);
    const sinks: PredictionSink[] = [];
    try {
      for (const config of configs) {
        if ('file' in config) sinks.push(await FileSink.open(config.file, counters, settings.log, config.rotate));
        else {
          const { webhook, ...options } = config;
          sinks.push(new WebhookSink(webhook, options, counters, settings.log));
        }
      }
    } catch (err) {
      await Promise.all(sinks.map((sink) => sink.close()));
      throw err;
    }
    return new Sinks(sinks, settings.clock, settings.syncIntervalMs, settings.log);
  }

  /** Whether there is any sink (the server skips serializing otherwise). */
  get active(): boolean {
    return this.sinks.length > 0;
  }

  /** Hands one prediction to every sink, as the protocol's `prediction` message. */
  publish(frame: ScoredFrame): void {
    if (this.sinks.length === 0) return;
    const line = predictionJson(frame);
    for (const sink of this.sinks) sink.publish(line);
  }

  /** Makes every file sink durable (written and fsync'd). */
  async sync(): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.sync()));
  }

  /** Stops the sync timer, then delivers, syncs and closes every sink. */
  async close(): Promise<void> {
    this.stopTimer?.();
    await Promise.all(this.sinks.map((sink) => sink.close()));
  }
}
