// What a `history` request gets: the rows of a stream's history (history.ts) in the asked range, decimated to
// maxPoints by min/max pairs, as the protocol's columnar `history` message.

import { ErrorCode } from '../protocol/codes.js';
import type { HistoryMessage, HistoryRequest } from '../protocol/history-messages.js';
import type { ProtocolProblem } from '../protocol/messages.js';
import { HistoryRows, MinMaxBucket } from './history-rows.js';
import type { StreamHistory } from './history.js';

/**
 * The answer to `request` from `history` (undefined: nothing recorded yet; `known` says whether the stream is open,
 * else the answer is an unknown_stream error). Reads the history only; allocates the answer's arrays.
 */
export function historyAnswer(request: HistoryRequest, history: StreamHistory | undefined, known: boolean, threshold: number): HistoryMessage | ProtocolProblem {
  const { stream } = request;
  if (!history) {
    if (!known) return { code: ErrorCode.unknownStream, message: `history "${stream}": no such stream is open, and the server keeps no history of it`, stream };
    return emptyAnswer(stream, 1, threshold);
  }
  const { raw, decimated, channels } = history;
  const newest = raw.length > 0 ? raw.t(raw.index(raw.length - 1)) : NaN;
  const low = request.last !== undefined ? newest - request.last * 1000 : (request.since ?? -Infinity);
  const high = request.until ?? Infinity;
  const inRange = (t: number) => t >= low && t <= high;
  // the decimated tier holds what is older than the raw one
  const tiers = [decimated, raw];
  let rows = 0;
  let fromDecimated = false;
  for (const tier of tiers) {
    for (let i = 0; i < tier.length; i++) {
      if (!inRange(tier.t(tier.index(i)))) continue;
      rows++;
      if (tier === decimated) fromDecimated = true;
    }
  }
  const answer = emptyAnswer(stream, channels, threshold);
  answer.rows = rows;
  answer.decimated = fromDecimated || rows > request.maxPoints;
  answer.oldest = decimated.length > 0 ? decimated.t(decimated.index(0)) : raw.length > 0 ? raw.t(raw.index(0)) : null;
  if (rows <= request.maxPoints) {
    for (const tier of tiers) for (let i = 0; i < tier.length; i++) if (inRange(tier.t(tier.index(i)))) appendRow(answer, tier, tier.index(i));
  } else {
    // buckets of `size` rows become at most two rows each
    const size = Math.ceil(rows / Math.floor(request.maxPoints / 2));
    const folded = new HistoryRows(request.maxPoints, channels, request.maxPoints);
    const bucket = new MinMaxBucket(channels);
    for (const tier of tiers) {
      for (let i = 0; i < tier.length; i++) {
        const at = tier.index(i);
        if (!inRange(tier.t(at))) continue;
        bucket.add(tier, at);
        if (bucket.length === size) bucket.flushTo(folded);
      }
    }
    bucket.flushTo(folded);
    for (let i = 0; i < folded.length; i++) appendRow(answer, folded, folded.index(i));
  }
  const { detections } = history;
  for (let i = 0; i < detections.length; i++) {
    const at = detections.index(i);
    if (!inRange(detections.t[at])) continue;
    answer.detections.t.push(detections.t[at]);
    answer.detections.seq.push(detections.seq[at]);
    answer.detections.anomaly.push(detections.anomaly[at]);
  }
  return answer;
}

function emptyAnswer(stream: string, channels: number, threshold: number): HistoryMessage {
  return {
    type: 'history',
    stream,
    channels,
    t: [],
    seq: [],
    actual: Array.from({ length: channels }, () => []),
    predicted: Array.from({ length: channels }, () => []),
    error: [],
    rmse: [],
    anomaly: [],
    detections: { t: [], seq: [], anomaly: [] },
    threshold,
    rows: 0,
    decimated: false,
    oldest: null,
  };
}

/** NaN (a missing value) as the protocol's null. */
const orNull = (value: number) => (Number.isNaN(value) ? null : value);

function appendRow(answer: HistoryMessage, rows: HistoryRows, at: number): void {
  answer.t.push(rows.t(at));
  answer.seq.push(rows.seq(at));
  answer.error.push(orNull(rows.error(at)));
  answer.rmse.push(orNull(rows.rmse(at)));
  answer.anomaly.push(rows.anomaly(at));
  for (let k = 0; k < rows.channels; k++) {
    answer.actual[k].push(orNull(rows.actual(at, k)));
    answer.predicted[k].push(orNull(rows.predicted(at, k)));
  }
}
