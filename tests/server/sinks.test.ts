// Prediction sinks: a real file (appended to, complete after a checkpoint, kept across restarts) and a real local
// HTTP receiver (batches of JSON lines, retries with backoff, a bounded queue whose drops /metrics counts).

import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, InputError, type Model } from '../../src/index.js';
import { SeqcastServer, type ServerOptions } from '../../src/server/server.js';
import { parseSinkTarget } from '../../src/server/sinks.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { Client, type Message } from './client.js';

let model: Model;
let dir: string;

beforeAll(async () => {
  model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, seed: 7 });
  dir = mkdtempSync(join(tmpdir(), 'seqcast-sinks-'));
});

afterAll(() => {
  model?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Partial<ServerOptions>): Promise<SeqcastServer> {
  return SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, ...options });
}

/** Opens `stream` and sends `count` frames from seq `from`, waiting for every prediction; returns them. */
async function stream(server: SeqcastServer, name: string, count: number, from = 0): Promise<Message[]> {
  const client = await Client.connect(server.url);
  expect(await client.open(name)).toMatchObject({ type: 'opened' });
  for (let i = 0; i < count; i++) client.send({ type: 'frame', stream: name, seq: from + i, t: 1000 + from + i, values: [i / 10, -i / 7] });
  await client.until(() => client.messages.filter((m) => m.type === 'prediction').length === count, `${count} predictions`);
  const predictions = client.messages.filter((m) => m.type === 'prediction');
  client.ws.close();
  return predictions;
}

/** A sink counter from the server's /metrics, summed over the samples matching `labels`. */
async function counter(server: SeqcastServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${server.url}metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => match[2].includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

function jsonLines(path: string): Message[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Message);
}

describe('--sink FILE.jsonl', () => {
  it('appends every prediction as the protocol message, complete after a checkpoint, and adds to the file across restarts', async () => {
    const file = join(dir, 'predictions.jsonl');
    const stateDir = join(dir, 'state');
    const first = await start({ sinks: [{ file }], stateDir });
    const predictions = await stream(first, 'pump', 25);
    await first.checkpoint();
    expect(jsonLines(file)).toEqual(predictions);
    expect(await counter(first, 'seqcast_sink_delivered_total', { sink: `file:${file}` })).toBe(25);
    await first.close();

    const second = await start({ sinks: [{ file }], stateDir });
    const more = await stream(second, 'pump', 5, 25); // the stream continues from its checkpoint
    await second.close(); // close syncs too
    expect(jsonLines(file)).toEqual([...predictions, ...more]);
    expect(more[0].seq).toBe(25);
  });

  it('a file that cannot be opened stops the start, naming it', async () => {
    const missing = join(dir, 'no-such-dir', 'p.jsonl');
    await expect(start({ sinks: [{ file: missing }] })).rejects.toThrow(InputError);
    await expect(start({ sinks: [{ file: missing }] })).rejects.toThrow(/cannot open the sink file .*no-such-dir\/p\.jsonl: no such file or directory \(ENOENT\)/);
  });
});

