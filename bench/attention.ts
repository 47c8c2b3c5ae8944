// Attention benchmark: per-step time of incremental attention (KV ring buffer)
// at stream positions 100, 10,000 and 1,000,000, against recomputing the whole
// window from its inputs every step, in one process. Run: `npm run bench:attention`
// or `npx tsx bench/attention.ts`. Writes the attention section of bench/RESULTS.md.
//
// Model: a 2-block frame transformer, D = 64, 4 heads, MLP 256, window W = 128,
// no sinks, X = 8 inputs, head 8 outputs.
// The recompute baseline uses the same kernel: for each new frame it resets a
// slot, moves it to position p − W + 1 and steps the last W frames through it,
// keeping only the last output. That is what a transformer without a KV cache does
// with a sliding window: every projection and every score recomputed each step.
//
// Then the quality column (bench/attention-quality.ts): held-out loss of char-level transformers at stream positions
// 0–63, 10³, 10⁵ and 10⁶, absolute sinusoidal positions against ALiBi. BENCH_QUALITY_STEPS sets their training
// budget; BENCH_QUALITY_MODELS (paths, comma-separated) adds trained files, e.g. the README command's.

import { createModel, type Stream } from '../src/index.js';
import { measureQuality, qualityLines } from './attention-quality.js';
import { fmtGflops, fmtUs, machineInfo, nowNs, randomFrames } from './common.js';
import { writeResultsSection } from './report.js';
import { spread, type Spread } from './timing.js';

const X = 8, D = 64, HEADS = 4, MLP = 256, BLOCKS = 2, WINDOW = 128, O = 8;
const POSITIONS = [100, 10_000, 1_000_000];
const REPEATS = 15;
const STEPS_PER_REPEAT = 200;
const RESULTS_MD = new URL('RESULTS.md', import.meta.url);

/** FLOPs of one incremental step: 2 per multiply-add of every product (LN, GELU, softmax not counted). */
function flopsPerStep(attended: number): number {
  const projections = X * D + BLOCKS * (3 * D * D + D * D + 2 * D * MLP) + D * O;
  const attention = BLOCKS * 2 * attended * D; // q·k for every key, then the weighted sum of values
  return 2 * (projections + attention);
}

/** Median, p10, p90 of µs per call over REPEATS repeats of `calls` calls. */
function time(run: () => void, calls: number): Spread {
  for (let i = 0; i < calls; i++) run(); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = nowNs();
    for (let i = 0; i < calls; i++) run();
    samples.push(Number(nowNs() - t0) / 1e3 / calls);
  }
  return spread(samples);
}

