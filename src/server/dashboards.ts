// Dashboards: what a connection watches (subscribe, unsubscribe), the predictions fanned out to it, and the metrics messages.

import { filter, interval, Subject } from 'rxjs';
import { ErrorCode } from '../protocol/codes.js';
import { predictionJson } from '../protocol/json.js';
import { MAX_SUBSCRIBED, type StreamCounts, type SubscribedMessage, type SubscribeMessage } from '../protocol/messages.js';
import { conflateLatest } from '../stream/fan-out.js';
import type { ScoredFrame } from '../stream/types.js';
import type { Connection } from './connection.js';
import type { Metrics } from './metrics.js';

/** Predictions per stream a dashboard may have waiting; older ones are dropped. */
const DASHBOARD_DEPTH = 256;
/** ms between deliveries to a dashboard. */
const DASHBOARD_PULL_MS = 50;
/** A dashboard with more than this many bytes unsent gets nothing new until it drains (its values are conflated meanwhile). */
const DASHBOARD_BUFFER_LIMIT = 1024 * 1024;

/** The fan-out of scored frames to the connections watching them. */
export class Dashboards {
  private readonly scored$ = new Subject<ScoredFrame>();

  /** Whether any connection watches anything (else publish need not be called). */
  get watched(): boolean {
    return this.scored$.observed;
  }

  /** Hands a scored frame to the dashboards watching its stream. */
  publish(frame: ScoredFrame): void {
    this.scored$.next(frame);
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
      const ws = connection.ws;
      const pulls = interval(DASHBOARD_PULL_MS).pipe(filter(() => ws.bufferedAmount < DASHBOARD_BUFFER_LIMIT));
      connection.dashboard = this.scored$
        .pipe(
          filter((frame) => connection.watches(frame.entry.name)),
          conflateLatest((frame) => frame.entry.name, DASHBOARD_DEPTH, pulls),
        )
        .subscribe((frames) => {
          if (ws.readyState === ws.OPEN) ws.send(`[${frames.map(predictionJson).join(',')}]`);
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
