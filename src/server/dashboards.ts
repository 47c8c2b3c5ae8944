// Dashboards: what a connection watches (subscribe, unsubscribe), the predictions fanned out to it (and recorded in the
// history they may ask for), and the metrics messages.

import { filter, interval, Subject, type Observable } from 'rxjs';
import { ErrorCode } from '../protocol/codes.js';
import { predictionJson, predictionJsonBound } from '../protocol/json.js';
import { MAX_SUBSCRIBED, type StreamCounts, type SubscribedMessage, type SubscribeMessage } from '../protocol/messages.js';
import { conflateLatest } from '../stream/fan-out.js';
import type { ScoredFrame } from '../stream/types.js';
import type { Connection } from './connection.js';
import type { History } from './history.js';
import type { Metrics } from './metrics.js';

/** Predictions per stream a dashboard may have waiting; older ones are dropped. */
const DASHBOARD_DEPTH = 256;
/** ms between deliveries to a dashboard. */
const DASHBOARD_PULL_MS = 50;
/** A dashboard with more than this many bytes unsent gets nothing new until it drains (its values are conflated meanwhile). */
export const DASHBOARD_BUFFER_LIMIT = 1024 * 1024;
/** Characters of predictions a dashboard may have waiting (as JSON, bounded above); past it each stream keeps only its latest. */
export const DASHBOARD_HELD_CHARS = 1024 * 1024;
/** Characters of predictions one delivery to a dashboard holds at most (a larger prediction goes alone). */
export const DASHBOARD_BATCH_CHARS = 256 * 1024;
/** A dashboard over DASHBOARD_BUFFER_LIMIT unsent for this long (ms, the server's clock) is dropped: it does not read. */
export const DASHBOARD_STALL_MS = 60_000;

/**
 * The fan-out of scored frames to the connections watching them. A dashboard gets them at its own pace: while its
 * socket holds more than DASHBOARD_BUFFER_LIMIT unsent it gets nothing new, and what waits for it is conflated
 * (at most DASHBOARD_DEPTH per stream and DASHBOARD_HELD_CHARS in all, the latest kept), so a paused or slow
 * dashboard costs a bounded amount of memory and each delivery a bounded amount of work.
 */
export class Dashboards {
  private readonly scored$ = new Subject<ScoredFrame>();
  /** Each frame's JSON, written once for every dashboard that gets it. */
  private readonly texts = new WeakMap<ScoredFrame, string>();

  constructor(
    /** The server's clock, ms: how long a dashboard has not read is measured by it. */
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** Every stream's recorded past, which `history` requests read. */
    readonly history: History,
  ) {}

  /** Whether any connection watches anything. */
  get watched(): boolean {
    return this.scored$.observed;
  }

  /** Records a scored frame in its stream's history and hands it to the dashboards watching its stream. */
  publish(frame: ScoredFrame): void {
    this.history.record(frame);
    if (this.scored$.observed) this.scored$.next(frame);
  }

