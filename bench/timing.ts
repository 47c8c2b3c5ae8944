// The one timing harness of the benches: warm-up, calibration, repeats interleaved across cases, and the median / p10 / p90 summary.

import { nowNs, percentile } from './common.js';

/**
 * BENCH_SMOKE=1: a quick run that checks a bench still works end to end: a
 * few short repeats (timeCases), and nothing written (bench/report.ts).
 */
export const SMOKE = process.env.BENCH_SMOKE === '1';

/** The timing of a smoke run, whatever the bench asks for. */
const SMOKE_TIMING: TimingOptions = { repeats: 3, repeatTargetMs: 15, warmupMs: 5, warmupMinCalls: 2 };

/** A timed loop: makes `calls` calls of the thing measured (synchronously, or resolving when done). */
export type Run = (calls: number) => void | Promise<void>;

/** How long and how often to time. */
export interface TimingOptions {
  /** Timed repeats per case; the summary is over these. */
  repeats: number;
  /** Each repeat is sized to take about this long, ms (at least one call). */
  repeatTargetMs: number;
  /** Warm-up per case before calibration, ms. */
  warmupMs: number;
  /** Warm-up calls per case, at least. */
  warmupMinCalls: number;
}

/** One thing to time. */
export interface TimedCase {
  run: Run;
  /** Stream-steps one call makes (B streams, or a sequence of T); samples are per stream-step. */
  streamStepsPerCall: number;
  /** Called before this case's warm-up and before each of its repeats (e.g. to switch a library's backend). */
  activate?: () => void | Promise<void>;
}

/** Median, p10 and p90 of a set of samples. */
export interface Spread {
  median: number;
  p10: number;
  p90: number;
}

/** One case's timing, per stream-step. */
export interface Timing {
  callsPerRepeat: number;
  /** µs per stream-step, one per repeat, in the order taken. */
  samplesUs: number[];
  medianUs: number;
  p10Us: number;
  p90Us: number;
  streamStepsPerSec: number;
}

/** The median, p10 and p90 of `samples` (any order; not changed). */
export function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 0.5), p10: percentile(sorted, 0.1), p90: percentile(sorted, 0.9) };
}

/** Wall time of `run(calls)`, ms. A synchronous run is timed without an await inside the measurement. */
export async function timeMs(run: Run, calls: number): Promise<number> {
  const t0 = nowNs();
  const pending = run(calls);
  if (pending) await pending;
  return Number(nowNs() - t0) / 1e6;
}

/** Runs calls in growing chunks until options.warmupMs and options.warmupMinCalls are both reached. */
async function warmUp(run: Run, options: TimingOptions): Promise<void> {
  let chunk = 1, calls = 0, elapsed = 0;
  while (elapsed < options.warmupMs || calls < options.warmupMinCalls) {
    const ms = await timeMs(run, chunk);
    elapsed += ms;
    calls += chunk;
    if (ms < 20) chunk *= 2;
  }
}

/** Calls per repeat so one repeat takes about options.repeatTargetMs (at least one call). */
async function calibrate(run: Run, options: TimingOptions): Promise<number> {
  let calls = 1;
  for (;;) {
    const ms = await timeMs(run, calls);
    if (ms >= 15) return Math.max(1, Math.round((calls * options.repeatTargetMs) / ms));
    calls *= ms < 1 ? 8 : 2;
  }
}

/**
 * Warms up and calibrates every case, then times options.repeats rounds, the
 * cases interleaved (order rotating) within each round, so the machine's
 * drifts spread evenly over them. Returns one Timing per case, in order.
 */
export async function timeCases(cases: TimedCase[], requested: TimingOptions): Promise<Timing[]> {
  const options = SMOKE ? SMOKE_TIMING : requested;
  const calls: number[] = [];
  for (const c of cases) {
    await c.activate?.();
    await warmUp(c.run, options);
    calls.push(await calibrate(c.run, options));
  }
  const samples: number[][] = cases.map(() => []);
  for (let r = 0; r < options.repeats; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + r) % cases.length;
      const c = cases[i];
      await c.activate?.();
      const ms = await timeMs(c.run, calls[i]);
      samples[i].push((ms * 1000) / (calls[i] * c.streamStepsPerCall));
    }
  }
  return cases.map((_, i) => {
    const { median, p10, p90 } = spread(samples[i]);
    return { callsPerRepeat: calls[i], samplesUs: samples[i], medianUs: median, p10Us: p10, p90Us: p90, streamStepsPerSec: 1e6 / median };
  });
}
