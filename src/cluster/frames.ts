// Frames and predictions as they cross between the socket thread and a worker: packed into one Float64Array per
// worker per turn (its buffer transferred, not copied), with what does not pack (values that are not numbers) beside it.

import type { FrameSource, LearnEvent, ScoredFrame, StreamEntry } from '../stream/types.js';

// ---- frames: socket thread → worker -------------------------------------------------------------------------------

/** f64 slots of a frame record's head; its `count` values follow. */
export const FRAME_HEAD = 7;
const F_SOURCE = 0; // the socket thread's id of the frame's source (pool.ts)
const F_STREAM = 1; // binary frames: the stream's u32 id; JSON frames: the index of its name in `labels`
const F_SEQ = 2;
const F_T = 3; // the producer's t, or (it gave none) the socket thread's receive time in ms since the epoch
const F_RECEIVED = 4; // performance.now() on the socket thread when its message arrived, ms
const F_FLAGS = 5;
const F_COUNT = 6;

const FLAG_BINARY = 1;
const FLAG_TOKEN = 2;

/** A frame as the socket thread has it, already routed to a worker; values unchecked but numbers. */
export interface PackableFrame {
  sourceId: number;
  /** Binary frames: the u32 id they carried. */
  streamId: number;
  /** JSON frames: the stream's name (binary frames: undefined). */
  label: string | undefined;
  seq: number;
  t: number;
  receivedAt: number;
  /** Frame models' values, or a token model's token id alone. */
  values: ArrayLike<number> | number;
  binary: boolean;
}

/** A frame that does not pack (its seq or values are not numbers): it crosses as a plain object, to be refused there. */
export interface OddFrame {
  sourceId: number;
  streamLabel: string;
  seq: unknown;
  t: number | undefined;
  values?: unknown;
  token?: unknown;
  receivedAt: number;
  binary: boolean;
}

/** One turn's frames for one worker, in the order they arrived (`order`: for each frame, packed (−1) or odd (its index)). */
export interface FrameBatchMessage {
  type: 'frames';
  buffer: ArrayBuffer;
  labels: string[];
  odd: OddFrame[];
  /** Per frame in arrival order: −1 for the next packed record, else the index in `odd`. */
  order: Int32Array;
}

/** Collects one turn's frames for one worker; `take()` hands out the message and starts the next turn's. */
export class FrameBatcher {
  private buffer = new Float64Array(1024);
  private used = 0;
  private labels: string[] = [];
  private odd: OddFrame[] = [];
  private order: number[] = [];

  get size(): number {
    return this.order.length;
  }

  /** Appends a frame that packs. */
  pack(frame: PackableFrame): void {
    const values = frame.values;
    const count = typeof values === 'number' ? 1 : values.length;
    this.reserve(FRAME_HEAD + count);
    const b = this.buffer;
    const at = this.used;
    b[at + F_SOURCE] = frame.sourceId;
    if (frame.label !== undefined) {
      b[at + F_STREAM] = this.labels.length;
      this.labels.push(frame.label);
    } else b[at + F_STREAM] = frame.streamId;
    b[at + F_SEQ] = frame.seq;
    b[at + F_T] = frame.t;
    b[at + F_RECEIVED] = frame.receivedAt;
    b[at + F_FLAGS] = (frame.binary ? FLAG_BINARY : 0) | (typeof values === 'number' ? FLAG_TOKEN : 0);
    b[at + F_COUNT] = count;
    if (typeof values === 'number') b[at + FRAME_HEAD] = values;
    else for (let i = 0; i < count; i++) b[at + FRAME_HEAD + i] = values[i];
    this.used += FRAME_HEAD + count;
    this.order.push(-1);
  }

  /** Appends a frame that crosses as an object. */
  add(frame: OddFrame): void {
    this.order.push(this.odd.length);
    this.odd.push(frame);
  }

