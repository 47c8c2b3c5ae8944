// The stream directory's request surface for an engine whose streams live elsewhere (worker threads, NATS cluster
// workers): open, configure, reset and close all become one request to wherever the stream lives, answered later.

import type { ClosedMessage, ConfigureMessage, ConfiguredMessage, OpenedMessage, OpenMessage, ProtocolProblem, ResetMessage } from '../protocol/messages.js';
import type { FrameSource, StreamEntry } from '../stream/types.js';
import type { StreamRequest } from './messages.js';

/**
 * open / configure / reset / close of src/server/engine.ts's StreamDirectory, each sent on as a StreamRequest. An
 * answer of undefined means the engine answers the connection itself when the stream's owner replies.
 */
export abstract class RemoteRequests {
  /** Sends `request` to the stream's owner; `owned` is the connection's set of streams an `open` or `close` updates. */
  protected abstract request(source: FrameSource, request: StreamRequest, owned: Set<StreamEntry> | undefined): ProtocolProblem | undefined;

  open(source: FrameSource, request: OpenMessage, owned?: Set<StreamEntry>): OpenedMessage | ProtocolProblem | undefined {
    return this.request(source, request, owned);
  }

  configure(source: FrameSource, request: ConfigureMessage): ConfiguredMessage | ProtocolProblem | undefined {
    return this.request(source, request, undefined);
  }

  reset(source: FrameSource, stream: string): ResetMessage | ProtocolProblem | undefined {
    return this.request(source, { type: 'reset', stream }, undefined);
  }

  close(source: FrameSource, stream: string, owned?: Set<StreamEntry>): ClosedMessage | ProtocolProblem | undefined {
    return this.request(source, { type: 'close', stream }, owned);
  }
}