  /**
   * Subscribes or unsubscribes `connection` to streams (and metrics), starting or stopping its fan-out, and answers it.
   * Touches the connection's subscription state.
   */
  subscribe(connection: Connection, message: SubscribeMessage): void {
    if (message.type === 'subscribe') {
      if (Array.isArray(message.streams) && connection.subscribed !== '*') {
        // checked whole before any name is added: a refused subscribe changes nothing
        let added = 0;
        for (const name of message.streams) if (!connection.subscribed.has(name)) added++;
        if (connection.subscribed.size + added > MAX_SUBSCRIBED) {
          return connection.sendError({
            code: ErrorCode.badField,
            message: `subscribe: this connection watches ${connection.subscribed.size} streams, and ${added} more would pass the most one may watch, ${MAX_SUBSCRIBED}; subscribe "*" to watch every stream, or unsubscribe some first`,
          });
        }
      }
      if (message.streams === '*') connection.subscribed = '*';
      else if (connection.subscribed !== '*') for (const name of message.streams) connection.subscribed.add(name);
      connection.wantsMetrics = message.metrics ?? true;
    } else {
      if (message.streams !== '*' && connection.subscribed === '*') {
        return connection.sendError({ code: ErrorCode.badField, message: 'unsubscribe: this connection watches "*"; unsubscribe "*" first, then subscribe to the streams to keep' });
      }
      if (message.streams === '*') connection.subscribed = new Set();
      else for (const name of message.streams) (connection.subscribed as Set<string>).delete(name);
      // metrics stop when asked (metrics: true) or with everything else ("*")
      if (message.metrics ?? message.streams === '*') connection.wantsMetrics = false;
    }
    const watching = connection.subscribed === '*' || connection.subscribed.size > 0;
    if (watching && !connection.dashboard) {
      connection.dashboard = this.scored$
        .pipe(
          filter((frame) => connection.watches(frame.entry.name)),
          conflateLatest<ScoredFrame>((frame) => frame.entry.name, DASHBOARD_DEPTH, this.pulls(connection), { weigh: predictionJsonBound, held: DASHBOARD_HELD_CHARS, batch: DASHBOARD_BATCH_CHARS }),
        )
        .subscribe({
          next: (frames) => this.deliver(connection, frames),
          // a failure in the fan-out (a bug) would otherwise be thrown where nothing catches it: it ends this dashboard only
          error: (err) => {
            this.log(`${connection.label}: its dashboard fan-out failed, closing it: ${(err as Error).stack ?? err}`);
            connection.dashboard = undefined;
            connection.ws.terminate();
          },
        });
    } else if (!watching && connection.dashboard) {
      connection.dashboard.unsubscribe();
      connection.dashboard = undefined;
    }
    const answer: SubscribedMessage = {
      type: message.type === 'subscribe' ? 'subscribed' : 'unsubscribed',
      streams: connection.subscribed === '*' ? '*' : [...connection.subscribed],
      metrics: connection.wantsMetrics,
    };
    connection.send(answer);
  }

  /**
   * When `connection`'s dashboard may take more: every DASHBOARD_PULL_MS while its socket's unsent bytes are under
   * DASHBOARD_BUFFER_LIMIT. One over it for DASHBOARD_STALL_MS on the server's clock is dropped.
   */
  private pulls(connection: Connection): Observable<unknown> {
    const ws = connection.ws;
    let overSince: number | undefined;
    return interval(DASHBOARD_PULL_MS).pipe(
      filter(() => {
        if (ws.bufferedAmount < DASHBOARD_BUFFER_LIMIT) {
          overSince = undefined;
          return true;
        }
        const now = this.now();
        overSince ??= now;
        if (now - overSince >= DASHBOARD_STALL_MS && !connection.closing) {
          // it reads nothing, so a close frame would wait behind what it has not read: drop it
          this.log(`${connection.label}: a dashboard that has not read its predictions for ${DASHBOARD_STALL_MS / 1000} s; dropping it`);
          connection.closing = true;
          ws.terminate();
        }
        return false;
      }),
    );
  }

  /** Sends a delivery to a dashboard; a failure (a bug) closes that connection and nothing else. */
  private deliver(connection: Connection, frames: ScoredFrame[]): void {
    const ws = connection.ws;
    try {
      if (ws.readyState !== ws.OPEN || connection.closing) return;
      let text = '[';
      for (let i = 0; i < frames.length; i++) {
        let json = this.texts.get(frames[i]);
        if (json === undefined) this.texts.set(frames[i], (json = predictionJson(frames[i])));
        text += (i > 0 ? ',' : '') + json;
      }
      ws.send(text + ']');
    } catch (err) {
      this.log(`${connection.label}: delivering predictions to it failed, closing it: ${(err as Error).stack ?? err}`);
      ws.terminate();
    }
  }

  /** Sends the metrics message of the interval just ended to every connection that wants metrics (and starts a new interval). */
  sendMetrics(metrics: Metrics, counts: StreamCounts & { learning: number }, connections: ReadonlySet<Connection>): void {
    const { open, held, parked, learning } = counts;
    const message = metrics.take({ open, held, parked }, connections.size, learning);
    for (const connection of connections) if (connection.wantsMetrics) connection.send(message);
  }

  /** Ends every fan-out (the server is closing). */
  complete(): void {
    this.scored$.complete();
  }
}
