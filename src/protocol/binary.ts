// The binary side of the wire protocol: the one place that knows the byte layout of frames and predictions messages.
//
// Every binary message starts with an 8-byte header, all little-endian:
//   u16 magic "SC" · u8 version (1) · u8 kind (1 frames, 2 predictions) · u16 record count · u16 width (frames: values per record)
// A frames record (producer → server), 16 + 4·width bytes:
//   u32 stream id · u32 seq · f64 t (NaN: none) · f32 values[width]
// A predictions record (server → producer), 36 + 4·outputs·(1 + horizon) bytes:
//   u32 stream id · u32 seq · f64 t · f32 error · f32 rmse · f32 anomaly · f32 stepMicros (NaN: none) · u16 outputs · u16 horizon
//   · f32 predicted[outputs] · f32 forecast[horizon][outputs]

import { ErrorCode } from './codes.js';
import type { PredictionSource, ProtocolProblem } from './messages.js';

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

// byte offsets inside the header and the records
const HEADER_MAGIC = 0;
const HEADER_VERSION = 2;
const HEADER_KIND = 3;
const HEADER_COUNT = 4;
const HEADER_WIDTH = 6;
const RECORD_STREAM_ID = 0;
const RECORD_SEQ = 4;
const RECORD_T = 8;
const PREDICTION_ERROR = 16;
const PREDICTION_RMSE = 20;
const PREDICTION_ANOMALY = 24;
const PREDICTION_STEP_MICROS = 28;
const PREDICTION_OUTPUTS = 32;
const PREDICTION_HORIZON = 34;

/** One frame of a binary message, as a producer gives it to encodeFrames. */
export interface BinaryFrame {
  streamId: number;
  seq: number;
  /** undefined when the record's t is NaN. */
  t: number | undefined;
  values: Float32Array;
}

/** A checked frames message: its record count and width, and the view its records are read through (frameStreamId, frameSeq, frameTime, frameValues). */
export interface FramesMessage {
  readonly count: number;
  readonly width: number;
  readonly view: DataView;
  /** 16 + 4·width. */
  readonly recordBytes: number;
}

/** Bytes of one frame record of `width` values. */
export function frameRecordBytes(width: number): number {
  return FRAME_RECORD_HEAD + 4 * width;
}

/** Bytes of one prediction record for `outputs` values and `horizon` forecast rows. */
export function predictionRecordBytes(outputs: number, horizon: number): number {
  return PREDICTION_RECORD_HEAD + 4 * outputs * (1 + horizon);
}

// ---- frames: read by the server --------------------------------------------------------------------------------------

