// --state-dir: checkpoint, stop (SIGTERM) or crash (SIGKILL), restart — and every stream continues bit for bit from its checkpoint,
// a learning stream too: the weights it learned, the optimizer's moments and step count, and its learner's history and statistics.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, loadModel } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client, type Message } from './client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let modelPath: string;
let stateDir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-checkpoint-'));
  modelPath = join(dir, 'pump.safetensors');
  stateDir = join(dir, 'state');
  await (await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 16, seed: 9 })).save(modelPath);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `seqcast serve` in a child process; resolves with it and its URL once it printed the ready line. */
// one thread (--workers 1): this test reads the single-thread layout, STATE_DIR/streams.json (tests/cluster/ has N workers')
function serve(extra: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/server/seqcast-cli.mts', 'serve', '--model', modelPath, '--port', '0', '--state-dir', stateDir, '--workers', '1', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout)?.[0];
      if (url) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`seqcast serve exited with ${code}: ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

const valuesAt = (i: number) => [20 + 5 * Math.sin(i / 4), 3 * Math.cos(i / 7) + (i % 5)];

/** Sends frames from..to−1 of streams "pump", "fan" and "learner" (a learning stream, training the model the others use) and returns their predictions in order. */
async function sendFrames(client: Client, from: number, to: number): Promise<Message[]> {
  for (let i = from; i < to; i++) {
    client.send([
      { type: 'frame', stream: 'pump', seq: i, values: valuesAt(i) },
      { type: 'frame', stream: 'fan', seq: i, values: valuesAt(i + 100) },
      { type: 'frame', stream: 'learner', seq: i, values: valuesAt(i + 50) },
    ]);
  }
  const count = (stream: string) => client.predictions(stream).filter((m) => m.seq >= from && m.seq < to).length;
  await client.until(() => count('pump') === to - from && count('fan') === to - from && count('learner') === to - from, `predictions ${from}..${to - 1}`);
  const result = ['pump', 'fan', 'learner'].flatMap((stream) => client.predictions(stream).filter((m) => m.seq >= from && m.seq < to));
  client.messages.length = 0;
  return result;
}

/** Opens the three streams (taking them over after a restart). */
async function openAll(client: Client): Promise<Message[]> {
  return [await client.open('pump', { horizon: 3, normalize: 'online' }), await client.open('fan'), await client.open('learner', { learn: true, horizon: 2, learning: { every: 4, window: 8 } })];
}

/** What a prediction says, all of it (t excepted): predicted, forecast, error, rmse, anomaly, and the training step's loss and event. */
const essence = (m: Message) => ({ stream: m.stream, seq: m.seq, predicted: m.predicted, forecast: m.forecast, error: m.error, rmse: m.rmse, anomaly: m.anomaly, loss: m.loss, learnEvent: m.learnEvent });
const bySeq = (a: { seq: number; stream: string }, b: { seq: number; stream: string }) => a.stream.localeCompare(b.stream) || a.seq - b.seq;

describe('checkpoints', () => {
  it('continue every stream bit for bit after SIGTERM and after a crash (SIGKILL) between checkpoints', async () => {
    // the reference: one server that is never stopped
    const referenceModel = await loadModel(modelPath);
    const reference = await SeqcastServer.start({ models: [{ name: 'pump', model: referenceModel }], port: 0, webRoot: null });
    const referenceClient = await Client.connect(reference.url);
    await openAll(referenceClient);
    const expected = (await sendFrames(referenceClient, 0, 80)).map(essence).sort(bySeq);
    expect(expected.filter((m) => m.learnEvent === 'trained').length).toBeGreaterThan(10);

    // run 1: frames 0..29, then SIGTERM (checkpoint on the way out)
    let run = await serve();
    let client = await Client.connect(run.url);
    const [pump, , learner] = await openAll(client);
    expect(pump).toMatchObject({ type: 'opened', normalize: 'online', resumed: false });
    expect(learner).toMatchObject({ type: 'opened', learn: true, resumed: false });
    const first = await sendFrames(client, 0, 30);
    run.child.kill('SIGTERM');
    expect(await exited(run.child)).toBe(0);
    expect(existsSync(join(stateDir, 'streams.json'))).toBe(true);
    expect(readdirSync(stateDir).filter((f) => f.includes('.tmp'))).toEqual([]);

    // run 2: continues at seq 30; checkpoints every second; frames 30..59, wait for a checkpoint holding them, 60..64, then SIGKILL
    run = await serve(['--checkpoint-interval', '1']);
    client = await Client.connect(run.url);
    const reopened2 = await openAll(client);
    expect(reopened2[0]).toMatchObject({ type: 'opened', resumed: true, lastSeq: 29 });
    expect(reopened2[1]).toMatchObject({ resumed: true, lastSeq: 29 });
    expect(reopened2[2]).toMatchObject({ resumed: true, lastSeq: 29, learn: true, learning: { every: 4, window: 8, target: 'delta' } });
    const second = await sendFrames(client, 30, 60);
    await client.until(() => {
      const saved = JSON.parse(readFileSync(join(stateDir, 'streams.json'), 'utf8')) as { streams: { name: string; lastSeq: number }[] };
      return saved.streams.every((s) => s.lastSeq === 59);
    }, 'a checkpoint with seq 59', 5000);
    await sendFrames(client, 60, 65);
    run.child.kill('SIGKILL');
    await exited(run.child);

    // run 3: the crash lost what came after the last checkpoint (60..64); the producer resends from there
    run = await serve();
    client = await Client.connect(run.url);
    const reopened = await openAll(client);
    expect(reopened.map((m) => m.lastSeq)).toEqual([59, 59, 59]);
    const third = await sendFrames(client, 60, 80);
    run.child.kill('SIGTERM');
    expect(await exited(run.child)).toBe(0);

    expect([...first, ...second, ...third].map(essence).sort(bySeq)).toEqual(expected);
    // one generation of files is left: the weights (a loadable model file) and the optimizer state, named by streams.json
    const saved = JSON.parse(readFileSync(join(stateDir, 'streams.json'), 'utf8'));
    expect(saved).toMatchObject({ format: 2, models: [{ name: 'pump', weights: expect.stringMatching(/^models\/pump\.g\d+\.safetensors$/), optimizer: expect.stringMatching(/\.optimizer$/) }] });
    expect(readdirSync(join(stateDir, 'models')).sort()).toEqual([saved.models[0].weights, saved.models[0].optimizer].map((f: string) => f.slice('models/'.length)).sort());
    expect((await loadModel(join(stateDir, saved.models[0].weights))).describe()).toBe(referenceModel.describe());
    await referenceClient.close();
    await reference.close();
  }, 40_000);
});
