// The dashboard with no server: served by a plain static file server (no WebSocket endpoint), the page runs a dropped CSV
// in a Web Worker with seqcast's kernel and `seqcast detect`'s detector, and asks the network for nothing but its own files.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIfMissing, launchChromium, ROOT } from '../../scripts/dashboard-browser';
import { startStaticServer, WEB_DIST, type StaticServer } from '../../scripts/static-server';
import { createModel, loadModel } from '../../src/api/model';
import { DETECT_MODEL, detectAnomalies, readDetectInput } from '../../src/cli/detect';

/** The NAB file the repository bundles (demo/README.md): 22,695 rows of a machine's temperature, 5 minutes apart. */
const NAB_FILE = join(ROOT, 'demo/machine_temperature_system_failure.csv');
/** The model the repository bundles for that file (an LSTM trained offline by seqcast train). */
const MODEL_FILE = join(ROOT, 'demo/machine-temperature.safetensors');

interface LocalSnapshot {
  status: string;
  streams: string[];
  charts: { rows: number; values: number[] }[];
  forecastRows: Record<string, number>;
  local?: { state: string; rows: number; predicted: number; scores: number[]; kernel?: string; problem?: string };
}

let server: StaticServer;
const dir = mkdtempSync(join(tmpdir(), 'seqcast-local-'));
let browser: Awaited<ReturnType<typeof launchChromium>>;
const pageErrors: string[] = [];

