// Who may connect and how much they may send: the access token, allowed origins, loopback detection, per-connection rate limits.

import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

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
 * Whether a browser page from `Origin` may open a socket: always when there is
 * no Origin (not a browser), when it is this server itself (the dashboard it
 * serves), or when it is listed.
 */
export function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * A token bucket: `ratePerSecond` units refill each second, up to one second's
 * worth held. take(n) grants as many of n as there are, so a burst beyond the
 * limit is cut where the limit falls.
 */
export class RateLimiter {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly ratePerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = ratePerSecond;
    this.updatedAt = now();
  }

  /** How many of `wanted` units may go through now (0 … wanted); those are spent. */
  take(wanted: number): number {
    const now = this.now();
    // a clock set back (the wall clock can be) refills nothing rather than taking budget away
    this.tokens = Math.min(this.ratePerSecond, this.tokens + (Math.max(0, now - this.updatedAt) / 1000) * this.ratePerSecond);
    this.updatedAt = now;
    const granted = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }
}
