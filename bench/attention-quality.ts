// Attention quality by stream position (issue 13 item 1), for bench/attention.ts: char-level transformers of the
// README's command (D 64, 4 heads, 2 blocks, window 64) trained on tiny shakespeare with the same budget, once with
// absolute sinusoidal positions and once with ALiBi, then the same held-out characters predicted by streams that
// reach them at position 0 and at positions 10³, 10⁵ and 10⁶, every position before them stepped for real.
//
// The measured characters: K blocks of 64 consecutive characters of the validation part. At position 0, each block
// is the start of its own stream (positions 0–63: less context, as any stream's start). At position p, one stream is
// fed the validation text (cyclically) so that position p holds the blocks' first character: the W characters before
// each measured one are its true predecessors at every p ≥ W.

import { existsSync } from 'node:fs';
import { createModel, loadModel, type Model, type Stream } from '../src/index.js';
import { readTextData } from '../src/train/data.js';
import { runTraining } from '../src/train/loop.js';
import { planText } from '../src/train/plan.js';
import { crossEntropy } from '../src/train/tasks.js';

export const SHAKESPEARE = process.env.SEQCAST_SHAKESPEARE ?? '/work/shared/datasets/tinyshakespeare/input.txt';
/** Optimizer steps of each trained model (32 windows × 64 characters each). */
const TRAIN_STEPS = Number(process.env.BENCH_QUALITY_STEPS ?? 150);
const POSITIONS = [0, 1_000, 100_000, 1_000_000];
const BLOCKS = 8, BLOCK = 64;

export interface QualityRow {
  model: string;
  /** Mean cross-entropy (nats) of the measured characters, by position. */
  losses: number[];
  /** Largest relative difference between the losses at positions ≥ 10³ and the one at 10³. */
  farSpread: number;
}

export interface Quality {
  rows: QualityRow[];
  positions: number[];
  unigram: number;
  trainSteps: number;
  seconds: number;
}

/** Mean cross-entropy of the measured characters of `ids` (validation ids) at each of POSITIONS. */
function lossesByPosition(model: Model, ids: Int32Array, start: number): number[] {
  const n = ids.length;
  const measured = BLOCKS * BLOCK;
  const result: number[] = [];
  // position 0: one stream per block
  let sum = 0;
  for (let k = 0; k < BLOCKS; k++) {
    const stream = model.openStream();
    for (let t = 0; t < BLOCK; t++) sum += crossEntropy(stream.step(ids[start + k * BLOCK + t]), ids[start + k * BLOCK + t + 1]);
    stream.close();
  }
  result.push(sum / measured);
  // far positions: one stream each, stepped together, each fed so that position p holds ids[start]
  const far = POSITIONS.slice(1);
  const streams: Stream[] = far.map(() => model.openStream());
  const sums = far.map(() => 0);
  const last = Math.max(...far) + measured;
  for (let q = 0; q < last; q++) {
    const active = far.map((p, i) => (q < p + measured ? i : -1)).filter((i) => i >= 0);
    const at = active.map((i) => (((start + q - far[i]) % n) + n) % n);
    const outputs = model.stepBatch(active.map((i) => streams[i]), at.map((a) => ids[a]));
    active.forEach((i, b) => {
      if (q >= far[i]) sums[i] += crossEntropy(outputs[b], ids[(at[b] + 1) % n]);
    });
  }
  for (const s of streams) s.close();
  return [...result, ...sums.map((s) => s / measured)];
}

/** Trains, or loads, the models and measures them; undefined when the data set is not on this machine. */
export async function measureQuality(extraModels: string[] = []): Promise<Quality | undefined> {
  if (!existsSync(SHAKESPEARE)) return undefined;
  const started = Date.now();
  const data = await readTextData(SHAKESPEARE);
  const plan = planText(data, { shape: 'many-to-many', window: 64, batch: 32, valSplit: 0.1 });
  const ids = data.ids.subarray(Math.floor(data.ids.length * 0.9));
  const start = 1000;
  const rows: QualityRow[] = [];
  const measure = (name: string, model: Model) => {
    const losses = lossesByPosition(model, ids, start);
    const farSpread = Math.max(...losses.slice(1).map((l) => Math.abs(l / losses[1] - 1)));
    rows.push({ model: name, losses, farSpread });
    console.log(`quality: ${name}: ${losses.map((l) => l.toFixed(4)).join(' / ')}`);
  };
  for (const positional of ['sinusoidal', 'alibi'] as const) {
    const model = await createModel({ kind: 'transformer', ...plan.spec, width: 64, heads: 4, blocks: 2, window: 64, positional, seed: 0, metadata: plan.metadata });
    await runTraining(model, plan.task, { epochs: 1, patience: 0, maxSteps: TRAIN_STEPS, seed: 0, lr: 2e-3, clip: 1 }, {});
    measure(`${positional}, ${TRAIN_STEPS} steps here`, model);
    model.close();
  }
  for (const path of extraModels) {
    const model = await loadModel(path);
    measure(`${path.split('/').pop()} (${model.arch.attention?.positional})`, model);
    model.close();
  }
  // the unigram baseline of the same characters: training frequencies, add-one smoothed
  const V = data.vocab.length;
  const counts = new Array<number>(V).fill(1);
  const train = data.ids.subarray(0, data.ids.length - ids.length);
  for (const id of train) counts[id]++;
  let unigram = 0;
  for (let t = 0; t < BLOCKS * BLOCK; t++) unigram -= Math.log(counts[ids[start + t + 1]] / (train.length + V));
  return { rows, positions: POSITIONS, unigram: unigram / (BLOCKS * BLOCK), trainSteps: TRAIN_STEPS, seconds: (Date.now() - started) / 1000 };
}

/** The quality table for bench/RESULTS.md. */
export function qualityLines(q: Quality | undefined): string[] {
  if (!q) return [`Quality: skipped (no tiny shakespeare at ${SHAKESPEARE}; set SEQCAST_SHAKESPEARE).`];
  const head = q.positions.map((p) => (p === 0 ? 'positions 0–63' : `from ${p.toLocaleString('en-US')}`));
  return [
    '### Quality: held-out loss by stream position',
    '',
    `Char-level transformers of the README's command (\`--kind transformer --hidden 64 --heads 4 --blocks 2\`, window 64, no sinks) on tiny shakespeare; "here" models trained by this script for ${q.trainSteps} Adam steps (32 windows × 64 characters) each, with the same seed and data. Cross-entropy in nats of the same ${BLOCKS * BLOCK} held-out characters (${BLOCKS} blocks of ${BLOCK} from the validation part), predicted by streams that reach them at position 0 (each block starts its own stream: little context) or at the position named, every position before stepped for real, the ${'W'} characters before each measured one its true predecessors. Unigram baseline (training frequencies) on the same characters: ${q.unigram.toFixed(4)}.`,
    '',
    `| model | ${head.join(' | ')} | largest difference from the 10³ loss, positions ≥ 10³ |`,
    `|---|${head.map(() => '---:').join('|')}|---:|`,
    ...q.rows.map((r) => `| ${r.model} | ${r.losses.map((l) => l.toFixed(4)).join(' | ')} | ${(100 * r.farSpread).toFixed(2)}% |`),
    '',
    `Quality part: ${q.seconds.toFixed(0)} s.`,
  ];
}