const snapshot = (page: Page) => page.evaluate('window.seqcast.snapshot()') as Promise<LocalSnapshot>;
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(page: Page, check: (s: LocalSnapshot) => boolean, what: string, timeoutMs = 20_000): Promise<LocalSnapshot> {
  const deadline = Date.now() + timeoutMs;
  let last = await snapshot(page);
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; the page holds ${JSON.stringify({ ...last, local: { ...last.local, scores: last.local?.scores.length } })}`);
    await settle(200);
    last = await snapshot(page);
  }
  return last;
}

/** Drops `files` (name and text, or bytes) on the page, as a user dragging them from a file manager would. */
async function drop(page: Page, files: { name: string; text?: string; bytes?: Uint8Array }[]): Promise<void> {
  const described = files.map((f) => ({ name: f.name, text: f.text, bytes: f.bytes ? Array.from(f.bytes) : undefined }));
  const transfer = await page.evaluateHandle(
    `(() => { const t = new DataTransfer(); for (const f of ${JSON.stringify(described)}) t.items.add(new File([f.bytes ? new Uint8Array(f.bytes) : f.text], f.name)); return t; })()`,
  );
  await page.dispatchEvent('body', 'drop', { dataTransfer: transfer });
}

/** A fresh tab recording every request it makes and every WebSocket it opens. */
async function recordedTab(): Promise<{ page: Page; requests: string[]; sockets: string[] }> {
  const page = await browser.context.newPage();
  const requests: string[] = [];
  const sockets: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('websocket', (socket) => sockets.push(socket.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return { page, requests, sockets };
}

describe('the dashboard alone in chromium, with no server', () => {
  beforeAll(async () => {
    buildIfMissing();
    server = await startStaticServer(WEB_DIST);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the dropped NAB file in a worker: predictions, forecasts and anomaly scores drawn, the scores `seqcast detect` gives, and no request beyond the page’s own files', async () => {
    const { page, requests, sockets } = await recordedTab();
    // the plain SIMD build, so that the page computes what Node 20 computes here, bit for bit
    await page.goto(`${server.url}#kernel=baseline`);
    await page.waitForSelector('#banner', { state: 'visible', timeout: 10_000 });
    expect(await page.innerText('#banner')).toMatch(/Cannot reach the server/);
    expect(await page.isVisible('#token-dialog')).toBe(false); // a static server is no seqcast server refusing a token
    await page.click('#banner-local');

    await drop(page, [{ name: 'machine_temperature_system_failure.csv', text: readFileSync(NAB_FILE, 'utf8') }]);
    expect(await page.innerText('#local-csv-name')).toMatch(/machine_temperature_system_failure\.csv/);
    await page.selectOption('#local-rate', '0'); // as fast as it computes
    await page.click('#local-form button[type="submit"]');
    const done = await until(page, (s) => s.local?.state === 'done' || s.local?.state === 'failed', 'the page has scored every row', 60_000);
    expect(done.local).toMatchObject({ state: 'done', rows: 22_695, predicted: 22_695, kernel: 'baseline' });
    const socketsWhenLocal = sockets.length;
    expect(done.status).toBe('local');
    expect(done.streams).toEqual(['machine_temperature_system_failure']);

    // drawn: actual, predicted and forecast on the value chart, the error, and the anomaly score
    const drawn = await until(page, (s) => s.charts.length === 3 && s.charts[0].values.every((n) => n > 0) && s.charts[2].values[0] > 0, 'the charts hold the rows');
    expect(drawn.forecastRows.machine_temperature_system_failure).toBe(10);

    // the same detector as `seqcast detect`: the same score for every row
    const input = await readDetectInput(NAB_FILE);
    const model = await createModel({ ...DETECT_MODEL, inputSize: 1 }, { kernel: 'baseline' });
    const expected = Array.from(detectAnomalies(model, input.values, input.timestamps));
    model.close();
    expect(done.local!.scores).toHaveLength(expected.length);
    expect(done.local!.scores).toEqual(expected);

    // nothing but the page's own files, from the page's own origin; no WebSocket after the switch to local mode
    const origin = new URL(server.url).origin;
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(server.requests.every((line) => /^(GET|HEAD) \/(assets\/[\w.-]+|demo-windows\.json)?$/.test(line))).toBe(true);
    expect(server.requests).toContain('GET /');
    expect(server.requests.some((line) => /^GET \/assets\/seqcast(-relaxed)?-[\w-]+\.wasm$/.test(line))).toBe(true);
    expect(sockets.every((url) => url === `${origin.replace('http', 'ws')}/ws`)).toBe(true);
    await settle(2500); // longer than the socket's retry interval
    expect(sockets.length).toBe(socketsWhenLocal);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('runs a dropped model file on a dropped CSV: the scores are detect --model’s', async () => {
    const { page } = await recordedTab();
    await page.goto(`${server.url}#local&kernel=baseline`);
    await page.waitForSelector('#local-dialog[open]', { timeout: 10_000 });
    const head = readFileSync(NAB_FILE, 'utf8').split('\n').slice(0, 2001).join('\n');
    const csvPath = join(dir, 'first-2000.csv');
    writeFileSync(csvPath, head);
    await drop(page, [
      { name: 'first-2000.csv', text: head },
      { name: 'machine-temperature.safetensors', bytes: readFileSync(MODEL_FILE) },
    ]);
    expect(await page.isChecked('input[name="local-model-choice"][value="file"]')).toBe(true);
    await page.selectOption('#local-rate', '0');
    await page.click('#local-form button[type="submit"]');
    const done = await until(page, (s) => s.local?.state === 'done' || s.local?.state === 'failed', 'the page has scored every row', 60_000);
    expect(done.local).toMatchObject({ state: 'done', rows: 2000, predicted: 2000 });
    expect(await page.innerText('#view-body')).toContain('model machine-temperature');
    const input = await readDetectInput(csvPath);
    const model = await loadModel(MODEL_FILE, { kernel: 'baseline' });
    const expected = Array.from(detectAnomalies(model, input.values, input.timestamps));
    model.close();
    expect(done.local!.scores).toEqual(expected);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('takes the view’s controls on a local run: a new horizon, learning off, and pause stops the replay until resumed', async () => {
    const { page } = await recordedTab();
    await page.goto(`${server.url}#local`);
    await page.waitForSelector('#local-dialog[open]', { timeout: 10_000 });
    await page.setInputFiles('#local-csv', NAB_FILE);
    await page.selectOption('#local-rate', '100');
    await page.click('#local-form button[type="submit"]');
    const stream = 'machine_temperature_system_failure';
    await until(page, (s) => s.forecastRows[stream] === 10, 'predictions with the dialog’s 10 forecast rows');
    await page.fill('form.horizon input[type="number"]', '3');
    await page.click('form.horizon button[type="submit"]');
    await until(page, (s) => s.forecastRows[stream] === 3, 'predictions with 3 forecast rows');
    expect(await page.innerText('.control-status')).toBe('Applied by the local run: horizon 3, learning on.');
    await page.click('label.learn input');
    await page.waitForFunction('document.querySelector(".control-status").textContent === "Applied by the local run: horizon 3, learning off."', undefined, { timeout: 5000 });

    await page.click('button.pause');
    await settle(500); // rows already posted may still land
    const paused = (await snapshot(page)).local!.predicted;
    await settle(1000);
    expect((await snapshot(page)).local!.predicted).toBe(paused);
    await page.click('button.pause');
    await until(page, (s) => s.local!.predicted > paused + 20, 'the replay goes on after resume');
    await page.click('button.reset');
    await page.waitForFunction('/Reset refused by the local run \\(not_supported\\)/.test(document.querySelector(".control-status").textContent)', undefined, { timeout: 5000 });
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('opens with #local straight into local mode: it runs a file with no WebSocket and no request but for its own files', async () => {
    const { page, requests, sockets } = await recordedTab();
    const asked = server.requests.length;
    await page.goto(`${server.url}#local`);
    await page.waitForSelector('#local-dialog[open]', { timeout: 10_000 });
    await drop(page, [{ name: 'first-500.csv', text: readFileSync(NAB_FILE, 'utf8').split('\n').slice(0, 501).join('\n') }]);
    await page.selectOption('#local-rate', '0');
    await page.click('#local-form button[type="submit"]');
    await until(page, (s) => s.local?.state === 'done' && s.charts.length === 3 && s.charts[2].values[0] > 0, 'the page has run and drawn the file');
    expect(sockets).toEqual([]);
    const origin = new URL(server.url).origin;
    expect(requests.every((url) => new URL(url).origin === origin)).toBe(true);
    const files = server.requests.slice(asked);
    expect(files.every((line) => /^GET \/(assets\/[\w.-]+)?$/.test(line))).toBe(true); // the page, its script, style, worker and kernel
    expect(files.filter((line) => line.endsWith('.wasm'))).toHaveLength(1);
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('names the line of a bad row in a dropped file, and runs nothing', async () => {
    const { page } = await recordedTab();
    await page.goto(`${server.url}#local`);
    await page.waitForSelector('#local-dialog[open]', { timeout: 10_000 });
    await drop(page, [{ name: 'bad.csv', text: 'timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,warm\n' }]);
    await page.click('#local-form button[type="submit"]');
    const failed = await until(page, (s) => s.local?.state === 'failed', 'the page refuses the file');
    expect(failed.local!.problem).toBe('bad.csv line 3, column 2: "warm" is not a number');
    expect(await page.innerText('#notice')).toBe('Could not run the file: bad.csv line 3, column 2: "warm" is not a number');
    expect(failed.local!.predicted).toBe(0);
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
