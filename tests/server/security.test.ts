// Access tokens, origins, binding and static files: refused before any stream is touched.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model } from '../../src/index.js';
import { SeqcastServer } from '../../src/server/server.js';
import { Client } from './client.js';

let model: Model;
let server: SeqcastServer;
const TOKEN = 'correct horse battery staple';

beforeAll(async () => {
  model = await createModel({ cell: 'rnn', inputSize: 1, hiddenSize: 4, seed: 1 });
  server = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, token: TOKEN, allowedOrigins: ['https://dash.example'] });
});

afterAll(async () => {
  await server.close();
  model.close();
});

/** GET `path` from `base`, with headers; resolves with status and body. */
function get(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('access token', () => {
  it('refuses a connection without the token, or with a wrong one, with 401 and opens nothing', async () => {
    await expect(Client.connect(server.url)).rejects.toThrow('HTTP 401');
    await expect(Client.connect(server.url, { headers: { authorization: 'Bearer wrong' } })).rejects.toThrow('HTTP 401');
    await expect(Client.connect(server.url, { query: '?token=wrong' })).rejects.toThrow('HTTP 401');
    expect(server.streams.size).toBe(0);
  });

  it('accepts the token as a Bearer header or as ?token= (for browsers)', async () => {
    const byHeader = await Client.connect(server.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await byHeader.open('a')).toMatchObject({ type: 'opened' });
    const byQuery = await Client.connect(server.url, { query: `?token=${encodeURIComponent(TOKEN)}` });
    expect(await byQuery.open('b')).toMatchObject({ type: 'opened' });
    await Promise.all([byHeader.close(), byQuery.close()]);
  });

  it('takes the Bearer scheme in any case (RFC 6750 scheme names are case-insensitive)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      const client = await Client.connect(server.url, { headers: { authorization: `${scheme} ${TOKEN}` } });
      await client.close();
    }
    await expect(Client.connect(server.url, { headers: { authorization: `Basic ${TOKEN}` } })).rejects.toThrow('HTTP 401');
  });

  it("answers stream_busy without the holder's address or connection", async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const holder = await Client.connect(server.url, { headers: auth });
    const other = await Client.connect(server.url, { headers: auth });
    await holder.open('held');
    const busy = await other.open('held');
    other.send({ type: 'frame', stream: 'held', seq: 0, values: [1] });
    other.send({ type: 'close', stream: 'held' });
    await other.until(() => other.errors().length === 2, 'two more errors');
    for (const error of [busy, ...other.errors()]) {
      expect(error).toMatchObject({ type: 'error', code: 'stream_busy' });
      expect(error.message).not.toMatch(/127\.0\.0\.1|connection \d|:\d{2,5}/);
    }
    await Promise.all([holder.close(), other.close()]);
  });

  it('refuses to bind beyond loopback without a token', async () => {
    await expect(SeqcastServer.start({ models: [{ name: 'm', model }], host: '0.0.0.0', port: 0, webRoot: null })).rejects.toThrow(/exposes the server.*token/);
  });
});

describe('origins and paths', () => {
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('refuses pages from other origins (403) but allows listed ones and the server itself', async () => {
    await expect(Client.connect(server.url, { headers: { ...auth, origin: 'https://evil.example' } })).rejects.toThrow('HTTP 403');
    const listed = await Client.connect(server.url, { headers: { ...auth, origin: 'https://dash.example' } });
    const self = await Client.connect(server.url, { headers: { ...auth, origin: server.url.slice(0, -1) } });
    await Promise.all([listed.close(), self.close()]);
  });

  it('refuses a Host that is not a name of the server, as a DNS-rebinding page sends it (403), for sockets and files', async () => {
    const port = new URL(server.url).port;
    const evil = `evil.example:${port}`;
    await expect(Client.connect(server.url, { headers: { ...auth, host: evil, origin: `http://${evil}` } })).rejects.toThrow('HTTP 403');
    await expect(Client.connect(server.url, { headers: { ...auth, host: evil } })).rejects.toThrow('HTTP 403');
    expect(await get(server.url, '/', { host: evil })).toMatchObject({ status: 403 });
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      const client = await Client.connect(server.url, { headers: { ...auth, host, origin: `http://${host.toLowerCase()}` } });
      await client.close();
    }
  });

  it("refuses the server's own host under another scheme: https://127.0.0.1:PORT is not its origin", async () => {
    const host = new URL(server.url).host;
    await expect(Client.connect(server.url, { headers: { ...auth, origin: `https://${host}` } })).rejects.toThrow('HTTP 403');
    await expect(Client.connect(server.url, { headers: { ...auth, origin: 'null' } })).rejects.toThrow('HTTP 403');
  });

  it('answers to names given with --allowed-host (allowedHosts), and to no others', async () => {
    const proxied = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: null, allowedHosts: ['seqcast.internal'] });
    try {
      const port = new URL(proxied.url).port;
      const client = await Client.connect(proxied.url, { headers: { host: `seqcast.internal:${port}`, origin: `http://seqcast.internal:${port}` } });
      await client.close();
      await expect(Client.connect(proxied.url, { headers: { host: `other.internal:${port}` } })).rejects.toThrow('HTTP 403');
    } finally {
      await proxied.close();
    }
  });

  it('has one WebSocket path, /ws', async () => {
    const response = await get(server.url, '/other', { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(response.status).toBe(404);
  });
});

describe('static files', () => {
  it('says the dashboard is not built when there is no built web folder', async () => {
    const page = await get(server.url, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('dashboard is not built');
    expect((await get(server.url, '/app.js')).status).toBe(404);
  });

  it('serves only files inside the built folder: no traversal, no symlinks out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqcast-web-'));
    const root = join(dir, 'dist-web');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<h1>dashboard</h1>');
    writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    symlinkSync(join(dir, 'secret.txt'), join(root, 'link.txt'));
    const web = await SeqcastServer.start({ models: [{ name: 'm', model }], port: 0, webRoot: root });
    try {
      expect(await get(web.url, '/')).toMatchObject({ status: 200, body: '<h1>dashboard</h1>', type: 'text/html; charset=utf-8' });
      expect(await get(web.url, '/assets/app.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
      for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/link.txt', '/assets', '/%00', '/..%5csecret.txt']) {
        const response = await get(web.url, path);
        expect(response.status, path).toBe(404);
        expect(response.body).not.toContain('secret');
      }
    } finally {
      await web.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
