// The peer benchmark's workloads (W1, W2, W3) and its cases: each peer's timed loop, built after its outputs were checked against seqcast's.

import { lstmFlopsPerStreamStep, randomFrames } from '../common.js';
import type { Run, Timing, TimingOptions } from '../timing.js';
import { AGREE_TOL, checkSequence, checkStreams, O, skipReason, X, type Agreement } from './setup.js';
import { framesOf, type BenchModel, type Frames, type Peer, type SequenceRunner, type Stepper } from './types.js';

export const SIZES = [32, 128, 512];
export const W2_HIDDEN = 128;
export const W2_STREAMS = 64;
export const W3_HIDDEN = 128;
export const W3_LENGTH = 256;
export const REPEATS = 21;
export const REPEAT_TARGET_MS = 60; // each repeat is sized to take about this long (at least one call)
export const WARMUP_MS = 300; // per implementation and workload, before calibration
export const WARMUP_MIN_CALLS = 50;
export const AGREE_STEPS = 5; // W1 / W2 steps compared (state carried)

/** How every case is timed (bench/timing.ts). */
export const TIMING: TimingOptions = { repeats: REPEATS, repeatTargetMs: REPEAT_TARGET_MS, warmupMs: WARMUP_MS, warmupMinCalls: WARMUP_MIN_CALLS };

export type Workload = 'W1' | 'W2' | 'W3';

/** Matrix-product FLOPs of one stream-step at hidden size H. */
export function flops(H: number): number {
  return lstmFlopsPerStreamStep(H, X, O);
}

/** Sum of outputs, so no call can be optimised away; read it after timing (a non-finite sum is worth a warning). */
export const sink = { value: 0 };

/** One peer's timed loop in one workload. */
export interface Case {
  workload: Workload;
  hidden: number;
  streamStepsPerCall: number; // B for W1/W2, T for W3
  peer: Peer;
  agreement: Agreement;
  note: string;
  run: Run;
}

/** One peer's timing in one workload, with what the report shows. */
export interface Measured extends Timing {
  workload: Workload;
  hidden: number;
  streamStepsPerCall: number;
  id: string;
  library: string;
  version: string;
  backend: string;
  note: string;
  agreement: Agreement;
  gflops: number;
  seqcastSpeedup?: number; // this row's median ÷ seqcast's median, same workload and H
}

/** A peer that was not timed in a workload, and why. */
export interface Skipped {
  workload: Workload;
  hidden: number;
  id: string;
  library: string;
  version: string;
  reason: string;
}

/** The timed loop for B streams stepped together (W1, W2): rotating through prepared inputs. */
function stepRun(peer: Peer, stepper: Stepper, inputs: Frames[]): Run {
  const mask = inputs.length - 1; // a power of two
  if (peer.async) {
    return async (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += await stepper.step(inputs[i & mask]);
      sink.value += s;
    };
  }
  return (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += stepper.step(inputs[i & mask]) as number;
    sink.value += s;
  };
}

/** The timed loop for whole sequences (W3). */
function sequenceRun(peer: Peer, runner: SequenceRunner, inputs: Frames[]): Run {
  const mask = inputs.length - 1;
  if (peer.async) {
    return async (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += await runner.run(inputs[i & mask]);
      sink.value += s;
    };
  }
  return (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += runner.run(inputs[i & mask]) as number;
    sink.value += s;
  };
}
/** One workload at one hidden size: its cases are timed together, interleaved. */
export interface Group {
  workload: Workload;
  hidden: number;
  label: string;
}

export const GROUPS: Group[] = [
  ...SIZES.map((H) => ({ workload: 'W1' as const, hidden: H, label: `W1 H=${H}` })),
  { workload: 'W2', hidden: W2_HIDDEN, label: `W2 ${W2_STREAMS} streams H=${W2_HIDDEN}` },
  { workload: 'W3', hidden: W3_HIDDEN, label: `W3 sequence T=${W3_LENGTH} H=${W3_HIDDEN}` },
];

