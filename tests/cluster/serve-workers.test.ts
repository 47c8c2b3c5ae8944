// `seqcast serve --workers 2` as a real process: it serves from two worker threads, checkpoints each worker's streams
// into STATE_DIR/worker-k on SIGTERM and restores them on the next start; `--demo` runs on the workers too, and a
// --workers 1 server takes over what they checkpointed.
// The workers run the built dist/cluster/worker.js (`npm test` builds first).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel } from '../../src/index.js';
import { Client } from '../server/client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEMO = ['machine-temperature', 'sensors', 'sensors-attention', 'ball'];
let dir: string;
let modelPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-serve-workers-'));
  modelPath = join(dir, 'pump.safetensors');
  const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 8, seed: 4 });
  await model.save(modelPath);
  model.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `seqcast serve ARGS` from the sources; its URL once ready, or its stderr if it exits first. */
function serve(args: string[]): Promise<{ child: ChildProcess; url: string } | { exitCode: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', 'serve', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout)?.[0];
      if (url) resolve({ child, url });
    });
    child.on('exit', (exitCode) => resolve({ exitCode, stderr }));
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', resolve));

describe('seqcast serve --workers 2', () => {
  it('serves from two worker threads, and its streams survive SIGTERM and a restart in STATE_DIR/worker-k', async () => {
    const stateDir = join(dir, 'state');
    const first = await serve(['--model', modelPath, '--workers', '2', '--state-dir', stateDir]);
    if (!('url' in first)) throw new Error(`seqcast serve failed: ${first.stderr}`);
    const client = await Client.connect(first.url);
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const name of names) expect(await client.open(name)).toMatchObject({ type: 'opened' });
    client.send(names.flatMap((stream) => [0, 1, 2].map((seq) => ({ type: 'frame', stream, seq, values: [seq, -seq] }))));
    await client.until(() => names.every((n) => client.predictions(n).length === 3), 'three predictions of every stream');
    await client.close();
    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    expect(readdirSync(stateDir).sort()).toEqual(['worker-0', 'worker-1']);

    const second = await serve(['--model', modelPath, '--workers', '2', '--state-dir', stateDir]);
    if (!('url' in second)) throw new Error(`seqcast serve failed: ${second.stderr}`);
    const back = await Client.connect(second.url);
    for (const name of names) expect(await back.open(name)).toMatchObject({ type: 'opened', resumed: true, lastSeq: 2 });
    await back.close();
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
  });

  it('serves --demo through the workers, and its learned streams go on with --workers 1 from the same state dir', async () => {
    const stateDir = join(dir, 'demo-state');
    const first = await serve(['--demo', '--demo-rate', '60', '--workers', '2', '--state-dir', stateDir]);
    if (!('url' in first)) throw new Error(`seqcast serve --demo --workers 2 failed: ${first.stderr}`);
    const dashboard = await Client.connect(first.url);
    dashboard.send({ type: 'subscribe', streams: '*' });
    await dashboard.until(() => DEMO.every((s) => dashboard.predictions(s).some((m) => m.learnEvent === 'trained')), 'a training step on every demo stream', 20_000);
    expect(dashboard.errors()).toEqual([]);
    await dashboard.close();
    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    expect(readdirSync(stateDir).sort()).toEqual(['worker-0', 'worker-1']);

    // one thread takes the workers' checkpoint over: the demo's streams go on from their seqs, not from 0
    const second = await serve(['--demo', '--demo-rate', '60', '--workers', '1', '--state-dir', stateDir]);
    if (!('url' in second)) throw new Error(`seqcast serve --demo --workers 1 failed: ${second.stderr}`);
    expect(readdirSync(stateDir)).toContain('streams.json');
    const again = await Client.connect(second.url);
    again.send({ type: 'subscribe', streams: '*' });
    await again.until(() => DEMO.every((s) => again.predictions(s).length > 0), 'a prediction of every demo stream', 20_000);
    for (const stream of DEMO) expect(again.predictions(stream)[0].seq).toBeGreaterThan(10);
    await again.close();
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
  }, 60_000);
});
