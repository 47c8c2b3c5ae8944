// SharedModelGuard: which learning stream may train a model several learning streams share.

import { describe, expect, it } from 'vitest';
import { SharedModelGuard } from '../../src/stream/learn-guard.js';
import type { ServedModel, StreamEntry } from '../../src/stream/types.js';

const served = { name: 'shared' } as ServedModel;
const entry = (name: string) => ({ name, served, learning: { every: 8, window: 32, target: 'delta' }, closed: false }) as unknown as StreamEntry;

/** `frames` frames of `stream` with squared errors `error` (the model's) and `persistence`. */
function feed(guard: SharedModelGuard, stream: StreamEntry, frames: number, error: number, persistence: number): void {
  for (let i = 0; i < frames; i++) guard.observe(stream, error, persistence);
}

describe('SharedModelGuard', () => {
  it('lets the only learning stream of a model train, however it does', () => {
    const guard = new SharedModelGuard();
    const alone = entry('alone');
    feed(guard, alone, 500, 2, 1);
    expect(guard.mayTrain(alone)).toBe(true);
  });

  it('holds back a misfit (no better than persistence) while the model serves another stream well; the served one trains', () => {
    const guard = new SharedModelGuard();
    const good = entry('good');
    const misfit = entry('misfit');
    feed(guard, good, 200, 0.3, 1);
    feed(guard, misfit, 200, 1.1, 1);
    expect(guard.mayTrain(misfit)).toBe(false);
    expect(guard.mayTrain(good)).toBe(true);
    // a newcomer not yet judged is held back too, until the model serves it well
    const newcomer = entry('newcomer');
    feed(guard, newcomer, 10, 0.1, 1);
    expect(guard.mayTrain(newcomer)).toBe(false);
    feed(guard, newcomer, 200, 0.5, 1);
    expect(guard.mayTrain(newcomer)).toBe(true);
  });

  it('once a stream served well is pushed above persistence, only it trains: the one that pushed stops', () => {
    const guard = new SharedModelGuard();
    const victim = entry('victim');
    const pusher = entry('pusher');
    feed(guard, victim, 200, 0.3, 1);
    feed(guard, pusher, 200, 0.2, 1); // the model fits the pusher's data too: it trains
    expect(guard.mayTrain(pusher)).toBe(true);
    feed(guard, victim, 300, 1.5, 1); // its running error climbs past persistence
    expect(guard.mayTrain(pusher)).toBe(false);
    expect(guard.mayTrain(victim)).toBe(true);
    // back under persistence: both train again
    feed(guard, victim, 400, 0.2, 1);
    expect(guard.mayTrain(pusher)).toBe(true);
  });

  it('lets everyone train again once a harmed stream has stayed worse for 1,000 frames (its data changed for good)', () => {
    const guard = new SharedModelGuard();
    const changed = entry('changed');
    const other = entry('other');
    feed(guard, changed, 200, 0.3, 1);
    feed(guard, other, 200, 0.4, 1);
    feed(guard, changed, 300, 3, 1);
    expect(guard.mayTrain(other)).toBe(false);
    feed(guard, changed, 1000, 3, 1);
    expect(guard.mayTrain(other)).toBe(true);
  });
});