/** Builds every peer's case for one group, after checking its outputs against seqcast's; records skips. */
export async function groupCases(group: Group, model: BenchModel, peers: Peer[], skipped: Skipped[], log: (line: string) => void): Promise<{ cases: Case[]; cleanup: (() => void | Promise<void>)[] }> {
  const { workload, hidden: H } = group;
  const cases: Case[] = [];
  const cleanup: (() => void | Promise<void>)[] = [];
  const [reference, ...others] = peers;
  const skip = (peer: Peer, reason: string) => {
    skipped.push({ workload, hidden: H, id: peer.id, library: peer.library, version: peer.version, reason });
    log(`  ${peer.id}: skipped — ${reason}`);
  };

  if (workload === 'W3') {
    const inputs = Array.from({ length: 4 }, (_, k) => framesOf(randomFrames(W3_LENGTH, 9000 + k, X), X));
    const ref = await reference.sequence(model, W3_LENGTH);
    cleanup.push(() => ref.dispose());
    cases.push({ workload, hidden: H, streamStepsPerCall: W3_LENGTH, peer: reference, note: ref.note ?? '', agreement: { status: 'agrees', maxAbs: 0, detail: 'reference' }, run: sequenceRun(reference, ref, inputs) });
    for (const peer of others) {
      let runner: SequenceRunner;
      try {
        await peer.activate?.();
        runner = await peer.sequence(model, W3_LENGTH);
      } catch (err) {
        skip(peer, skipReason(err));
        continue;
      }
      cleanup.push(() => runner.dispose());
      const agreement = await checkSequence(ref, runner, W3_LENGTH, 3000 + H);
      log(`  ${peer.id}: ${agreement.status} (max |diff| ${agreement.maxAbs.toExponential(1)})`);
      if (agreement.status === 'disagrees') {
        skip(peer, `outputs disagree with seqcast: max |diff| ${agreement.maxAbs.toExponential(2)} > ${AGREE_TOL} (${agreement.detail}); not timed`);
        continue;
      }
      cases.push({ workload, hidden: H, streamStepsPerCall: W3_LENGTH, peer, note: runner.note ?? '', agreement, run: sequenceRun(peer, runner, inputs) });
    }
    return { cases, cleanup };
  }

  const batch = workload === 'W1' ? 1 : W2_STREAMS;
  const pool = workload === 'W1' ? 256 : 16;
  const inputs = Array.from({ length: pool }, (_, k) => framesOf(randomFrames(batch, 42 + H * 1000 + k * 7, X), X));
  const ref = await reference.streams(model, batch);
  cleanup.push(() => ref.dispose());
  cases.push({ workload, hidden: H, streamStepsPerCall: batch, peer: reference, note: ref.note ?? '', agreement: { status: 'agrees', maxAbs: 0, detail: 'reference' }, run: stepRun(reference, ref, inputs) });
  for (const peer of others) {
    let stepper: Stepper;
    try {
      await peer.activate?.();
      stepper = await peer.streams(model, batch);
    } catch (err) {
      skip(peer, skipReason(err));
      continue;
    }
    cleanup.push(() => stepper.dispose());
    const agreement = await checkStreams(ref, stepper, batch, AGREE_STEPS, 5000 + H);
    log(`  ${peer.id}: ${agreement.status} (max |diff| ${agreement.maxAbs.toExponential(1)})`);
    if (agreement.status === 'disagrees') {
      skip(peer, `outputs disagree with seqcast: max |diff| ${agreement.maxAbs.toExponential(2)} > ${AGREE_TOL} (${agreement.detail}); not timed`);
      continue;
    }
    cases.push({ workload, hidden: H, streamStepsPerCall: batch, peer, note: stepper.note ?? '', agreement, run: stepRun(peer, stepper, inputs) });
  }
  return { cases, cleanup };
}

