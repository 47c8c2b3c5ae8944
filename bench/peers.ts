// Peer benchmark: seqcast against TensorFlow.js (cpu and wasm backends), ONNX
// Runtime (node and web/wasm), brain.js and a plain TypeScript LSTM, side by
// side in one process, on the same weights (bench/models, bench/onnx). Each
// library is driven through its own public API (bench/peers/*.ts). Run:
// `npm run bench` (builds first) or `npx tsx bench/peers.ts`. Writes the peers
// section of bench/RESULTS.md, bench/results-peers.json and bench/results.svg.
// No timing assertions: the issue's targets are reported as met / not met.
//
// W1: one stream, one step per call, state carried; H = 32, 128, 512.
// W2: 64 streams stepped together, one step per call; H = 128.
// W3: one whole sequence per call (T = 256, from zero state); H = 128.
// Per stream-step FLOPs = 8·H·(X+H) + 2·O·H (the matrix products only).
//
// Before timing, every peer's outputs are compared with seqcast's on the same
// inputs (tolerance 1e-4); a peer that disagrees is not timed.
// This file runs it; bench/peers/workloads.ts builds the cases, bench/timing.ts
// times them, bench/peers/report.ts and plot.ts write the results.

import { fileURLToPath } from 'node:url';
import { fmtGflops, fmtUs, machineInfo, nowNs, wasmInfo } from './common.js';
import { writeResultsFile, writeResultsJson, writeResultsSection } from './report.js';
import { SMOKE, timeCases } from './timing.js';
import { plotSvg } from './peers/plot.js';
import { resultsTable, section, SECTION_END, SECTION_START, speedupCell, targetsFrom, targetsTable } from './peers/report.js';
import { AGREE_TOL, allPeers, loadBenchModel, O, X } from './peers/setup.js';
import type { BenchModel, Peer } from './peers/types.js';
import {
  flops, GROUPS, groupCases, REPEAT_TARGET_MS, REPEATS, sink, SIZES, TIMING, W2_HIDDEN, W2_STREAMS, W3_HIDDEN, W3_LENGTH, WARMUP_MS,
  type Case, type Measured, type Skipped,
} from './peers/workloads.js';

const BENCH_DIR = new URL('./', import.meta.url);
const RESULTS_MD = new URL('RESULTS.md', BENCH_DIR);
const RESULTS_JSON = new URL('results-peers.json', BENCH_DIR);
const RESULTS_SVG = new URL('results.svg', BENCH_DIR);

/** Times one group's cases with the shared harness, interleaved (each peer's backend activated before its turn). */
async function measure(cases: Case[]): Promise<Measured[]> {
  const timings = await timeCases(cases.map((c) => ({ run: c.run, streamStepsPerCall: c.streamStepsPerCall, activate: c.peer.activate && (() => c.peer.activate!()) })), TIMING);
  return cases.map((c, i) => ({
    workload: c.workload,
    hidden: c.hidden,
    streamStepsPerCall: c.streamStepsPerCall,
    id: c.peer.id,
    library: c.peer.library,
    version: c.peer.version,
    backend: c.peer.backend,
    note: c.note,
    agreement: c.agreement,
    ...timings[i],
    gflops: flops(c.hidden) / (timings[i].medianUs * 1e3),
  }));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const began = nowNs();
  const machine = machineInfo();
  // the reference is seqcast's plain build, whatever build this runtime would load by default
  const wasm = await wasmInfo(new URL('../build/seqcast.wasm', import.meta.url));
  const log = (line: string) => console.log(line);
  log(`seqcast peer benchmark — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}`);

  const models = new Map<number, BenchModel>();
  for (const H of new Set([...SIZES, W2_HIDDEN, W3_HIDDEN])) models.set(H, await loadBenchModel(H));

  const peers: Peer[] = [];
  const skipped: Skipped[] = [];
  for (const peer of allPeers()) {
    try {
      await peer.init();
      peers.push(peer);
      log(`${peer.id}: ${peer.library} ${peer.version}, ${peer.backend}`);
    } catch (err) {
      const reason = `could not start: ${err instanceof Error ? err.message : String(err)}`;
      log(`${peer.id}: ${reason}`);
      for (const g of GROUPS) skipped.push({ workload: g.workload, hidden: g.hidden, id: peer.id, library: peer.library, version: peer.version, reason });
    }
  }
  if (peers[0]?.id !== 'seqcast') throw new Error('seqcast itself could not start');

  const results: Measured[] = [];
  for (const group of GROUPS) {
    log(`${group.label}: checking outputs against seqcast ...`);
    const { cases, cleanup } = await groupCases(group, models.get(group.hidden)!, peers, skipped, log);
    log(`${group.label}: timing ${cases.length} implementations ...`);
    const measured = await measure(cases);
    const s = measured.find((r) => r.id === 'seqcast')!;
    for (const r of measured) r.seqcastSpeedup = r.medianUs / s.medianUs;
    for (const r of measured) log(`  ${r.id.padEnd(18)} ${fmtUs(r.medianUs).padStart(8)} µs/step  ${fmtGflops(r.gflops).padStart(6)} GFLOP/s  seqcast ${speedupCell(r)}`);
    results.push(...measured);
    for (const free of cleanup) await free();
  }
  for (const peer of peers) await peer.close?.();
  if (!Number.isFinite(sink.value)) console.warn(`warning: the outputs summed during timing are not finite (${sink.value})`);

  const targets = targetsFrom(results);
  const seconds = Number(nowNs() - began) / 1e9;
  await writeResultsSection(RESULTS_MD, SECTION_START, SECTION_END, section(machine, wasm, results, skipped, targets, seconds));
  await writeResultsFile(RESULTS_SVG, plotSvg(results, machine));
  await writeResultsJson(RESULTS_JSON, {
    benchmark: 'peers',
    machine,
    kernel: wasm,
    config: { inputSize: X, outputSize: O, sizes: SIZES, w2: { hidden: W2_HIDDEN, streams: W2_STREAMS }, w3: { hidden: W3_HIDDEN, length: W3_LENGTH }, repeats: REPEATS, repeatTargetMs: REPEAT_TARGET_MS, warmupMs: WARMUP_MS, agreementTolerance: AGREE_TOL },
    flopsFormula: 'per stream-step FLOPs = 8*H*(X+H) + 2*O*H (matrix products only; nonlinearities not counted)',
    results: results.map((r) => ({ ...r, flopsPerStreamStep: flops(r.hidden) })),
    skipped,
    targets,
    seconds,
  });

  console.log('');
  console.log(resultsTable(results, skipped));
  console.log('');
  console.log(targetsTable(targets));
  console.log('');
  console.log(SMOKE ? 'smoke run: done, nothing written' : `wrote ${fileURLToPath(RESULTS_MD)} (peers section), ${fileURLToPath(RESULTS_SVG)} and ${fileURLToPath(RESULTS_JSON)} in ${seconds.toFixed(1)} s`);
  const disagreeing = skipped.filter((s) => s.reason.startsWith('outputs disagree'));
  if (disagreeing.length > 0) {
    console.error(`error: ${disagreeing.map((s) => `${s.id} ${s.workload} H=${s.hidden}`).join(', ')} disagreed with seqcast and ${disagreeing.length > 1 ? 'were' : 'was'} not timed`);
    process.exitCode = 1;
  }
}

main().then(() => {
  // onnxruntime-web / tfjs-backend-wasm may keep handles open; the results are written
  process.exit(process.exitCode ?? 0);
}, (err: unknown) => {
  console.error(err);
  process.exit(1);
});