async function main(): Promise<void> {
  const started = Date.now();
  const model = await createModel({ kind: 'transformer', inputSize: X, width: D, heads: HEADS, mlpSize: MLP, blocks: BLOCKS, window: WINDOW, outputSize: O, seed: 1 }); // ALiBi, the default
  const frames = randomFrames(4096, 7, X);
  const live = model.openStream();
  const scratch = model.openStream();
  const recomputeSnapshot = scratch.snapshot();
  const view = new DataView(recomputeSnapshot.buffer);
  let fed = 0;
  const feed = (s: Stream) => s.step(frames[fed++ % frames.length]);

  // every position before each measured one is stepped for real; a snapshot there lets every
  // repeat start from the same place, and the three positions are timed round-robin so the
  // machine's drifts spread evenly over them
  const snapshots = new Map<number, Uint8Array>();
  for (const position of POSITIONS) {
    while (live.position < position) feed(live);
    snapshots.set(position, live.snapshot());
  }
  const samples = new Map<number, number[]>(POSITIONS.map((p) => [p, []]));
  for (const position of POSITIONS) { live.restore(snapshots.get(position)!); for (let i = 0; i < STEPS_PER_REPEAT; i++) feed(live); } // warm-up
  for (let r = 0; r < REPEATS; r++) {
    for (const position of POSITIONS) {
      live.restore(snapshots.get(position)!);
      const t0 = nowNs();
      for (let i = 0; i < STEPS_PER_REPEAT; i++) feed(live);
      samples.get(position)!.push(Number(nowNs() - t0) / 1e3 / STEPS_PER_REPEAT);
    }
  }
  const rows: string[] = [];
  const json: unknown[] = [];
  for (const position of POSITIONS) {
    const incremental = spread(samples.get(position)!);
    const first = Math.max(0, position - WINDOW + 1);
    const windowFrames = Array.from({ length: position - first + 1 }, (_, i) => frames[(first + i) % frames.length]);
    const recompute = time(() => {
      view.setFloat64(32, first, true);
      scratch.restore(recomputeSnapshot);
      for (const frame of windowFrames) scratch.step(frame);
    }, 3);
    const flops = flopsPerStep(Math.min(WINDOW, position + 1));
    const ratio = recompute.median / incremental.median;
    rows.push(`| ${position.toLocaleString('en-US')} | **${fmtUs(incremental.median)}** | ${fmtUs(incremental.p10)} – ${fmtUs(incremental.p90)} | ${fmtGflops(flops / incremental.median / 1e3)} | ${fmtUs(recompute.median)} | ${ratio.toFixed(0)}× |`);
    json.push({ position, incremental, recompute, flops, ratio });
    console.log(`position ${position}: incremental ${incremental.median.toFixed(2)} µs, recompute ${recompute.median.toFixed(0)} µs, ${ratio.toFixed(0)}×`);
  }
  const medians = (json as { incremental: { median: number } }[]).map((r) => r.incremental.median);
  const positionSpread = (Math.max(...medians) / Math.min(...medians) - 1) * 100;
  const quality = await measureQuality((process.env.BENCH_QUALITY_MODELS ?? '').split(',').filter((p) => p !== ''));
  const machine = machineInfo();
  const section = [
    '<!-- attention:start -->',
    '## Attention: incremental steps stay flat as the stream grows',
    '',
    'Written by `npm run bench:attention` (bench/attention.ts).',
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}.`,
    '',
    `Model: frame transformer (ALiBi positions, the default), ${BLOCKS} pre-LN blocks, D = ${D}, ${HEADS} heads, MLP ${MLP}, window W = ${WINDOW}, no sinks, X = ${X}, head ${O}. One stream, one step per call; every position before the measured one was stepped for real.`,
    '',
    '- **incremental**: `stream.step(frame)`: this position\'s q, k, v, appended to the ring buffer, attention over the W cached positions.',
    '- **recompute**: the same kernel without a cache: per new frame, the last W frames stepped from an empty cache (restored at position p − W + 1); only the last output kept.',
    `- FLOPs per incremental step = 2 × (X·D + ${BLOCKS}·(3D² + D² + 2·D·MLP) + D·O + ${BLOCKS}·2·W·D) = ${flopsPerStep(WINDOW).toLocaleString('en-US')} (the products; LayerNorm, GELU and softmax not counted).`,
    `- ${REPEATS} repeats of ${STEPS_PER_REPEAT} steps per position, each from a snapshot taken at that position, the three positions timed round-robin (recompute: 3 repeats); median and p10 – p90. From position 100 the stream attends 101 positions at first, then the full window.`,
    '',
    '| stream position | incremental µs / step | p10 – p90 | GFLOP/s | recompute µs / step | recompute ÷ incremental |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Spread of the incremental medians across positions: ${positionSpread.toFixed(1)}% (flat within noise means a few percent on this shared 2-core machine).`,
    '',
    ...qualityLines(quality),
    '',
    `Whole run: ${((Date.now() - started) / 1000).toFixed(1)} s.`,
    '<!-- attention:end -->',
  ].join('\n');
  await writeResultsSection(RESULTS_MD, '<!-- attention:start -->', '<!-- attention:end -->', section);
  console.log(section);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
