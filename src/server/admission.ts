// Who gets in: the checks every HTTP request and WebSocket upgrade passes before it reaches a file or a stream.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WS_PATH } from '../protocol/messages.js';
import type { Role } from './roles.js';
import { boundHostNames, hostAllowed, originAllowed, presentedToken, tokenMatches } from './security.js';

/** Why a request is refused: its HTTP status, reason phrase and a plain-text body that says what to do. */
export interface Refusal {
  status: number;
  reason: string;
  body: string;
}

export interface AdmissionOptions {
  /** The address the server binds (its names are allowed in Host headers). */
  host: string;
  /** Further names Host headers may carry (--allowed-host). */
  allowedHosts: readonly string[];
  /** Origins besides the server's own whose pages may connect (--origin; "*" for any). */
  allowedOrigins: readonly string[];
  /** The access token (the control role), if the server has one. */
  token: string | undefined;
  /** The producer's and the viewer's tokens (roles produce and read), if it has them. */
  producerToken: string | undefined;
  readToken: string | undefined;
}

/** The checks of requests and upgrades, made once from the server's options. */
export class Admission {
  private readonly hostNames: ReadonlySet<string>;

  constructor(private readonly options: AdmissionOptions) {
    this.hostNames = boundHostNames(options.host, options.allowedHosts);
  }

  /** Why an HTTP request (a file of the dashboard) is refused, or undefined: its Host must name this server. */
  checkRequest(request: IncomingMessage): Refusal | undefined {
    return this.checkHost(request);
  }

  /** The role of an upgrade, or why it is refused: the path, then Host, Origin and the token (roles.ts). */
  checkUpgrade(request: IncomingMessage): { role: Role } | Refusal {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname !== WS_PATH) return { status: 404, reason: 'Not Found', body: `the WebSocket endpoint is ${WS_PATH}\n` };
    const host = this.checkHost(request);
    if (host) return host;
    if (!originAllowed(request, this.options.allowedOrigins)) {
      return { status: 403, reason: 'Forbidden', body: `origin ${bounded(request.headers.origin)} is not allowed; the server's own pages are, and origins given with --origin\n` };
    }
    const { token, producerToken, readToken } = this.options;
    if (token === undefined) return { role: 'local' };
    const presented = presentedToken(request);
    // each compared in constant time, all of them whatever matched
    const matches = [tokenMatches(presented, token), producerToken !== undefined && tokenMatches(presented, producerToken), readToken !== undefined && tokenMatches(presented, readToken)];
    if (matches[0]) return { role: 'control' };
    if (matches[1]) return { role: 'produce' };
    if (matches[2]) return { role: 'read' };
    return { status: 401, reason: 'Unauthorized', body: 'a valid access token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)\n' };
  }

  private checkHost(request: IncomingMessage): Refusal | undefined {
    if (hostAllowed(request, this.hostNames)) return undefined;
    return {
      status: 403,
      reason: 'Forbidden',
      body: `host ${bounded(request.headers.host)} is not a name of this server; it answers to ${[...this.hostNames].join(', ')} and names given with --allowed-host\n`,
    };
  }
}

/** Writes a refusal on a socket that has not been upgraded, and closes it. */
export function refuseSocket(socket: Duplex, { status, reason, body }: Refusal): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy();
}

/** A header value as a refusal may quote it: at most 100 characters. */
function bounded(value: string | undefined): string {
  if (value === undefined) return '(none)';
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}
