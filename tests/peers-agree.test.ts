// The peer benchmark (bench/peers.ts) is only fair if every library computes
// the same thing: each peer adapter in bench/peers/ must give seqcast's outputs
// on the same weights and inputs (H=32, two steps with state carried, a batch of
// streams, a short sequence; tolerance 1e-4). brain.js can only match for one
// step from zero state (it keeps no cell state and cannot carry state between
// calls), and that is what is checked for it. No timing here.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGREE_TOL, allPeers, checkSequence, checkStreams, loadBenchModel } from '../bench/peers/setup.js';
import { Skip, type BenchModel, type Peer, type SequenceRunner, type Stepper } from '../bench/peers/types.js';

const H = 32;
const STEPS = 2;
const BATCH = 3;
const LENGTH = 4;

const peers = allPeers();
const [seqcast, ...others] = peers;
let model: BenchModel;

beforeAll(async () => {
  model = await loadBenchModel(H);
  for (const peer of peers) await peer.init();
}, 60_000);

afterAll(async () => {
  for (const peer of peers) await peer.close?.();
});

async function withSteppers(peer: Peer, batch: number, body: (ref: Stepper, stepper: Stepper) => Promise<void>): Promise<void> {
  const ref = await seqcast.streams(model, batch);
  await peer.activate?.();
  const stepper = await peer.streams(model, batch);
  try {
    await body(ref, stepper);
  } finally {
    await stepper.dispose();
    await ref.dispose();
  }
}

async function withRunners(peer: Peer, body: (ref: SequenceRunner, runner: SequenceRunner) => Promise<void>): Promise<void> {
  const ref = await seqcast.sequence(model, LENGTH);
  await peer.activate?.();
  const runner = await peer.sequence(model, LENGTH);
  try {
    await body(ref, runner);
  } finally {
    await runner.dispose();
    await ref.dispose();
  }
}

describe.each(others.map((peer) => [peer.id, peer] as const))('%s agrees with seqcast (H=32)', (id, peer) => {
  it(`one stream, ${STEPS} steps`, async () => {
    await withSteppers(peer, 1, async (ref, stepper) => {
      const agreement = await checkStreams(ref, stepper, 1, STEPS, 11);
      expect(agreement.maxAbs).toBeLessThanOrEqual(AGREE_TOL);
      expect(agreement.status).toBe(id === 'brain.js' ? 'agrees-first-step' : 'agrees');
    });
  });

  it(`${BATCH} streams stepped together, ${STEPS} steps`, async () => {
    if (id === 'brain.js') {
      await expect(peer.streams(model, BATCH)).rejects.toBeInstanceOf(Skip);
      return;
    }
    await withSteppers(peer, BATCH, async (ref, stepper) => {
      const agreement = await checkStreams(ref, stepper, BATCH, STEPS, 23);
      expect(agreement.status).toBe('agrees');
      expect(agreement.maxAbs).toBeLessThanOrEqual(AGREE_TOL);
    });
  });

  it(`a ${LENGTH}-frame sequence in one call`, async () => {
    await withRunners(peer, async (ref, runner) => {
      const agreement = await checkSequence(ref, runner, LENGTH, 37);
      if (id === 'brain.js') {
        // same weights, but its LSTM keeps no cell state: only the first step matches, so the bench marks it
        expect(agreement.status).toBe('not-comparable');
        expect(agreement.maxAbs).toBeGreaterThan(AGREE_TOL);
        return;
      }
      expect(agreement.status).toBe('agrees');
      expect(agreement.maxAbs).toBeLessThanOrEqual(AGREE_TOL);
    });
  });
});
