// Frame sources as the pool sees them: connections it answers, and what of a frame's values packs.

import { ErrorCode } from '../protocol/codes.js';
import type { ProtocolProblem } from '../protocol/messages.js';
import type { HasRole } from '../server/roles.js';
import type { FrameSource } from '../stream/types.js';
import type { SourceRef } from './messages.js';

/** What answers go to: a connection (src/server/connection.ts). */
export interface Answerable extends FrameSource {
  send(message: unknown): void;
  sendError(problem: ProtocolProblem): void;
}

/** Whether `source` is a connection the pool can answer later (producers inside the server's process are not). */
export function isAnswerable(source: FrameSource): source is Answerable {
  return typeof (source as Partial<Answerable>).send === 'function' && typeof (source as Partial<Answerable>).sendError === 'function';
}

/** Whether a frame's values are a list of numbers (and so pack; anything else crosses as is, to be refused there). */
export function allNumbers(values: unknown): values is ArrayLike<number> {
  if (!Array.isArray(values) && !ArrayBuffer.isView(values)) return false;
  const list = values as ArrayLike<unknown>;
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'number') return false;
  return true;
}

/** Producers inside the server's process (the demo) are answered at once, which worker threads cannot do. */
export function localRefused(stream: string): ProtocolProblem {
  return { code: ErrorCode.internal, message: `"${stream}": this server's streams live on worker threads, which serve producers inside its process only with --workers 1`, stream };
}

/** The socket thread's ids of the sources whose frames and requests cross to workers (a worker knows them by it). */
export class SourceIds {
  private readonly ids = new WeakMap<FrameSource, number>();
  private readonly byId = new Map<number, FrameSource>();
  private next = 1;

  /** `source`'s id, given it at first sight. */
  id(source: FrameSource): number {
    let id = this.ids.get(source);
    if (id === undefined) {
      id = this.next++;
      this.ids.set(source, id);
      this.byId.set(id, source);
    }
    return id;
  }

  /** Its id if it has one (it sent something). */
  known(source: FrameSource): number | undefined {
    return this.ids.get(source);
  }

  withId(id: number): FrameSource | undefined {
    return this.byId.get(id);
  }

  /** `source` as a worker is told of it: its id, label and role. */
  ref(source: FrameSource): SourceRef {
    return { id: this.id(source), label: source.label, role: (source as Partial<HasRole>).role };
  }

  /** It left (disconnected): its id is not used again. */
  forget(source: FrameSource): void {
    const id = this.ids.get(source);
    if (id === undefined) return;
    this.ids.delete(source);
    this.byId.delete(id);
  }
}
