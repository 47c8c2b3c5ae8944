// A dashboard that pauses or reads slowly costs bounded memory and work: it gets the latest predictions, in bounded deliveries.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { encodeFrames } from '../../src/protocol/binary.js';
import { DASHBOARD_BATCH_CHARS } from '../../src/server/dashboards.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';
import { ManualClock } from './clock.js';

const WIDTH = 8192;
const STREAMS = 12;
let model: Model;

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: WIDTH, hiddenSize: 4, seed: 12 });
});

afterAll(() => model.close());

/** A producer of STREAMS binary streams of WIDTH values; round(seq) sends one frame of each and waits for their answers. */
async function producer(server: SeqcastServer): Promise<{ client: Client; round: (seq: number) => Promise<void> }> {
  const client = await Client.connect(server.url);
  const ids: number[] = [];
  for (let i = 0; i < STREAMS; i++) ids.push((await client.open(`wide-${i}`, { normalize: 'none' })).id);
  const values = Float32Array.from({ length: WIDTH }, (_, i) => Math.sin(i));
  const round = async (seq: number) => {
    client.sendBytes(encodeFrames(ids.map((streamId) => ({ streamId, seq, t: undefined, values }))));
    await client.until(() => client.binary.length === STREAMS * (seq + 1), `round ${seq} answered`, 10_000);
  };
  return { client, round };
}

/** Records the length of every text message `client` receives that holds more than one prediction. */
function joinedSizes(client: Client): number[] {
  const sizes: number[] = [];
  client.ws.on('message', (data, isBinary) => {
    if (!isBinary && data.toString().split('"type":"prediction"').length > 2) sizes.push((data as Buffer).length);
  });
  return sizes;
}

describe('slow and paused dashboards', () => {
  it(`a dashboard paused through 60 rounds of ${STREAMS} streams × ${WIDTH} values gets the latest per stream when it resumes, in bounded deliveries; the producer is answered throughout`, async () => {
    const server = await SeqcastServer.start({ models: [{ name: 'wide', model }], port: 0, webRoot: null, maxPayload: 4 * 1024 * 1024 });
    try {
      const { client, round } = await producer(server);
      const dashboard = await Client.connect(server.url);
      const sizes = joinedSizes(dashboard);
      dashboard.send({ type: 'subscribe', streams: '*', metrics: false });
      await dashboard.next((m) => m.type === 'subscribed');
      dashboard.ws.pause();
      const rounds = 60;
      for (let seq = 0; seq < rounds; seq++) await round(seq);
      expect(client.binary).toHaveLength(rounds * STREAMS);
      dashboard.ws.resume();
      const last = (stream: number) => dashboard.predictions(`wide-${stream}`).some((m) => m.seq === rounds - 1);
      await dashboard.until(() => Array.from({ length: STREAMS }, (_, i) => i).every(last), 'the last prediction of every stream', 15_000);
      const received = dashboard.messages.filter((m) => m.type === 'prediction');
      // what did not fit in the socket while it was paused was conflated: far fewer than were made
      expect(received.length).toBeLessThan((rounds * STREAMS) / 2);
      for (let i = 0; i < STREAMS; i++) {
        const seqs = dashboard.predictions(`wide-${i}`).map((m) => m.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
      // a prediction larger than a delivery's cap (8,192 values: about 320 K characters) goes alone; joined ones stay under it
      expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(DASHBOARD_BATCH_CHARS);
      await Promise.all([client.close(), dashboard.close()]);
    } finally {
      await server.close();
    }
  });

  it('a dashboard that does not read for 60 s on the server’s clock is dropped; one that reads stays', async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    // pings and parking far off: this is the dashboards' own rule
    const server = await SeqcastServer.start({ models: [{ name: 'wide', model }], port: 0, webRoot: null, clock, maxPayload: 4 * 1024 * 1024, pingIntervalMs: 3_600_000, idleMs: 3_600_000, log: (line) => log.push(line) });
    try {
      const { client, round } = await producer(server);
      const reading = await Client.connect(server.url);
      const paused = await Client.connect(server.url);
      for (const dashboard of [reading, paused]) {
        dashboard.send({ type: 'subscribe', streams: '*', metrics: false });
        await dashboard.next((m) => m.type === 'subscribed');
      }
      paused.ws.pause();
      const dropped = () => log.some((line) => line.includes('has not read its predictions'));
      // rounds until its socket is full and it has been for 60 s: each round a delivery (every 50 ms) looks at it
      for (let seq = 0; seq < 200 && !dropped(); seq++) {
        await round(seq);
        await new Promise((resolve) => setTimeout(resolve, 60));
        clock.advance(61_000);
      }
      expect(dropped()).toBe(true);
      paused.ws.resume();
      await paused.until(() => paused.closeCode !== undefined, 'the paused dashboard closed', 10_000);
      expect(reading.closeCode).toBeUndefined();
      await Promise.all([client.close(), reading.close()]);
    } finally {
      await server.close();
    }
  }, 30_000);
});
