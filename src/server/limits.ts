// How much one client may cost the server: messages per second per connection and per client address.

import { ErrorCode } from '../protocol/codes.js';
import type { ProtocolProblem } from '../protocol/messages.js';

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

  /** How many units may go through now (refilled by the time since the last look). */
  available(): number {
    const now = this.now();
    // a clock set back (the wall clock can be) refills nothing rather than taking budget away
    this.tokens = Math.min(this.ratePerSecond, this.tokens + (Math.max(0, now - this.updatedAt) / 1000) * this.ratePerSecond);
    this.updatedAt = now;
    return Math.floor(this.tokens);
  }

  /** Spends `units` (at most available() of them). */
  spend(units: number): void {
    this.tokens -= units;
  }

  /** How many of `wanted` units may go through now (0 … wanted); those are spent. */
  take(wanted: number): number {
    const granted = Math.min(wanted, this.available());
    this.spend(granted);
    return granted;
  }

  /** Whether the bucket is full: nothing spent for a second (the record holding it may be forgotten). */
  get idle(): boolean {
    return this.available() >= this.ratePerSecond;
  }
}

/**
 * `list` pages a connection may ask for per second (bursts up to one second's worth), and all connections of one
 * address together: a page costs the server about a thousand frames' work (up to 1,000 streams written out), so it
 * has a budget of its own besides the message rate. The dashboard lists every 2 s; paging through 100,000 streams
 * takes 10 s.
 */
export const LIST_PAGES_PER_SECOND = 10;
export const LIST_PAGES_PER_ADDRESS = 40;

/** The rates one client address may send at, over all its connections. */
export interface AddressRates {
  /** Messages per second (frames, and every other message) of all the address's connections together. */
  messagesPerSecond: number;
}

/** What the server keeps per client address: the connections it has and the message budget they share. */
export interface ClientAddress {
  readonly address: string;
  connections: number;
  readonly limiter: RateLimiter;
  /** `list` pages of all its connections (LIST_PAGES_PER_ADDRESS a second). */
  readonly lists: RateLimiter;
}

/**
 * The client addresses with connections (or a budget still recovering): touches only its own records.
 * A record goes once its address has no connection and its budget has refilled, so reconnecting gains nothing.
 */
export class ClientAddresses {
  private readonly byAddress = new Map<string, ClientAddress>();

  constructor(
    private readonly rates: AddressRates,
    private readonly now: () => number,
  ) {}

  /** A connection from `address` opened: its record (made if it is the address's first). */
  attach(address: string): ClientAddress {
    let record = this.byAddress.get(address);
    if (!record) this.byAddress.set(address, (record = { address, connections: 0, limiter: new RateLimiter(this.rates.messagesPerSecond, this.now), lists: new RateLimiter(LIST_PAGES_PER_ADDRESS, this.now) }));
    record.connections++;
    return record;
  }

  /** A connection from `record`'s address closed. */
  detach(record: ClientAddress): void {
    record.connections--;
  }

  /** Forgets addresses with no connection whose budget has refilled (a periodic sweep); how many. */
  sweep(): number {
    let forgotten = 0;
    for (const [address, record] of this.byAddress) {
      if (record.connections <= 0 && record.limiter.idle && record.lists.idle) {
        this.byAddress.delete(address);
        forgotten++;
      }
    }
    return forgotten;
  }

  get size(): number {
    return this.byAddress.size;
  }
}

/**
 * Grants up to `wanted` messages from every bucket of `limiters` at once (a connection's and its address's):
 * as many as the emptiest has, spent from each.
 */
export function takeFromAll(limiters: readonly RateLimiter[], wanted: number): number {
  let granted = wanted;
  for (const limiter of limiters) granted = Math.min(granted, limiter.available());
  for (const limiter of limiters) limiter.spend(granted);
  return granted;
}

/** The `rate_limited` answer to `count` messages refused from the one naming `stream` and `seq` on (bounded when sent). */
export function rateLimited(limits: { rateLimit: number; addressRateLimit: number }, count: number, stream: unknown, seq: unknown): ProtocolProblem {
  return {
    code: ErrorCode.rateLimited,
    message: `rate limit exceeded (${limits.rateLimit} messages per second per connection, ${limits.addressRateLimit} per client address): ${count} message${count === 1 ? '' : 's'} refused from here on, nothing of them applied`,
    ...(typeof stream === 'string' ? { stream } : {}),
    ...(seq !== undefined ? { seq } : {}),
    count,
  };
}
