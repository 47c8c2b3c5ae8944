// The dashboard's controls and marks in a real chromium on a real server: what its role lets it do, which stream it
// opens, the detections list and its acknowledgements, and drag-to-zoom.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildIfMissing, launchChromium, startDemoServer, type RunningServer } from '../../scripts/dashboard-browser';

interface Snapshot {
  status: string;
  streams: string[];
  selected: string | undefined;
  received: Record<string, number>;
  replies: { type: string; stream?: string; code?: string }[];
  role: string | undefined;
  detections: number;
  xRange: { min: number; max: number; zoomed: boolean } | undefined;
}

let browser: Awaited<ReturnType<typeof launchChromium>>;
const servers: RunningServer[] = [];
const pageErrors: string[] = [];

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// page.evaluate takes strings here: functions compiled by vitest carry helpers (__name) the page does not have
const snapshot = (page: Page) => page.evaluate('window.seqcast.snapshot()') as Promise<Snapshot>;

async function until(page: Page, check: (s: Snapshot) => boolean, what: string, timeoutMs = 10_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  let last = await snapshot(page);
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; the page holds ${JSON.stringify({ ...last, replies: last.replies.slice(-5) })}`);
    await settle(100);
    last = await snapshot(page);
  }
  return last;
}

/** A producer's socket on `server`, with the messages it received. */
async function producer(server: RunningServer, token?: string): Promise<{ ws: WebSocket; next: (type: string) => Promise<Record<string, unknown>> }> {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}ws${token ? `?token=${token}` : ''}`);
  const received: Record<string, unknown>[] = [];
  ws.on('message', (data) => received.push(...[JSON.parse(String(data))].flat()));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = async (type: string) => {
    for (let i = 0; i < 100; i++) {
      const at = received.findIndex((m) => m.type === type || m.type === 'error');
      if (at >= 0) return received.splice(at, 1)[0];
      await settle(50);
    }
    throw new Error(`no ${type} answer; got ${JSON.stringify(received)}`);
  };
  return { ws, next };
}

async function newPage(url: string): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(url);
  return page;
}