/** A local HTTP receiver: answers each POST with `status(n)` (n counts requests from 0) and keeps the lines of the 2xx ones. */
async function receiver(status: (n: number) => number): Promise<{ url: string; lines: Message[]; requests: number; server: Server; contentTypes: string[] }> {
  const state = { url: '', lines: [] as Message[], requests: 0, server: undefined as unknown as Server, contentTypes: [] as string[] };
  state.server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const code = status(state.requests++);
      state.contentTypes.push(String(request.headers['content-type']));
      if (code >= 200 && code < 300) state.lines.push(...body.trim().split('\n').map((line) => JSON.parse(line) as Message));
      response.writeHead(code).end();
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/hook?key=secret`;
  return state;
}

describe('--sink webhook:URL', () => {
  it('POSTs every prediction as JSON lines, retrying failed requests with backoff; /metrics counts deliveries and retries', async () => {
    const hook = await receiver((n) => (n < 2 ? 503 : 200)); // the first two requests fail
    const server = await start({ sinks: [{ webhook: hook.url, backoffMs: 5, maxBatch: 8 }] });
    try {
      const predictions = await stream(server, 'hooked', 30);
      await expect.poll(() => hook.lines.length, { timeout: 5000 }).toBe(30);
      expect(hook.lines).toEqual(predictions);
      expect(hook.contentTypes.every((type) => type === 'application/x-ndjson')).toBe(true);
      const sink = `webhook:${new URL(hook.url).origin}`;
      expect(await counter(server, 'seqcast_sink_delivered_total', { sink })).toBe(30);
      expect(await counter(server, 'seqcast_sink_retries_total', { sink })).toBe(2);
      expect(await counter(server, 'seqcast_sink_dropped_total', { sink })).toBe(0);
      // the URL's path and query (which may hold a secret) never appear in /metrics
      expect(await (await fetch(`${server.url}metrics`)).text()).not.toMatch(/secret|\/hook/);
    } finally {
      await server.close();
      hook.server.close();
    }
  });

  it('a receiver that keeps failing: the queue stays bounded, drops are counted by reason, and every prediction is accounted for', async () => {
    const hook = await receiver(() => 500);
    const server = await start({ sinks: [{ webhook: hook.url, backoffMs: 20, maxBackoffMs: 20, retries: 1, maxQueue: 10, maxBatch: 5, closeTimeoutMs: 200 }] });
    const sink = `webhook:${new URL(hook.url).origin}`;
    try {
      await stream(server, 'lost', 60);
      expect(await counter(server, 'seqcast_sink_dropped_total', { sink, reason: 'queue_full' })).toBeGreaterThan(0);
      expect(await counter(server, 'seqcast_sink_queued', { sink })).toBeLessThanOrEqual(10);
      await expect.poll(() => counter(server, 'seqcast_sink_dropped_total', { sink, reason: 'retries_exhausted' }), { timeout: 5000 }).toBeGreaterThan(0);
    } finally {
      const registry = (server as unknown as { metrics: { prometheus: { render(): Promise<string> } } }).metrics.prometheus;
      await server.close();
      const text = await registry.render();
      const dropped = [...text.matchAll(/^seqcast_sink_dropped_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      const delivered = Number(/^seqcast_sink_delivered_total\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
      expect(delivered).toBe(0);
      expect(dropped).toBe(60);
      hook.server.close();
    }
  });

  it('a receiver that is not there: the server goes on answering its producers', async () => {
    const hook = await receiver(() => 200);
    const url = hook.url;
    await new Promise((resolve) => hook.server.close(resolve));
    const server = await start({ sinks: [{ webhook: url, backoffMs: 5, retries: 0, closeTimeoutMs: 100 }] });
    try {
      expect(await stream(server, 'nobody', 10)).toHaveLength(10);
      await expect.poll(() => counter(server, 'seqcast_sink_dropped_total', { reason: 'retries_exhausted' }), { timeout: 5000 }).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe('sink targets', () => {
  it('webhook:URL is a webhook, anything else a file; a webhook must be http(s)', () => {
    expect(parseSinkTarget('out/predictions.jsonl')).toEqual({ file: 'out/predictions.jsonl' });
    expect(parseSinkTarget('webhook:https://example.com/in')).toEqual({ webhook: 'https://example.com/in' });
    expect(() => parseSinkTarget('webhook:ftp://example.com/in')).toThrow(/a webhook URL must be http:\/\/ or https:\/\/, not ftp:/);
    expect(() => parseSinkTarget('webhook:not a url')).toThrow(/"not a url" is not a URL; give webhook:http:\/\/HOST:PORT\/PATH/);
  });

  it('seqcast serve --sink: the command writes the file, complete once SIGTERM has stopped it', async () => {
    const file = join(dir, 'served.jsonl');
    const modelFile = join(dir, 'm.safetensors');
    await model.save(modelFile);
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', 'serve', '--model', modelFile, '--port', '0', '--sink', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      await expect.poll(() => /serving on (http:\/\/\S+)/.exec(stdout)?.[1], { timeout: 20_000 }).toBeDefined();
      expect(stdout).toContain(`sink: ${file}`);
      const url = /serving on (http:\/\/\S+)/.exec(stdout)![1];
      const predictions = await stream({ url } as SeqcastServer, 'cli', 12);
      const exited = new Promise((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(jsonLines(file)).toEqual(predictions);
    } finally {
      clearTimeout(killer);
    }
  });

  it('seqcast serve refuses a bad --sink as a usage error', async () => {
    const run = await runCli(['serve', '--demo', '--sink', 'webhook:ftp://x/y']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/a webhook URL must be http:\/\/ or https:\/\/.*\(see 'seqcast serve --help'\)/);
  });
});
