// What the NATS cluster tests share: a real nats-server with JetStream on a free loopback port in a temp dir, cluster
// workers as child processes of the built CLI (so kill -9 is real), and waiting on their log lines, never on sleeps.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';

const BIN = new URL('../../bin/seqcast.js', import.meta.url).pathname;

/** A free loopback port (bound to 0 and released; nats-server 2.9 takes no -p 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A child process whose output lines can be awaited. */
export class Child {
  readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  exited: number | null | undefined;

  constructor(readonly process: ChildProcess, readonly name: string) {
    let pending = '';
    const take = (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    };
    process.stdout?.on('data', take);
    process.stderr?.on('data', take);
    process.on('exit', (code, signal) => {
      this.exited = code ?? (signal ? -1 : null);
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Waits for a line matching `pattern` (seen before or after the call); fails after `ms`, or if the process exits. */
  async line(pattern: RegExp, ms = 20_000, from = 0): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.slice(from).find((l) => pattern.test(l));
      if (found) return found;
      if (this.exited !== undefined) throw new Error(`${this.name} exited (${this.exited}) before printing ${pattern}; its output:\n${this.lines.slice(-30).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: timed out waiting for ${pattern}; its output:\n${this.lines.slice(-30).join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', ms = 20_000): Promise<void> {
    if (this.exited !== undefined) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} did not exit on ${signal} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
  }
}

/** nats-server with JetStream, on a free port, its store in a temp dir; `stop` kills it and removes the dir. */
export async function startNats(): Promise<{ url: string; child: Child; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'seqcast-nats-'));
  const child = new Child(spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] }), 'nats-server');
  const stop = async () => {
    await child.stop('SIGKILL').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await child.line(/Server is ready/, 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `nats://127.0.0.1:${port}`, child, stop };
}

/** `seqcast worker` as a child process (the built CLI), once it has joined. */
export async function startWorker(url: string, model: string, args: string[] = []): Promise<Child & { id: string }> {
  const child = new Child(spawn(process.execPath, [BIN, 'worker', '--nats', url, '--model', model, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), 'worker');
  const joined = await child.line(/^seqcast worker \S+ joined/);
  return Object.assign(child, { id: joined.split(' ')[2] });
}

/** Each partition's last commit in seqcast-state (undefined: none yet), read with a connection of the test's own. */
export async function committedState(url: string, partitions: number): Promise<({ applied: number; generation: number } | undefined)[]> {
  const nc = await connect({ servers: url });
  try {
    const kv = await nc.jetstream().views.kv('seqcast-state');
    const states = [];
    for (let p = 0; p < partitions; p++) {
      const entry = await kv.get(`p${p}`);
      states.push(entry && entry.operation === 'PUT' ? (entry.json() as { applied: number; generation: number }) : undefined);
    }
    return states;
  } finally {
    await nc.close();
  }
}
