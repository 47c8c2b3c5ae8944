// `npm run screenshots`: the README's dashboard pictures, taken in Debian's chromium from a live `seqcast serve --demo`, and
// of the page alone (a static file server, no seqcast server) running the bundled NAB file itself.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildIfMissing, launchChromium, ROOT, startDemoServer } from './dashboard-browser.js';
import { startStaticServer, WEB_DIST } from './static-server.js';

const OUT = join(ROOT, 'docs/images');
/** Frames per second of the demo while shooting: fast enough to reach NAB's first labelled window (row 2126) within a minute. */
const RATE = 50;
/** The machine-temperature seq to wait for: NAB's first labelled window (rows 2126–2692) is then on screen. */
const NAB_SEQ = 2800;

async function main(): Promise<void> {
  buildIfMissing();
  // the pictures show the dashboard as the source has it now
  const built = spawnSync('npm', ['run', 'build:web', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('npm run build:web failed');
  mkdirSync(OUT, { recursive: true });

  const server = await startDemoServer({ rate: RATE });
  const browser = await launchChromium({ width: 1280, height: 940 });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${server.url}#stream=machine-temperature`);
    process.stdout.write(`waiting for the NAB replay to reach its first labelled anomaly window (seq ${NAB_SEQ}, about ${Math.round(NAB_SEQ / RATE)} s)…\n`);
    await page.waitForFunction(`(window.seqcast?.snapshot().lastSeq['machine-temperature'] ?? -1) >= ${NAB_SEQ}`, undefined, { timeout: 3 * 60_000, polling: 500 });
    const overview = join(OUT, 'dashboard-overview.png');
    await page.screenshot({ path: overview });
    process.stdout.write(`wrote ${overview}\n`);

    await page.setViewportSize({ width: 400, height: 860 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.evaluate(`location.hash = 'stream=ball'`);
    await page.waitForFunction(`window.seqcast.snapshot().selected === 'ball'`);
    await page.waitForTimeout(1500);
    await page.evaluate(`document.querySelector('#view').scrollIntoView()`);
    const narrow = join(OUT, 'dashboard-400px.png');
    await page.screenshot({ path: narrow });
    process.stdout.write(`wrote ${narrow}\n`);

    // the hybrid (LSTM + attention block) sensors stream, with its attention heatmap
    await page.setViewportSize({ width: 1280, height: 1400 });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.evaluate(`location.hash = 'stream=sensors-attention'`);
    await page.waitForFunction(`window.seqcast.snapshot().selected === 'sensors-attention' && !document.querySelector('canvas.heatmap').hidden`);
    await page.waitForTimeout(1500);
    const attention = join(OUT, 'dashboard-attention.png');
    await page.screenshot({ path: attention, fullPage: true });
    process.stdout.write(`wrote ${attention}\n`);
  } finally {
    await browser.close();
    await server.kill();
  }
  await shootLocalMode();
}

/** The page alone: served as plain files, it runs the bundled NAB file dropped on it, at 100 rows/s, into its first labelled window. */
async function shootLocalMode(): Promise<void> {
  const files = await startStaticServer(WEB_DIST);
  const browser = await launchChromium({ width: 1280, height: 940 });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${files.url}#local`);
    await page.setInputFiles('#local-csv', join(ROOT, 'demo/machine_temperature_system_failure.csv'));
    await page.selectOption('#local-rate', '100');
    await page.click('#local-form button[type="submit"]');
    process.stdout.write(`waiting for the page to replay the NAB file to row ${NAB_SEQ} by itself (about ${Math.round(NAB_SEQ / 100)} s)…\n`);
    await page.waitForFunction(`(window.seqcast?.snapshot().local?.predicted ?? 0) >= ${NAB_SEQ}`, undefined, { timeout: 3 * 60_000, polling: 500 });
    const local = join(OUT, 'dashboard-local.png');
    await page.screenshot({ path: local });
    process.stdout.write(`wrote ${local}\n`);
  } finally {
    await browser.close();
    await files.close();
  }
}

main().catch((err) => {
  process.stderr.write(`screenshots: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
