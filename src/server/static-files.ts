// Serves the built dashboard (web/dist or dist-web) and nothing outside it; says so plainly when it is not built.

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The demo's NAB labelled anomaly windows, for the dashboard to shade:
 * {"machine-temperature": {"model", "period", "windows": [[firstRow, lastRow], ...], "source"}}.
 * The demo replays the bundled CSV in a loop (src/demo/streams.ts), so
 * the frame with seq s is row s mod period of the file.
 */
export const DEMO_WINDOWS_PATH = '/demo-windows.json';
/** The demo stream (and its model) that replays NAB machine temperature; names as startDemo() opens them. */
const DEMO_NAB_STREAM = 'machine-temperature';

/** Where a built dashboard may be, relative to the package root, in order of preference. */
export const WEB_ROOT_CANDIDATES = ['dist-web', 'web/dist'];

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** The first candidate folder that exists (its real path), or undefined. */
export async function findWebRoot(packageRoot = PACKAGE_ROOT): Promise<string | undefined> {
  for (const candidate of WEB_ROOT_CANDIDATES) {
    try {
      const path = await realpath(join(packageRoot, candidate));
      if ((await stat(path)).isDirectory()) return path;
    } catch {
      // not there: try the next
    }
  }
  return undefined;
}

/**
 * Answers a GET or HEAD for a file under `root` (a real path): "/" is
 * index.html; the path is decoded, resolved and must stay inside root after
 * symlinks are followed, else 404. With no root, "/" gets a page saying the
 * dashboard is not built.
 */
export async function serveStatic(request: IncomingMessage, response: ServerResponse, root: string | undefined, info: { wsUrl: string }): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return plain(response, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (pathname === DEMO_WINDOWS_PATH) return json(response, await demoWindows(), request.method === 'HEAD');
  if (!root) {
    if (pathname === '/' || pathname === '/index.html') return html(response, notBuiltPage(info.wsUrl), request.method === 'HEAD');
    return plain(response, 404, 'not found\n');
  }
  const file = await resolveInside(root, pathname === '/' ? '/index.html' : pathname);
  if (!file) return plain(response, 404, 'not found\n');
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream',
    'content-length': file.size,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache',
  });
  if (request.method === 'HEAD') return void response.end();
  createReadStream(file.path).pipe(response);
}

/** The real path and size of the regular file `pathname` names inside `root`, or undefined for anything else. */
export async function resolveInside(root: string, pathname: string): Promise<{ path: string; size: number } | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const candidate = resolve(root, `.${decoded}`);
  if (candidate !== root && !candidate.startsWith(root + sep)) return undefined;
  try {
    const real = await realpath(candidate);
    if (!real.startsWith(root + sep)) return undefined;
    const info = await stat(real);
    return info.isFile() ? { path: real, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

function plain(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  response.end(text);
}

function html(response: ServerResponse, page: string, headOnly: boolean): void {
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page), 'cache-control': 'no-cache' });
  response.end(headOnly ? undefined : page);
}

let demoWindowsJson: Promise<string> | undefined;

/** DEMO_WINDOWS_PATH's body: NAB's windows (timestamps) turned into rows of the bundled CSV; read once. */
function demoWindows(): Promise<string> {
  demoWindowsJson ??= import('../demo/data.js').then(async ({ loadDemoData, NAB_FILE }) => {
    const { timestamps, windows } = await loadDemoData();
    // the timestamps ascend, so a window's rows are the ones from its first timestamp to the last before its end
    const rows = windows.map(([start, end]): [number, number] => {
      const first = timestamps.findIndex((t) => t >= start);
      const after = timestamps.findIndex((t) => t > end);
      return [first, (after === -1 ? timestamps.length : after) - 1];
    });
    return JSON.stringify({
      [DEMO_NAB_STREAM]: { model: DEMO_NAB_STREAM, period: timestamps.length, windows: rows, source: `NAB labels/combined_windows.json, ${NAB_FILE}` },
    });
  });
  return demoWindowsJson;
}

function json(response: ServerResponse, body: string, headOnly: boolean): void {
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  response.end(headOnly ? undefined : body);
}

function notBuiltPage(wsUrl: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>seqcast</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>seqcast is running</h1>
<p>The dashboard is not built: no <code>dist-web/</code> or <code>web/dist/</code> folder was found next to the package.</p>
<p>The server itself works: producers and dashboards connect to <code>${wsUrl.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</code>
(the protocol is in <code>docs/protocol.md</code>).</p>
</body></html>
`;
}
