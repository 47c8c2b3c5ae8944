// Fuzz cases for the safetensors loader: valid files of every model kind and dtype, then mutated at the level of
// their JSON header (dtypes, shapes, offsets, names, duplicate keys, metadata, padding, a BOM) or of their bytes
// (flips, truncation, appended bytes, a header length off by a few). Written independently of src's writer.

import { createModel, readSafetensors, type ModelSpec } from '../../src/index.js';
import type { Random } from './random.js';

/** A safetensors file taken apart: its header entries in order (a name may repeat), its data section, its padding. */
export interface FileParts {
  entries: [string, unknown][];
  data: Uint8Array;
  /** What follows the header JSON inside the header length (spaces, as writers pad). */
  padding: string;
  /** What precedes the JSON (nothing, in a valid file). */
  prefix: string;
  /** Replaces the header length (default: the header's). */
  headerLength?: number;
}

/** Serializes parts as a file: u64 header length, header text, data. */
export function encodeParts(parts: FileParts): Uint8Array {
  const json = '{' + parts.entries.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',') + '}';
  const header = new TextEncoder().encode(parts.prefix + json + parts.padding);
  const out = new Uint8Array(8 + header.byteLength + parts.data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(parts.headerLength ?? header.byteLength), true);
  out.set(header, 8);
  out.set(parts.data, 8 + header.byteLength);
  return out;
}

/** A file's parts (the file must be valid). */
export function decodeParts(bytes: Uint8Array): FileParts {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + length));
  const json = text.trimEnd();
  return { entries: Object.entries(JSON.parse(json)), data: bytes.slice(8 + length), padding: text.slice(json.length), prefix: '' };
}

const SPECS: ModelSpec[] = [
  { cell: 'lstm', inputSize: 3, hiddenSize: 4, layers: 2, outputSize: 2, seed: 1, metadata: { normalizer: { mean: [1, 2, 3], std: [1, 0.5, 2] }, channels: ['a', 'b', 'c'] } },
  { cell: 'gru', vocabSize: 5, hiddenSize: 3, seed: 2, metadata: { vocab: 'abcde' } },
  { cell: 'rnn', inputSize: 4, hiddenSize: 2, seed: 3, metadata: { shape: [2, 2] } },
  { kind: 'transformer', inputSize: 2, width: 8, heads: 2, window: 4, sinks: 1, seed: 4 },
  { kind: 'transformer', vocabSize: 6, width: 4, heads: 1, window: 3, blocks: 2, seed: 5 },
  { kind: 'hybrid', cell: 'lstm', inputSize: 2, hiddenSize: 4, heads: 2, window: 3, seed: 6 },
];

/** Valid files: one per model kind (recurrent frames and tokens, transformer, hybrid), a bare nn.LSTM, and F16/BF16/F64 tensors. */
export async function safetensorsCorpus(): Promise<Uint8Array[]> {
  const files: Uint8Array[] = [];
  for (const spec of SPECS) {
    const model = await createModel(spec);
    files.push(model.toSafetensors());
    model.close();
  }
  // a bare nn.LSTM: its own names, no head
  const bare = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, outputSize: 0, seed: 7 });
  const bareParts = decodeParts(bare.toSafetensors());
  bare.close();
  bareParts.entries = bareParts.entries.filter(([name]) => name !== '__metadata__').map(([name, value]) => [name.replace(/^lstm\./, ''), value]);
  files.push(encodeParts(bareParts));
  files.push(withDtypes(files[0]));
  return files;
}

