// The wire protocol (docs/protocol.md is the contract): JSON messages checked into typed ones, and the binary frame format.

import { ErrorCode } from '../stream/codes.js';
import type { NormalizeMode, ScoredFrame } from '../stream/types.js';
import { show } from '../stream/validate.js';

/** The WebSocket endpoint. */
export const WS_PATH = '/ws';

/** Most forecast rows a stream may ask for. */
export const MAX_HORIZON = 256;
/** Longest stream name, in characters. */
export const MAX_STREAM_NAME = 200;

/** How a learning stream learns, as open and configure may give it; absent fields take the server's defaults. */
export interface LearningRequest {
  every?: number;
  window?: number;
  target?: 'delta' | 'value';
}

export interface OpenMessage {
  type: 'open';
  stream: string;
  model?: string;
  /** Absent: 0 for a new stream, unchanged for one taken over. */
  horizon: number | undefined;
  /** Absent: false for a new stream, unchanged for one taken over. */
  learn: boolean | undefined;
  normalize: NormalizeMode;
  /** Learning options (with learn: true). */
  learning?: LearningRequest;
}
/** Changes a held stream's learning or horizon; absent fields stay as they are. */
export interface ConfigureMessage {
  type: 'configure';
  stream: string;
  learn: boolean | undefined;
  horizon: number | undefined;
  learning?: LearningRequest;
}
export interface FrameMessage {
  type: 'frame';
  stream: string;
  seq?: unknown;
  t?: number;
  values?: unknown;
  token?: unknown;
}
export interface StreamOpMessage {
  type: 'reset' | 'close';
  stream: string;
}
export interface SubscribeMessage {
  type: 'subscribe' | 'unsubscribe';
  /** Stream names, or '*' for every stream, present and future. */
  streams: string[] | '*';
  /** Also (or no longer) receive metrics once a second; subscribe defaults to true. */
  metrics: boolean | undefined;
}
export interface ListMessage {
  type: 'list';
}
export type ClientMessage = OpenMessage | ConfigureMessage | FrameMessage | StreamOpMessage | SubscribeMessage | ListMessage;

/** What is wrong with a message; `stream` and `seq` name the offender when known. */
export interface ProtocolProblem {
  code: string;
  message: string;
  stream?: string;
  seq?: unknown;
  /** For rate_limited: how many frames (from `seq` on) the error answers. */
  count?: number;
}

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

const TYPES = ['open', 'frame', 'configure', 'reset', 'close', 'subscribe', 'unsubscribe', 'list'];
/** Largest `every` and `window` a learning stream may ask for. */
export const MAX_LEARNING_WINDOW = 1024;
const NORMALIZE_MODES: NormalizeMode[] = ['auto', 'online', 'none'];

