// Producers inside the server's process (the built-in demo) on a server whose streams live on worker threads:
// their requests are answered a turn later, when the worker answers, so each producer is given a stand-in the pool
// answers like a connection (send/sendError), and `open` resolves with the answer. Frames and predictions go the
// way of any other source's (docs/workers.md "The demo").

import type { OpenedMessage, OpenMessage, ProtocolProblem, ResetMessage } from '../protocol/messages.js';
import type { LocalProducer } from '../server/server.js';
import type { IncomingFrame, Rejection, ScoredFrame } from '../stream/types.js';
import type { Answerable } from './sources.js';

/** What of the server a local producer uses (SeqcastServer has these). */
export interface LocalServer {
  openStream(source: LocalProducer, request: OpenMessage): unknown;
  resetStream(source: LocalProducer, stream: string): unknown;
  pushFrame(frame: Omit<IncomingFrame, 'entry' | 'streamLabel' | 'receivedAt'> & { stream: string }): void;
}

/** A producer as it is known to the pool: answered by message, its predictions and refusals passed on to it. */
class StandIn implements Answerable, LocalProducer {
  readonly label: string;
  /** Requests awaiting their answer, in the order sent (a worker answers one stream's requests in that order). */
  private readonly waiting = new Map<string, ((answer: unknown) => void)[]>();

  constructor(private readonly producer: LocalProducer) {
    this.label = producer.label;
  }

  /** A promise of the next answer about `stream`. */
  answerOf(stream: string): Promise<unknown> {
    return new Promise((resolve) => {
      const queue = this.waiting.get(stream) ?? [];
      queue.push(resolve);
      this.waiting.set(stream, queue);
    });
  }

  send(message: unknown): void {
    // the answers to this producer's requests (opened, reset) are all a worker sends it by message
    const stream = (message as { stream?: unknown }).stream;
    if (typeof stream === 'string') this.answered(stream, message);
  }

  sendError(problem: ProtocolProblem): void {
    if (problem.stream !== undefined && this.answered(problem.stream, problem)) return;
    // not an answer to a request: a worker that stopped, a refusal; told the way the in-thread server tells it
    this.producer.onError?.({ source: this.producer, streamLabel: problem.stream ?? '', seq: undefined, code: problem.code, message: problem.message });
  }

  onPrediction(frame: ScoredFrame): void {
    this.producer.onPrediction?.({ ...frame, source: this.producer });
  }

  onError(rejection: Rejection): void {
    this.producer.onError?.({ ...rejection, source: this.producer });
  }

  private answered(stream: string, answer: unknown): boolean {
    const resolve = this.waiting.get(stream)?.shift();
    if (!resolve) return false;
    if (this.waiting.get(stream)!.length === 0) this.waiting.delete(stream);
    resolve(answer);
    return true;
  }
}

/**
 * The server's producer methods for producers inside its process when its engine is a worker pool: `openStream`
 * and the others resolve with the worker's answer; `pushFrame` queues the frame after them, as a connection's would.
 */
export class PooledLocalProducers {
  private readonly standIns = new WeakMap<LocalProducer, StandIn>();

  constructor(private readonly server: LocalServer) {}

  /** Opens (or takes over) a stream; resolves with the `opened` answer or what is wrong. */
  openStream(producer: LocalProducer, request: OpenMessage): Promise<OpenedMessage | ProtocolProblem> {
    const standIn = this.standIn(producer);
    const answer = standIn.answerOf(request.stream);
    // the pool answers later: what the server says now (that it answers later) is not the answer
    this.server.openStream(standIn, request);
    return answer as Promise<OpenedMessage | ProtocolProblem>;
  }

  /** Zeroes a stream's state after the frames already sent; resolves with the answer. */
  resetStream(producer: LocalProducer, stream: string): Promise<ResetMessage | ProtocolProblem> {
    const standIn = this.standIn(producer);
    const answer = standIn.answerOf(stream);
    this.server.resetStream(standIn, stream);
    return answer as Promise<ResetMessage | ProtocolProblem>;
  }

  /** Sends a frame of `frame.stream` (after the requests already sent). */
  pushFrame(frame: Omit<IncomingFrame, 'entry' | 'streamLabel' | 'receivedAt' | 'source'> & { source: LocalProducer; stream: string }): void {
    this.server.pushFrame({ ...frame, source: this.standIn(frame.source) });
  }

  private standIn(producer: LocalProducer): StandIn {
    let standIn = this.standIns.get(producer);
    if (!standIn) this.standIns.set(producer, (standIn = new StandIn(producer)));
    return standIn;
  }
}
