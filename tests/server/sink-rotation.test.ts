// A file sink with --sink-rotate-bytes: real files rotated at line boundaries (FILE → FILE.1 → … → FILE.K), each
// under the limit, the oldest dropped, nothing lost or split between the kept files; settable in the config file.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel } from '../../src/index.js';
import { SinkCounters } from '../../src/server/sink-counters.js';
import { FileSink } from '../../src/server/sink-file.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { Client } from './client.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-rotation-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The lines of `path`, or none when it does not exist. */
function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
}

/** A line of about 60 bytes: {"n":I,"pad":"…"}. */
const line = (n: number) => JSON.stringify({ n, pad: 'x'.repeat(40 + (n % 7)) });

describe('file sink rotation', () => {
  it('200 lines through a 1,000-byte limit keeping 2: FILE, FILE.1 and FILE.2 hold the newest lines whole, in order, each file under the limit', async () => {
    const path = join(dir, 'p.jsonl');
    const sink = await FileSink.open(path, new SinkCounters(new Registry()), () => undefined, { bytes: 1000, keep: 2 });
    for (let n = 0; n < 200; n++) {
      sink.publish(line(n));
      // a sync now and then, so rotation meets writes of many sizes
      if (n % 37 === 0) await sink.sync();
    }
    await sink.close();
    expect(readdirSync(dir).filter((f) => f.startsWith('p.jsonl')).sort()).toEqual(['p.jsonl', 'p.jsonl.1', 'p.jsonl.2']);
    for (const file of ['p.jsonl', 'p.jsonl.1', 'p.jsonl.2']) expect(statSync(join(dir, file)).size).toBeLessThanOrEqual(1000);
    const kept = [...lines(`${path}.2`), ...lines(`${path}.1`), ...lines(path)].map((text) => JSON.parse(text) as { n: number });
    const first = kept[0].n;
    expect(kept.map((row) => row.n)).toEqual(Array.from({ length: 200 - first }, (_, i) => first + i));
    // the two rotated files are full: each holds as many lines as fit under the limit
    expect(statSync(`${path}.1`).size).toBeGreaterThan(1000 - 70);
  });

  it('a restart appends to the file it finds, and rotates it once it passes the limit', async () => {
    const path = join(dir, 'restart.jsonl');
    writeFileSync(path, `${line(0)}\n`.repeat(15));
    const sink = await FileSink.open(path, new SinkCounters(new Registry()), () => undefined, { bytes: 1000, keep: 3 });
    for (let n = 1; n <= 5; n++) sink.publish(line(n));
    await sink.close();
    expect(statSync(`${path}.1`).size).toBeLessThanOrEqual(1000);
    expect(lines(path).length).toBeGreaterThan(0);
    expect([...lines(`${path}.1`), ...lines(path)].map((text) => (JSON.parse(text) as { n: number }).n)).toEqual([...new Array<number>(15).fill(0), 1, 2, 3, 4, 5]);
  });

  it('a line longer than the limit is written whole, alone in its file', async () => {
    const path = join(dir, 'long.jsonl');
    const sink = await FileSink.open(path, new SinkCounters(new Registry()), () => undefined, { bytes: 100, keep: 5 });
    sink.publish(line(1));
    sink.publish(JSON.stringify({ n: 2, pad: 'y'.repeat(500) }));
    sink.publish(line(3));
    await sink.close();
    expect(lines(`${path}.2`).map((t) => JSON.parse(t).n)).toEqual([1]);
    expect(lines(`${path}.1`).map((t) => JSON.parse(t).n)).toEqual([2]);
    expect(lines(path).map((t) => JSON.parse(t).n)).toEqual([3]);
  });

  it('seqcast serve --config with sinkRotateBytes and sinkKeep rotates the predictions file', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 4, seed: 3 });
    await model.save(join(dir, 'm.safetensors'));
    model.close();
    const file = join(dir, 'rotating.json');
    writeFileSync(file, JSON.stringify({ model: ['m.safetensors'], port: 0, sink: ['served.jsonl'], sinkRotateBytes: 2000, sinkKeep: 2 }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', 'serve', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      await expect.poll(() => /serving on (http:\/\/\S+)/.exec(stdout)?.[1], { timeout: 20_000 }).toBeDefined();
      const client = await Client.connect(/serving on (http:\/\/\S+)/.exec(stdout)![1]);
      expect(await client.open('r')).toMatchObject({ type: 'opened' });
      client.send(Array.from({ length: 80 }, (_, seq) => ({ type: 'frame', stream: 'r', seq, values: [seq] })));
      await client.until(() => client.predictions('r').length === 80, '80 predictions');
      client.ws.close();
      const exited = new Promise((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(killer);
    }
    const served = join(dir, 'served.jsonl');
    expect(existsSync(`${served}.1`) && existsSync(`${served}.2`)).toBe(true);
    expect(existsSync(`${served}.3`)).toBe(false);
    for (const f of [served, `${served}.1`, `${served}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(2000);
    const seqs = [...lines(`${served}.2`), ...lines(`${served}.1`), ...lines(served)].map((t) => JSON.parse(t).seq as number);
    expect(seqs.at(-1)).toBe(79);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 80 - seqs.length + i));
  }, 40_000);

  it('a bad sinkRotateBytes in the config, or --sink-rotate-bytes without a file sink, is refused before anything starts', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ demo: true, port: 0, sink: ['x.jsonl'], sinkRotateBytes: 0 }));
    let run = await runCli(['serve', '--config', file]);
    expect(run.stderr).toMatch(/bad\.json: "sinkRotateBytes": /);
    expect(run.status).toBe(2);
    run = await runCli(['serve', '--demo', '--port', '0', '--sink-rotate-bytes', '1000']);
    expect(run.stderr).toMatch(/--sink-rotate-bytes rotates file sinks: give --sink FILE\.jsonl too/);
    expect(run.status).toBe(2);
    expect(existsSync(join(dir, 'x.jsonl'))).toBe(false);
  });
});