/** Checks one decoded JSON value into a ClientMessage, or names what is wrong with it. Frames' seq and values are checked later, by the pipeline. */
export function checkMessage(value: unknown): ClientMessage | ProtocolProblem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: ErrorCode.badMessage, message: `a message must be a JSON object with a "type", got ${show(value)}` };
  }
  const m = value as Record<string, unknown>;
  const type = m.type;
  if (type === undefined) return { code: ErrorCode.missingField, message: 'message has no "type"' };
  if (typeof type !== 'string' || !TYPES.includes(type)) {
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
  const bad = (code: string, message: string): ProtocolProblem => ({ code, message, ...(typeof m.stream === 'string' ? { stream: m.stream } : {}), ...(seq !== undefined ? { seq } : {}) });

  if (type === 'list') return { type };
  if (type === 'subscribe' || type === 'unsubscribe') {
    const streams = m.streams ?? '*';
    if (streams !== '*' && !(Array.isArray(streams) && streams.every((s) => typeof s === 'string'))) {
      return bad(ErrorCode.badField, `${type}: streams must be "*" or an array of stream names, got ${show(streams)}`);
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
export function predictionJson(frame: ScoredFrame): string {
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
export function predictionMessage(frame: ScoredFrame): Record<string, unknown> {
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
  return message;
}

function argmaxOf(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// ---- binary format ------------------------------------------------------------------------------------------------

/** "SC", the first two bytes of every binary message. */
export const BINARY_MAGIC = 0x4353; // u16 little-endian of 'S', 'C'
/** The binary format's version; a reader refuses any other. */
export const BINARY_VERSION = 1;
/** Kinds of binary message; new kinds are only ever added at the end. */
export const BinaryKind = { frames: 1, predictions: 2 } as const;
/** Bytes before the first record. */
export const BINARY_HEADER_BYTES = 8;
/** Bytes of a frame record before its values: u32 stream id, u32 seq, f64 t. */
export const FRAME_RECORD_HEAD = 16;
/** Bytes of a prediction record before its floats. */
export const PREDICTION_RECORD_HEAD = 36;
/** Most records in one binary message (u16 count). */
export const MAX_BINARY_RECORDS = 0xffff;

/** One frame of a binary message. */
export interface BinaryFrame {
  streamId: number;
  seq: number;
  /** undefined when the record's t is NaN. */
  t: number | undefined;
  values: Float32Array;
}

/** A checked frames message: its record count and width, and a view to read the records with (readFrameRecord). */
export interface FramesMessage {
  count: number;
  width: number;
  view: DataView;
}

/** Checks a producer's binary message header (kind 1: frames) and length, or says exactly what is wrong with them. */
export function checkFramesMessage(bytes: Uint8Array): FramesMessage | ProtocolProblem {
  if (bytes.byteLength < BINARY_HEADER_BYTES) return badBinary(`${bytes.byteLength} bytes, shorter than the ${BINARY_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0, true);
  if (magic !== BINARY_MAGIC) return badBinary(`bad magic 0x${magic.toString(16).padStart(4, '0')} (expected bytes "SC")`);
  const version = view.getUint8(2);
  if (version !== BINARY_VERSION) return badBinary(`version ${version} is not supported (this server reads version ${BINARY_VERSION})`);
  const kind = view.getUint8(3);
  if (kind !== BinaryKind.frames) return badBinary(`kind ${kind} is not a frames message (kind ${BinaryKind.frames})`);
  const count = view.getUint16(4, true);
  const width = view.getUint16(6, true);
  if (count === 0) return badBinary('it holds 0 frames');
  const expected = BINARY_HEADER_BYTES + count * (FRAME_RECORD_HEAD + 4 * width);
  if (bytes.byteLength !== expected) {
    return badBinary(`${bytes.byteLength} bytes, but its header (${count} frames of ${width} values) implies ${expected}`);
  }
  return { count, width, view };
}

function badBinary(message: string): ProtocolProblem {
  return { code: ErrorCode.badBinary, message: `binary message refused: ${message}` };
}

/** Byte offset of record i of a checked frames message. */
export function frameRecordOffset(message: FramesMessage, i: number): number {
  return BINARY_HEADER_BYTES + i * (FRAME_RECORD_HEAD + 4 * message.width);
}

/** Record i's values, as float64 (exact: they were float32), into a new array. */
export function readFrameValues(message: FramesMessage, i: number): Float64Array {
  const { view, width } = message;
  const at = frameRecordOffset(message, i) + FRAME_RECORD_HEAD;
  const values = new Float64Array(width);
  for (let v = 0; v < width; v++) values[v] = view.getFloat32(at + 4 * v, true);
  return values;
}

/** Decodes a producer's binary message (kind 1: frames), or says exactly what is wrong with its header or length. */
export function decodeFrames(bytes: Uint8Array): BinaryFrame[] | ProtocolProblem {
  const checked = checkFramesMessage(bytes);
  if ('code' in checked) return checked;
  const { count, width, view } = checked;
  const recordBytes = FRAME_RECORD_HEAD + 4 * width;
  const frames: BinaryFrame[] = new Array(count);
  let at = BINARY_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const t = view.getFloat64(at + 8, true);
    const values = new Float32Array(width);
    for (let v = 0; v < width; v++) values[v] = view.getFloat32(at + FRAME_RECORD_HEAD + 4 * v, true);
    frames[i] = { streamId: view.getUint32(at, true), seq: view.getUint32(at + 4, true), t: Number.isNaN(t) ? undefined : t, values };
    at += recordBytes;
  }
  return frames;
}

/** Encodes frames of one width as a binary message (kind 1), as a producer sends them. */
export function encodeFrames(frames: BinaryFrame[]): Uint8Array {
  if (frames.length === 0 || frames.length > MAX_BINARY_RECORDS) throw new RangeError(`a binary message holds 1 to ${MAX_BINARY_RECORDS} frames, got ${frames.length}`);
  const width = frames[0].values.length;
  const recordBytes = FRAME_RECORD_HEAD + 4 * width;
  const bytes = new Uint8Array(BINARY_HEADER_BYTES + frames.length * recordBytes);
  const view = new DataView(bytes.buffer);
  writeHeader(view, BinaryKind.frames, frames.length, width);
  let at = BINARY_HEADER_BYTES;
  for (const frame of frames) {
    if (frame.values.length !== width) throw new RangeError(`every frame of a binary message has the same width; got ${frame.values.length} after ${width}`);
    view.setUint32(at, frame.streamId, true);
    view.setUint32(at + 4, frame.seq, true);
    view.setFloat64(at + 8, frame.t ?? NaN, true);
    for (let v = 0; v < width; v++) view.setFloat32(at + FRAME_RECORD_HEAD + 4 * v, frame.values[v], true);
    at += recordBytes;
  }
  return bytes;
}

function writeHeader(view: DataView, kind: number, count: number, width: number): void {
  view.setUint16(0, BINARY_MAGIC, true);
  view.setUint8(2, BINARY_VERSION);
  view.setUint8(3, kind);
  view.setUint16(4, count, true);
  view.setUint16(6, width, true);
}

/** Bytes of one prediction record for `outputs` values and `horizon` forecast rows. */
export function predictionRecordBytes(outputs: number, horizon: number): number {
  return PREDICTION_RECORD_HEAD + 4 * outputs * (1 + horizon);
}

/** Encodes scored frames as one binary predictions message (kind 2). */
export function encodePredictions(frames: ScoredFrame[]): Uint8Array {
  let total = BINARY_HEADER_BYTES;
  for (const frame of frames) total += predictionRecordBytes(frame.predicted.length, frame.forecast?.length ?? 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  writeHeader(view, BinaryKind.predictions, frames.length, 0);
  let at = BINARY_HEADER_BYTES;
  for (const frame of frames) {
    const outputs = frame.predicted.length;
    const horizon = frame.forecast?.length ?? 0;
    view.setUint32(at, frame.entry.id, true);
    view.setUint32(at + 4, frame.seq, true);
    view.setFloat64(at + 8, frame.t ?? NaN, true);
    view.setFloat32(at + 16, frame.error ?? NaN, true);
    view.setFloat32(at + 20, frame.rmse ?? NaN, true);
    view.setFloat32(at + 24, frame.anomaly, true);
    view.setFloat32(at + 28, frame.stepMicros, true);
    view.setUint16(at + 32, outputs, true);
    view.setUint16(at + 34, horizon, true);
    let f = at + PREDICTION_RECORD_HEAD;
    for (let i = 0; i < outputs; i++, f += 4) view.setFloat32(f, frame.predicted[i], true);
    for (let k = 0; k < horizon; k++) for (let i = 0; i < outputs; i++, f += 4) view.setFloat32(f, frame.forecast![k][i], true);
    at = f;
  }
  return bytes;
}

/** One record of a binary predictions message, as a client decodes it. */
export interface BinaryPrediction {
  streamId: number;
  seq: number;
  t: number | undefined;
  error: number | undefined;
  rmse: number | undefined;
  anomaly: number;
  stepMicros: number;
  predicted: Float32Array;
  forecast: Float32Array[];
}

/** Decodes a binary predictions message (kind 2); throws on a malformed one. */
export function decodePredictions(bytes: Uint8Array): BinaryPrediction[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < BINARY_HEADER_BYTES || view.getUint16(0, true) !== BINARY_MAGIC || view.getUint8(2) !== BINARY_VERSION || view.getUint8(3) !== BinaryKind.predictions) {
    throw new Error('not a seqcast binary predictions message of version 1');
  }
  const count = view.getUint16(4, true);
  const out: BinaryPrediction[] = [];
  let at = BINARY_HEADER_BYTES;
  const nan = (v: number) => (Number.isNaN(v) ? undefined : v);
  for (let r = 0; r < count; r++) {
    if (at + PREDICTION_RECORD_HEAD > bytes.byteLength) throw new Error(`binary predictions message cut short in record ${r}`);
    const outputs = view.getUint16(at + 32, true);
    const horizon = view.getUint16(at + 34, true);
    const end = at + predictionRecordBytes(outputs, horizon);
    if (end > bytes.byteLength) throw new Error(`binary predictions message cut short in record ${r}`);
    const floats = (from: number) => {
      const row = new Float32Array(outputs);
      for (let i = 0; i < outputs; i++) row[i] = view.getFloat32(from + 4 * i, true);
      return row;
    };
    const first = at + PREDICTION_RECORD_HEAD;
    out.push({
      streamId: view.getUint32(at, true),
      seq: view.getUint32(at + 4, true),
      t: nan(view.getFloat64(at + 8, true)),
      error: nan(view.getFloat32(at + 16, true)),
      rmse: nan(view.getFloat32(at + 20, true)),
      anomaly: view.getFloat32(at + 24, true),
      stepMicros: view.getFloat32(at + 28, true),
      predicted: floats(first),
      forecast: Array.from({ length: horizon }, (_, k) => floats(first + 4 * outputs * (k + 1))),
    });
    at = end;
  }
  if (at !== bytes.byteLength) throw new Error(`binary predictions message has ${bytes.byteLength - at} bytes after its ${count} records`);
  return out;
}