/** Checks a producer's binary message header (kind 1: frames) and length, or says exactly what is wrong with them. Reads the records in place (no copy). */
export function checkFramesMessage(bytes: Uint8Array): FramesMessage | ProtocolProblem {
  if (bytes.byteLength < BINARY_HEADER_BYTES) return badBinary(`${bytes.byteLength} bytes, shorter than the ${BINARY_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(HEADER_MAGIC, true);
  if (magic !== BINARY_MAGIC) return badBinary(`bad magic 0x${magic.toString(16).padStart(4, '0')} (expected bytes "SC")`);
  const version = view.getUint8(HEADER_VERSION);
  if (version !== BINARY_VERSION) return badBinary(`version ${version} is not supported (this server reads version ${BINARY_VERSION})`);
  const kind = view.getUint8(HEADER_KIND);
  if (kind !== BinaryKind.frames) return badBinary(`kind ${kind} is not a frames message (kind ${BinaryKind.frames})`);
  const count = view.getUint16(HEADER_COUNT, true);
  const width = view.getUint16(HEADER_WIDTH, true);
  if (count === 0) return badBinary('it holds 0 frames');
  const recordBytes = frameRecordBytes(width);
  const expected = BINARY_HEADER_BYTES + count * recordBytes;
  if (bytes.byteLength !== expected) {
    return badBinary(`${bytes.byteLength} bytes, but its header (${count} frames of ${width} values) implies ${expected}`);
  }
  return { count, width, view, recordBytes };
}

function badBinary(message: string): ProtocolProblem {
  return { code: ErrorCode.badBinary, message: `binary message refused: ${message}` };
}

/** Record i's stream id (the `id` that `opened` gave). */
export function frameStreamId(message: FramesMessage, i: number): number {
  return message.view.getUint32(BINARY_HEADER_BYTES + i * message.recordBytes + RECORD_STREAM_ID, true);
}

/** Record i's seq. */
export function frameSeq(message: FramesMessage, i: number): number {
  return message.view.getUint32(BINARY_HEADER_BYTES + i * message.recordBytes + RECORD_SEQ, true);
}

/** Record i's t, or undefined when the producer sent NaN (none). */
export function frameTime(message: FramesMessage, i: number): number | undefined {
  const t = message.view.getFloat64(BINARY_HEADER_BYTES + i * message.recordBytes + RECORD_T, true);
  return Number.isNaN(t) ? undefined : t;
}

/** Record i's values, as float64 (exact: they were float32), into a new array: the one allocation a binary frame costs, kept as its actual. */
export function frameValues(message: FramesMessage, i: number): Float64Array {
  const { view, width } = message;
  const at = BINARY_HEADER_BYTES + i * message.recordBytes + FRAME_RECORD_HEAD;
  const values = new Float64Array(width);
  for (let v = 0; v < width; v++) values[v] = view.getFloat32(at + 4 * v, true);
  return values;
}

// ---- frames: written by producers ------------------------------------------------------------------------------------

/** Encodes frames of one width as a binary message (kind 1), as a producer sends them. */
export function encodeFrames(frames: BinaryFrame[]): Uint8Array {
  if (frames.length === 0 || frames.length > MAX_BINARY_RECORDS) throw new RangeError(`a binary message holds 1 to ${MAX_BINARY_RECORDS} frames, got ${frames.length}`);
  const width = frames[0].values.length;
  const recordBytes = frameRecordBytes(width);
  const bytes = new Uint8Array(BINARY_HEADER_BYTES + frames.length * recordBytes);
  const view = new DataView(bytes.buffer);
  writeHeader(view, BinaryKind.frames, frames.length, width);
  let at = BINARY_HEADER_BYTES;
  for (const frame of frames) {
    if (frame.values.length !== width) throw new RangeError(`every frame of a binary message has the same width; got ${frame.values.length} after ${width}`);
    view.setUint32(at + RECORD_STREAM_ID, frame.streamId, true);
    view.setUint32(at + RECORD_SEQ, frame.seq, true);
    view.setFloat64(at + RECORD_T, frame.t ?? NaN, true);
    for (let v = 0; v < width; v++) view.setFloat32(at + FRAME_RECORD_HEAD + 4 * v, frame.values[v], true);
    at += recordBytes;
  }
  return bytes;
}

function writeHeader(view: DataView, kind: number, count: number, width: number): void {
  view.setUint16(HEADER_MAGIC, BINARY_MAGIC, true);
  view.setUint8(HEADER_VERSION, BINARY_VERSION);
  view.setUint8(HEADER_KIND, kind);
  view.setUint16(HEADER_COUNT, count, true);
  view.setUint16(HEADER_WIDTH, width, true);
}

// ---- predictions: written by the server, read by producers ------------------------------------------------------------

/** Encodes scored frames as one binary predictions message (kind 2). */
export function encodePredictions(frames: readonly PredictionSource[]): Uint8Array {
  let total = BINARY_HEADER_BYTES;
  for (const frame of frames) total += predictionRecordBytes(frame.predicted.length, frame.forecast?.length ?? 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  writeHeader(view, BinaryKind.predictions, frames.length, 0);
  let at = BINARY_HEADER_BYTES;
  for (const frame of frames) {
    const outputs = frame.predicted.length;
    const horizon = frame.forecast?.length ?? 0;
    view.setUint32(at + RECORD_STREAM_ID, frame.entry.id, true);
    view.setUint32(at + RECORD_SEQ, frame.seq, true);
    view.setFloat64(at + RECORD_T, frame.t ?? NaN, true);
    view.setFloat32(at + PREDICTION_ERROR, frame.error ?? NaN, true);
    view.setFloat32(at + PREDICTION_RMSE, frame.rmse ?? NaN, true);
    view.setFloat32(at + PREDICTION_ANOMALY, frame.anomaly, true);
    view.setFloat32(at + PREDICTION_STEP_MICROS, frame.stepMicros, true);
    view.setUint16(at + PREDICTION_OUTPUTS, outputs, true);
    view.setUint16(at + PREDICTION_HORIZON, horizon, true);
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
  if (
    bytes.byteLength < BINARY_HEADER_BYTES ||
    view.getUint16(HEADER_MAGIC, true) !== BINARY_MAGIC ||
    view.getUint8(HEADER_VERSION) !== BINARY_VERSION ||
    view.getUint8(HEADER_KIND) !== BinaryKind.predictions
  ) {
    throw new Error('not a seqcast binary predictions message of version 1');
  }
  const count = view.getUint16(HEADER_COUNT, true);
  const out: BinaryPrediction[] = [];
  let at = BINARY_HEADER_BYTES;
  const nan = (v: number) => (Number.isNaN(v) ? undefined : v);
  for (let r = 0; r < count; r++) {
    if (at + PREDICTION_RECORD_HEAD > bytes.byteLength) throw new Error(`binary predictions message cut short in record ${r}`);
    const outputs = view.getUint16(at + PREDICTION_OUTPUTS, true);
    const horizon = view.getUint16(at + PREDICTION_HORIZON, true);
    const end = at + predictionRecordBytes(outputs, horizon);
    if (end > bytes.byteLength) throw new Error(`binary predictions message cut short in record ${r}`);
    const floats = (from: number) => {
      const row = new Float32Array(outputs);
      for (let i = 0; i < outputs; i++) row[i] = view.getFloat32(from + 4 * i, true);
      return row;
    };
    const first = at + PREDICTION_RECORD_HEAD;
    out.push({
      streamId: view.getUint32(at + RECORD_STREAM_ID, true),
      seq: view.getUint32(at + RECORD_SEQ, true),
      t: nan(view.getFloat64(at + RECORD_T, true)),
      error: nan(view.getFloat32(at + PREDICTION_ERROR, true)),
      rmse: nan(view.getFloat32(at + PREDICTION_RMSE, true)),
      anomaly: view.getFloat32(at + PREDICTION_ANOMALY, true),
      stepMicros: view.getFloat32(at + PREDICTION_STEP_MICROS, true),
      predicted: floats(first),
      forecast: Array.from({ length: horizon }, (_, k) => floats(first + 4 * outputs * (k + 1))),
    });
    at = end;
  }
  if (at !== bytes.byteLength) throw new Error(`binary predictions message has ${bytes.byteLength - at} bytes after its ${count} records`);
  return out;
}
