// The dashboard in a real browser: Debian's chromium (playwright-core) on `seqcast serve --demo`, reading what the page holds and draws.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildIfMissing, launchChromium, ROOT, startDemoServer, type RunningServer } from '../../scripts/dashboard-browser';

const ARTIFACTS = join(ROOT, 'test-artifacts');

interface Snapshot {
  status: string;
  bannerShown: boolean;
  streams: string[];
  selected: string | undefined;
  received: Record<string, number>;
  listed: Record<string, { horizon: number; learn: boolean }>;
  forecastRows: Record<string, number>;
  charts: { rows: number; values: number[] }[];
  replies: { type: string; stream?: string; code?: string; streams?: unknown }[];
  detection: { profile: string; label: string; threshold: number };
  detections: number;
  marks: (number | null)[];
  seqs: Record<string, { rows: number; first: number; last: number; repeats: number; breaks: number }>;
}

let server: RunningServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
const pageErrors: string[] = [];

// page.evaluate takes strings here: functions compiled by vitest carry helpers (__name) the page does not have
const snapshot = (p: Page = page) => p.evaluate('window.seqcast.snapshot()') as Promise<Snapshot>;
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds for a snapshot, and returns that snapshot. */
async function until(check: (s: Snapshot) => boolean, what: string, timeoutMs = 10_000, p: Page = page): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  let last = await snapshot(p);
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; the page holds ${JSON.stringify({ ...last, replies: last.replies.slice(-5) })}`);
    await settle(100);
    last = await snapshot(p);
  }
  return last;
}

/** A producer's WebSocket on the server, open. */
function producerSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}ws`);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function openStream(name: string): Promise<void> {
  await page.click(`.stream-row[data-stream="${name}"]`);
  await until((s) => s.selected === name && s.charts.length > 0, `the view shows ${name}`);
}

