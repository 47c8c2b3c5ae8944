// Three valid frames must not make the state directory unusable: a learning stream on a model without its own
// normalizer, fed −3.4e38, 3.4e38, −3.4e38 (all in float32 range), keeps finite predictions and statistics, its
// checkpoint holds no non-finite value, and a restart brings every stream back. A checkpoint that does hold a
// non-finite learner (as versions before this fix wrote) restarts too: that one stream is left out and named.
// Real servers on loopback ports, real state directories.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/index.js';
import { useStateDirServers } from './state-dir-servers.js';

const SPEC = { cell: 'lstm' as const, inputSize: 1, hiddenSize: 8, seed: 1 };
const HOSTILE = [-3.4e38, 3.4e38, -3.4e38, 3.4e38, -3.4e38, 3.4e38, -3.4e38, 3.4e38];

const h = useStateDirServers(SPEC, 'nonfinite');
const { start, connect, stop } = h;


/** Every number in a JSON value, with its path; JSON writes Infinity and NaN as null, so a null where a number belongs is one too. */
function numbersIn(value: unknown, path = ''): { path: string; value: unknown }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => numbersIn(v, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => numbersIn(v, `${path}.${k}`));
  return typeof value === 'number' || value === null ? [{ path, value }] : [];
}

/** The f64 at `offset` of a stream's base64 learner state in streams.json set to `value`. */
function poisonLearner(file: { streams: { name: string; learner?: string }[] }, name: string, offset: number, value: number): void {
  const record = file.streams.find((s) => s.name === name)!;
  const bytes = Buffer.from(record.learner!, 'base64');
  bytes.writeDoubleLE(value, offset);
  record.learner = bytes.toString('base64');
}

describe('non-finite learner statistics', () => {
  it('are never produced: a learning stream fed ±3.4e38 predicts finite values, is checkpointed finite, and restarts with the others', async () => {
    await start();
    const client = await connect();
    expect(await client.open('hostile', { learn: true, learning: { every: 2, window: 2 } })).toMatchObject({ type: 'opened', learn: true });
    expect(await client.open('calm', { learn: true })).toMatchObject({ type: 'opened' });
    HOSTILE.forEach((v, seq) => client.send([{ type: 'frame', stream: 'hostile', seq, values: [v] }, { type: 'frame', stream: 'calm', seq, values: [Math.sin(seq)] }]));
    await client.until(() => client.predictions('hostile').length === HOSTILE.length && client.predictions('calm').length === HOSTILE.length, 'every prediction');
    expect(client.errors()).toEqual([]);
    for (const prediction of client.predictions('hostile')) {
      // JSON carries a non-finite prediction as null
      expect(prediction.predicted.every((v: unknown) => typeof v === 'number' && Number.isFinite(v)), JSON.stringify(prediction)).toBe(true);
      if (prediction.seq > 0) expect(Number.isFinite(prediction.error)).toBe(true);
    }
    await stop();

    const saved = JSON.parse(readFileSync(join(h.stateDir, 'streams.json'), 'utf8'));
    const hostile = saved.streams.find((s: { name: string }) => s.name === 'hostile');
    const nonNumbers = numbersIn({ scorer: hostile.scorer, normalizer: hostile.normalizer }).filter(({ path, value }) => typeof value !== 'number' && path !== '.scorer.previous');
    expect(nonNumbers).toEqual([]);
    expect(hostile.learner).toBeDefined();

    await start();
    expect(h.logs).toContainEqual(expect.stringMatching(/restored 2 streams/));
    const again = await connect();
    expect(await again.open('hostile', { learn: true })).toMatchObject({ type: 'opened', resumed: true, lastSeq: HOSTILE.length - 1 });
    expect(await again.open('calm', { learn: true })).toMatchObject({ type: 'opened', resumed: true, lastSeq: HOSTILE.length - 1 });
  });

  it('weights that are not finite are never checkpointed: the checkpoint fails naming the model, and the previous one stays', async () => {
    await start();
    const client = await connect();
    await client.open('s', { learn: true });
    client.send({ type: 'frame', stream: 's', seq: 0, values: [1] });
    await client.until(() => client.predictions('s').length === 1, 'a prediction');
    await h.server!.checkpoint();
    const before = readFileSync(join(h.stateDir, 'streams.json'), 'utf8');
    // as a bug in training might leave them: written into the kernel behind the library's checks
    h.models[0].kernel.params()[3] = NaN;
    await expect(h.server!.checkpoint()).rejects.toThrow(/model "m": the weights of .* are not finite \(tensor \S+ element \d+ is NaN\); they are not checkpointed; this checkpoint is not written, the previous one stays/);
    expect(readFileSync(join(h.stateDir, 'streams.json'), 'utf8')).toBe(before);
    const saved = JSON.parse(before);
    const weights = readSafetensors(readFileSync(join(h.stateDir, saved.models[0].weights)), 'weights');
    expect([...weights.tensors.values()].every(({ data }) => data.every(Number.isFinite))).toBe(true);
    h.models[0].kernel.params()[3] = 0; // so that the server's own stop can checkpoint
  });

  it('in a checkpoint written before this fix block no restart: that stream is left out and named with its file, the others start', async () => {
    await start();
    const client = await connect();
    await client.open('poisoned', { learn: true });
    await client.open('healthy', { learn: true });
    for (let seq = 0; seq < 5; seq++) client.send([{ type: 'frame', stream: 'poisoned', seq, values: [seq] }, { type: 'frame', stream: 'healthy', seq, values: [-seq] }]);
    await client.until(() => client.predictions('poisoned').length === 5 && client.predictions('healthy').length === 5, 'every prediction');
    await stop();

    // the learner's mse (u32 header of 11 words, then f64 errorCount, spikeFactor, rollbackFactor, bestLoss, frames,
    // updates, skipped, rollbacks, mse) as the old server wrote it: "learner state: statistics value 7 is Infinity"
    const path = join(h.stateDir, 'streams.json');
    const file = JSON.parse(readFileSync(path, 'utf8'));
    poisonLearner(file, 'poisoned', 11 * 4 + 8 * 8, Infinity);
    writeFileSync(path, JSON.stringify(file));

    await start();
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream "poisoned" in ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be restored \\(learner state: statistics value 7 is Infinity`)));
    expect(h.logs).toContainEqual(expect.stringMatching(/restored 1 stream /));
    const again = await connect();
    expect(await again.open('healthy', { learn: true })).toMatchObject({ resumed: true, lastSeq: 4 });
    // the stream that could not be restored opens afresh under its name
    expect(await again.open('poisoned', { learn: true })).toMatchObject({ type: 'opened', resumed: false, lastSeq: -1 });
    again.send({ type: 'frame', stream: 'poisoned', seq: 0, values: [1] });
    await again.until(() => again.predictions('poisoned').length === 1, 'a prediction of the fresh stream');
  });
});
