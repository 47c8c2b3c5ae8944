// The kernel benchmark's settings and record types, shared by bench/kernel.ts (which measures) and bench/kernel-report.ts (which reports).

import { lstmFlopsPerStreamStep } from './common.js';
import type { Timing } from './timing.js';

export const X = 8; // frame width
export const O = 8; // head outputs
export const SIZES = [32, 128, 512];
export const W2_HIDDEN = 128;
export const W2_STREAMS = 64;
export const REPEATS = 15;
export const REPEAT_TARGET_MS = 60; // each repeat is sized to take about this long
export const WARMUP_MS = 400; // per implementation and workload, before calibration
export const WARMUP_MIN_CALLS = 200;
export const AGREE_TOL = 1e-4; // max |seqcast − naive|, and |seqcast − PyTorch| on check.json
export const AGREE_STEPS = 50;

/** The markers of this bench's section of bench/RESULTS.md. */
export const SECTION_START = '<!-- kernel:start -->';
export const SECTION_END = '<!-- kernel:end -->';

/** Matrix-product FLOPs of one stream-step (nonlinearities not counted). */
export function flopsPerStreamStep(H: number): number {
  return lstmFlopsPerStreamStep(H, X, O);
}

/** How closely seqcast, the naive LSTM and PyTorch's check.json agreed at one hidden size (max |difference|). */
export interface Agreement {
  hidden: number;
  checkJsonSeqcastMaxAbs: number;
  checkJsonNaiveMaxAbs: number;
  stepsCompared: number;
  seqcastVsNaiveMaxAbs: number;
}

/** One implementation in one workload, with its timed loop. */
export interface Case {
  workload: 'W1' | 'W2';
  hidden: number;
  streams: number; // stream-steps per call
  impl: 'seqcast' | 'seqcast-raw' | 'naive';
  label: string;
  run: (calls: number) => void;
}

/** A case's timing, GFLOP/s and speed-up over the naive LSTM. */
export interface Measured extends Case, Timing {
  gflops: number;
  speedupVsNaive?: number;
}
