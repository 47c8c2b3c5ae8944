// The server's operations endpoints over HTTP: GET /metrics (Prometheus text), /healthz (liveness), /readyz (readiness).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PrometheusMetrics } from './prometheus.js';

export const METRICS_PATH = '/metrics';
export const LIVENESS_PATH = '/healthz';
export const READINESS_PATH = '/readyz';

/** What /readyz reports. */
export interface Readiness {
  /** Listening, models loaded and any state directory restored; false while the server is closing. */
  ready: boolean;
  /** The models streams can be opened on. */
  models: string[];
  /** The state directory's restore: the checkpoint generation and streams restored, 'empty' (nothing to restore), or 'none' (no state directory). */
  state: { generation: number; streams: number } | 'empty' | 'none';
  /** Streams open now. */
  streams: number;
}

/** What the endpoints read from the server. */
export interface OperationsProbe {
  prometheus: PrometheusMetrics;
  readiness(): Readiness;
}

/**
 * Answers a request for one of the operations endpoints and returns true, or returns false for any other path.
 * /healthz answers 200 while the process serves HTTP; /readyz 200 when ready, else 503, with the Readiness as
 * JSON; /metrics the Prometheus text exposition. Only GET and HEAD.
 */
export function serveOperations(request: IncomingMessage, response: ServerResponse, probe: OperationsProbe): boolean {
  const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (pathname !== METRICS_PATH && pathname !== LIVENESS_PATH && pathname !== READINESS_PATH) return false;
  const head = request.method === 'HEAD';
  if (request.method !== 'GET' && !head) {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return true;
  }
  if (pathname === LIVENESS_PATH) {
    send(response, 200, 'application/json', `${JSON.stringify({ live: true })}\n`, head);
  } else if (pathname === READINESS_PATH) {
    const readiness = probe.readiness();
    send(response, readiness.ready ? 200 : 503, 'application/json', `${JSON.stringify(readiness)}\n`, head);
  } else {
    probe.prometheus.render().then(
      (text) => send(response, 200, probe.prometheus.contentType, text, head),
      (err: Error) => send(response, 500, 'text/plain; charset=utf-8', `collecting the metrics failed: ${err.message}\n`, head),
    );
  }
  return true;
}

function send(response: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(head ? undefined : body);
}
