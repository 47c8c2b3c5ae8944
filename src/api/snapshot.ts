// The stream snapshot format: one stream's kernel state, position and last output as versioned bytes.

import { InputError } from '../errors.js';
import { CELL_CODES, KIND_CODES } from '../kernel/kernel.js';
import { ByteReader, ByteWriter } from '../model/bytes.js';
import type { ModelHost } from './host.js';

/**
 * Snapshot bytes (little-endian; docs/api.md): u32 magic, version, shape code
 * (kind·4 + cell), layers, hidden, state length S, output length O, shape hash;
 * f64 position; then f32[O] last output; f32[S] state (h, c, KV caches).
 */
const SNAPSHOT_MAGIC = 0x53534353; // "SCSS" little-endian: SeqCast Stream Snapshot
const SNAPSHOT_VERSION = 1;
const SNAPSHOT_HEADER_BYTES = 40;

/** What a snapshot holds. */
export interface StreamSnapshot {
  /** Positions stepped. */
  position: number;
  /** The last raw output (kernel units), [O]; undefined before the first step. */
  lastOutput: Float32Array | undefined;
  /** The slot's state, [S]. */
  state: Float32Array;
}

/** The snapshot bytes of a stream of `host`'s model. */
export function encodeSnapshot(host: ModelHost, { position, lastOutput, state }: StreamSnapshot): Uint8Array {
  const { layers, hiddenSize } = host.arch;
  const w = new ByteWriter();
  w.u32(SNAPSHOT_MAGIC, SNAPSHOT_VERSION, shapeCode(host), layers, hiddenSize, state.length, lastOutput?.length ?? 0, archHash(host));
  w.f64(position);
  if (lastOutput) w.f32s(lastOutput);
  w.f32s(state);
  return w.bytes();
}

/** Reads snapshot bytes for a stream of `host`'s model; InputError for another shape, a bad header, length or value. */
export function decodeSnapshot(host: ModelHost, bytes: Uint8Array): StreamSnapshot {
  const { layers, hiddenSize } = host.arch;
  const { r, header: [shape, savedLayers, savedHidden, stateLength, outputLength, hash] } = readHeader(bytes);
  const expected = [shapeCode(host), layers, hiddenSize];
  if (shape !== expected[0] || savedLayers !== expected[1] || savedHidden !== expected[2] || hash !== archHash(host)) {
    const { kind, cell } = host.arch;
    throw new InputError(
      `snapshot is of cell ${shape}, ${savedLayers} layers, hidden ${savedHidden}, shape hash ${hash.toString(16)}; ` +
      `this model is ${cell ?? kind} (${expected[0]}), ${layers} layers, hidden ${hiddenSize}, shape hash ${archHash(host).toString(16)}: ${host.describe()}`,
    );
  }
  if (stateLength !== host.kernel.stateLength || (outputLength !== 0 && outputLength !== host.outputSize)) {
    throw new InputError(`snapshot holds ${stateLength} state and ${outputLength} output values; expected ${host.kernel.stateLength} and ${host.outputSize}`);
  }
  return readBody(r, bytes, stateLength, outputLength);
}

/**
 * Why snapshot bytes could not be restored into any stream, or undefined when they could: bad magic, version,
 * length, a non-finite value or position. The bytes say their own sizes; only a stream of a model of those sizes
 * takes them (decodeSnapshot checks that too). Checkpoints call it before they write a snapshot.
 */
export function snapshotProblem(bytes: Uint8Array): string | undefined {
  try {
    const { r, header: [, , , stateLength, outputLength] } = readHeader(bytes);
    readBody(r, bytes, stateLength, outputLength);
    return undefined;
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
}

/** The header after magic and version (both checked): shape code, layers, hidden, S, O, shape hash; and the reader past it. */
function readHeader(bytes: Uint8Array): { r: ByteReader; header: number[] } {
  if (bytes.byteLength < SNAPSHOT_HEADER_BYTES) throw new InputError(`snapshot is ${bytes.byteLength} bytes, shorter than its ${SNAPSHOT_HEADER_BYTES}-byte header`);
  const r = new ByteReader(bytes, 'snapshot');
  const [magic, version, ...header] = r.u32(8);
  if (magic !== SNAPSHOT_MAGIC) throw new InputError('not a seqcast stream snapshot (bad magic)');
  if (version !== SNAPSHOT_VERSION) throw new InputError(`snapshot version ${version} is not supported (this version reads ${SNAPSHOT_VERSION})`);
  return { r, header };
}

/** The position and floats after the header, checked: the length the header implies, finite values, a whole position. */
function readBody(r: ByteReader, bytes: Uint8Array, stateLength: number, outputLength: number): StreamSnapshot {
  if (bytes.byteLength !== SNAPSHOT_HEADER_BYTES + (stateLength + outputLength) * 4) {
    throw new InputError(`snapshot is ${bytes.byteLength} bytes; its header implies ${SNAPSHOT_HEADER_BYTES + (stateLength + outputLength) * 4}`);
  }
  const position = r.f64(1)[0];
  const floats = r.f32(outputLength + stateLength);
  r.end();
  for (let i = 0; i < floats.length; i++) {
    if (!Number.isFinite(floats[i])) throw new InputError(`snapshot value ${i} is ${floats[i]}; state must be finite`);
  }
  if (!Number.isSafeInteger(position) || position < 0) throw new InputError(`snapshot position ${position} is not a non-negative integer`);
  return { position, lastOutput: outputLength > 0 ? floats.slice(0, outputLength) : undefined, state: floats.subarray(outputLength) };
}

/** kind · 4 + cell (3 for none): the model family a snapshot belongs to. */
function shapeCode(host: ModelHost): number {
  const { kind, cell } = host.arch;
  return KIND_CODES[kind] * 4 + (cell === undefined ? 3 : CELL_CODES[cell]);
}

/** FNV-1a of the model's description: two models share it only if every size matches. */
function archHash(host: ModelHost): number {
  let hash = 0x811c9dc5;
  for (const ch of host.describe()) {
    hash ^= ch.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
