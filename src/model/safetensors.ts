// safetensors read and write: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, __metadata__: {string: string}},
// then the raw little-endian tensor bytes. Tensors come out as float32.

import { ModelFormatError } from '../errors.js';
import { scanJson } from './json-keys.js';

/** Tensors by name (float32, row-major) plus the string metadata. */
export interface SafetensorsFile {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

/** Bytes per element of every dtype we read; all are converted to float32. */
const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Largest header we accept: 100 MB of JSON is corruption, not a model. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * Parses a safetensors file. `source` names it in error messages.
 * Everything the format requires is checked before any tensor is decoded: the
 * header length fits; the header is UTF-8 JSON that starts with "{" (no byte
 * order mark), has no duplicate key and is padded with spaces only; every
 * tensor has a known dtype, a valid shape and data_offsets matching it; and the
 * tensors cover the data section exactly (no overlap, no hole, nothing after
 * the last one).
 */
export function readSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.byteLength < 8) {
    throw new ModelFormatError(`${source}: truncated safetensors file: ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(bytes.byteLength - 8, MAX_HEADER_BYTES))) {
    throw new ModelFormatError(
      `${source}: corrupt safetensors file: header length ${headerLength} does not fit in the ${bytes.byteLength}-byte file`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  const header = parseHeader(bytes.subarray(8, dataStart), source);
  const dataLength = bytes.byteLength - dataStart;
  let metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') metadata = readMetadataEntry(value, source);
    else entries.push(readTensorEntry(name, value, dataLength, source));
  }
  checkCoverage(entries, dataLength, source);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name, dtype, shape, begin, end } of entries) {
    tensors.set(name, { shape, data: decode(dtype, bytes.subarray(dataStart + begin, dataStart + end)) });
  }
  return { tensors, metadata };
}

/** One tensor's header entry, checked: its dtype, shape and byte range within the data section. */
interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** The header bytes → its JSON object; refuses a BOM, non-UTF-8, invalid JSON, a non-object, duplicate keys and padding other than spaces. */
function parseHeader(raw: Uint8Array, source: string): Record<string, unknown> {
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) {
    throw new ModelFormatError(`${source}: safetensors header starts with a UTF-8 byte order mark; the format requires it to start with "{"`);
  }
  let text: string;
  try {
    // ignoreBOM keeps a BOM as a character (the check above refuses one at the start)
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw new ModelFormatError(`${source}: safetensors header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(`${source}: safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelFormatError(`${source}: safetensors header must be a JSON object`);
  }
  if (raw[0] !== 0x7b) {
    throw new ModelFormatError(`${source}: safetensors header starts with ${JSON.stringify(text.slice(0, 1))}; the format requires it to start with "{"`);
  }
  const { duplicate, end } = scanJson(text);
  if (duplicate) {
    const where = duplicate.under === undefined ? 'the header' : `the entry of ${JSON.stringify(duplicate.under)}`;
    throw new ModelFormatError(`${source}: safetensors header has the key ${JSON.stringify(duplicate.key)} twice in ${where}; the format forbids duplicate keys`);
  }
  for (let i = end; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x20) {
      throw new ModelFormatError(
        `${source}: safetensors header is padded with ${JSON.stringify(text[i])} at byte ${8 + i}; only spaces may follow its closing "}" (is the header length ${raw.byteLength} wrong?)`,
      );
    }
  }
  return header as Record<string, unknown>;
}

/** `__metadata__`: an object of strings. */
function readMetadataEntry(value: unknown, source: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelFormatError(`${source}: "__metadata__" must be an object of strings`);
  }
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== 'string') throw new ModelFormatError(`${source}: "__metadata__.${key}" must be a string`);
  }
  // own properties, so that a key such as "__proto__" stays a key
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

/** A tensor's entry {dtype, shape, data_offsets}, checked against the data section's length. */
function readTensorEntry(name: string, value: unknown, dataLength: number, source: string): TensorEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ModelFormatError(`${source}: tensor "${name}" has no header entry object`);
  const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw new ModelFormatError(`${source}: tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}; expected F32, F16, BF16 or F64`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ModelFormatError(`${source}: tensor "${name}" has invalid shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw new ModelFormatError(`${source}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw new ModelFormatError(
      `${source}: tensor "${name}" data_offsets [${begin}, ${end}] lie outside the ${dataLength}-byte data section (file truncated?)`,
    );
  }
  const count = shape.reduce((a: number, d: number) => a * d, 1);
  if (count * DTYPE_BYTES[dtype] !== end - begin) {
    throw new ModelFormatError(
      `${source}: tensor "${name}" of shape [${shape}] and dtype ${dtype} needs ${count * DTYPE_BYTES[dtype]} bytes, but data_offsets span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The tensors must tile the data section: no two overlap, none leaves a hole before the next, the last ends at its end. */
function checkCoverage(entries: TensorEntry[], dataLength: number, source: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  let covered = 0;
  for (let i = 0; i < sorted.length; i++) {
    const { name, begin, end } = sorted[i];
    if (begin < covered) throw new ModelFormatError(`${source}: tensors "${sorted[i - 1].name}" and "${name}" overlap in the data section`);
    if (begin > covered) {
      throw new ModelFormatError(
        `${source}: the data section has a hole: bytes ${covered}..${begin - 1} belong to no tensor (before "${name}"); the format forbids holes`,
      );
    }
    covered = end;
  }
  if (covered !== dataLength) {
    const last = sorted.length > 0 ? `after tensor "${sorted[sorted.length - 1].name}"` : 'and the header lists no tensor';
    throw new ModelFormatError(
      `${source}: ${dataLength - covered} bytes of the ${dataLength}-byte data section belong to no tensor (${last}): trailing bytes, or a wrong header length`,
    );
  }
}

/** Writes float32 tensors in the given order, with string metadata. */
export function writeSafetensors(tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const { name, shape, data } of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.length * 4] };
    offset += data.length * 4;
  }
  // pad with spaces so the data section starts 8-byte aligned, as the reference writer does
  const json = new TextEncoder().encode(JSON.stringify(header));
  const encodedHeader = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  encodedHeader.set(json);
  const out = new Uint8Array(8 + encodedHeader.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(encodedHeader.length), true);
  out.set(encodedHeader, 8);
  let at = 8 + encodedHeader.length;
  for (const { data } of tensors) {
    for (let i = 0; i < data.length; i++) view.setFloat32(at + i * 4, data[i], true);
    at += data.length * 4;
  }
  return out;
}

function decode(dtype: string, raw: Uint8Array): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const count = raw.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'BF16':
      // bfloat16 is the top half of a float32
      for (let i = 0; i < count; i++) out[i] = bfloat16ToFloat(view.getUint16(i * 2, true));
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
  }
  return out;
}

const scratch = new DataView(new ArrayBuffer(4));

/** bfloat16 bits to a number: the bits are the upper 16 of a float32. */
export function bfloat16ToFloat(bits: number): number {
  scratch.setUint32(0, bits << 16);
  return scratch.getFloat32(0);
}

/** IEEE 754 binary16 bits to a number, subnormals, infinities and NaN included. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