  /** This turn's message (its buffer to be transferred), and a fresh batch for the next turn. */
  take(): FrameBatchMessage {
    const message: FrameBatchMessage = { type: 'frames', buffer: this.buffer.buffer.slice(0, this.used * 8), labels: this.labels, odd: this.odd, order: Int32Array.from(this.order) };
    this.used = 0;
    this.labels = [];
    this.odd = [];
    this.order = [];
    return message;
  }

  private reserve(slots: number): void {
    if (this.used + slots <= this.buffer.length) return;
    const grown = new Float64Array(Math.max(this.buffer.length * 2, this.used + slots));
    grown.set(this.buffer.subarray(0, this.used));
    this.buffer = grown;
  }
}

/** A frame as a worker reads it back: packed ones decoded, odd ones as they came. */
export type ReadFrame =
  | { packed: true; sourceId: number; streamId: number | undefined; label: string | undefined; seq: number; t: number; receivedAt: number; values: Float64Array | undefined; token: number | undefined; binary: boolean }
  | ({ packed: false } & OddFrame);

/** Calls `each` with every frame of a batch message, in the order they arrived. */
export function readFrames(message: FrameBatchMessage, each: (frame: ReadFrame) => void): void {
  const b = new Float64Array(message.buffer);
  let at = 0;
  for (let i = 0; i < message.order.length; i++) {
    const odd = message.order[i];
    if (odd >= 0) {
      each({ packed: false, ...message.odd[odd] });
      continue;
    }
    const flags = b[at + F_FLAGS];
    const count = b[at + F_COUNT];
    const binary = (flags & FLAG_BINARY) !== 0;
    const token = (flags & FLAG_TOKEN) !== 0;
    each({
      packed: true,
      sourceId: b[at + F_SOURCE],
      streamId: binary ? b[at + F_STREAM] : undefined,
      label: binary ? undefined : message.labels[b[at + F_STREAM]],
      seq: b[at + F_SEQ],
      t: b[at + F_T],
      receivedAt: b[at + F_RECEIVED],
      values: token ? undefined : b.slice(at + FRAME_HEAD, at + FRAME_HEAD + count),
      token: token ? b[at + FRAME_HEAD] : undefined,
      binary,
    });
    at += FRAME_HEAD + count;
  }
}

// ---- predictions: worker → socket thread --------------------------------------------------------------------------

const P_SOURCE = 0;
const P_STREAM = 1;
const P_SEQ = 2;
const P_T = 3;
const P_RECEIVED = 4;
const P_FLAGS = 5;
const P_STEP_MICROS = 6;
const P_BATCH = 7;
const P_ERROR = 8; // NaN: undefined
const P_RMSE = 9;
const P_ANOMALY = 10;
const P_LOSS = 11;
const P_LEARN_EVENT = 12; // index in LEARN_EVENTS, −1: none
const P_ACTUAL = 13; // values in `actual`; 0 for a token
const P_OUTPUTS = 14;
const P_HORIZON = 15; // forecast rows; 0: none
const P_HEADS = 16; // attention rows; 0: none
const P_ATTENDED = 17; // attention row length
/** f64 slots of a prediction record's head; then actual (or the token), predicted, forecast rows, attention rows. */
export const PREDICTION_HEAD = 18;

const FLAG_HAS_ERROR = 4;
const FLAG_HAS_RMSE = 8;
const FLAG_HAS_LOSS = 16;
const FLAG_HAS_FORECAST = 32;

const LEARN_EVENTS: readonly LearnEvent[] = ['trained', 'skipped-spike', 'rolled-back', 'refused'];

/** A scored frame as it crosses: what the socket thread needs to answer it and show it. */
export interface CrossingPrediction {
  sourceId: number;
  streamId: number;
  seq: number;
  t: number;
  receivedAt: number;
  binary: boolean;
  actual: Float64Array | number;
  predicted: Float32Array;
  forecast: Float32Array[] | undefined;
  attention: Float32Array[] | undefined;
  stepMicros: number;
  batchSize: number;
  error: number | undefined;
  rmse: number | undefined;
  anomaly: number;
  loss: number | undefined;
  learnEvent: LearnEvent | undefined;
}

