// Which stream the dashboard opens and how it lists them: live streams (receiving frames) first, idle ones apart.

import { describe, expect, it } from 'vitest';
import { firstStream, IDLE_AFTER_SECONDS, isIdle, splitIdle, type OrderedStream } from '../../web/src/stream-order';

const live = (name: string): OrderedStream => ({ name, held: true, parked: false, silentSeconds: 0.05 });
const orphan = (name: string): OrderedStream => ({ name, held: false, parked: false, silentSeconds: 600 });

describe('stream order', () => {
  it('calls a stream idle when nobody produces it, when it is parked, or when it has been silent for a while', () => {
    expect(isIdle(live('pump'))).toBe(false);
    expect(isIdle(orphan('old'))).toBe(true);
    expect(isIdle({ ...live('pump'), parked: true })).toBe(true);
    expect(isIdle({ ...live('pump'), silentSeconds: IDLE_AFTER_SECONDS - 1 })).toBe(false);
    expect(isIdle({ ...live('pump'), silentSeconds: IDLE_AFTER_SECONDS })).toBe(true);
    expect(isIdle({ ...live('pump'), silentSeconds: Infinity })).toBe(true);
  });

  it('opens the first live stream, not the first listed one when that one is dead', () => {
    expect(firstStream([orphan('replay-1'), orphan('replay-2'), live('sensors'), live('ball')])).toBe('sensors');
  });

  it('opens the stream the address names when it is listed, even an idle one', () => {
    expect(firstStream([live('sensors'), orphan('replay-1')], 'replay-1')).toBe('replay-1');
    expect(firstStream([orphan('replay-1'), live('sensors')], 'gone')).toBe('sensors');
  });

  it('falls back to the first listed stream when none is live, and to nothing for no streams', () => {
    expect(firstStream([orphan('a'), orphan('b')])).toBe('a');
    expect(firstStream([])).toBeUndefined();
  });

  it('lists live streams first and idle ones after them, each group in the server’s order', () => {
    const { live: on, idle } = splitIdle([orphan('r1'), live('b'), orphan('r2'), live('a')]);
    expect(on.map((s) => s.name)).toEqual(['b', 'a']);
    expect(idle.map((s) => s.name)).toEqual(['r1', 'r2']);
  });
});
