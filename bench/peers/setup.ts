// Shared by bench/peers.ts and tests/peers-agree.test.ts: the benchmark models,
// the list of peers, and the agreement checks (every peer against seqcast on
// the same weights and inputs, before anything is timed).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { readSafetensors, supportsRelaxedSimd } from '../../src/index.js';
import { maxDiff, randomFrames } from '../common.js';
import { lstmWeights } from '../naive-lstm.js';
import { brainPeer } from './brain.js';
import { naivePeer } from './naive.js';
import { onnxruntimePeer } from './onnxruntime.js';
import { seqcastPeer } from './seqcast.js';
import { tfjsPeer } from './tfjs.js';
import { framesOf, Skip, type BenchModel, type Peer, type SequenceRunner, type Stepper } from './types.js';

export const X = 8;
export const O = 8;
export const AGREE_TOL = 1e-4;

const BENCH_DIR = new URL('../', import.meta.url);

/** The shared model of hidden size H: weights from bench/models/lstm_hH.safetensors, ONNX from bench/onnx/. */
export async function loadBenchModel(H: number): Promise<BenchModel> {
  const safetensorsPath = fileURLToPath(new URL(`models/lstm_h${H}.safetensors`, BENCH_DIR));
  const onnxPath = fileURLToPath(new URL(`onnx/lstm_h${H}.onnx`, BENCH_DIR));
  const file = readSafetensors(await readFile(safetensorsPath), safetensorsPath);
  const weights = lstmWeights((name) => {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`${safetensorsPath} has no tensor ${name}`);
    return t.data;
  });
  if (weights.hiddenSize !== H || weights.inputSize !== X || weights.outputSize !== O) {
    throw new Error(`${safetensorsPath}: expected an LSTM ${X} → ${H} with head ${O}, got ${weights.inputSize} → ${weights.hiddenSize} with head ${weights.outputSize}`);
  }
  return { hidden: H, inputSize: X, outputSize: O, weights, safetensorsPath, onnxPath };
}

/** seqcast first (the reference), then the peers, then the plain TypeScript baseline. */
/** Every implementation timed; seqcast first (its plain build, the reference), its relaxed-SIMD build where this runtime runs it. */
export function allPeers(): Peer[] {
  const relaxed = supportsRelaxedSimd() ? [seqcastPeer('relaxed')] : [];
  return [seqcastPeer('baseline'), ...relaxed, tfjsPeer('cpu'), tfjsPeer('wasm'), onnxruntimePeer('node'), onnxruntimePeer('web'), brainPeer(), naivePeer()];
}

export type AgreementStatus = 'agrees' | 'agrees-first-step' | 'not-comparable' | 'disagrees';

export interface Agreement {
  status: AgreementStatus;
  /** Largest |peer − seqcast| over every compared output. */
  maxAbs: number;
  /** How the outputs were compared. */
  detail: string;
}

/**
 * Steps `peer` and seqcast (`ref`) over the same random frames, `steps` positions
 * of `batch` streams, comparing every output. A peer that cannot carry state is
 * compared with one seqcast step from zero state per frame. Both are reset after.
 */
export async function checkStreams(ref: Stepper, peer: Stepper, batch: number, steps: number, seed: number): Promise<Agreement> {
  let worst = 0;
  await ref.reset();
  await peer.reset();
  for (let t = 0; t < steps; t++) {
    const frames = framesOf(randomFrames(batch, seed + t, X), X);
    if (!peer.carriesState) await ref.reset();
    await ref.step(frames);
    await peer.step(frames);
    worst = Math.max(worst, maxDiff(peer.last(), ref.last()).diff);
  }
  await ref.reset();
  await peer.reset();
  const what = `${steps} step${steps > 1 ? 's' : ''} × ${batch} stream${batch > 1 ? 's' : ''}, all ${O} outputs`;
  if (!(worst <= AGREE_TOL)) return { status: 'disagrees', maxAbs: worst, detail: what };
  if (!peer.carriesState) return { status: 'agrees-first-step', maxAbs: worst, detail: `${what}; each call one step from zero state (the library cannot carry state)` };
  return { status: 'agrees', maxAbs: worst, detail: `${what}, state carried` };
}

/** Runs one sequence through `peer` and seqcast's `ref`, comparing every output (or the last, for libraries that return only that). */
export async function checkSequence(ref: SequenceRunner, peer: SequenceRunner, length: number, seed: number): Promise<Agreement> {
  const sequence = framesOf(randomFrames(length, seed, X), X);
  await ref.run(sequence);
  await peer.run(sequence);
  const all = ref.last();
  const expected = peer.lastOnly ? all.subarray(all.length - O) : all;
  const worst = maxDiff(peer.last(), expected).diff;
  const what = peer.lastOnly ? `the last of ${length} outputs (all the library returns)` : `all ${length} × ${O} outputs`;
  if (peer.notComparable) return { status: 'not-comparable', maxAbs: worst, detail: `${what} differ by up to ${worst.toExponential(1)}: ${peer.notComparable}` };
  if (!(worst <= AGREE_TOL)) return { status: 'disagrees', maxAbs: worst, detail: what };
  return { status: 'agrees', maxAbs: worst, detail: what };
}

/** A Skip's reason, or rethrows anything else. */
export function skipReason(err: unknown): string {
  if (err instanceof Skip) return err.message;
  throw err;
}