/** What packPredictions reads of a scored frame (a ScoredFrame is one), besides its source's and stream's ids. */
export type PredictionFields = Omit<CrossingPrediction, 'sourceId' | 'streamId' | 'binary'> & { readonly binary?: boolean };

/**
 * Packs scored frames into one Float64Array (float32 outputs are held exactly); `ids` gives a frame's source id and
 * stream id (read, not copied into a new object: this runs for every frame).
 */
export function packPredictions<F extends PredictionFields>(frames: readonly F[], sourceIdOf: (frame: F) => number, streamIdOf: (frame: F) => number): Float64Array {
  let slots = 0;
  for (const f of frames) {
    const actual = typeof f.actual === 'number' ? 1 : f.actual.length;
    slots += PREDICTION_HEAD + actual + f.predicted.length * (1 + (f.forecast?.length ?? 0)) + (f.attention ? f.attention.length * (f.attention[0]?.length ?? 0) : 0);
  }
  const b = new Float64Array(slots);
  let at = 0;
  for (const f of frames) {
    const heads = f.attention?.length ?? 0;
    const attended = heads > 0 ? f.attention![0].length : 0;
    b[at + P_SOURCE] = sourceIdOf(f);
    b[at + P_STREAM] = streamIdOf(f);
    b[at + P_SEQ] = f.seq;
    b[at + P_T] = f.t;
    b[at + P_RECEIVED] = f.receivedAt;
    b[at + P_FLAGS] =
      (f.binary ? FLAG_BINARY : 0) | (typeof f.actual === 'number' ? FLAG_TOKEN : 0) | (f.error !== undefined ? FLAG_HAS_ERROR : 0) | (f.rmse !== undefined ? FLAG_HAS_RMSE : 0) | (f.loss !== undefined ? FLAG_HAS_LOSS : 0) | (f.forecast ? FLAG_HAS_FORECAST : 0);
    b[at + P_STEP_MICROS] = f.stepMicros;
    b[at + P_BATCH] = f.batchSize;
    b[at + P_ERROR] = f.error ?? NaN;
    b[at + P_RMSE] = f.rmse ?? NaN;
    b[at + P_ANOMALY] = f.anomaly;
    b[at + P_LOSS] = f.loss ?? NaN;
    b[at + P_LEARN_EVENT] = f.learnEvent === undefined ? -1 : LEARN_EVENTS.indexOf(f.learnEvent);
    b[at + P_ACTUAL] = typeof f.actual === 'number' ? 0 : f.actual.length;
    b[at + P_OUTPUTS] = f.predicted.length;
    b[at + P_HORIZON] = f.forecast?.length ?? 0;
    b[at + P_HEADS] = heads;
    b[at + P_ATTENDED] = attended;
    at += PREDICTION_HEAD;
    if (typeof f.actual === 'number') b[at++] = f.actual;
    else {
      b.set(f.actual, at);
      at += f.actual.length;
    }
    b.set(f.predicted, at);
    at += f.predicted.length;
    for (const row of f.forecast ?? []) {
      b.set(row, at);
      at += row.length;
    }
    for (const row of f.attention ?? []) {
      b.set(row, at);
      at += row.length;
    }
  }
  return b;
}

/** Floats in the packed prediction record that starts at `head`. */
function recordSize(b: Float64Array, head: number): number {
  const flags = b[head + P_FLAGS];
  const horizon = flags & FLAG_HAS_FORECAST ? b[head + P_HORIZON] : 0;
  return PREDICTION_HEAD + (flags & FLAG_TOKEN ? 1 : b[head + P_ACTUAL]) + b[head + P_OUTPUTS] * (1 + horizon) + b[head + P_HEADS] * b[head + P_ATTENDED];
}

/**
 * A batch of packed predictions regrouped without unpacking them (the NATS worker's relay to each front end): each
 * record goes to the group `relabel` names for its source id, with the source id it gives; a record relabel returns
 * undefined for is dropped.
 */
