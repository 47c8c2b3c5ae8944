// What goes through the frames subjects (docs/cluster.md "Subjects"): a front end writes these messages, a worker reads
// them back and checks each once, whoever published it (a bad one is answered on the stream's error subject).

import { ErrorCode, show } from '../../protocol/codes.js';
import { checkMessage } from '../../protocol/json.js';
import type { ConfigureMessage, FrameMessage, OpenMessage, ProtocolProblem } from '../../protocol/messages.js';
import type { Role } from '../../server/roles.js';
import type { StreamRequest } from '../messages.js';
import { parseSourceKey } from './subjects.js';

const ROLES: Role[] = ['control', 'produce', 'read', 'local'];

/** A frame as a front end publishes it: the protocol's frame message, whose connection sent it, when it arrived. */
export interface WireFrame {
  kind: 'frame';
  /** The connection's source key (`<front>.<id>`). */
  source: string;
  frame: FrameMessage;
  binary: boolean;
  /** When it arrived at the front end, on the front end's performance clock, ms (latency only: no step reads it). */
  at: number;
}

/** open, configure, reset or close, as the connection asked, with the front end's id for the answer. */
export interface WireRequest {
  kind: 'request';
  source: string;
  label: string;
  role: Role | undefined;
  id: number;
  request: StreamRequest;
}

/** A connection left: its streams become orphans (src/server/streams.ts `orphan`). */
export interface WireOrphan {
  kind: 'orphan';
  source: string;
  address: string | undefined;
}

export type WireMessage = WireFrame | WireRequest | WireOrphan;

/** A message's bytes. */
export function encodeWire(message: WireMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}

/**
 * Reads and checks a frames-subject message for stream `stream` (the subject's; undefined on a control subject).
 * A problem names what is wrong; nothing was applied.
 */
export function decodeWire(bytes: Uint8Array, stream: string | undefined): WireMessage | ProtocolProblem {
  const where = stream === undefined ? 'a control message' : `a message on the subject of stream "${stream}"`;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    return { code: ErrorCode.badJson, message: `${where} is not JSON (${(err as Error).message}); nothing was applied`, ...(stream !== undefined ? { stream } : {}) };
  }
  const bad = (message: string): ProtocolProblem => ({ code: ErrorCode.badMessage, message: `${where}: ${message}; nothing was applied`, ...(stream !== undefined ? { stream } : {}) });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(`expected a JSON object with a "kind", got ${show(value)}`);
  const m = value as Record<string, unknown>;
  if (typeof m.source !== 'string' || !parseSourceKey(m.source)) return bad(`"source" must be a source key "<front>.<id>", got ${show(m.source)}`);
  const source = m.source;
  if (m.kind === 'orphan') {
    if (stream !== undefined) return bad('an orphan message goes on the partition\'s control subject');
    if (m.address !== undefined && typeof m.address !== 'string') return bad(`"address" must be a string, got ${show(m.address)}`);
    return { kind: 'orphan', source, address: m.address as string | undefined };
  }
  if (stream === undefined) return bad(`expected kind "orphan", got ${show(m.kind)}`);
  if (m.kind !== 'frame' && m.kind !== 'request') return bad(`"kind" must be "frame", "request" or "orphan", got ${show(m.kind)}`);
  const inner = m.kind === 'frame' ? m.frame : m.request;
  const checked = checkMessage(inner);
  if ('code' in checked) return { ...checked, message: `${where}: ${checked.message}`, stream };
  if (!('stream' in checked) || checked.stream !== stream) return bad(`it names stream ${show((checked as { stream?: unknown }).stream)}, not the subject's`);
  if (m.kind === 'frame') {
    if (checked.type !== 'frame') return bad(`a frame must be a "frame" message, got type ${show(checked.type)}`);
    if (typeof m.binary !== 'boolean') return bad(`"binary" must be true or false, got ${show(m.binary)}`);
    if (typeof m.at !== 'number' || !Number.isFinite(m.at)) return bad(`"at" must be a number, got ${show(m.at)}`);
    return { kind: 'frame', source, frame: checked, binary: m.binary, at: m.at };
  }
  if (checked.type !== 'open' && checked.type !== 'configure' && checked.type !== 'reset' && checked.type !== 'close') {
    return bad(`a request must be open, configure, reset or close, got type ${show(checked.type)}`);
  }
  if (typeof m.id !== 'number' || !Number.isSafeInteger(m.id) || m.id < 0) return bad(`"id" must be a non-negative integer, got ${show(m.id)}`);
  if (typeof m.label !== 'string') return bad(`"label" must be a string, got ${show(m.label)}`);
  if (m.role !== undefined && !ROLES.includes(m.role as Role)) return bad(`"role" must be one of ${ROLES.join(', ')}, got ${show(m.role)}`);
  const request: StreamRequest = checked.type === 'open' || checked.type === 'configure' ? (checked as OpenMessage | ConfigureMessage) : { type: checked.type, stream: checked.stream };
  return { kind: 'request', source, label: m.label, role: m.role as Role | undefined, id: m.id, request };
}
