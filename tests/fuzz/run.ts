// One fuzz run: `count` seeded cases through a target, tallied as accepted, refused with a typed error, or crashed.
// The suite's fuzz tests run a few thousand; bench/fuzz.ts runs a million of each.

import { Random, Tally, type Outcome } from './random.js';

/** What a target did with one case. */
export interface CaseResult {
  outcome: Outcome;
  error?: unknown;
}

/** Runs cases 0..count−1 of `target` from `seed`; `onProgress` hears every 10,000 cases. */
export async function runFuzz(
  count: number,
  seed: number,
  target: (random: Random) => CaseResult | Promise<CaseResult>,
  onProgress?: (done: number, tally: Tally) => void,
): Promise<Tally> {
  const random = new Random(seed);
  const tally = new Tally();
  for (let i = 0; i < count; i++) {
    let result: CaseResult;
    try {
      result = await target(random);
    } catch (error) {
      // the targets return every outcome; one that throws is a bug of the case generator, and counted as a crash
      result = { outcome: 'crashed', error: new Error(`the case generator or oracle threw: ${error instanceof Error ? error.stack : String(error)}`) };
    }
    tally.add(i, result.outcome, result.error);
    if (onProgress && (i + 1) % 10_000 === 0) onProgress(i + 1, tally);
  }
  return tally;
}

/** The first crashes, for a failing test's message. */
export function crashReport(tally: Tally): string {
  return tally.crashes.map((c) => `case ${c.index}: ${c.error}`).join('\n\n');
}
