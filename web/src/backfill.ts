// Which streams' pasts the page asks the server for, and when: on open, on resume and after a reconnect, paced so a
// page watching many streams stays within the server's budget for history answers.

import { historyMessage } from './protocol';

/** What each backfill asks for, in order: the hour (decimated to about a row a second), then the last ten minutes at full rate. */
export const BACKFILL_REQUESTS: readonly { lastSeconds: number; maxPoints: number }[] = [
  { lastSeconds: 3600, maxPoints: 3600 },
  { lastSeconds: 600, maxPoints: 6000 },
];
/** Streams backfilled per tick. The server answers 10 history requests a second per connection (shared with `list`). */
export const BACKFILL_STREAMS_PER_TICK = 2;
/** ms between ticks. */
export const BACKFILL_TICK_MS = 500;

/**
 * A queue of streams to backfill. `want` adds streams (the first named goes ahead); each tick sends the
 * BACKFILL_REQUESTS of up to BACKFILL_STREAMS_PER_TICK of them. A stream asked for again while it waits is sent once.
 */
export class Backfills {
  private readonly queue: string[] = [];
  private scheduled = false;

  constructor(
    /** Sends messages to the server; false when it cannot (not connected, or the page runs a file itself): the stream is dropped from the queue. */
    private readonly send: (messages: object[]) => boolean,
    private readonly later: (work: () => void, ms: number) => void = (work, ms) => void setTimeout(work, ms),
  ) {}

  /** Streams waiting to be asked for. */
  get waiting(): readonly string[] {
    return this.queue;
  }

  /** Asks for the past of `streams`; `first`, if among them or already waiting, goes ahead of the rest. */
  want(streams: readonly string[], first?: string): void {
    for (const name of streams) if (!this.queue.includes(name)) this.queue.push(name);
    const at = first === undefined ? -1 : this.queue.indexOf(first);
    if (at > 0) this.queue.unshift(...this.queue.splice(at, 1));
    if (!this.scheduled) this.tick();
  }

  private tick(): void {
    this.scheduled = false;
    for (const name of this.queue.splice(0, BACKFILL_STREAMS_PER_TICK)) this.send(BACKFILL_REQUESTS.map((r) => historyMessage(name, r.lastSeconds, r.maxPoints)));
    if (this.queue.length === 0) return;
    this.scheduled = true;
    this.later(() => this.tick(), BACKFILL_TICK_MS);
  }
}
