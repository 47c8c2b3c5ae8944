// Who may connect: the access token, allowed hosts and origins, loopback detection.

import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';

/** True for addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The token a request presents: `Authorization: Bearer T` or `?token=T` (browsers cannot set headers on a WebSocket). */
export function presentedToken(request: IncomingMessage): string | undefined {
  // RFC 6750 (via RFC 7235): the scheme name is case-insensitive
  const bearer = /^bearer[ \t]+(.*)$/is.exec(request.headers.authorization ?? '');
  if (bearer) return bearer[1].trim();
  const url = new URL(request.url ?? '/', 'http://localhost');
  return url.searchParams.get('token') ?? undefined;
}

/** Compares tokens in constant time (hashes first, so the lengths leak nothing either). */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The host names a request's Host header may carry (lowercase, no port, IPv6 in brackets): the loopback names
 * (localhost, 127.0.0.1, [::1]), the address the server is bound to, and `allowed` (--allowed-host). A server
 * bound to every interface (0.0.0.0, ::) also answers to this machine's addresses and host name. Anything else
 * is a page reached through a name the server does not know, such as a DNS-rebinding attack's.
 */
export function boundHostNames(boundHost: string, allowed: readonly string[]): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  const add = (name: string) => names.add(hostName(name));
  add(boundHost);
  for (const name of allowed) add(name);
  if (boundHost === '0.0.0.0' || boundHost === '::' || boundHost === '[::]') {
    add(hostname());
    for (const addresses of Object.values(networkInterfaces())) for (const { address } of addresses ?? []) add(address);
  }
  return names;
}

/** A host as Host headers name it: lowercase, IPv6 in brackets, no trailing dot. */
function hostName(name: string): string {
  const h = name.trim().toLowerCase().replace(/\.$/, '');
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** The host name of a Host header ("Example.com:8080" → "example.com", "[::1]:80" → "[::1]"), or undefined if it is not one. */
export function hostOfHeader(header: string): string | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  return match ? hostName(match[1]) : undefined;
}

/** Whether a request's Host header names this server (see boundHostNames); a request without one is no browser's and passes. */
export function hostAllowed(request: IncomingMessage, names: ReadonlySet<string>): boolean {
  const header = request.headers.host;
  if (header === undefined) return true;
  const host = hostOfHeader(header);
  return host !== undefined && names.has(host);
}

/**
 * Whether a browser page from `Origin` may open a socket: always when there is no Origin (not a browser), when
 * it is listed (or "*" is), or when it is this server's own page: scheme http (the server speaks no TLS; a page
 * behind a TLS proxy is listed with --origin) and the same host and port as the Host header, which hostAllowed
 * has checked against the names the server is bound to (Host alone is the attacker's to choose).
 */
export function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && request.headers.host !== undefined && url.host === request.headers.host.toLowerCase();
  } catch {
    return false;
  }
}
