// `seqcast serve --config seqcast.json`: every flag settable in the file, paths relative to it, flags on the command
// line winning, and every bad key or value refused before anything starts, naming the file and the key.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel } from '../src/index.js';
import { ROOT, runCli } from './helpers/cli.js';
import { Client } from './server/client.js';

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-config-'));
  const model = await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 4, seed: 5 });
  await model.save(join(dir, 'pump.safetensors'));
  model.close();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function config(settings: unknown, name = 'seqcast.json'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof settings === 'string' ? settings : JSON.stringify(settings));
  return path;
}

describe('seqcast serve --config', () => {
  it('serves what the file says (paths relative to it), with flags on the command line winning', async () => {
    const file = config({ model: ['pump.safetensors'], port: 0, host: '127.0.0.1', sink: 'served.jsonl', maxPayload: 65536, rateLimit: 500, idle: 30, origin: ['https://a.example', 'https://b.example'] });
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', 'serve', '--config', file, '--rate-limit', '1000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await expect.poll(() => /serving on (http:\/\/\S+)/.exec(stdout)?.[1], { timeout: 20_000 }).toBeDefined();
      const url = /serving on (http:\/\/\S+)/.exec(stdout)![1];
      expect(stdout).toContain('model "pump": a 1-layer lstm');
      expect(stdout).toContain(`sink: ${join(dir, 'served.jsonl')}`);
      const client = await Client.connect(url);
      expect(await client.open('p')).toMatchObject({ type: 'opened', model: 'pump' });
      client.send({ type: 'frame', stream: 'p', seq: 0, values: [1] });
      await client.next((m) => m.type === 'prediction', 'a prediction');
      client.ws.close();
      // --rate-limit 1000 won over the file's 500; the file's origins are allowed, others not
      const exposition = await (await fetch(`${url}readyz`)).json();
      expect(exposition).toMatchObject({ ready: true, models: ['pump'] });
      const allowed = await Client.connect(url, { headers: { origin: 'https://b.example' } });
      allowed.ws.close();
      await expect(Client.connect(url, { headers: { origin: 'https://c.example' } })).rejects.toThrow(/HTTP 403/);
      const exited = new Promise((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).not.toMatch(/seqcast: (?!SIGTERM)/);
      expect(readFileSync(join(dir, 'served.jsonl'), 'utf8')).toMatch(/^\{"type":"prediction","stream":"p","seq":0,/);
    } finally {
      clearTimeout(killer);
    }
  });

  it('a flag on the command line wins over the file: the demo rate', async () => {
    const file = config({ demo: true, port: 0, demoRate: 5 }, 'demo.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', 'serve', '--config', file, '--demo-rate', '9'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      await expect.poll(() => stdout.includes('frames/s each'), { timeout: 20_000 }).toBe(true);
      expect(stdout).toMatch(/at 9 frames\/s each/);
      const exited = new Promise((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(killer);
    }
  });

  const refusals: [string, unknown, RegExp][] = [
    ['an unknown key, with the nearest one', { prot: 8080 }, /seqcast\.json: unknown key "prot" \(did you mean "port"\?\); the keys are serve's flags in camelCase: .*maxPayload/],
    ['a port out of range', { port: 70000 }, /seqcast\.json: "port": Expected a port number from 0 to 65535\. \(got 70000\)/],
    ['a count that is not one', { maxPayload: 'big' }, /seqcast\.json: "maxPayload": Expected a positive whole number\. \(got "big"\)/],
    ['a switch that is not true or false', { demo: 'yes' }, /seqcast\.json: "demo" must be true or false, got "yes"/],
    ['a list for a flag that takes one value', { host: ['a', 'b'] }, /seqcast\.json: "host" takes one value, got a list/],
    ['an object where a string belongs', { model: [{ file: 'x' }] }, /seqcast\.json: "model" must be a string, got \{"file":"x"\}/],
    ['a bad sink', { demo: true, sink: 'webhook:ftp://x/y' }, /a webhook URL must be http:\/\/ or https:\/\//],
  ];
  it.each(refusals)('refuses %s, naming the key, and exits 2', async (_name, settings, message) => {
    const run = await runCli(['serve', '--config', config(settings)]);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/\(see 'seqcast serve --help'\)\n$/);
    expect(run.status).toBe(2);
  });

  it('a file that is missing, not JSON, or not an object exits 1 saying so', async () => {
    let run = await runCli(['serve', '--config', join(dir, 'nope.json')]);
    expect(run.stderr).toMatch(/seqcast: cannot read the config file .*nope\.json: no such file or directory \(ENOENT\)/);
    expect(run.status).toBe(1);
    run = await runCli(['serve', '--config', config('{"port": 80,}', 'broken.json')]);
    expect(run.stderr).toMatch(/seqcast: .*broken\.json is not valid JSON: /);
    expect(run.status).toBe(1);
    run = await runCli(['serve', '--config', config('[1, 2]', 'list.json')]);
    expect(run.stderr).toMatch(/list\.json must hold a JSON object of settings/);
    expect(run.status).toBe(1);
    expect(existsSync(join(dir, 'state'))).toBe(false);
  });
});
