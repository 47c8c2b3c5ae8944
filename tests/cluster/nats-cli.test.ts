// `seqcast worker` and `seqcast serve --nats` refuse what they cannot run, saying what and where: no NATS URL, a
// server without JetStream reachable, a partition count other than the cluster's.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinCluster } from '../../src/cluster/nats/connect.js';
import { createModel } from '../../src/index.js';
import { freePort, startNats } from './nats-helpers.js';

const BIN = new URL('../../bin/seqcast.js', import.meta.url).pathname;
let dir: string;
let modelPath: string;
let nats: Awaited<ReturnType<typeof startNats>> | undefined;

beforeAll(async () => {
  const model = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 4, seed: 1 });
  dir = mkdtempSync(join(tmpdir(), 'seqcast-nats-cli-'));
  modelPath = join(dir, 'm.safetensors');
  writeFileSync(modelPath, model.toSafetensors());
  model.close();
  nats = await startNats();
});

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const seqcast = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('seqcast worker', () => {
  it('needs a NATS server: without --nats it is a usage error naming the flag', () => {
    const run = seqcast('worker', '--model', modelPath);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--nats nats:\/\/HOST:PORT/);
  });

  it('says which server it could not reach', async () => {
    const port = await freePort();
    const run = seqcast('worker', '--nats', `nats://127.0.0.1:${port}`, '--model', modelPath);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`cannot reach NATS at nats://127.0.0.1:${port}`);
  });

  it('refuses a partition count other than the cluster’s, naming both', async () => {
    const first = await joinCluster(nats!.url, 4, 'test');
    await first.nc.close();
    const run = seqcast('worker', '--nats', nats!.url, '--model', modelPath, '--partitions', '6');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`--partitions 6, but the cluster at ${nats!.url} has 4 partitions`);
  });
});

describe('seqcast serve --nats', () => {
  it('refuses --state-dir beside it: the workers keep the state', () => {
    const run = seqcast('serve', '--nats', nats!.url, '--model', modelPath, '--state-dir', dir, '--port', '0');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/--nats serves the streams on cluster workers.*--state-dir/);
  });
});