describe('the dashboard in chromium', () => {
  beforeAll(async () => {
    buildIfMissing();
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startDemoServer({ rate: 20 });
    browser = await launchChromium();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.kill();
  });

  it('fills the stream list with the demo streams, each with a rate and an anomaly state', async () => {
    await page.waitForFunction('document.querySelectorAll("#stream-list .stream-row").length >= 3', undefined, { timeout: 10_000 });
    const rows = (await page.evaluate('[...document.querySelectorAll("#stream-list .stream-row")].map((row) => row.innerText)')) as string[];
    expect(rows.map((text) => text.split('\n')[0])).toEqual(['machine-temperature', 'sensors', 'sensors-attention', 'ball']);
    await until((s) => Object.values(s.received).every((n) => n > 5), 'every stream has predictions');
    // the list redraws on its own schedule: wait (bounded) for every row to show a rate and an anomaly state
    await page.waitForFunction(
      '[...document.querySelectorAll("#stream-list .stream-row")].every((row) => /\\d+(\\.\\d)?\\/s/.test(row.innerText) && /normal|watch|anomalous|learning/.test(row.innerText))',
      undefined, { timeout: 15_000 },
    );
    const text = (await page.innerText('#stream-list')) as string;
    expect(text).toMatch(/\d+(\.\d)?\/s/);
    expect(text).toMatch(/normal|watch|anomalous|learning/);
    expect(pageErrors).toEqual([]);
  });

  it('marks a detection on the value and anomaly charts where a served stream’s score rises to the benchmarked threshold', async () => {
    const { detection } = await snapshot();
    expect(detection).toEqual({ profile: 'standard', label: 'standard', threshold: 0.4994084244596537 });
    const producer = await producerSocket(server.url);
    try {
      const frame = (seq: number, value: number) => ({ type: 'frame', stream: 'spike', seq, values: [value] });
      const calm = (seq: number) => 20 + Math.sin(seq / 5);
      producer.send(JSON.stringify({ type: 'open', stream: 'spike', model: 'machine-temperature' }));
      // the detector's probation (750 frames, all scored 0.5) before the page watches the stream
      producer.send(JSON.stringify(Array.from({ length: 800 }, (_, seq) => frame(seq, calm(seq)))));
      await until((s) => s.streams.includes('spike'), 'the page lists the producer’s stream');
      await openStream('spike');
      let seq = 800;
      const sendCalm = async (count: number) => {
        for (let i = 0; i < count; i++, seq++) {
          producer.send(JSON.stringify(frame(seq, calm(seq))));
          await settle(25);
        }
      };
      await sendCalm(20);
      await until((s) => s.received.spike >= 10, 'the page receives the stream’s calm frames');
      expect((await snapshot()).detections).toBe(0);
      // far outside the range seen so far: the detector scores it 1
      producer.send(JSON.stringify(frame(seq++, 60)));
      await sendCalm(10);
      const marked = await until((s) => s.detections >= 1 && (s.marks[0] ?? 0) >= 1 && (s.marks[2] ?? 0) >= 1, 'a detection mark on the value and anomaly charts');
      expect(marked.marks[1]).toBeNull(); // the error chart marks nothing
      await page.waitForFunction('document.querySelector(\'.stream-row[data-stream="spike"] .row-badge\').dataset.state === "anomalous"', undefined, { timeout: 5000 });
      expect(await page.innerText('#view-body')).toContain('standard profile’s threshold, 0.499');
    } finally {
      producer.send(JSON.stringify({ type: 'close', stream: 'spike' }));
      producer.close();
    }
    expect(pageErrors).toEqual([]);
  });

  it('draws growing data on the open stream’s charts: uPlot holds more rows, and the plot has the series’ pixels', async () => {
    await openStream('machine-temperature');
    const lastX = "window.seqcast.viewCharts().map((u) => { const x = u.data[0]; const y = u.data[1]; let n = 0; for (const v of y) if (v !== null && v !== undefined) n++; return { n, last: x[x.length - 1] }; })";
    const before = (await page.evaluate(lastX)) as { n: number; last: number }[];
    await settle(1500);
    const after = (await page.evaluate(lastX)) as { n: number; last: number }[];
    expect(after.length).toBe(3); // value, error, anomaly
    for (let i = 0; i < after.length; i++) {
      expect(after[i].n).toBeGreaterThan(before[i].n);
      expect(after[i].last).toBeGreaterThan(before[i].last);
    }
    // pixels in the colours of 'actual' and 'predicted' inside the first chart's plot area: a blank or axes-only canvas has none
    const drawn = (await page.evaluate(`(() => {
      const u = window.seqcast.viewCharts()[0];
      const style = getComputedStyle(document.documentElement);
      const colours = ['--actual', '--predicted'].map((name) => {
        const hex = style.getPropertyValue(name).trim();
        return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      });
      const { left, top, width, height } = u.bbox;
      const data = u.ctx.getImageData(left, top, width, height).data;
      const counts = colours.map(() => 0);
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] < 128) continue;
        colours.forEach((rgb, c) => {
          if (Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) < 90) counts[c]++;
        });
      }
      return counts;
    })()`)) as number[];
    expect(drawn[0] + drawn[1]).toBeGreaterThan(40);
    expect(drawn[0]).toBeGreaterThan(0);
  });

  it('a reload mid-stream draws the earlier points at once, from the server’s history: each frame once, no gap where the page was away', async () => {
    await openStream('machine-temperature');
    await settle(1000);
    const reloadedAt = Date.now() / 1000;
    await page.reload();
    await until((s) => s.selected === 'machine-temperature' && s.charts.length > 0, 'the view after the reload');
    await page.waitForFunction(`(() => { const x = window.seqcast.viewCharts()[0]?.data[0]; return !!x && x.length > 0 && x[0] < ${reloadedAt - 5}; })()`, undefined, { timeout: 10_000 });
    await settle(500);
    const drawn = (await page.evaluate(`(() => {
      const u = window.seqcast.viewCharts()[0];
      const x = Array.from(u.data[0]);
      let increasing = true;
      for (let i = 1; i < x.length; i++) if (!(x[i] > x[i - 1])) increasing = false;
      return { first: x[0], last: x[x.length - 1], rows: x.length, increasing };
    })()`)) as { first: number; last: number; rows: number; increasing: boolean };
    const after = await snapshot();
    // far more rows than arrived live since the reload: the rest came from the backfill
    expect(drawn.rows).toBeGreaterThan(after.received['machine-temperature'] + 50);
    expect(drawn.first).toBeLessThan(reloadedAt - 5);
    expect(drawn.last).toBeGreaterThan(reloadedAt);
    expect(drawn.increasing).toBe(true);
    // every seq from the first kept to the newest, once, and no line break left where the page was away
    const seqs = after.seqs['machine-temperature'];
    expect(seqs).toMatchObject({ repeats: 0, breaks: 0 });
    expect(seqs.rows).toBe(seqs.last - seqs.first + 1);
    expect(pageErrors).toEqual([]);
  });

  it('a stream whose producer sends t (a replayed file’s 2013 dates) is drawn on its own times, backfilled on open and again after a reload', async () => {
    const producer = await producerSocket(server.url);
    try {
      const t0 = Date.UTC(2013, 11, 2, 21, 15);
      producer.send(JSON.stringify({ type: 'open', stream: 'replayed-2013', model: 'machine-temperature' }));
      // every frame is sent before the page watches the stream: all it draws comes from the history
      producer.send(JSON.stringify(Array.from({ length: 120 }, (_, seq) => ({ type: 'frame', stream: 'replayed-2013', seq, t: t0 + 1000 * seq, values: [70 + Math.sin(seq / 5)] }))));
      const xRange = `(() => { const x = window.seqcast.viewCharts()[0]?.data[0]; return x && x.length > 0 ? { first: x[0], last: x[x.length - 1], rows: x.length } : null; })()`;
      for (const when of ['on open', 'after a reload']) {
        if (when === 'after a reload') await page.reload();
        await page.waitForSelector('.stream-row[data-stream="replayed-2013"]', { timeout: 10_000 });
        await openStream('replayed-2013');
        await page.waitForFunction(`(${xRange})?.last === ${(t0 + 119_000) / 1000}`, undefined, { timeout: 10_000 });
        const range = (await page.evaluate(xRange)) as { first: number; last: number; rows: number };
        // the 60 s window ends at the stream's newest frame, on its own clock
        expect(range.first).toBeGreaterThanOrEqual((t0 + 58_000) / 1000);
        expect(range.rows).toBeGreaterThanOrEqual(60);
        expect((await snapshot()).received['replayed-2013'] ?? 0).toBe(0);
      }
      await openStream('machine-temperature');
    } finally {
      producer.close();
    }
    expect(pageErrors).toEqual([]);
  });

  it('pausing a view makes the server stop sending that stream (other streams go on); resuming brings it back', async () => {
    await page.click('button.pause');
    await until((s) => s.replies.some((r) => r.type === 'unsubscribed'), 'the server confirms the unsubscribe');
    await settle(300); // a delivery already on its way may still land
    const paused = await snapshot();
    await settle(1000);
    const later = await snapshot();
    expect(later.received['machine-temperature']).toBe(paused.received['machine-temperature']);
    expect(later.received.sensors).toBeGreaterThan(paused.received.sensors);
    expect(await page.getAttribute('button.pause', 'aria-pressed')).toBe('true');

    await page.click('button.pause');
    await until((s) => s.received['machine-temperature'] > later.received['machine-temperature'] + 5, 'the stream flows again after resume');
    // the frames made while paused come back from the server's history: no gap is left, and none is drawn twice
    const resumed = await until((s) => s.seqs['machine-temperature'].breaks === 0, 'the paused stretch backfilled');
    const seqs = resumed.seqs['machine-temperature'];
    expect(seqs.repeats).toBe(0);
    expect(seqs.rows).toBe(seqs.last - seqs.first + 1);
  });

  it('changes the horizon and learning through the protocol, and the server acts on them; a reset from the page resets the stream', async () => {
    await openStream('sensors');
    await until((s) => s.forecastRows.sensors === 10, 'the demo’s horizon of 10 rows arrives');
    await page.fill('form.horizon input[type="number"]', '4');
    await page.click('form.horizon button[type="submit"]');
    await until((s) => s.replies.some((r) => r.stream === 'sensors' && r.type === 'configured'), 'the server confirms the horizon change');
    // the server's subsequent predictions carry 4 forecast rows
    await until((s) => s.forecastRows.sensors === 4, 'predictions with 4 forecast rows');

    const learning = (await page.isChecked('label.learn input')) as boolean;
    await page.click('label.learn input');
    await until(
      (s) => s.replies.some((r) => r.stream === 'sensors' && r.type === 'configured' && (r as { learn?: boolean }).learn === !learning),
      `the server confirms learning ${learning ? 'off' : 'on'}`,
    );
    await page.waitForFunction(`window.seqcast.snapshot().listed.sensors.learn === ${!learning}`, undefined, { timeout: 5000 });
    await page.click('label.learn input'); // back as it was

    // without a token on loopback the page has the local role: it may reset the demo's streams
    const before = (await snapshot()).replies.length;
    await page.click('button.reset');
    const answered = await until((s) => s.replies.length > before && s.replies.slice(before).some((r) => r.stream === 'sensors' && (r.type === 'reset' || r.type === 'error')), 'the server answers the reset');
    const answer = answered.replies.slice(before).find((r) => r.stream === 'sensors' && (r.type === 'reset' || r.type === 'error'))!;
    expect(answer.type).toBe('reset');
    expect(await page.innerText('.control-status')).toMatch(/^Stream reset by the server after seq \d+\.$/);
  });

  it('reconnects by itself after the server is killed and restarted on the same port, with a banner while it is down', async () => {
    await openStream('machine-temperature');
    const port = server.port;
    await server.kill();
    await page.waitForSelector('#banner', { state: 'visible', timeout: 5000 });
    expect(await page.innerText('#banner')).toMatch(/Reconnecting/);
    const down = await snapshot();
    expect(down.status).not.toBe('open');
    await settle(500);
    server = await startDemoServer({ port, rate: 20 });
    await page.waitForSelector('#banner', { state: 'hidden', timeout: 10_000 });
    await until((s) => s.status === 'open' && s.received['machine-temperature'] > down.received['machine-temperature'] + 5, 'predictions flow again');
  });

  it('asks once for the token of a server that requires one', async () => {
    const guarded = await startDemoServer({ rate: 20, extra: ['--token', 's3cret'] });
    const tab = await browser.context.newPage();
    try {
      await tab.goto(guarded.url);
      await tab.waitForSelector('#token-dialog[open]', { timeout: 10_000 });
      await tab.fill('#token-input', 's3cret');
      await tab.click('#token-dialog button[type="submit"]');
      await until((s) => s.status === "open" && s.streams.length === 4, "the page connects with the token", 10_000, tab);
      await tab.reload();
      await until((s) => s.status === "open" && s.streams.length === 4, "the page reconnects after a reload", 10_000, tab);
      expect(await tab.isVisible('#token-dialog')).toBe(false);
    } finally {
      await tab.close();
      await guarded.kill();
    }
  });

  it('draws the attention model’s weights as a heatmap: one row per head, the strongest weight of each row darkest', async () => {
    await openStream('sensors-attention');
    await page.waitForFunction('(() => { const c = document.querySelector("canvas.heatmap"); return c && !c.hidden && c.height === 4 && c.width > 1; })()', undefined, { timeout: 10_000 });
    // every head's row has a pixel at its darkest (the row's maximum) and lighter ones
    const rows = (await page.evaluate(`(() => {
      const c = document.querySelector("canvas.heatmap");
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      const out = [];
      for (let r = 0; r < c.height; r++) {
        let darkest = 255, lightest = 0;
        for (let x = 0; x < c.width; x++) { const red = data[4 * (r * c.width + x)]; darkest = Math.min(darkest, red); lightest = Math.max(lightest, red); }
        out.push({ darkest, lightest });
      }
      return out;
    })()`)) as { darkest: number; lightest: number }[];
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.darkest).toBeLessThanOrEqual(12); // the row's maximum is drawn in the full colour (red channel 11)
      expect(row.lightest).toBeGreaterThan(row.darkest);
    }
    expect(await page.isHidden('.attention-body .note')).toBe(true);
    // the LSTM-only sensors stream has no attention panel
    await openStream('sensors');
    expect(await page.locator('canvas.heatmap').count()).toBe(0);
  });

  it('fits 1280 px and 400 px without sideways scrolling, and saves screenshots to test-artifacts/', async () => {
    await until((s) => s.charts.length > 0 && s.charts[2].rows > 20, 'the charts hold data again');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1280.png') });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    await page.setViewportSize({ width: 400, height: 900 });
    await openStream('ball');
    await settle(500);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(400);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-400.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
