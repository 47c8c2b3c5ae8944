// A state directory with faults: a read-only --state-dir refuses to start with a clear message (no
// "checkpoint failed: EACCES" every interval, no exit 0 with everything learned lost); corrupt streams.json entries
// and corrupt snapshots are skipped and reported one stream at a time, naming the stream and the file, while the
// rest start; corrupt model weights are refused naming the file and what to do. Real servers on loopback ports,
// real directories.

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createModel } from '../../src/index.js';
import { CheckpointError } from '../../src/server/checkpoint.js';
import { SeqcastServer } from '../../src/server/server.js';
import { runCli } from '../helpers/cli.js';
import { useStateDirServers } from './state-dir-servers.js';

const SPEC = { cell: 'gru' as const, inputSize: 2, hiddenSize: 4, seed: 8 };

const h = useStateDirServers(SPEC, 'faults');
const { start, connect, stop } = h;


/** A checkpoint of streams s0..s{n-1}, each fed 3 frames (s0 a learning stream), written by a real server's stop. */
async function checkpointOf(names: string[]): Promise<void> {
  await start();
  const client = await connect();
  for (const [i, name] of names.entries()) await client.open(name, i === 0 ? { learn: true } : {});
  for (let seq = 0; seq < 3; seq++) client.send(names.map((stream, i) => ({ type: 'frame', stream, seq, values: [seq, i] })));
  await client.until(() => names.every((name) => client.predictions(name).length === 3), 'every prediction');
  await stop();
}

const streamsFile = () => join(h.stateDir, 'streams.json');
type Saved = { streams: Record<string, unknown>[]; models: { name: string; weights: string }[] };
const readSaved = (): Saved => JSON.parse(readFileSync(streamsFile(), 'utf8'));
const writeSaved = (saved: unknown) => writeFileSync(streamsFile(), JSON.stringify(saved));
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('a state directory the server cannot write', () => {
  it('makes `seqcast serve` refuse to start, saying which directory and why (a read-only directory, as another user)', async () => {
    await (await createModel(SPEC)).save(join(h.dir, 'pump.safetensors'));
    // root writes through permissions: run the command as nobody (effective ids, in this process: the kernel is already
    // compiled, so nothing of the checkout, which nobody may not be able to read, is opened) when the tests run as root
    const asRoot = process.getuid?.() === 0;
    chmodSync(h.dir, 0o755);
    const readOnly = join(h.dir, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    const args = ['serve', '--model', join(h.dir, 'pump.safetensors'), '--port', '0', '--state-dir', readOnly];
    if (asRoot) {
      await runCli(['--version']); // the command reads its package.json once per process: here, as root
      process.setegid!(65534);
      process.seteuid!(65534);
    }
    let run: Awaited<ReturnType<typeof runCli>>;
    try {
      run = await runCli(args);
    } finally {
      if (asRoot) {
        process.seteuid!(0);
        process.setegid!(0);
      }
    }
    const { status: code, stdout, stderr } = run;
    expect(code).toBe(1);
    expect(stdout).not.toMatch(/serving on/);
    expect(stderr).toMatch(new RegExp(`^seqcast: cannot write to the state directory ${escape(readOnly)}: permission denied \\(EACCES\\); checkpoints would fail`, 'm'));
    expect(stderr).not.toMatch(/a bug in seqcast|at .*\.ts:\d+/);
  });

  it('refuses a --state-dir that is a file, before listening', async () => {
    writeFileSync(h.stateDir, 'not a directory');
    const model = await createModel(SPEC);
    h.models.push(model);
    const refused = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, stateDir: h.stateDir }).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(CheckpointError);
    expect((refused as Error).message).toMatch(new RegExp(`cannot write to the state directory ${escape(h.stateDir)}: .*(EEXIST|ENOTDIR)`));
  });
});

