// The detection profile: `list` tells dashboards the benchmarked threshold of the server's NAB profile (standard unless told),
// and `seqcast serve --detection-profile` takes only the three profiles NAB scores.

import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';

let model: Model;

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, seed: 4 });
});

afterAll(() => model.close());

async function listedDetection(options: Partial<Parameters<typeof SeqcastServer.start>[0]>): Promise<unknown> {
  const server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, ...options });
  try {
    const client = await Client.connect(server.url);
    client.send({ type: 'list' });
    const answer = await client.next((m) => m.type === 'streams');
    await client.close();
    return answer.detection;
  } finally {
    await server.close();
  }
}

describe('the detection profile', () => {
  it("lists NAB's standard profile and its benchmarked threshold by default", async () => {
    expect(await listedDetection({})).toEqual({ profile: 'standard', threshold: 0.4994084244596537 });
  });

  it('lists the threshold of the profile the server was started with', async () => {
    expect(await listedDetection({ detectionProfile: 'low-fp' })).toEqual({ profile: 'low-fp', threshold: 0.5519205200117364 });
    expect(await listedDetection({ detectionProfile: 'low-fn' })).toEqual({ profile: 'low-fn', threshold: 0.4930601355851647 });
  });

  it('refuses an unknown --detection-profile with a usage error naming the choices, before serving anything', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let errors = '';
    stderr.on('data', (chunk) => (errors += chunk));
    const code = await main(['serve', '--demo', '--port', '0', '--detection-profile', 'lenient'], { stdout, stderr });
    expect(code).toBe(2);
    expect(errors).toMatch(/--detection-profile.*'lenient' is invalid.*standard, low-fp, low-fn/s);
  });
});
