// GET /metrics (Prometheus text), /healthz and /readyz, scraped from a live server on a loopback port while real
// clients stream frames, learn online and send bad frames.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';

let pump: Model;
let tiny: Model;
let server: SeqcastServer;

beforeAll(async () => {
  pump = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 6, seed: 1 });
  tiny = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 3, seed: 2 });
  server = await SeqcastServer.start({ models: [{ name: 'pump', model: pump }, { name: 'tiny', model: tiny }], port: 0, webRoot: null, learning: { every: 4, window: 8 } });
});

afterAll(async () => {
  await server?.close();
  pump?.close();
  tiny?.close();
});

/** One sample of a scrape: the metric's name, its labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition (format 0.0.4): comment lines, then `name{a="b",…} value` lines. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(base = server.url): Promise<{ samples: Sample[]; text: string; contentType: string | null }> {
  const response = await fetch(`${base}metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { samples: parseExposition(text), text, contentType: response.headers.get('content-type') };
}

/** The value of the sample named `name` whose labels include `labels`; undefined if none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('GET /metrics', () => {
  it('counts frames, predictions per model, errors by code, learning updates, streams by state and kernel step latency', async () => {
    const before = (await scrape()).samples;
    expect(value(before, 'seqcast_predictions_total', { model: 'pump' })).toBe(0);
    expect(value(before, 'seqcast_predictions_total', { model: 'tiny' })).toBe(0);

    const producer = await Client.connect(server.url);
    expect(await producer.open('p1', { model: 'pump', learn: true })).toMatchObject({ type: 'opened' });
    expect(await producer.open('t1', { model: 'tiny' })).toMatchObject({ type: 'opened' });
    for (let seq = 0; seq < 40; seq++) producer.send({ type: 'frame', stream: 'p1', seq, values: [Math.sin(seq / 3), Math.cos(seq / 5)] });
    for (let seq = 0; seq < 5; seq++) producer.send({ type: 'frame', stream: 't1', seq, values: [seq] });
    producer.send({ type: 'frame', stream: 't1', seq: 5, values: [1, 2] }); // the wrong width
    producer.send({ type: 'frame', stream: 'nope', seq: 0, values: [1] }); // no such stream
    await producer.until(() => producer.messages.filter((m) => m.type === 'prediction').length === 45 && producer.messages.filter((m) => m.type === 'error').length === 2, '45 predictions and 2 errors');
    const errorCodes = producer.messages.filter((m) => m.type === 'error').map((m) => m.code as string);

    const { samples, contentType } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(value(samples, 'seqcast_frames_received_total')! - value(before, 'seqcast_frames_received_total')!).toBe(47);
    expect(value(samples, 'seqcast_predictions_total', { model: 'pump' })).toBe(40);
    expect(value(samples, 'seqcast_predictions_total', { model: 'tiny' })).toBe(5);
    for (const code of new Set(errorCodes)) expect(value(samples, 'seqcast_errors_total', { code })).toBe(errorCodes.filter((c) => c === code).length);
    // every 4 frames once 8 are in: frames 8, 12, …, 40 → 9 training steps at most, each counted by outcome
    const steps = samples.filter((s) => s.name === 'seqcast_learning_steps_total' && s.labels.model === 'pump').reduce((sum, s) => sum + s.value, 0);
    expect(steps).toBeGreaterThanOrEqual(8);
    const updates = value(samples, 'seqcast_learning_updates_total', { model: 'pump' })!;
    expect(updates).toBe((value(samples, 'seqcast_learning_steps_total', { model: 'pump', outcome: 'trained' }) ?? 0) + (value(samples, 'seqcast_learning_steps_total', { model: 'pump', outcome: 'rolled-back' }) ?? 0));
    expect(updates).toBeGreaterThan(0);
    expect(value(samples, 'seqcast_learning_rollbacks_total', { model: 'pump' })).toBe(value(samples, 'seqcast_learning_steps_total', { model: 'pump', outcome: 'rolled-back' }) ?? 0);
    expect(value(samples, 'seqcast_streams', { state: 'open' })).toBe(2);
    expect(value(samples, 'seqcast_streams', { state: 'held' })).toBe(2);
    expect(value(samples, 'seqcast_streams', { state: 'parked' })).toBe(0);
    expect(value(samples, 'seqcast_streams', { state: 'learning' })).toBe(1);
    expect(value(samples, 'seqcast_connections')).toBe(1);
    // the kernel step histogram: cumulative buckets ending at +Inf = count, one observation per stepBatch call
    const count = value(samples, 'seqcast_kernel_step_seconds_count', { model: 'pump' })!;
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(40);
    expect(value(samples, 'seqcast_kernel_step_seconds_bucket', { model: 'pump', le: '+Inf' })).toBe(count);
    expect(value(samples, 'seqcast_kernel_step_seconds_sum', { model: 'pump' })).toBeGreaterThan(0);
    expect(value(samples, 'seqcast_frame_latency_seconds_count')).toBe(45);
    // the process's own metrics too
    expect(value(samples, 'seqcast_process_resident_memory_bytes')).toBeGreaterThan(0);

    producer.ws.close();
    await producer.until(() => producer.closeCode !== undefined, 'the close');
    await expect.poll(async () => value((await scrape()).samples, 'seqcast_streams', { state: 'held' })).toBe(0);
    expect(value((await scrape()).samples, 'seqcast_streams', { state: 'open' })).toBe(2); // orphaned, kept for the TTL
  });

  it('keeps the JSON metrics message working beside it', async () => {
    const viewer = await Client.connect(server.url);
    viewer.send({ type: 'subscribe', streams: [], metrics: true });
    const metrics = await viewer.next((m) => m.type === 'metrics', 'a metrics message', 5000);
    expect(metrics.totalFrames).toBeGreaterThanOrEqual(45);
    expect(metrics.learning.total.updates).toBeGreaterThan(0);
    viewer.ws.close();
  });

  it('answers only GET and HEAD', async () => {
    const response = await fetch(`${server.url}metrics`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('GET /healthz and /readyz', () => {
  it('/healthz answers 200 while the server runs', async () => {
    const response = await fetch(`${server.url}healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ live: true });
  });

  it('/readyz answers 200 with the models, once they are loaded and the state is restored', async () => {
    const response = await fetch(`${server.url}readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ready: true, models: ['pump', 'tiny'], state: 'none' });
  });

  it('/readyz reports what a state directory restored, and is not ready once the server is closing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqcast-ready-'));
    try {
      const first = await SeqcastServer.start({ models: [{ name: 'tiny', model: tiny }], port: 0, webRoot: null, stateDir: dir });
      expect(await (await fetch(`${first.url}readyz`)).json()).toMatchObject({ ready: true, state: 'empty' });
      const producer = await Client.connect(first.url);
      await producer.open('kept');
      producer.send({ type: 'frame', stream: 'kept', seq: 0, values: [1] });
      await producer.next((m) => m.type === 'prediction', 'a prediction');
      const closing = first.close();
      expect(first.readiness().ready).toBe(false);
      await closing;

      const second = await SeqcastServer.start({ models: [{ name: 'tiny', model: tiny }], port: 0, webRoot: null, stateDir: dir });
      try {
        const readiness = await (await fetch(`${second.url}readyz`)).json();
        expect(readiness).toMatchObject({ ready: true, models: ['tiny'], state: { streams: 1 }, streams: 1 });
        expect(readiness.state.generation).toBeGreaterThan(0);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a request naming another host is refused as for any file (403)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request(`${server.url}metrics`, { headers: { host: 'evil.example' } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(403);
  });
});
