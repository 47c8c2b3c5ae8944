// A plain static file server for the built dashboard (web/dist/): what `vite preview` or any file server does, with no
// WebSocket endpoint. The local-mode browser test and `npm run screenshots` serve the page from it.

import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { resolveInside } from '../src/server/static-files.js';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.map': 'application/json' };

export interface StaticServer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  /** Every path asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves the files under `root` on a free loopback port: GET only, 404 for anything else (a WebSocket upgrade gets no answer but a close). */
export async function startStaticServer(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    requests.push(`${request.method} ${pathname}`);
    void resolveInside(root, pathname === '/' ? '/index.html' : pathname).then((file) => {
      if (!file || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const type = TYPES[file.path.slice(file.path.lastIndexOf('.'))] ?? 'application/octet-stream';
      // no-store: every page load asks for its files again, so a test sees each request the page makes
      response.writeHead(200, { 'content-type': type, 'content-length': file.size, 'cache-control': 'no-store' });
      if (request.method === 'HEAD') response.end();
      else createReadStream(file.path).pipe(response);
    });
  });
  server.on('upgrade', (_request, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The built dashboard's folder. */
export const WEB_DIST = join(new URL('..', import.meta.url).pathname, 'web/dist');
