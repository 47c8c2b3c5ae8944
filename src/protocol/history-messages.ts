// The `history` messages of the wire protocol (docs/protocol.md "History"): a dashboard's request for a stream's
// recorded past, and the server's columnar answer. Imports nothing; messages.ts folds them into its unions.

/** Most rows one `history` answer holds (maxPoints may ask for fewer). */
export const MAX_HISTORY_POINTS = 10_000;
/** Rows a `history` answer holds when the request gives no maxPoints. */
export const DEFAULT_HISTORY_POINTS = 2000;

/**
 * Asks for a stream's recorded past (any connection that may subscribe may ask). The range is in the frames' own t
 * (ms since the epoch for a producer that sends none): since ≤ t ≤ until, or the last `last` seconds before the
 * newest frame kept; neither: everything kept. More rows than maxPoints are decimated (min/max pairs).
 */
export interface HistoryRequest {
  type: 'history';
  stream: string;
  since?: number;
  until?: number;
  /** Seconds before the newest frame's t (t taken as ms); not with since. */
  last?: number;
  maxPoints: number;
}

/**
 * What `history` answers: the rows in the range, oldest first, as columns (row i of every array is one moment; null
 * where a value is missing). A row of a decimated range stands for several frames: each column holds their minimum
 * and maximum in pairs, so spikes survive.
 */
export interface HistoryMessage {
  type: 'history';
  stream: string;
  /** Channels kept (at most 8; a token stream's one channel is its token, its prediction the most likely next). */
  channels: number;
  /** The frames' t (the producer's, or the server's receive time in ms since the epoch). */
  t: number[];
  seq: number[];
  /** (channels)(rows): actual values, in the producer's units. */
  actual: (number | null)[][];
  /** (channels)(rows): each frame's prediction of the next frame (the `predicted` of its prediction message). */
  predicted: (number | null)[][];
  error: (number | null)[];
  rmse: (number | null)[];
  anomaly: number[];
  /** The frames in the range whose anomaly score rose to the threshold or above, oldest first. */
  detections: { t: number[]; seq: number[]; anomaly: number[] };
  /** The anomaly score at or above which a frame is a detection. */
  threshold: number;
  /** Rows the range held before decimation to maxPoints. */
  rows: number;
  /** Whether any row stands for more than one frame (the range reaches the decimated tier, or held more than maxPoints). */
  decimated: boolean;
  /** t of the oldest frame kept for the stream (null: nothing kept), to tell a short range from a short memory. */
  oldest: number | null;
}
