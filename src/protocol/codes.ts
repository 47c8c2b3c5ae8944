// The error codes of the wire protocol (docs/protocol.md lists what each means); programs match on these, people read the message.
// This is the floor of src/protocol: it imports nothing, and src/stream's rejections use these codes.

export const ErrorCode = {
  /** A text message that is not JSON. */
  badJson: 'bad_json',
  /** JSON that is not a message object (or an array of them). */
  badMessage: 'bad_message',
  /** A `type` the server does not know. */
  unknownType: 'unknown_type',
  /** A required field is absent. */
  missingField: 'missing_field',
  /** A field has the wrong type or an unusable value. */
  badField: 'bad_field',
  /** A frame, reset or close for a stream that is not open on this connection. */
  unknownStream: 'unknown_stream',
  /** The stream is held by another connection. */
  streamBusy: 'stream_busy',
  /** `open` names a model the server does not hold. */
  unknownModel: 'unknown_model',
  /** `seq` is not larger than the stream's last accepted seq (a duplicate or out of order). */
  badSeq: 'bad_seq',
  /** A frame with a different number of values than the model takes. */
  wrongLength: 'wrong_length',
  /** NaN, Infinity, a string, null or a number float32 cannot hold among the values. */
  badValue: 'bad_value',
  /** A token id that is not an integer inside the vocabulary. */
  badToken: 'bad_token',
  /** A binary message with a bad header or length. */
  badBinary: 'bad_binary',
  /** Frames beyond the connection's rate limit. */
  rateLimited: 'rate_limited',
  /** More streams than a connection (or the server) may hold. */
  tooManyStreams: 'too_many_streams',
  /** Online learning asked of a model that cannot learn online here (a transformer or hybrid, a token model, outputs ≠ inputs). */
  learningUnavailable: 'learning_unavailable',
  /** A horizon on a model whose outputs cannot be fed back as inputs. */
  forecastUnavailable: 'forecast_unavailable',
  /** The server failed; the message says how. Nothing was stepped. */
  internal: 'internal',
  /** The connection's role does not allow it: a read-only token, learning without the control token, another producer's stream. */
  forbidden: 'forbidden',
  /** A horizon past what the server's forecasts may cost in all (the sum of every stream's horizon). */
  forecastBudget: 'forecast_budget',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A value a peer sent, as an error message shows it: strings quoted and cut to 20 characters, arrays by length (never echoed unbounded). */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** Longest string an error echoes back in its `stream` or `seq` field, in characters. */
export const MAX_ECHOED = 200;

/**
 * A field a peer sent (a `stream`, a `seq`) as an error may echo it: a finite number, a boolean or null as it is,
 * a string cut to MAX_ECHOED characters, anything else (an object, an array: unbounded in size and depth) left out.
 * Bounded before any error is built, so no echo costs more than a few hundred bytes.
 */
export function echoed(value: unknown): string | number | boolean | null | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') return value.length > MAX_ECHOED ? `${value.slice(0, MAX_ECHOED)}…` : value;
  if (typeof value === 'boolean' || value === null) return value;
  return undefined;
}
