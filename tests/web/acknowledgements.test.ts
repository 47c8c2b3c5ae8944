// Acknowledged detections: kept per stream by the seq that detected, in the browser's storage, and joined to the list of detections.

import { describe, expect, it } from 'vitest';
import { ACK_KEY, ACKS_PER_STREAM, Acknowledgements, type AckStorage } from '../../web/src/acknowledgements';
import { listDetections } from '../../web/src/detection-list';

function memoryStorage(initial: Record<string, string> = {}): AckStorage & { items: Record<string, string> } {
  const items = { ...initial };
  return { items, getItem: (key) => items[key] ?? null, setItem: (key, value) => void (items[key] = value) };
}

describe('acknowledgements', () => {
  it('remembers an acknowledged detection across page loads (the same storage), per stream', () => {
    const storage = memoryStorage();
    new Acknowledgements(storage).add('pump', 812);
    const reloaded = new Acknowledgements(storage);
    expect(reloaded.has('pump', 812)).toBe(true);
    expect(reloaded.has('pump', 813)).toBe(false);
    expect(reloaded.has('valve', 812)).toBe(false);
    expect(JSON.parse(storage.items[ACK_KEY])).toEqual({ pump: [812] });
  });

  it('reads an unreadable entry as no acknowledgements, and works without storage', () => {
    expect(new Acknowledgements(memoryStorage({ [ACK_KEY]: '{not json' })).has('pump', 1)).toBe(false);
    const alone = new Acknowledgements(undefined);
    alone.add('pump', 1);
    expect(alone.has('pump', 1)).toBe(true);
  });

  it('keeps at most ACKS_PER_STREAM per stream, dropping the oldest', () => {
    const acks = new Acknowledgements(memoryStorage());
    for (let seq = 0; seq <= ACKS_PER_STREAM; seq++) acks.add('pump', seq);
    expect(acks.has('pump', 0)).toBe(false);
    expect(acks.has('pump', ACKS_PER_STREAM)).toBe(true);
  });

  it('lists detections with the seq of the row that crossed and whether it is acknowledged, oldest first', () => {
    const acks = new Acknowledgements(memoryStorage());
    acks.add('pump', 42);
    const x = [10, 10.1, 10.2, 10.3, 10.4];
    const seq = [40, 41, 42, 43, 44];
    const crossings = [{ x: 10.2, value: 0.9 }, { x: 10.4, value: 0.7 }];
    expect(listDetections('pump', crossings, x, seq, acks)).toEqual([
      { x: 10.2, value: 0.9, seq: 42, acknowledged: true },
      { x: 10.4, value: 0.7, seq: 44, acknowledged: false },
    ]);
  });
});
