// validateFrames: the pipeline's gate. A frame that passes will be stepped; one that fails is reported and changes nothing.

import { filter, map, type OperatorFunction, pipe } from 'rxjs';
import { ErrorCode, show } from '../protocol/codes.js';
import type { Frame, IncomingFrame, Rejection, ScoredFrame } from './types.js';

const NO_OUTPUT = new Float32Array(0);

/** Largest float32; a value beyond it would reach the kernel as Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Checks each frame against its stream and model, in arrival order, and passes
 * on only those that will be stepped; every other frame goes to `reject` with
 * the protocol's error code. Checks: the stream is open and held by the sender,
 * `seq` is a safe integer above the stream's last accepted seq, and the frame
 * has exactly as many finite numbers as the model takes (or an integer token
 * inside the vocabulary). A passed frame's seq becomes the stream's last seq at
 * once, so a duplicate in the same turn is refused too.
 *
 * @example
 * incoming$.pipe(validateFrames((r) => connection.sendError(r)))
 */
export function validateFrames(reject: (rejection: Rejection) => void): OperatorFunction<IncomingFrame, Frame> {
  return pipe(
    map((incoming) => {
      const checked = checkFrame(incoming);
      if (!('code' in checked)) return checked;
      reject({ source: incoming.source, streamLabel: incoming.streamLabel, seq: incoming.seq, ...checked });
      return undefined;
    }),
    filter((frame): frame is Frame => frame !== undefined),
  );
}

type Problem = { code: string; message: string };

/** The accepted frame (and the stream's seq advanced), or what is wrong with it. */
export function checkFrame(incoming: IncomingFrame): Frame | Problem {
  const { entry, seq, streamLabel } = incoming;
  if (entry === undefined || entry.closed || entry.owner !== incoming.source || typeof seq !== 'number' || !(seq > entry.lastSeq) || !Number.isSafeInteger(seq)) {
    return refusal(incoming);
  }
  const model = entry.served.model;
  let actual: Float64Array | number;
  if (model.isTokenModel) {
    const token = incoming.token;
    if (token === undefined) {
      return { code: ErrorCode.missingField, message: `${describeFrame(streamLabel)} has no "token"; model "${entry.served.name}" takes token ids` };
    }
    if (typeof token !== 'number' || !Number.isInteger(token) || token < 0 || token >= model.arch.vocabSize) {
      return { code: ErrorCode.badToken, message: `${describeFrame(streamLabel)}: token ${show(token)} is outside the vocabulary (0..${model.arch.vocabSize - 1})` };
    }
    actual = token;
  } else {
    const values = incoming.values;
    if (values === undefined) return { code: ErrorCode.missingField, message: `${describeFrame(streamLabel)} has no "values"` };
    if (!isArrayLike(values)) return { code: ErrorCode.badField, message: `${describeFrame(streamLabel)}: values must be an array of numbers, got ${show(values)}` };
    const width = model.inputSize;
    if (values.length !== width) {
      return { code: ErrorCode.wrongLength, message: `${describeFrame(streamLabel)} has ${values.length} values, model "${entry.served.name}" expects ${width}` };
    }
    const norm = model.normalizer;
    // a binary frame's values were decoded into a float64 array of its own: it becomes the frame's actual as it is
    actual = incoming.ownedValues && values instanceof Float64Array ? values : new Float64Array(width);
    for (let i = 0; i < width; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX) {
        return { code: ErrorCode.badValue, message: `${describeFrame(streamLabel)}: value ${i} is ${show(v)}; expected a finite number (float32)` };
      }
      // the library normalizes with the model's statistics in float32; the result must still be finite there
      if (norm && !Number.isFinite(Math.fround((v - norm.mean[i]) / norm.std[i]))) {
        return { code: ErrorCode.badValue, message: `${describeFrame(streamLabel)}: value ${i} is ${v}, which overflows float32 once normalized` };
      }
      actual[i] = v;
    }
  }
  entry.lastSeq = seq;
  // every field the later stages fill in is here from the start, so the object keeps one shape (see Mutable)
  const frame: ScoredFrame = {
    source: incoming.source,
    entry,
    seq,
    // a producer that gives no t gets the time its message arrived, in ms since the epoch
    t: incoming.t ?? performance.timeOrigin + incoming.receivedAt,
    actual,
    receivedAt: incoming.receivedAt,
    binary: incoming.binary,
    input: 0,
    scale: undefined,
    predicted: NO_OUTPUT,
    forecast: undefined,
    attention: undefined,
    stepMicros: 0,
    batchSize: 0,
    loss: undefined,
    learnEvent: undefined,
    error: undefined,
    rmse: undefined,
    anomaly: 0.5,
  };
  return frame;
}

/** "frame for stream \"pump-7\"", for messages (made only when one is needed). */
function describeFrame(streamLabel: string): string {
  return `frame for stream ${JSON.stringify(streamLabel)}`;
}

/** What is wrong with a frame's stream, owner or seq (the checks done before its values). */
function refusal(incoming: IncomingFrame): Problem {
  const { entry, seq, streamLabel } = incoming;
  const what = describeFrame(streamLabel);
  if (entry === undefined || entry.closed) {
    return { code: ErrorCode.unknownStream, message: `${what}: no such stream is open; send {"type":"open","stream":…} first` };
  }
  if (entry.owner !== incoming.source) {
    return entry.owner === undefined
      ? { code: ErrorCode.unknownStream, message: `${what}: the stream is not open on this connection; send open to take it over` }
      : { code: ErrorCode.streamBusy, message: `${what}: the stream is held by another producer` };
  }
  if (seq === undefined) return { code: ErrorCode.missingField, message: `${what} has no "seq"` };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    return { code: ErrorCode.badField, message: `${what}: seq must be a non-negative integer, got ${show(seq)}` };
  }
  return { code: ErrorCode.badSeq, message: `${what}: seq ${seq} is not after the last accepted seq ${entry.lastSeq} (duplicate or out of order); nothing was stepped` };
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}
