// `seqcast serve --demo` (what `npm start` runs): a real process on port 0, watched by a real `ws` dashboard client.
// All three demo streams are predicted, and each one's model learns online as it plays.

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { supportsRelaxedSimd } from '../../src/kernel/kernel.js';
import { ROOT, stopChild } from '../helpers/cli.js';
import { Client } from './client.js';

const STREAMS = ['machine-temperature', 'sensors', 'sensors-attention', 'ball'];
let child: ChildProcess | undefined;

afterAll(() => stopChild(child));

describe('seqcast serve --demo', () => {
  it('prints its URL, predicts all four demo streams and trains their models online', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', 'serve', '--demo', '--port', '0', '--demo-rate', '60'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const match = /dashboard(?: not built)?[^\n]*?(http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child!.once('exit', (code) => reject(new Error(`seqcast serve --demo exited with ${code}: ${stderr}`)));
    });
    expect(stdout).toMatch(/seqcast serving on http:\/\/127\.0\.0\.1:\d+\//);
    expect(stdout).toMatch(/machine-temperature.*sensors.*sensors-attention.*ball/s);
    // it names the kernel build it runs: the plain one here unless this runtime has relaxed SIMD
    expect(stdout).toMatch(supportsRelaxedSimd() ? /kernel: build\/seqcast-relaxed\.wasm/ : /kernel: build\/seqcast\.wasm \(plain SIMD/);
    // the threshold it tells dashboards is the benchmarked one of NAB's standard profile
    expect(stdout).toContain("detections: anomaly score >= 0.4994084244596537 (NAB's standard profile");

    const dashboard = await Client.connect(url);
    dashboard.send({ type: 'subscribe', streams: '*' });
    await dashboard.until(
      () => STREAMS.every((stream) => dashboard.predictions(stream).some((m) => m.learnEvent === 'trained' && typeof m.loss === 'number')),
      'a training step on every demo stream',
      15_000,
    );
    for (const stream of STREAMS) {
      const predictions = dashboard.predictions(stream);
      expect(predictions.every((m) => m.predicted.length === (stream === 'ball' ? 256 : stream.startsWith('sensors') ? 4 : 1))).toBe(true);
      expect(predictions.some((m) => m.forecast?.length > 0 && m.error !== null)).toBe(true);
    }
    // sensors-attention: the same frames as sensors, through a model whose predictions carry its attention weights
    const latest = dashboard.predictions('sensors-attention').filter((m) => Array.isArray(m.attention)).at(-1);
    expect(latest?.attention).toHaveLength(4);
    for (const row of latest!.attention as number[][]) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(dashboard.predictions('sensors').every((m) => m.attention === undefined)).toBe(true);
    const sensorsBySeq = new Map(dashboard.predictions('sensors').map((m) => [m.seq, m.actual]));
    const paired = dashboard.predictions('sensors-attention').filter((m) => sensorsBySeq.has(m.seq));
    expect(paired.length).toBeGreaterThan(5);
    for (const m of paired) expect(m.actual).toEqual(sensorsBySeq.get(m.seq));
    const metrics = await dashboard.next((m) => m.type === 'metrics' && m.learning.total.updates >= 3, 'metrics counting the updates', 5000);
    expect(metrics.learning).toMatchObject({ available: true, streams: 4 });
    dashboard.send({ type: 'list' });
    const list = await dashboard.next((m) => m.type === 'streams');
    const listed = list.streams;
    const models = new Map(list.models.map((m: { name: string }) => [m.name, m]));
    expect(models.get('ball')).toMatchObject({ kind: 'recurrent', cell: 'lstm', shape: [16, 16] });
    expect(models.get('sensors-attention')).toMatchObject({ kind: 'hybrid', cell: 'lstm', attention: { width: 32, heads: 4, blocks: 1, window: 64, sinks: 0, positional: expect.any(String) } });
    expect(listed.map((s: { stream: string }) => s.stream)).toEqual(STREAMS);
    expect(list.detection).toEqual({ profile: 'standard', threshold: 0.4994084244596537 });
    for (const s of listed) expect(s).toMatchObject({ learn: true, held: true, learning: { every: 8, window: 32, target: 'delta', stats: { updates: expect.any(Number) } } });
    expect(listed.every((s: { learning: { stats: { updates: number } } }) => s.learning.stats.updates > 0)).toBe(true);
    await dashboard.close();
  }, 25_000);
});
