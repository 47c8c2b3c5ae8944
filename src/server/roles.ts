// What a connection may do: the roles its token gives it, and the checks of open, configure and reset against them.

import { ErrorCode } from '../protocol/codes.js';
import type { ProtocolProblem } from '../protocol/messages.js';
import type { FrameSource, StreamEntry } from '../stream/types.js';

/**
 * A connection's role:
 * - `control` (the server's `--token`): everything, on every stream: reset, configure (learning, horizon), and
 *   online learning, which trains a model every stream on it shares;
 * - `produce` (`--producer-token`): its own streams: open, frames, close, and reset or the horizon of the ones it
 *   holds; no learning, no other producer's stream;
 * - `read` (`--read-token`): list and subscribe, nothing else;
 * - `local` (a server without tokens, on loopback): control, except over streams another connection holds (the
 *   page may control the demo's streams, produced inside the server, and streams nobody holds).
 */
export type Role = 'control' | 'produce' | 'read' | 'local';

/** What has a role: a connection. A source without one (a producer inside the server's process) is trusted. */
export interface HasRole {
  readonly role: Role;
}

/** The role of `source`: its own, or `control` for a producer inside the server. */
export function roleOf(source: FrameSource): Role {
  return (source as Partial<HasRole>).role ?? 'control';
}

/** Why `source` may not open streams, or undefined. */
export function refuseOpen(source: FrameSource, stream: string, learns: boolean): ProtocolProblem | undefined {
  const role = roleOf(source);
  if (role === 'read') return forbidden(stream, `open "${stream}": this connection has the read-only token; it may list and subscribe, not produce`);
  if (learns && role === 'produce') return forbidden(stream, learningNeedsControl(`open "${stream}"`));
  return undefined;
}

/**
 * Why `source` may not change `entry` (configure, reset), or undefined: only the connection holding it or the control
 * role may (without tokens, any connection may change a stream no other connection holds); learning, which trains the
 * model every stream on it shares, needs the control role (or, without tokens, the local one).
 */
export function refuseChange(source: FrameSource, entry: StreamEntry, what: string, learns: boolean): ProtocolProblem | undefined {
  const role = roleOf(source);
  if (role === 'read') return forbidden(entry.name, `${what}: this connection has the read-only token; it may list and subscribe, not change streams`);
  if (learns && role === 'produce') return forbidden(entry.name, learningNeedsControl(what));
  if (entry.owner === source || role === 'control') return undefined;
  if (role === 'local' && (entry.owner === undefined || !('role' in entry.owner))) return undefined;
  return forbidden(entry.name, `${what}: the stream is held by another producer; only that producer, or a connection with the control token, may change it`);
}

function learningNeedsControl(what: string): string {
  return `${what}: online learning trains the model that every stream on it shares, which needs the control token; this connection has the producer token`;
}

function forbidden(stream: string, message: string): ProtocolProblem {
  return { code: ErrorCode.forbidden, message, stream };
}
