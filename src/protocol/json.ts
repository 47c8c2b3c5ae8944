// The JSON side of the wire protocol: a text message parsed and checked into typed client messages, and predictions written as JSON.

import { echoed, ErrorCode, show } from './codes.js';
import { checkHistory } from './history-check.js';
import { MAX_HORIZON, MAX_LEARNING_WINDOW, MAX_STREAM_NAME, MAX_SUBSCRIBED, type ClientMessage, type LearningRequest, type NormalizeMode, type PredictionMessage, type PredictionSource, type ProtocolProblem } from './messages.js';

/** A text message's messages: one JSON object, or an array of them (a batch, answered in order). */
export function parseText(text: string): unknown[] | ProtocolProblem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { code: ErrorCode.badJson, message: `message is not JSON (${(err as Error).message}): ${show(text)}` };
  }
  return Array.isArray(value) ? value : [value];
}

/** The message types a client may send. */
const TYPES: ClientMessage['type'][] = ['open', 'frame', 'configure', 'reset', 'close', 'subscribe', 'unsubscribe', 'list', 'history'];
const NORMALIZE_MODES: NormalizeMode[] = ['auto', 'online', 'none'];

/** Checks one decoded JSON value into a ClientMessage, or names what is wrong with it. Frames' seq and values are checked later, by the pipeline. */
export function checkMessage(value: unknown): ClientMessage | ProtocolProblem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: ErrorCode.badMessage, message: `a message must be a JSON object with a "type", got ${show(value)}` };
  }
  const m = value as Record<string, unknown>;
  const type = m.type;
  if (type === undefined) return { code: ErrorCode.missingField, message: 'message has no "type"' };
  if (typeof type !== 'string' || !TYPES.includes(type as ClientMessage['type'])) {
    return { code: ErrorCode.unknownType, message: `unknown message type ${show(type)}; expected one of ${TYPES.join(', ')}` };
  }
  if (type === 'frame') {
    // the hot path: a frame's seq, values and token are checked by the pipeline
    const stream = m.stream;
    if (typeof stream === 'string' && stream.length > 0 && stream.length <= MAX_STREAM_NAME && (m.t === undefined || (typeof m.t === 'number' && Number.isFinite(m.t)))) {
      return { type, stream, seq: m.seq, t: m.t as number | undefined, values: m.values, token: m.token };
    }
  }
  const seq = type === 'frame' ? m.seq : undefined;
  const echoedStream = echoed(m.stream);
  const echoedSeq = echoed(seq);
  const bad = (code: string, message: string): ProtocolProblem => ({ code, message, ...(typeof echoedStream === 'string' ? { stream: echoedStream } : {}), ...(echoedSeq !== undefined ? { seq: echoedSeq } : {}) });

  if (type === 'list') {
    const offset = m.offset;
    if (offset !== undefined && (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)) {
      return bad(ErrorCode.badField, `list: offset must be a non-negative integer (the "next" of the previous page), got ${show(offset)}`);
    }
    return offset === undefined ? { type } : { type, offset };
  }
  if (type === 'subscribe' || type === 'unsubscribe') {
    const streams = m.streams ?? '*';
    if (streams !== '*' && !(Array.isArray(streams) && streams.every((s) => typeof s === 'string' && s.length > 0 && s.length <= MAX_STREAM_NAME))) {
      return bad(ErrorCode.badField, `${type}: streams must be "*" or an array of stream names (1 to ${MAX_STREAM_NAME} characters each), got ${show(streams)}`);
    }
    if (Array.isArray(streams) && streams.length > MAX_SUBSCRIBED) {
      return bad(ErrorCode.badField, `${type}: ${streams.length} stream names, at most ${MAX_SUBSCRIBED}; subscribe "*" to watch every stream`);
    }
    if (m.metrics !== undefined && typeof m.metrics !== 'boolean') return bad(ErrorCode.badField, `${type}: metrics must be true or false`);
    return { type, streams: streams as string[] | '*', metrics: m.metrics as boolean | undefined };
  }

  const stream = m.stream;
  if (stream === undefined) return bad(ErrorCode.missingField, `${type} message has no "stream"`);
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_NAME) {
    return bad(ErrorCode.badField, `${type}: stream must be a name of 1 to ${MAX_STREAM_NAME} characters, got ${show(stream)}`);
  }
  if (type === 'frame') {
    if (m.t !== undefined && (typeof m.t !== 'number' || !Number.isFinite(m.t))) return bad(ErrorCode.badField, `frame: t must be a finite number, got ${show(m.t)}`);
    return { type, stream, seq: m.seq, t: m.t as number | undefined, values: m.values, token: m.token };
  }
  if (type === 'reset' || type === 'close') return { type, stream };
  if (type === 'history') return checkHistory(m, stream);

  const horizon = m.horizon;
  if (horizon !== undefined && (typeof horizon !== 'number' || !Number.isInteger(horizon) || horizon < 0 || horizon > MAX_HORIZON)) {
    return bad(ErrorCode.badField, `${type}: horizon must be an integer from 0 to ${MAX_HORIZON}, got ${show(horizon)}`);
  }
  const learn = m.learn;
  if (learn !== undefined && typeof learn !== 'boolean') return bad(ErrorCode.badField, `${type}: learn must be true or false, got ${show(learn)}`);
  const learning = checkLearning(m.learning, type);
  if (learning && 'code' in learning) return bad(learning.code, learning.message);
  if (type === 'configure') {
    if (horizon === undefined && learn === undefined && learning === undefined) return bad(ErrorCode.missingField, 'configure changes nothing: give learn, horizon or learning');
    return { type, stream, learn, horizon, learning };
  }

  // open
  if (m.model !== undefined && typeof m.model !== 'string') return bad(ErrorCode.badField, `open: model must be a model name, got ${show(m.model)}`);
  const normalize = m.normalize ?? 'auto';
  if (!NORMALIZE_MODES.includes(normalize as NormalizeMode)) {
    return bad(ErrorCode.badField, `open: normalize must be one of ${NORMALIZE_MODES.join(', ')}, got ${show(normalize)}`);
  }
  return { type: 'open', stream, model: m.model as string | undefined, horizon, learn, normalize: normalize as NormalizeMode, learning };
}

