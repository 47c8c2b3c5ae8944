// What each client message does: a socket's message counted, parsed and checked, then dispatched to the stream table,
// the pipeline or the dashboards, and answered.

import type { RawData } from 'ws';
import { checkFramesMessage, frameSeq, frameStreamId, frameTime, frameValues } from '../protocol/binary.js';
import { ErrorCode } from '../protocol/codes.js';
import { checkMessage, parseText } from '../protocol/json.js';
import type { ProtocolProblem } from '../protocol/messages.js';
import type { IncomingFrame } from '../stream/types.js';
import type { Connection } from './connection.js';
import type { Dashboards } from './dashboards.js';
import { historyAnswer } from './history-query.js';
import { LIST_PAGES_PER_ADDRESS, LIST_PAGES_PER_SECOND, rateLimited, takeFromAll } from './limits.js';
import type { StreamDirectory } from './engine.js';

/** What dispatch reaches: the server's parts it hands messages to. */
export interface DispatchParts {
  table: StreamDirectory;
  dashboards: Dashboards;
  /** Hands a frame to the stream pipeline. */
  frames: (frame: IncomingFrame) => void;
  limits: { rateLimit: number; addressRateLimit: number };
}

/** Dispatches connections' messages; touches the stream table and the connections' subscriptions through the parts it is given. */
export class Dispatch {
  constructor(private readonly deps: DispatchParts) {}

  /** Handles one WebSocket message of `connection`: counted against its rate limits, checked, and each of its messages dispatched in order. */
  received(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.closing) return;
    const receivedAt = performance.now();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) return this.receivedBinary(connection, bytes, receivedAt);
    const parsed = parseText(bytes.toString('utf8'));
    // every message counts against the rate limits, a bad one (or an empty batch) as one
    const messages = Array.isArray(parsed) ? parsed : [];
    const granted = connection.admit(Math.max(1, messages.length));
    if (!Array.isArray(parsed)) return connection.sendError(granted === 1 ? parsed : rateLimited(this.deps.limits, 1, undefined, undefined));
    // a connection closed for what it asked (answers it does not read) is not served the rest of its batch
    for (let i = 0; i < granted && i < messages.length && !connection.closing; i++) this.handle(connection, messages[i], receivedAt);
    if (granted < messages.length) {
      const first = messages[granted] as { stream?: unknown; seq?: unknown } | null;
      connection.sendError(rateLimited(this.deps.limits, messages.length - granted, first?.stream, first?.seq));
    }
  }

  private handle(connection: Connection, value: unknown, receivedAt: number): void {
    const message = checkMessage(value);
    if ('code' in message) return connection.sendError(message);
    switch (message.type) {
      case 'frame':
        // the same keys as binary frames, so the pipeline sees objects of one shape
        this.deps.frames({
          source: connection,
          streamLabel: message.stream,
          entry: this.deps.table.byName.get(message.stream),
          seq: message.seq,
          t: message.t,
          values: message.values,
          token: message.token,
          receivedAt,
          binary: false,
          ownedValues: false,
        });
        return;
      case 'open':
        return this.answer(connection, this.deps.table.open(connection, message, connection.owned));
      case 'configure':
        return this.answer(connection, this.deps.table.configure(connection, message));
      case 'reset':
        return this.answer(connection, this.deps.table.reset(connection, message.stream));
      case 'close':
        return this.answer(connection, this.deps.table.close(connection, message.stream, connection.owned));
      case 'list':
        if (takeFromAll([connection.lists, connection.address.lists], 1) === 0) {
          return connection.sendError({
            code: ErrorCode.rateLimited,
            message: `list: at most ${LIST_PAGES_PER_SECOND} pages a second per connection and ${LIST_PAGES_PER_ADDRESS} per client address (each lists up to 1,000 streams); nothing answered`,
            count: 1,
          });
        }
        return this.answer(connection, this.deps.table.list(message.offset, connection));
      case 'history': {
        // a history answer costs as much as a page of `list`: it shares that budget
        if (takeFromAll([connection.lists, connection.address.lists], 1) === 0) {
          return connection.sendError({ code: ErrorCode.rateLimited, message: `history "${message.stream}": at most ${LIST_PAGES_PER_SECOND} list pages and history answers a second per connection, ${LIST_PAGES_PER_ADDRESS} per client address; nothing answered`, stream: message.stream, count: 1 });
        }
        const { history } = this.deps.dashboards;
        return this.answer(connection, historyAnswer(message, history.get(message.stream), this.deps.table.byName.has(message.stream), history.threshold));
      }
      case 'subscribe':
      case 'unsubscribe':
        return this.deps.dashboards.subscribe(connection, message);
    }
  }

  /** Sends an answer; undefined: the engine answers later (src/server/engine.ts). */
  private answer(connection: Connection, reply: { type: string } | ProtocolProblem | undefined): void {
    if (reply === undefined) return;
    if ('code' in reply) connection.sendError(reply);
    else connection.send(reply);
  }

  private receivedBinary(connection: Connection, bytes: Buffer, receivedAt: number): void {
    const message = checkFramesMessage(bytes);
    if ('code' in message) return connection.sendError(connection.admit(1) === 1 ? message : rateLimited(this.deps.limits, 1, undefined, undefined));
    const { count, width } = message;
    const granted = connection.admit(count);
    // each record goes straight into the pipeline: its values decoded once, into the array that becomes the frame's actual
    for (let i = 0; i < granted; i++) {
      const streamId = frameStreamId(message, i);
      const entry = this.deps.table.withId(streamId);
      const token = width === 1 && entry !== undefined && entry.served.model.isTokenModel;
      const values = frameValues(message, i);
      this.deps.frames({
        source: connection,
        streamLabel: entry?.name ?? `#${streamId}`,
        entry,
        seq: frameSeq(message, i),
        t: frameTime(message, i),
        values: token ? undefined : values,
        token: token ? values[0] : undefined,
        receivedAt,
        binary: true,
        ownedValues: true,
      });
    }
    if (granted < count) {
      const streamId = frameStreamId(message, granted);
      connection.sendError(rateLimited(this.deps.limits, count - granted, this.deps.table.withId(streamId)?.name ?? `#${streamId}`, frameSeq(message, granted)));
    }
  }
}