/** The file with its tensors stored as F64, F16 and BF16 in turn (values rounded as the dtype needs). */
function withDtypes(file: Uint8Array): Uint8Array {
  const tensors = readSafetensors(file, 'corpus').tensors;
  const parts = decodeParts(file);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  parts.entries = parts.entries.map(([name, value], i) => {
    if (name === '__metadata__') return [name, value];
    const data = tensors.get(name)!.data;
    const dtype = (['F64', 'F16', 'BF16', 'F32'] as const)[i % 4];
    const bytes = encodeValues(data, dtype);
    chunks.push(bytes);
    const entry = { dtype, shape: (value as { shape: number[] }).shape, data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    return [name, entry];
  });
  parts.data = concat(chunks);
  parts.padding = ' '.repeat((8 - ((JSON.stringify(Object.fromEntries(parts.entries)).length) % 8)) % 8);
  return encodeParts(parts);
}

function encodeValues(values: Float32Array, dtype: 'F64' | 'F16' | 'BF16' | 'F32'): Uint8Array {
  const size = { F64: 8, F16: 2, BF16: 2, F32: 4 }[dtype];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  const f32 = new DataView(new ArrayBuffer(4));
  values.forEach((v, i) => {
    if (dtype === 'F64') view.setFloat64(i * 8, v, true);
    else if (dtype === 'F32') view.setFloat32(i * 4, v, true);
    else if (dtype === 'BF16') {
      f32.setFloat32(0, v);
      view.setUint16(i * 2, f32.getUint32(0) >>> 16, true);
    } else {
      // weights of an initialised model are small: a plain binary16 encoding without subnormal care is enough here
      const sign = v < 0 ? 0x8000 : 0;
      const a = Math.abs(v);
      const e = a === 0 ? -15 : Math.max(-14, Math.min(15, Math.floor(Math.log2(a))));
      const m = a === 0 ? 0 : Math.min(1023, Math.round((a / 2 ** e - 1) * 1024));
      view.setUint16(i * 2, sign | ((e + 15) << 10) | Math.max(0, m), true);
    }
  });
  return out;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Numbers a hostile or broken writer puts where a size belongs. */
export const HOSTILE_NUMBERS = [0, -0, -1, 1, 2, 3, 4, 7, 8, 0.5, 1e9, 2 ** 31, 2 ** 32, 2 ** 32 + 4, 2 ** 53, 2 ** 53 + 2, 1e300, -1e300, Number.MAX_SAFE_INTEGER, 65_536, 65_537];
/** Values of any JSON kind. */
export const HOSTILE_VALUES: unknown[] = [null, true, false, '', '4', 'F32', [], [[]], {}, { a: 1 }, [1, 2], 'x'.repeat(300), ...HOSTILE_NUMBERS];

/** One mutation of a header entry's value: its dtype, shape or offsets changed, or the entry replaced. */
function mutateEntry(random: Random, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || random.chance(0.05)) return random.pick(HOSTILE_VALUES);
  const entry = { ...(value as Record<string, unknown>) };
  const key = random.pick(['dtype', 'shape', 'data_offsets', 'extra']);
  if (key === 'dtype') entry.dtype = random.pick(['F32', 'F16', 'BF16', 'F64', 'I32', 'U8', 'F8_E4M3', 'f32', 'constructor', '__proto__', 'toString', ...HOSTILE_VALUES]);
  else if (key === 'extra') entry[random.pick(['extra', 'dtype ', '__proto__'])] = random.pick(HOSTILE_VALUES);
  else {
    const list = Array.isArray(entry[key]) ? [...(entry[key] as unknown[])] : [];
    const what = random.int(5);
    if (what === 0 || list.length === 0) list.push(random.pick(HOSTILE_NUMBERS));
    else if (what === 1) list.pop();
    else if (what === 2) list[random.int(list.length)] = random.pick(HOSTILE_VALUES);
    else if (what === 3) list[random.int(list.length)] = (list[random.int(list.length)] as number) + random.pick([-4, -1, 1, 4, 8]);
    else list.reverse();
    entry[key] = random.chance(0.05) ? random.pick(HOSTILE_VALUES) : list;
  }
  return entry;
}

/** One mutation of the seqcast metadata text (or of __metadata__ itself). */
function mutateMetadata(random: Random, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || random.chance(0.1)) return random.pick(HOSTILE_VALUES);
  const metadata = { ...(value as Record<string, unknown>) };
  let seqcast: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(String(metadata.seqcast ?? '{}'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) seqcast = parsed as Record<string, unknown>;
  } catch {
    // already broken: start afresh
  }
  const key = random.pick(['format', 'kind', 'heads', 'window', 'sinks', 'normalizer', 'vocab', 'channels', 'shape', 'unknown']);
  seqcast[key] = random.chance(0.7) ? random.pick(HOSTILE_VALUES) : random.pick([{ mean: [0], std: [1] }, 'transformer', 'hybrid', 'recurrent', [2, 2], ['a']]);
  metadata.seqcast = random.chance(0.05) ? '{"unclosed' : JSON.stringify(seqcast);
  if (random.chance(0.05)) metadata[random.pick(['format', 'seqcast', 'x'])] = random.pick(HOSTILE_VALUES);
  return metadata;
}