/** The `learning` object of open or configure, checked: { every?, window?, target? }. */
function checkLearning(value: unknown, type: string): LearningRequest | ProtocolProblem | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { code: ErrorCode.badField, message: `${type}: learning must be an object such as {"every":8,"window":32,"target":"delta"}, got ${show(value)}` };
  const { every, window, target, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return { code: ErrorCode.badField, message: `${type}: learning has no option ${JSON.stringify(unknown[0])}; it takes every, window and target` };
  for (const [name, v] of [['every', every], ['window', window]] as const) {
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_LEARNING_WINDOW)) {
      return { code: ErrorCode.badField, message: `${type}: learning.${name} must be an integer from 1 to ${MAX_LEARNING_WINDOW}, got ${show(v)}` };
    }
  }
  if (target !== undefined && target !== 'delta' && target !== 'value') return { code: ErrorCode.badField, message: `${type}: learning.target must be "delta" or "value", got ${show(target)}` };
  return { every: every as number | undefined, window: window as number | undefined, target: target as LearningRequest['target'] };
}

/**
 * The JSON text of predictionMessage(frame), written directly (no intermediate
 * object or arrays): the same keys in the same order and the same numbers as
 * JSON.stringify gives (non-finite ones as null).
 */
export function predictionJson(frame: PredictionSource): string {
  let s = '{"type":"prediction","stream":' + jsonName(frame.entry) + ',"seq":' + frame.seq + ',"t":' + jsonNumber(frame.t);
  s += ',"actual":' + (typeof frame.actual === 'number' ? jsonNumber(frame.actual) : jsonRow(frame.actual)) + ',"predicted":' + jsonRow(frame.predicted);
  if (frame.entry.served.model.isTokenModel) s += ',"next":' + argmaxOf(frame.predicted);
  if (frame.forecast) {
    s += ',"forecast":[';
    for (let k = 0; k < frame.forecast.length; k++) s += (k > 0 ? ',' : '') + jsonRow(frame.forecast[k]);
    s += ']';
  }
  if (frame.attention) {
    s += ',"attention":[';
    for (let h = 0; h < frame.attention.length; h++) s += (h > 0 ? ',' : '') + jsonRow(frame.attention[h]);
    s += ']';
  }
  s += ',"error":' + (frame.error === undefined ? 'null' : jsonNumber(frame.error));
  s += ',"rmse":' + (frame.rmse === undefined ? 'null' : jsonNumber(frame.rmse));
  s += ',"anomaly":' + jsonNumber(frame.anomaly) + ',"stepMicros":' + jsonNumber(Math.round(frame.stepMicros * 10) / 10) + ',"batch":' + frame.batchSize;
  if (frame.learnEvent !== undefined) {
    s += ',"learnEvent":"' + frame.learnEvent + '"';
    if (frame.loss !== undefined) s += ',"loss":' + jsonNumber(frame.loss);
  }
  return s + '}';
}

