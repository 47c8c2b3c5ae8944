// safetensors read and write: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, __metadata__: {string: string}},
// then the raw little-endian tensor bytes. Tensors come out as float32.

import { ModelFormatError } from '../errors.js';

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
 * Every offset, shape and dtype is checked before any tensor is decoded.
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
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (err) {
    throw new ModelFormatError(`${source}: safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelFormatError(`${source}: safetensors header must be a JSON object`);
  }
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ModelFormatError(`${source}: "__metadata__" must be an object of strings`);
      }
      for (const [key, text] of Object.entries(value)) {
        if (typeof text !== 'string') throw new ModelFormatError(`${source}: "__metadata__.${key}" must be a string`);
        metadata[key] = text;
      }
      continue;
    }
    const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null) throw new ModelFormatError(`${source}: tensor "${name}" has no header entry object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
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
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new ModelFormatError(`${source}: tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap in the data section`);
    }
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name, dtype, shape, begin, end } of entries) {
    tensors.set(name, { shape, data: decode(dtype, bytes.subarray(dataStart + begin, dataStart + end)) });
  }
  return { tensors, metadata };
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
