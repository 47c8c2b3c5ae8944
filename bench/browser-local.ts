// The dashboard's local mode (web/src/local/): how fast the page, alone in Debian's chromium, learns, predicts and scores the
// bundled NAB file in its Web Worker, beside `seqcast detect`'s detector on the same file in Node; rounds interleaved.
// Writes the browser section of bench/RESULTS.md.
//
// Run: `npm run bench:browser` (or `npx tsx bench/browser-local.ts [--rounds N]` after `npm run build`). BENCH_SMOKE=1: one round,
// nothing written.

import { fileURLToPath } from 'node:url';
import { createModel } from '../src/api/model.js';
import { DETECT_MODEL, detectAnomalies, readDetectInput } from '../src/cli/detect.js';
import { machineInfo, percentile } from './common.js';
import { writeResultsSection } from './report.js';
import { SMOKE } from './timing.js';
import { buildIfMissing, launchChromium } from '../scripts/dashboard-browser.js';
import { startStaticServer, WEB_DIST } from '../scripts/static-server.js';

const NAB_FILE = fileURLToPath(new URL('../demo/machine_temperature_system_failure.csv', import.meta.url));
const at = process.argv.indexOf('--rounds');
const ROUNDS = SMOKE ? 1 : Number(at >= 0 ? process.argv[at + 1] : 5);

/** One way to run the file: where, which kernel build, how many forecast rows per row. */
interface Case {
  name: string;
  run(): Promise<number>;
}

async function main(): Promise<void> {
  buildIfMissing();
  const input = await readDetectInput(NAB_FILE);
  const rows = input.values.length;
  const server = await startStaticServer(WEB_DIST);
  const browser = await launchChromium();

  /** Seconds the page's worker spends on the file (its own measure: stepping, scoring, forecasting; not posting or drawing). */
  const inPage = (kernel: string, horizon: number) => async (): Promise<number> => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${server.url}#local&kernel=${kernel}`);
      await page.waitForSelector('#local-dialog[open]');
      await page.setInputFiles('#local-csv', NAB_FILE);
      await page.selectOption('#local-rate', '0');
      await page.fill('#local-horizon', String(horizon));
      await page.click('#local-form button[type="submit"]');
      await page.waitForFunction("['done', 'failed'].includes(window.seqcast.snapshot().local?.state)", undefined, { timeout: 300_000, polling: 200 });
      const status = (await page.evaluate('(({ state, problem, computeSeconds, kernel }) => ({ state, problem, computeSeconds, kernel }))(window.seqcast.snapshot().local)')) as { state: string; problem?: string; computeSeconds: number; kernel: string };
      if (status.state !== 'done') throw new Error(`the page could not run the file: ${status.problem}`);
      if (status.kernel !== kernel) throw new Error(`the page ran the ${status.kernel} kernel, not ${kernel}`);
      return status.computeSeconds;
    } finally {
      await page.close();
    }
  };
  const inNode = async (): Promise<number> => {
    const model = await createModel({ ...DETECT_MODEL, inputSize: 1 }, { kernel: 'baseline' });
    const started = performance.now();
    detectAnomalies(model, input.values, input.timestamps);
    const seconds = (performance.now() - started) / 1000;
    model.close();
    return seconds;
  };
  const cases: Case[] = [
    { name: `Node ${process.version}, \`seqcast detect\`'s detector, plain SIMD build`, run: inNode },
    { name: 'chromium, the page alone, plain SIMD build, no forecast', run: inPage('baseline', 0) },
    { name: 'chromium, the page alone, relaxed SIMD build, no forecast', run: inPage('relaxed', 0) },
    { name: 'chromium, the page alone, relaxed SIMD build, forecast of 10 rows per row (the dialog\'s default)', run: inPage('relaxed', 10) },
  ];
  const samples = cases.map(() => [] as number[]);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, c] of cases.entries()) {
        const seconds = await c.run();
        samples[i].push((seconds / rows) * 1e6);
        console.log(`round ${round}: ${c.name}: ${seconds.toFixed(2)} s, ${((seconds / rows) * 1e6).toFixed(1)} µs per row`);
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  const machine = machineInfo();
  const browserVersion = await browserVersionOf();
  const lines = [
    '<!-- browser:start -->',
    '## The page alone: the dashboard\'s local mode in chromium',
    '',
    `Written by \`npm run bench:browser\` (bench/browser-local.ts): the bundled NAB file (${rows.toLocaleString('en-US')} rows) learnt online from scratch, predicted and scored row by row`,
    `by \`seqcast detect\`'s detector (a new LSTM, H 32), in Node and in the dashboard's Web Worker (served by a plain static file server,`,
    `no seqcast server), ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} interleaved. The page's time is its worker's own measure of the rows' work (stepping, learning,`,
    'scoring and forecasting them), leaving out posting the predictions and drawing them. Anomaly scores are the same in both',
    '(tests/web/local-mode.test.ts checks every row, bit for bit, on the plain build).',
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${browserVersion}, ${machine.date}; load average ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')} at the end.`,
    '',
    '| where | µs per row, median | p10 – p90 | rows per second |',
    '|---|---:|---:|---:|',
    ...cases.map((c, i) => {
      const sorted = [...samples[i]].sort((a, b) => a - b);
      const median = percentile(sorted, 0.5);
      return `| ${c.name} | ${median.toFixed(1)} | ${percentile(sorted, 0.1).toFixed(1)} – ${percentile(sorted, 0.9).toFixed(1)} | ${Math.round(1e6 / median).toLocaleString('en-US')} |`;
    }),
    '<!-- browser:end -->',
  ];
  if (SMOKE) console.log(lines.join('\n'));
  else await writeResultsSection(new URL('RESULTS.md', import.meta.url), '<!-- browser:start -->', '<!-- browser:end -->', lines.join('\n'));
}

/** chromium's version line (`chromium --version`). */
async function browserVersionOf(): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
