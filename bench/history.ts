// The server's history (src/server/history.ts): what recording one frame costs, on the hot path of every prediction.
// 1,000 streams as in bench/server.ts (1 channel) and 8 channels, interleaved with a baseline loop over the same
// frames, in rounds; the steady state (every stream's raw tier full, folding into the decimated tier) is timed too.
// Writes its section of bench/RESULTS.md (between <!-- history:start --> and <!-- history:end -->).
//
// Run: npm run bench:history

import { loadavg } from 'node:os';
import { History } from '../src/server/history.js';
import type { ScoredFrame, StreamEntry } from '../src/stream/types.js';
import { writeResultsSection } from './report.js';
import { spread } from './timing.js';

const STREAMS = 1000;
const FRAMES_PER_ROUND = 200_000;
const ROUNDS = 15;
/** Frames per stream recorded before the steady case is timed. */
const STEADY_FILL_FRAMES = 12_000;
const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);

interface Frame {
  entry: StreamEntry;
  seq: number;
  t: number;
  actual: Float64Array;
  predicted: Float32Array;
  error: number;
  rmse: number;
  anomaly: number;
}

function framesOf(channels: number): Frame[] {
  return Array.from({ length: STREAMS }, (_, s) => ({
    entry: { name: `stream-${s}`, closed: false } as unknown as StreamEntry,
    seq: 0,
    t: 0,
    actual: Float64Array.from({ length: channels }, (_, c) => s + c),
    predicted: Float32Array.from({ length: channels }, (_, c) => s - c),
    error: 0.1,
    rmse: 0.1,
    anomaly: 0.5,
  }));
}

/**
 * CPU ns (this process, user + system) per frame of `count` frames through `work`, the frames' seq, t and anomaly
 * advanced as a server's would. CPU time, not wall time: on a loaded machine the wait for a core is not counted.
 */
function timeFrames(frames: Frame[], count: number, work: (frame: Frame) => void, start: { seq: number }): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const frame = frames[i % STREAMS];
    const seq = start.seq + Math.floor(i / STREAMS);
    frame.seq = seq;
    frame.t = 1_700_000_000_000 + 100 * seq;
    frame.anomaly = (seq % 97) / 97;
    work(frame);
  }
  start.seq += Math.ceil(count / STREAMS);
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1000) / count;
}

interface Case {
  label: string;
  recordNs: { median: number; p10: number; p90: number };
  baselineNs: { median: number; p10: number; p90: number };
  bytes: number;
}

function runCase(channels: number, steady: boolean): Case {
  const frames = framesOf(channels);
  const history = new History(0.5);
  const clock = { seq: 0 };
  const baseClock = { seq: 0 };
  let sink = 0;
  const record = (frame: Frame) => history.record(frame as unknown as ScoredFrame);
  const baseline = (frame: Frame) => {
    sink += frame.seq + frame.actual[0];
  };
  // spend the budget first (256 MiB over 1,000 streams is about 4,800 rows each), so what is timed is the steady
  // state: every frame folds the oldest raw row into the decimated tier
  if (steady) timeFrames(frames, STREAMS * STEADY_FILL_FRAMES, record, clock);
  else timeFrames(frames, STREAMS * 10, record, clock);
  const recordNs: number[] = [];
  const baselineNs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    baselineNs.push(timeFrames(frames, FRAMES_PER_ROUND, baseline, baseClock));
    recordNs.push(timeFrames(frames, FRAMES_PER_ROUND, record, clock));
  }
  if (sink === 42) console.log(sink);
  return { label: `${channels} channel${channels > 1 ? 's' : ''}, ${steady ? 'budget spent (every frame folds)' : 'growing'}`, recordNs: spread(recordNs), baselineNs: spread(baselineNs), bytes: history.totalTaken };
}

const before = loadavg()[0];
const cases = [runCase(1, false), runCase(1, true), runCase(8, false)];
const after = loadavg()[0];
const fmt = (s: { median: number; p10: number; p90: number }) => `${s.median.toFixed(0)} (${s.p10.toFixed(0)}–${s.p90.toFixed(0)})`;
const lines = [
  '<!-- history:start -->',
  '## History: the cost of recording a frame (`npm run bench:history`)',
  '',
  `${STREAMS} streams, frames round-robin as the server delivers them, ${ROUNDS} rounds of ${FRAMES_PER_ROUND.toLocaleString('en')} frames, each round`,
  'timed right after a baseline loop over the same frames (reading two fields); CPU ns per frame (process.cpuUsage), median (p10–p90).',
  `Load average ${before.toFixed(1)} before, ${after.toFixed(1)} after (a shared, busy machine: read the ratio to the baseline, not the absolute).`,
  '',
  '| case | History.record ns/frame | baseline ns/frame | bytes held |',
  '|---|---|---|---|',
  ...cases.map((c) => `| ${c.label} | ${fmt(c.recordNs)} | ${fmt(c.baselineNs)} | ${(c.bytes / 1024 / 1024).toFixed(1)} MiB |`),
  '',
  'At the server\'s ~300,000 frames/s flat out (bench/server.ts) a frame has about 3,300 ns in all; recording it in the history takes the share above.',
  '<!-- history:end -->',
];
const section = lines.join('\n');
console.log(section);
await writeResultsSection(RESULTS_MD, '<!-- history:start -->', '<!-- history:end -->', section);