describe('a corrupt streams.json entry or snapshot', () => {
  it('is left out and reported naming the stream and the file; every other stream starts and resumes', async () => {
    const names = ['s0', 's1', 's2', 's3', 's4', 's5', 's6'];
    await checkpointOf(names);
    const saved = readSaved();
    const byName = (name: string) => saved.streams.find((s) => s.name === name)!;
    byName('s1').scorer = null; // a TypeError in versions before
    byName('s2').horizon = '3';
    byName('s3').snapshot = Buffer.from(Buffer.from(byName('s3').snapshot as string, 'base64').subarray(0, 30)).toString('base64');
    byName('s4').lastSeq = 1e300;
    const learner = Buffer.from(byName('s0').learner as string, 'base64');
    saved.streams.push({ ...byName('s5'), id: 99 }, 42 as never, { ...byName('s6'), name: 'twin' });
    writeSaved(saved);

    await start();
    const path = escape(streamsFile());
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream "s1" in ${path} is corrupt \\(scorer is null; expected an object\\); left out, the other streams start`)));
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream "s2" in ${path} is corrupt \\(horizon is "3"; expected an integer from 0 to 256\\)`)));
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream "s3" in ${path} cannot be restored \\(snapshot is 30 bytes, shorter than its 40-byte header\\)`)));
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream "s4" in ${path} is corrupt \\(lastSeq is 1e\\+300; expected an integer`)));
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream "s5" in ${path} repeats the name of an earlier stream`)));
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream number 9 in ${path} is corrupt \\(the record is 42; expected an object\\)`)));
    expect(h.logs).toContainEqual(expect.stringMatching(new RegExp(`stream "twin" in ${path} repeats the id \\d+ of an earlier stream`)));
    expect(h.logs).toContainEqual(expect.stringMatching(/restored 3 streams/));
    expect(learner.byteLength).toBeGreaterThan(0);

    const client = await connect();
    for (const name of ['s0', 's5', 's6']) expect(await client.open(name, name === 's0' ? { learn: true } : {})).toMatchObject({ type: 'opened', resumed: true, lastSeq: 2 });
    // a stream left out opens afresh under its name
    expect(await client.open('s3')).toMatchObject({ type: 'opened', resumed: false, lastSeq: -1 });
    client.send(['s0', 's3', 's5'].map((stream) => ({ type: 'frame', stream, seq: 3, values: [3, 0] })));
    await client.until(() => ['s0', 's3', 's5'].every((name) => client.predictions(name).length === 1), 'predictions after the restart');
    expect(client.errors()).toEqual([]);
  });

  it('a streams.json that is not a checkpoint at all (null) is refused with a CheckpointError naming it, not a TypeError', async () => {
    await checkpointOf(['s0']);
    writeFileSync(streamsFile(), 'null');
    const refused = await start().then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(CheckpointError);
    expect((refused as Error).message).toMatch(new RegExp(`${escape(streamsFile())} is null, not a checkpoint`));
  });
});

describe('corrupt checkpointed model weights', () => {
  it('are refused naming the model, the file and what to do; moved away, the model starts from its own file with its streams', async () => {
    await checkpointOf(['s0', 's1']);
    const weights = join(h.stateDir, readSaved().models[0].weights);
    const bytes = readFileSync(weights);
    writeFileSync(weights, bytes.subarray(0, bytes.byteLength - 4));
    const refused = await start().then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(CheckpointError);
    expect((refused as Error).message).toMatch(new RegExp(`weights of model "m" are corrupt: ${escape(weights)}: .*; move ${escape(weights)} away to start model "m" from its model file \\(its streams are kept\\)`));

    renameSync(weights, `${weights}.corrupt`);
    await start();
    expect(h.logs).toContainEqual(`the checkpointed weights of model "m", ${weights}, are missing; it starts from its model file`);
    expect(h.logs).toContainEqual(expect.stringMatching(/restored 2 streams/));
    const client = await connect();
    expect(await client.open('s1')).toMatchObject({ resumed: true, lastSeq: 2 });
  });
});