/** Characters a number takes at most in predictionJson (a float32 read as a double: sign, 17 digits, point, exponent), with its comma. */
const MAX_NUMBER_CHARS = 25;

/** An upper bound on predictionJson(frame).length, without writing it: what a dashboard's queue weighs a frame by. */
export function predictionJsonBound(frame: PredictionSource): number {
  const actual = typeof frame.actual === 'number' ? 1 : frame.actual.length;
  let numbers = actual + frame.predicted.length;
  if (frame.forecast) for (const row of frame.forecast) numbers += row.length;
  if (frame.attention) for (const row of frame.attention) numbers += row.length;
  // the keys, the stream's name (escaped, at most 6 characters per character) and the fixed fields
  return 300 + 6 * frame.entry.name.length + MAX_NUMBER_CHARS * numbers;
}

/** Stream names as JSON strings, made once per stream. */
const jsonNames = new WeakMap<object, string>();

function jsonName(entry: { name: string }): string {
  let text = jsonNames.get(entry);
  if (text === undefined) {
    text = JSON.stringify(entry.name);
    jsonNames.set(entry, text);
  }
  return text;
}

function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

function jsonRow(values: ArrayLike<number>): string {
  let s = '[';
  for (let i = 0; i < values.length; i++) s += (i > 0 ? ',' : '') + jsonNumber(values[i]);
  return s + ']';
}

/** The JSON `prediction` message for a scored frame. */
export function predictionMessage(frame: PredictionSource): PredictionMessage {
  // built in key order: predictionJson must write the same text as JSON.stringify of this
  const message: Record<string, unknown> = {
    type: 'prediction',
    stream: frame.entry.name,
    seq: frame.seq,
    t: frame.t,
    actual: typeof frame.actual === 'number' ? frame.actual : Array.from(frame.actual),
    predicted: Array.from(frame.predicted),
  };
  if (frame.entry.served.model.isTokenModel) message.next = argmaxOf(frame.predicted);
  if (frame.forecast) message.forecast = frame.forecast.map((row) => Array.from(row));
  if (frame.attention) message.attention = frame.attention.map((row) => Array.from(row));
  message.error = frame.error ?? null;
  message.rmse = frame.rmse ?? null;
  message.anomaly = frame.anomaly;
  message.stepMicros = Math.round(frame.stepMicros * 10) / 10;
  message.batch = frame.batchSize;
  if (frame.learnEvent !== undefined) {
    message.learnEvent = frame.learnEvent;
    if (frame.loss !== undefined) message.loss = frame.loss;
  }
  return message as unknown as PredictionMessage;
}

function argmaxOf(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
