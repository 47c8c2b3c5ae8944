// The `history` request checked on its way in: its stream, range and maxPoints, each with a clear error.

import { ErrorCode, show } from './codes.js';
import { DEFAULT_HISTORY_POINTS, MAX_HISTORY_POINTS, type HistoryRequest } from './history-messages.js';
import type { ProtocolProblem } from './messages.js';

/** Keys a `history` request may carry. */
const KEYS = new Set(['type', 'stream', 'since', 'until', 'last', 'maxPoints']);

/**
 * Checks the fields of a `history` request whose stream name is already checked: since and until finite numbers
 * (the frames' t) with since ≤ until, last a positive number of seconds (not with since), maxPoints an integer from
 * 2 to MAX_HISTORY_POINTS (default DEFAULT_HISTORY_POINTS). An unknown key is refused, so a typo is not silently a full answer.
 */
export function checkHistory(m: Record<string, unknown>, stream: string): HistoryRequest | ProtocolProblem {
  const bad = (message: string): ProtocolProblem => ({ code: ErrorCode.badField, message: `history "${stream}": ${message}`, stream });
  for (const key of Object.keys(m)) if (!KEYS.has(key)) return bad(`no field ${JSON.stringify(key)}; it takes since, until, last and maxPoints`);
  const { since, until, last, maxPoints } = m;
  for (const [name, value] of [['since', since], ['until', until]] as const) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) return bad(`${name} must be a frame time (a finite number, in the frames' t), got ${show(value)}`);
  }
  if (typeof since === 'number' && typeof until === 'number' && since > until) return bad(`since (${since}) is after until (${until})`);
  if (last !== undefined && (typeof last !== 'number' || !Number.isFinite(last) || last <= 0)) return bad(`last must be a positive number of seconds, got ${show(last)}`);
  if (last !== undefined && since !== undefined) return bad('give since or last, not both');
  if (maxPoints !== undefined && (typeof maxPoints !== 'number' || !Number.isInteger(maxPoints) || maxPoints < 2 || maxPoints > MAX_HISTORY_POINTS)) {
    return bad(`maxPoints must be an integer from 2 to ${MAX_HISTORY_POINTS}, got ${show(maxPoints)}`);
  }
  const request: HistoryRequest = { type: 'history', stream, maxPoints: (maxPoints as number | undefined) ?? DEFAULT_HISTORY_POINTS };
  if (since !== undefined) request.since = since as number;
  if (until !== undefined) request.until = until as number;
  if (last !== undefined) request.last = last as number;
  return request;
}
