// Where a starting server's streams come from: its engine's workers (each restores its own), or this thread's
// checkpoint in the state directory; what it found, for /readyz.

import type { ServedModel, StreamEntry } from '../stream/types.js';
import { restoreCheckpoint } from './checkpoint.js';
import type { StreamEngine } from './engine.js';
import type { Readiness } from './health.js';

/** What a start restored: the generation to count checkpoints on from, and the readiness state to report. */
export interface Restored {
  generation: number;
  state: Readiness['state'];
}

/**
 * Starts `engine` (which restores its own streams), or restores the state directory's checkpoint into this thread's
 * table through `add`; without either, nothing ('none').
 */
export async function restoreStreams(from: { engine?: StreamEngine; stateDir?: string; models: ReadonlyMap<string, ServedModel>; now: number; log: (line: string) => void; add: (entry: StreamEntry) => void }): Promise<Restored> {
  if (from.engine) {
    const generation = (await from.engine.start()) ?? 0;
    if (!from.stateDir) return { generation, state: 'none' };
    return { generation, state: generation > 0 ? { generation, streams: from.engine.counts().open } : 'empty' };
  }
  if (!from.stateDir) return { generation: 0, state: 'none' };
  const restored = await restoreCheckpoint(from.stateDir, from.models, from.now, from.log);
  if (!restored) return { generation: 0, state: 'empty' };
  for (const entry of restored.streams) from.add(entry);
  return { generation: restored.generation, state: { generation: restored.generation, streams: restored.streams.length } };
}