describe('the dashboard’s controls in chromium', () => {
  beforeAll(async () => {
    buildIfMissing();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const server of servers) await server.kill();
  });

  it('resets a demo stream and an orphaned stream from the page without a token (the local role)', async () => {
    const server = await startDemoServer({ rate: 20 });
    servers.push(server);
    const { ws, next } = await producer(server);
    ws.send(JSON.stringify({ type: 'open', stream: 'left-behind', model: 'machine-temperature' }));
    expect((await next('opened')).type).toBe('opened');
    ws.send(JSON.stringify(Array.from({ length: 5 }, (_, seq) => ({ type: 'frame', stream: 'left-behind', seq, values: [20 + seq] }))));
    await settle(300);
    ws.close(); // its producer gone, the stream stays listed without one
    const page = await newPage(server.url);
    await until(page, (s) => s.role === 'local' && s.streams.includes('left-behind'), 'the page lists the orphan with the local role');
    for (const stream of ['sensors', 'left-behind']) {
      // an orphan is listed in the idle group, collapsed
      if (await page.isHidden(`.stream-row[data-stream="${stream}"]`)) await page.click('.idle-toggle');
      await page.click(`.stream-row[data-stream="${stream}"]`);
      await until(page, (s) => s.selected === stream, `the view shows ${stream}`);
      expect(await page.isDisabled('button.reset')).toBe(false);
      const before = (await snapshot(page)).replies.length;
      await page.click('button.reset');
      const answered = await until(page, (s) => s.replies.slice(before).some((r) => r.stream === stream), `the server answers the reset of ${stream}`);
      expect(answered.replies.slice(before).find((r) => r.stream === stream)).toMatchObject({ type: 'reset', stream });
      expect(await page.innerText('.control-status')).toMatch(/^Stream reset by the server after seq \d+\.$/);
    }
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('disables reset, learning and the horizon for a read-only token, says why, and still shows the stream', async () => {
    const server = await startDemoServer({ rate: 20, extra: ['--token', 'c0ntrol', '--read-token', 'r3ad'] });
    servers.push(server);
    const page = await newPage(`${server.url}#token=r3ad`);
    await until(page, (s) => s.status === 'open' && s.role === 'read' && s.selected !== undefined && (s.received[s.selected] ?? 0) > 5, 'the read-only page watches a stream');
    for (const control of ['button.reset', 'label.learn input', 'form.horizon input[type="number"]', 'form.horizon button[type="submit"]']) {
      expect(await page.isDisabled(control), control).toBe(true);
    }
    expect(await page.innerText('.permission-note')).toBe('Read-only token: this page may watch streams, not change them.');
    expect(await page.isDisabled('button.pause')).toBe(false); // pausing the view is the page's own
    // a control-token page gets them all
    const control = await newPage(`${server.url}#token=c0ntrol`);
    await until(control, (s) => s.role === 'control' && s.selected !== undefined, 'the control page opens a stream');
    expect(await control.isDisabled('button.reset')).toBe(false);
    expect(await control.isHidden('.permission-note')).toBe(true);
    await Promise.all([page.close(), control.close()]);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('opens the live stream when the first listed one is dead, and lists the dead one apart in a collapsed idle group', async () => {
    const server = await startDemoServer({ demo: false, extra: ['--model', 'tests/fixtures/lstm_h32.safetensors'] });
    servers.push(server);
    const dead = await producer(server);
    dead.ws.send(JSON.stringify({ type: 'open', stream: 'a-replayed', model: 'lstm_h32' }));
    const opened = await dead.next('opened');
    expect(opened.type).toBe('opened');
    const width = opened.inputSize as number;
    const frame = (stream: string, seq: number) => ({ type: 'frame', stream, seq, values: Array.from({ length: width }, (_, i) => Math.sin(seq / 7 + i)) });
    dead.ws.send(JSON.stringify(Array.from({ length: 20 }, (_, seq) => frame('a-replayed', seq))));
    await settle(300);
    dead.ws.close();
    const live = await producer(server);
    live.ws.send(JSON.stringify({ type: 'open', stream: 'b-live', model: 'lstm_h32' }));
    expect((await live.next('opened')).type).toBe('opened');
    let seq = 0;
    const timer = setInterval(() => live.ws.send(JSON.stringify(frame('b-live', seq++))), 50);
    try {
      const page = await newPage(server.url);
      const shown = await until(page, (s) => s.streams.length === 2 && s.selected !== undefined, 'the page opens a stream');
      expect(shown.selected).toBe('b-live');
      // the dead stream sits under the idle heading, collapsed; opening the group shows it
      await page.waitForSelector('.idle-toggle', { state: 'visible', timeout: 5000 });
      expect(await page.innerText('.idle-toggle')).toMatch(/Idle: 1/);
      expect(await page.isHidden('.stream-row[data-stream="a-replayed"]')).toBe(true);
      const order = (await page.evaluate('[...document.querySelectorAll("#stream-list > li")].map((li) => li.className || li.querySelector("button")?.dataset.stream)')) as string[];
      expect(order.slice(0, 3)).toEqual(['b-live', 'idle-heading', 'a-replayed']);
      await page.click('.idle-toggle');
      expect(await page.isVisible('.stream-row[data-stream="a-replayed"]')).toBe(true);
      expect(await page.getAttribute('.idle-toggle', 'aria-expanded')).toBe('true');
      // a filter that matches nothing says so
      await page.fill('#filter', 'no-such-stream');
      expect(await page.innerText('.no-match')).toBe('No stream matches “no-such-stream”.');
      await page.close();
    } finally {
      clearInterval(timer);
      live.ws.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('lists a detection under the anomaly chart with its time, and an acknowledgement mutes it and is kept in this browser', async () => {
    const server = await startDemoServer({ rate: 20 });
    servers.push(server);
    const { ws, next } = await producer(server);
    const frame = (seq: number, value: number) => ({ type: 'frame', stream: 'spike', seq, values: [value] });
    const calm = (seq: number) => 20 + Math.sin(seq / 5);
    ws.send(JSON.stringify({ type: 'open', stream: 'spike', model: 'machine-temperature' }));
    expect((await next('opened')).type).toBe('opened');
    // the detector's probation (750 frames, all scored 0.5) before the page watches the stream
    ws.send(JSON.stringify(Array.from({ length: 800 }, (_, seq) => frame(seq, calm(seq)))));
    const page = await newPage(`${server.url}#stream=spike`);
    await until(page, (s) => s.selected === 'spike', 'the page opens the stream the address names');
    let seq = 800;
    const sendCalm = async (count: number) => {
      for (let i = 0; i < count; i++, seq++) {
        ws.send(JSON.stringify(frame(seq, calm(seq))));
        await settle(25);
      }
    };
    await sendCalm(20);
    expect(await page.innerText('.detections-body')).toContain('No detections in this window.');
    const spikeSeq = seq;
    ws.send(JSON.stringify(frame(seq++, 60)));
    await sendCalm(10);
    await page.waitForSelector(`.detection[data-seq="${spikeSeq}"]`, { timeout: 10_000 });
    const text = await page.innerText(`.detection[data-seq="${spikeSeq}"]`);
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d/);
    expect(text).toContain(`seq ${spikeSeq}`);
    await page.click(`.detection[data-seq="${spikeSeq}"] button.ack`);
    await page.waitForSelector(`.detection.acknowledged[data-seq="${spikeSeq}"]`, { timeout: 5000 });
    expect(await page.isHidden('.ack-all')).toBe(true);
    // the charts draw its marks muted: every marking chart counts it as acknowledged
    await page.waitForFunction('window.seqcast.viewCharts().filter((u) => u.root.dataset.detections !== undefined).every((u) => u.root.dataset.acknowledged === "1")', undefined, { timeout: 5000 });
    // the page keeps acknowledgements in this browser's localStorage
    expect(await page.evaluate('localStorage.getItem("seqcast.acknowledged")')).toBe(JSON.stringify({ spike: [spikeSeq] }));
    ws.close();
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('zooms every chart of the view to a dragged x range, and a double-click follows now again', async () => {
    const server = await startDemoServer({ rate: 20 });
    servers.push(server);
    const page = await newPage(server.url);
    await until(page, (s) => s.selected !== undefined && (s.received[s.selected] ?? 0) > 40, 'the view holds some seconds of data');
    const box = (await page.evaluate('(() => { const r = window.seqcast.viewCharts()[0].over.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; })()')) as { x: number; y: number; w: number; h: number };
    const scales = () => page.evaluate('window.seqcast.viewCharts().map((u) => [u.scales.x.min, u.scales.x.max])') as Promise<[number, number][]>;
    const following = await snapshot(page);
    await page.mouse.move(box.x + box.w * 0.8, box.y + box.h / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.w * 0.9, box.y + box.h / 2, { steps: 5 });
    await page.mouse.up();
    const zoomed = await until(page, (s) => s.xRange?.zoomed === true, 'the view zooms');
    const span = zoomed.xRange!.max - zoomed.xRange!.min;
    const followingSpan = following.xRange!.max - following.xRange!.min;
    expect(span).toBeGreaterThan(followingSpan * 0.05);
    expect(span).toBeLessThan(followingSpan * 0.15);
    await settle(300);
    for (const [min, max] of await scales()) {
      expect(min).toBeCloseTo(zoomed.xRange!.min, 3);
      expect(max).toBeCloseTo(zoomed.xRange!.max, 3);
    }
    await page.mouse.dblclick(box.x + box.w * 0.5, box.y + box.h / 2);
    // the flag flips on the double-click; the charts take the following window at their next draw
    const back = await until(page, (s) => s.xRange?.zoomed === false && Math.abs(s.xRange.max - s.xRange.min - followingSpan) < 1e-3, 'the view follows now again, over its whole window');
    expect(back.xRange!.max - back.xRange!.min).toBeCloseTo(followingSpan, 3);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
