// A stream opened with normalize "none" keeps what it was after a checkpoint and a restart: its values still go to
// the model as sent, and it still cannot become a learning stream (whose learner would scale them), exactly as
// before the restart; a stream opened by default still can. Real servers on loopback ports, a real state directory.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client, Message } from './client.js';
import { useStateDirServers } from './state-dir-servers.js';

const h = useStateDirServers({ cell: 'lstm', inputSize: 2, hiddenSize: 8, seed: 3 }, 'values-as-sent');

/** Sends frames from..to−1 of both streams and waits for their predictions. */
async function feed(client: Client, from: number, to: number): Promise<void> {
  for (let seq = from; seq < to; seq++) {
    client.send([
      { type: 'frame', stream: 'raw', seq, values: [20 + Math.sin(seq), 3 * Math.cos(seq / 3)] },
      { type: 'frame', stream: 'plain', seq, values: [20 + Math.cos(seq), 3 * Math.sin(seq / 3)] },
    ]);
  }
  const count = (stream: string) => client.predictions(stream).filter((m) => m.seq >= from && m.seq < to).length;
  await client.until(() => count('raw') === to - from && count('plain') === to - from, `predictions ${from}..${to - 1}`);
}

/** The answer to `configure { learn: true }` for `stream`. */
async function turnLearningOn(client: Client, stream: string): Promise<Message> {
  client.send({ type: 'configure', stream, learn: true });
  return client.next((m) => (m.type === 'configured' || m.type === 'error') && m.stream === stream, `the answer to configure "${stream}"`);
}

describe('a stream opened with normalize "none", restored from a checkpoint', () => {
  it('still takes its values as sent and is still refused learning, while a stream opened by default may learn', async () => {
    await h.start();
    let client = await h.connect();
    expect(await client.open('raw', { normalize: 'none' })).toMatchObject({ type: 'opened', normalize: 'none', resumed: false });
    expect(await client.open('plain')).toMatchObject({ type: 'opened', normalize: 'none', resumed: false });
    await feed(client, 0, 6);
    await h.stop(); // checkpoints on the way out

    const saved = JSON.parse(readFileSync(join(h.stateDir, 'streams.json'), 'utf8')) as { streams: Record<string, unknown>[] };
    expect(saved.streams.find((s) => s.name === 'raw')).toMatchObject({ normalize: 'none', valuesAsSent: true, lastSeq: 5 });
    expect(saved.streams.find((s) => s.name === 'plain')).not.toHaveProperty('valuesAsSent');

    await h.start();
    expect(h.logs).toContainEqual(expect.stringMatching(/restored 2 streams/));
    client = await h.connect();
    expect(await client.open('raw', { normalize: 'none' })).toMatchObject({ type: 'opened', resumed: true, lastSeq: 5 });
    expect(await client.open('plain')).toMatchObject({ type: 'opened', resumed: true, lastSeq: 5 });
    await feed(client, 6, 9);
    expect(await turnLearningOn(client, 'raw')).toMatchObject({
      type: 'error',
      code: 'bad_field',
      stream: 'raw',
      message: expect.stringContaining('the stream was opened with normalize "none"'),
    });
    expect(await turnLearningOn(client, 'plain')).toMatchObject({ type: 'configured', stream: 'plain', learn: true });
    await h.stop();

    // and the next checkpoint records it again
    const again = JSON.parse(readFileSync(join(h.stateDir, 'streams.json'), 'utf8')) as { streams: Record<string, unknown>[] };
    expect(again.streams.find((s) => s.name === 'raw')).toMatchObject({ valuesAsSent: true, lastSeq: 8 });
  });

  it('a record whose valuesAsSent is not true or false is left out and named; the other streams start', async () => {
    await h.start();
    const client = await h.connect();
    await client.open('raw', { normalize: 'none' });
    await client.open('plain');
    await feed(client, 0, 3);
    await h.stop();
    const path = join(h.stateDir, 'streams.json');
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { streams: Record<string, unknown>[] };
    saved.streams.find((s) => s.name === 'raw')!.valuesAsSent = 'yes';
    writeFileSync(path, JSON.stringify(saved));
    await h.start();
    expect(h.logs).toContainEqual(expect.stringContaining('stream "raw" in '));
    expect(h.logs).toContainEqual(expect.stringContaining('is corrupt (valuesAsSent is "yes"; expected true or false)'));
    expect(h.logs).toContainEqual(expect.stringMatching(/restored 1 stream\b/));
  });
});