export function regroupPredictions(b: Float64Array, relabel: (sourceId: number) => { group: string; sourceId: number } | undefined): Map<string, Float64Array> {
  const parts = new Map<string, { sourceId: number; head: number; size: number }[]>();
  for (let at = 0; at < b.length; ) {
    const size = recordSize(b, at);
    const to = relabel(b[at + P_SOURCE]);
    if (to) {
      let list = parts.get(to.group);
      if (!list) parts.set(to.group, (list = []));
      list.push({ sourceId: to.sourceId, head: at, size });
    }
    at += size;
  }
  const groups = new Map<string, Float64Array>();
  for (const [group, list] of parts) {
    const out = new Float64Array(list.reduce((n, r) => n + r.size, 0));
    let at = 0;
    for (const { sourceId, head, size } of list) {
      out.set(b.subarray(head, head + size), at);
      out[at + P_SOURCE] = sourceId;
      at += size;
    }
    groups.set(group, out);
  }
  return groups;
}

/**
 * A worker's batch of predictions back as the ScoredFrames the server delivers, in one pass: each record's source
 * and stream are looked up as it is read (one whose producer left, or whose stream closed meanwhile, is skipped:
 * nobody to answer), and every field is written out in validateFrames' order (one object shape for every frame).
 */
export function unpackPredictions(b: Float64Array, sourceOf: (id: number) => FrameSource | undefined, entryOf: (id: number) => StreamEntry | undefined): ScoredFrame[] {
  const frames: ScoredFrame[] = [];
  let at = 0;
  while (at < b.length) {
    const head = at;
    const flags = b[at + P_FLAGS];
    const actualCount = b[at + P_ACTUAL];
    const outputs = b[at + P_OUTPUTS];
    const horizon = flags & FLAG_HAS_FORECAST ? b[at + P_HORIZON] : 0;
    const heads = b[at + P_HEADS];
    const attended = b[at + P_ATTENDED];
    at += recordSize(b, head);
    const source = sourceOf(b[head + P_SOURCE]);
    const entry = source && entryOf(b[head + P_STREAM]);
    if (!source || !entry) continue;
    let from = head + PREDICTION_HEAD;
    let actual: Float64Array | number;
    if (flags & FLAG_TOKEN) actual = b[from++];
    else {
      actual = b.slice(from, from + actualCount);
      from += actualCount;
    }
    const predicted = toFloat32(b, from, outputs);
    from += outputs;
    let forecast: Float32Array[] | undefined;
    if (flags & FLAG_HAS_FORECAST) {
      forecast = [];
      for (let k = 0; k < horizon; k++, from += outputs) forecast.push(toFloat32(b, from, outputs));
    }
    let attention: Float32Array[] | undefined;
    if (heads > 0) {
      attention = [];
      for (let h = 0; h < heads; h++, from += attended) attention.push(toFloat32(b, from, attended));
    }
    const event = b[head + P_LEARN_EVENT];
    frames.push({
      source,
      entry,
      seq: b[head + P_SEQ],
      t: b[head + P_T],
      actual,
      receivedAt: b[head + P_RECEIVED],
      binary: (flags & FLAG_BINARY) !== 0,
      input: 0,
      scale: undefined,
      predicted,
      forecast,
      attention,
      stepMicros: b[head + P_STEP_MICROS],
      batchSize: b[head + P_BATCH],
      loss: flags & FLAG_HAS_LOSS ? b[head + P_LOSS] : undefined,
      learnEvent: event >= 0 ? LEARN_EVENTS[event] : undefined,
      error: flags & FLAG_HAS_ERROR ? b[head + P_ERROR] : undefined,
      rmse: flags & FLAG_HAS_RMSE ? b[head + P_RMSE] : undefined,
      anomaly: b[head + P_ANOMALY],
    });
  }
  return frames;
}

/** `count` values of `b` from `at` as a Float32Array (no view in between). */
function toFloat32(b: Float64Array, at: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = b[at + i];
  return out;
}