/** One mutation at the level of the header's structure; true when it changed only the framing (padding, prefix, header length, a repeated entry), not what the tensors are. */
function mutateParts(random: Random, parts: FileParts): boolean {
  const { entries } = parts;
  const i = random.int(entries.length);
  switch (random.int(10)) {
    case 0:
    case 1:
    case 2:
      entries[i] = [entries[i][0], entries[i][0] === '__metadata__' ? mutateMetadata(random, entries[i][1]) : mutateEntry(random, entries[i][1])];
      return false;
    case 3:
      entries.splice(i, 1); // a tensor missing (its bytes stay: a hole or trailing bytes)
      return false;
    case 4:
      entries.splice(random.int(entries.length + 1), 0, entries[i]); // a duplicate key, with the same value
      return true;
    case 5:
      entries[i] = [random.pick([`${entries[i][0]}x`, entries[i][0].replace(/\d/, '9'), '', '__metadata__', 'blocks.3.ln1.weight', 'head.weight', 'embed.weight', 'lstm.weight_ih_l5']), entries[i][1]];
      return false;
    case 6:
      parts.padding = random.pick(['', '\n', '\t', '\0', '  \n', ' '.repeat(random.int(16)), 'x', '}']);
      return true;
    case 7:
      parts.prefix = random.pick(['\uFEFF', ' ', '\n', '[', '\0']);
      return true;
    case 8:
      // a header length off by a few bytes: into the padding, or into the data
      parts.headerLength = Math.max(0, headerTextLength(parts) + random.pick([-8, -4, -2, -1, 1, 2, 4, 8, 1000]));
      return true;
    default: {
      const data = parts.data.slice();
      for (let k = 1 + random.int(4); k > 0 && data.byteLength > 0; k--) data[random.int(data.byteLength)] = random.pick([0xff, 0x7f, 0x80, 0x00, random.int(256)]);
      parts.data = data; // NaN and Infinity bit patterns among them
      return false;
    }
  }
}

function headerTextLength(parts: FileParts): number {
  return encodeParts({ ...parts, headerLength: undefined }).byteLength - 8 - parts.data.byteLength;
}

/** One mutation of the file's bytes; `framing` when it changed only the header length. */
function mutateBytes(random: Random, bytes: Uint8Array): { bytes: Uint8Array; framing: boolean } {
  switch (random.int(4)) {
    case 0: {
      const out = bytes.slice();
      for (let k = 1 + random.int(8); k > 0; k--) out[random.int(out.byteLength)] ^= 1 << random.int(8);
      return { bytes: out, framing: false };
    }
    case 1:
      return { bytes: bytes.slice(0, random.int(bytes.byteLength)), framing: false };
    case 2: {
      const out = new Uint8Array(bytes.byteLength + 1 + random.int(16));
      out.set(bytes);
      out.set(random.bytes(out.byteLength - bytes.byteLength), bytes.byteLength);
      return { bytes: out, framing: false };
    }
    default: {
      // the header length's bytes: off by a few, or garbage in the high bytes
      const out = bytes.slice();
      const view = new DataView(out.buffer);
      if (random.chance(0.5)) view.setBigUint64(0, view.getBigUint64(0, true) + BigInt(random.pick([-4, -1, 1, 4])), true);
      else out[random.int(8)] = random.int(256);
      return { bytes: out, framing: true };
    }
  }
}

/** A fuzz case: the file, and when its mutations changed only its framing, the valid file whose tensors it must give if it is accepted. */
export interface SafetensorsCase {
  bytes: Uint8Array;
  /** Accepted, the case must load exactly these tensors (an accepted header length 4 bytes short would shift them). */
  sameTensorsAs?: Uint8Array;
}

/** A case: a corpus file, mutated one to three times (or left as it is, one case in twenty). */
export function safetensorsCase(random: Random, corpus: Uint8Array[]): SafetensorsCase {
  const base = random.pick(corpus);
  if (random.chance(0.05)) return { bytes: base, sameTensorsAs: base };
  if (random.chance(0.25)) {
    const { bytes, framing } = mutateBytes(random, base);
    return { bytes, sameTensorsAs: framing ? base : undefined };
  }
  const parts = decodeParts(base);
  let framing = true;
  for (let k = 1 + random.int(3); k > 0; k--) framing = mutateParts(random, parts) && framing;
  const encoded = encodeParts(parts);
  if (random.chance(0.1)) {
    const { bytes, framing: alsoFraming } = mutateBytes(random, encoded);
    return { bytes, sameTensorsAs: framing && alsoFraming ? base : undefined };
  }
  return { bytes: encoded, sameTensorsAs: framing ? base : undefined };
}
