// Specification of the model file format: safetensors files (PyTorch's own,
// seqcast's own, float16/bfloat16/float64 ones, hand-built broken ones) and
// what loadModel makes of them.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createModel,
  loadModel,
  ModelFormatError,
  readSafetensors,
  SeqcastError,
  type Model,
  type ModelArch,
  type ModelSpec,
  type SeqcastMetadata,
} from '../src/index.js';
import { expectClose } from './helpers/golden.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-format-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ── helpers: a hand-written safetensors writer, independent of src ──

interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
  /** Override the data_offsets written to the header (default: packed in order). */
  offsets?: [number, number];
}

interface BuildOptions {
  metadata?: Record<string, string>;
  /** Replace the whole JSON header with this text. */
  headerText?: string;
  /** Replace the 8-byte header length with this value. */
  headerLength?: bigint;
}

/** A safetensors file: u64 LE header length, JSON header padded with spaces to 8 bytes, tensor bytes in order. */
function buildSafetensors(tensors: RawTensor[], options: BuildOptions = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: t.offsets ?? [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(options.headerText ?? JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  const out = new Uint8Array(8 + padded.length + offset);
  new DataView(out.buffer).setBigUint64(0, options.headerLength ?? BigInt(padded.length), true);
  out.set(padded, 8);
  let at = 8 + padded.length;
  for (const t of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

function u16Bytes(bits: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bits.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i], true);
  return out;
}

function f64Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return out;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** IEEE binary16 bits of a number, rounded to nearest even (written independently of src). */
function floatToHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal (1024 rounds up into the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e + 15 >= 31) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** Value of IEEE binary16 bits. */
function halfBitsToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits of a number: the float32 bits' upper half, rounded to nearest even. */
function floatToBfloat16Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const u = view.getUint32(0);
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function bfloat16BitsToFloat(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits * 0x10000);
  return view.getFloat32(0);
}

/** The bit patterns of float32 values, so that comparisons are exact (−0 ≠ 0, NaN = NaN). */
function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

/** Every parameter of a model as F32 raw tensors, state_dict order. */
function rawTensorsOf(model: Model): RawTensor[] {
  return model.layout.map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape, bytes: f32Bytes(model.getParameter(t.name)) }));
}

function replace(tensors: RawTensor[], name: string, change: Partial<RawTensor>): RawTensor[] {
  expect(tensors.some((t) => t.name === name), `test setup: tensor ${name} exists`).toBe(true);
  return tensors.map((t) => (t.name === name ? { ...t, ...change } : t));
}

function rename(tensors: RawTensor[], from: RegExp, to: string): RawTensor[] {
  return tensors.map((t) => ({ ...t, name: t.name.replace(from, to) }));
}

let fileCounter = 0;
/** Writes bytes to a fresh file in the temp dir; returns its path. */
function writeTemp(bytes: Uint8Array, stem = 'model'): string {
  const path = join(dir, `${stem}-${++fileCounter}.safetensors`);
  writeFileSync(path, bytes);
  return path;
}

/** Loads `path`, expects a ModelFormatError whose message names the file and matches every pattern. */
async function expectFormatError(path: string, ...patterns: RegExp[]): Promise<ModelFormatError> {
  let caught: unknown;
  try {
    await loadModel(path);
  } catch (err) {
    caught = err;
  }
  expect(caught, `loading ${path} should fail`).toBeInstanceOf(ModelFormatError);
  expect(caught).toBeInstanceOf(SeqcastError);
  const error = caught as ModelFormatError;
  expect(error.code).toBe('MODEL_FORMAT');
  expect(error.name).toBe('ModelFormatError');
  expect(error.message).toContain(path);
  for (const pattern of patterns) expect(error.message).toMatch(pattern);
  return error;
}

function frame(t: number, width: number): number[] {
  return Array.from({ length: width }, (_, i) => Math.sin(1.3 * t + 0.7 * i) * 1.5);
}

const LSTM_SPEC: ModelSpec = { cell: 'lstm', inputSize: 3, hiddenSize: 5, seed: 11 };

// ── a file written by PyTorch ──

describe('a safetensors file written by PyTorch', () => {
  const check = JSON.parse(readFileSync(new URL('lstm_h32.check.json', FIXTURES), 'utf8')) as { x: number[]; y: number[]; h: number[] };

  it('loads as is and is recognised as a 1-layer lstm with input 8, hidden 32, head 8', async () => {
    const model = await loadModel(new URL('lstm_h32.safetensors', FIXTURES).pathname);
    expect(model.arch).toEqual({ kind: 'recurrent', cell: 'lstm', layers: 1, inputSize: 8, vocabSize: 0, hiddenSize: 32, headSize: 8, naming: 'module' });
    expect(model.parameterNames).toEqual([
      'lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0', 'head.weight', 'head.bias',
    ]);
    expect(model.metadata).toEqual({});
    expect(model.outputSize).toBe(8);
  });

  it('steps the check input from zero state to PyTorch\'s y and h within 1e-5', async () => {
    expect(check.x).toHaveLength(8);
    expect(check.y).toHaveLength(8);
    expect(check.h).toHaveLength(32);
    const model = await loadModel(new URL('lstm_h32.safetensors', FIXTURES).pathname);
    const stream = model.openStream();
    const y = stream.step(check.x);
    expectClose(y, check.y, { abs: 1e-5, rel: 0 }, 'y');
    expectClose(stream.state().h, check.h, { abs: 1e-5, rel: 0 }, 'h');
  });

  it('gives the same model from its bytes as from its path', async () => {
    const path = new URL('lstm_h32.safetensors', FIXTURES).pathname;
    const fromPath = await loadModel(path);
    const fromBytes = await loadModel(new Uint8Array(readFileSync(path)));
    for (const name of fromPath.parameterNames) expect(bits(fromBytes.getParameter(name)), name).toEqual(bits(fromPath.getParameter(name)));
  });
});

// ── round trip ──

describe('save and load round trip', () => {
  it('createModel → save → loadModel gives bit-identical parameters, the same architecture and the same metadata', async () => {
    const metadata: SeqcastMetadata = {
      normalizer: { mean: [10, -2.5, 0.125], std: [2, 0.5, 3] },
      channels: ['flow', 'pressure', 'temp'],
      trainedOn: 'pump data 2024',
      extra: { nested: [1, 2, { deep: true }], n: null },
    };
    const model = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 7, layers: 2, seed: 5, metadata });
    const path = join(dir, 'roundtrip.safetensors');
    await model.save(path);
    const loaded = await loadModel(path);
    expect(loaded.arch).toEqual(model.arch);
    expect(loaded.parameterNames).toEqual(model.parameterNames);
    for (const name of model.parameterNames) expect(bits(loaded.getParameter(name)), name).toEqual(bits(model.getParameter(name)));
    expect(loaded.metadata).toEqual({ ...metadata, format: 1 });
    expect(Array.from(loaded.normalizer!.mean)).toEqual([10, -2.5, 0.125]);
    expect(Array.from(loaded.normalizer!.std)).toEqual([2, 0.5, 3]);
    // and it computes the same thing
    const a = model.openStream();
    const b = loaded.openStream();
    for (let t = 0; t < 4; t++) expect(bits(b.step(frame(t, 3))), `step ${t}`).toEqual(bits(a.step(frame(t, 3))));
  });

  it('keeps a token model\'s vocab and its head-less shape', async () => {
    const model = await createModel({ cell: 'lstm', vocabSize: 5, embedSize: 4, hiddenSize: 6, outputSize: 0, seed: 2, metadata: { vocab: 'aé😀 z' } });
    const path = join(dir, 'tokens.safetensors');
    await model.save(path);
    const loaded = await loadModel(path);
    expect(loaded.arch).toEqual({ kind: 'recurrent', cell: 'lstm', layers: 1, inputSize: 4, vocabSize: 5, hiddenSize: 6, headSize: 0, naming: 'module' });
    expect(loaded.metadata).toEqual({ vocab: 'aé😀 z', format: 1 });
    for (const name of model.parameterNames) expect(bits(loaded.getParameter(name)), name).toEqual(bits(model.getParameter(name)));
  });

  it('saving a loaded model reproduces the file byte for byte', async () => {
    const model = await createModel({ ...LSTM_SPEC, metadata: { note: 'x', channels: ['a', 'b', 'c'], shape: [1, 3] } });
    const first = join(dir, 'first.safetensors');
    const second = join(dir, 'second.safetensors');
    await model.save(first);
    const loaded = await loadModel(first);
    expect(loaded.metadata).toMatchObject({ channels: ['a', 'b', 'c'], shape: [1, 3] });
    await loaded.save(second);
    expect(Buffer.compare(readFileSync(first), readFileSync(second))).toBe(0);
  });

  it('toSafetensors writes an 8-byte-aligned header, F32 tensors packed in state_dict order, and the metadata under "seqcast"', async () => {
    const model = await createModel({ cell: 'rnn', inputSize: 2, hiddenSize: 3, layers: 2, seed: 1, metadata: { note: 'hi' } });
    const bytes = model.toSafetensors();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = Number(view.getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, any>;
    expect(header.__metadata__.format).toBe('pt');
    expect(JSON.parse(header.__metadata__.seqcast)).toEqual({ note: 'hi', format: 1 });
    let offset = 0;
    for (const { name, shape } of model.layout) {
      const size = shape.reduce((a, d) => a * d, 1) * 4;
      expect(header[name], name).toEqual({ dtype: 'F32', shape, data_offsets: [offset, offset + size] });
      offset += size;
    }
    expect(bytes.byteLength).toBe(8 + headerLength + offset);

    const parsed = readSafetensors(bytes, 'memory');
    expect([...parsed.tensors.keys()]).toEqual(model.parameterNames);
    for (const { name, shape } of model.layout) {
      expect(parsed.tensors.get(name)!.shape).toEqual(shape);
      expect(bits(parsed.tensors.get(name)!.data), name).toEqual(bits(model.getParameter(name)));
    }
    expect(parsed.metadata.format).toBe('pt');
  });

  it('save replaces an existing file and leaves no temporary file behind', async () => {
    const sub = mkdtempSync(join(dir, 'save-'));
    const path = join(sub, 'model.safetensors');
    writeFileSync(path, 'old contents');
    const model = await createModel(LSTM_SPEC);
    await model.save(path);
    expect(readdirSync(sub)).toEqual(['model.safetensors']);
    expect(Buffer.compare(readFileSync(path), Buffer.from(model.toSafetensors()))).toBe(0);
  });
});

// ── float16, bfloat16, float64 ──

describe('float16, bfloat16 and float64 tensors are converted to float32 on load', () => {
  it('F16 bit patterns decode to their exact values: normals, subnormals, signed zero, extremes, infinities, NaN', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x3800, 0.5],
      [0x7bff, 65504],
      [0xfbff, -65504],
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x8001, -(2 ** -24)],
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0000, 0],
      [0x8000, -0],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x7e00, NaN],
    ];
    const file = buildSafetensors([{ name: 'x', dtype: 'F16', shape: [cases.length], bytes: u16Bytes(cases.map((c) => c[0])) }]);
    const data = readSafetensors(file, 'f16 test').tensors.get('x')!.data;
    cases.forEach(([pattern, expected], i) => expect(data[i], `0x${pattern.toString(16)}`).toBe(expected)); // toBe: Object.is, so −0 and NaN count
  });

  it('BF16 bit patterns decode to their exact values: normals, subnormals, signed zero, extremes, infinities, NaN', () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc040, -3],
      [0x3eab, 0.333984375],
      [0x4049, 3.140625],
      [0x7f7f, 3.3895313892515355e38], // largest finite
      [0x0080, 2 ** -126], // smallest normal
      [0x0001, 2 ** -133], // smallest subnormal
      [0x8001, -(2 ** -133)],
      [0x0000, 0],
      [0x8000, -0],
      [0x7f80, Infinity],
      [0xff80, -Infinity],
      [0x7fc0, NaN],
    ];
    const file = buildSafetensors([{ name: 'x', dtype: 'BF16', shape: [cases.length], bytes: u16Bytes(cases.map((c) => c[0])) }]);
    const data = readSafetensors(file, 'bf16 test').tensors.get('x')!.data;
    cases.forEach(([pattern, expected], i) => expect(data[i], `0x${pattern.toString(16)}`).toBe(expected));
  });

  it('F64 values are rounded to the nearest float32', () => {
    const values = [1 / 3, -1e-3, 123456789.123, 2 ** -140, 0];
    const file = buildSafetensors([{ name: 'x', dtype: 'F64', shape: [values.length], bytes: f64Bytes(values) }]);
    const data = readSafetensors(file, 'f64 test').tensors.get('x')!.data;
    expect(Array.from(data)).toEqual(values.map(Math.fround));
  });

  it('a tensor keeps its shape and its row-major order whatever the dtype', () => {
    const file = buildSafetensors([
      { name: 'a', dtype: 'F16', shape: [2, 3], bytes: u16Bytes([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600]) },
      { name: 'b', dtype: 'BF16', shape: [3, 1], bytes: u16Bytes([0x3f80, 0x4000, 0x4040]) },
    ]);
    const parsed = readSafetensors(file, 'shapes');
    expect(parsed.tensors.get('a')).toEqual({ shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    expect(parsed.tensors.get('b')).toEqual({ shape: [3, 1], data: Float32Array.from([1, 2, 3]) });
  });

  for (const [dtype, encode, decode, tolerance] of [
    ['F16', floatToHalfBits, halfBitsToFloat, 2e-3],
    ['BF16', floatToBfloat16Bits, bfloat16BitsToFloat, 2e-2],
  ] as const) {
    it(`a whole model saved as ${dtype} loads with exactly the ${dtype} values and steps close to the float32 model`, async () => {
      const model = await createModel({ cell: 'lstm', inputSize: 4, hiddenSize: 16, layers: 2, seed: 9 });
      const tensors = model.layout.map((t) => {
        const halfBits = Array.from(model.getParameter(t.name), encode);
        return { name: t.name, dtype, shape: t.shape, bytes: u16Bytes(halfBits) };
      });
      const path = writeTemp(buildSafetensors(tensors, { metadata: { format: 'pt' } }), dtype.toLowerCase());
      const half = await loadModel(path);
      expect(half.arch).toEqual(model.arch);
      for (const name of model.parameterNames) {
        const expected = Float32Array.from(model.getParameter(name), (v) => decode(encode(v)));
        expect(bits(half.getParameter(name)), name).toEqual(bits(expected));
        // the conversion really rounds: values are close to, but not all equal to, the float32 ones
        // (F16 subnormals, below 2^-14, have an absolute step of 2^-24)
        expectClose(half.getParameter(name), model.getParameter(name), dtype === 'F16' ? { abs: 2 ** -25, rel: 2 ** -11 } : { abs: 0, rel: 2 ** -8 }, name);
      }
      const a = model.openStream();
      const b = half.openStream();
      for (let t = 0; t < 6; t++) expectClose(b.step(frame(t, 4)), a.step(frame(t, 4)), { abs: tolerance, rel: 0 }, `${dtype} step ${t}`);
    });
  }

  it('one file may mix F32, F16, BF16 and F64 tensors', async () => {
    const model = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, seed: 4 });
    const dtypes = ['F16', 'BF16', 'F64', 'F32', 'F16', 'BF16'];
    const tensors = model.layout.map((t, i) => {
      const values = model.getParameter(t.name);
      const dtype = dtypes[i];
      const bytes =
        dtype === 'F16' ? u16Bytes(Array.from(values, floatToHalfBits))
          : dtype === 'BF16' ? u16Bytes(Array.from(values, floatToBfloat16Bits))
            : dtype === 'F64' ? f64Bytes(values)
              : f32Bytes(values);
      return { name: t.name, dtype, shape: t.shape, bytes };
    });
    const loaded = await loadModel(writeTemp(buildSafetensors(tensors), 'mixed'));
    expect(bits(loaded.getParameter('gru.bias_ih_l0'))).toEqual(bits(model.getParameter('gru.bias_ih_l0'))); // F64 of float32 values is exact
    expect(bits(loaded.getParameter('gru.bias_hh_l0'))).toEqual(bits(model.getParameter('gru.bias_hh_l0'))); // F32
    expectClose(loaded.getParameter('gru.weight_ih_l0'), model.getParameter('gru.weight_ih_l0'), { abs: 2 ** -25, rel: 2 ** -11 }, 'F16 tensor');
    expectClose(loaded.getParameter('gru.weight_hh_l0'), model.getParameter('gru.weight_hh_l0'), { abs: 0, rel: 2 ** -8 }, 'BF16 tensor');
  });
});

// ── architecture from names and shapes ──

describe('the architecture is inferred from tensor names and shapes when there is no metadata', () => {
  const cases: { spec: ModelSpec; arch: Omit<ModelArch, 'naming' | 'kind'> }[] = [
    { spec: { cell: 'rnn', inputSize: 3, hiddenSize: 4, seed: 1 }, arch: { cell: 'rnn', layers: 1, inputSize: 3, vocabSize: 0, hiddenSize: 4, headSize: 3 } },
    { spec: { cell: 'lstm', inputSize: 3, hiddenSize: 4, outputSize: 2, seed: 1 }, arch: { cell: 'lstm', layers: 1, inputSize: 3, vocabSize: 0, hiddenSize: 4, headSize: 2 } },
    { spec: { cell: 'gru', inputSize: 3, hiddenSize: 4, layers: 2, seed: 1 }, arch: { cell: 'gru', layers: 2, inputSize: 3, vocabSize: 0, hiddenSize: 4, headSize: 3 } },
    { spec: { cell: 'lstm', inputSize: 2, hiddenSize: 5, layers: 3, outputSize: 0, seed: 1 }, arch: { cell: 'lstm', layers: 3, inputSize: 2, vocabSize: 0, hiddenSize: 5, headSize: 0 } },
    { spec: { cell: 'rnn', inputSize: 6, hiddenSize: 2, layers: 3, outputSize: 1, seed: 1 }, arch: { cell: 'rnn', layers: 3, inputSize: 6, vocabSize: 0, hiddenSize: 2, headSize: 1 } },
    { spec: { cell: 'lstm', vocabSize: 7, embedSize: 3, hiddenSize: 4, seed: 1 }, arch: { cell: 'lstm', layers: 1, inputSize: 3, vocabSize: 7, hiddenSize: 4, headSize: 7 } },
    { spec: { cell: 'gru', vocabSize: 7, hiddenSize: 4, layers: 2, outputSize: 0, seed: 1 }, arch: { cell: 'gru', layers: 2, inputSize: 4, vocabSize: 7, hiddenSize: 4, headSize: 0 } },
  ];

  it.each(cases.map((c) => [`${c.arch.layers}-layer ${c.arch.cell}${c.arch.vocabSize ? ' token model' : ''}, head ${c.arch.headSize}`, c] as const))(
    'prefixed names: %s',
    async (_, { spec, arch }) => {
      const source = await createModel(spec);
      const loaded = await loadModel(writeTemp(buildSafetensors(rawTensorsOf(source)), 'module'));
      expect(loaded.arch).toEqual({ kind: 'recurrent', ...arch, naming: 'module' });
      expect(loaded.isTokenModel).toBe(arch.vocabSize > 0);
      expect(loaded.outputSize).toBe(arch.headSize || arch.hiddenSize);
      for (const name of source.parameterNames) expect(bits(loaded.getParameter(name)), name).toEqual(bits(source.getParameter(name)));
    },
  );

  it('tensor order in the file does not matter', async () => {
    const source = await createModel({ cell: 'gru', inputSize: 3, hiddenSize: 4, layers: 2, seed: 3 });
    const loaded = await loadModel(writeTemp(buildSafetensors(rawTensorsOf(source).reverse()), 'reversed'));
    expect(loaded.arch).toEqual(source.arch);
    expect(loaded.parameterNames).toEqual(source.parameterNames);
    for (const name of source.parameterNames) expect(bits(loaded.getParameter(name)), name).toEqual(bits(source.getParameter(name)));
  });

  describe.each([
    ['rnn', 1],
    ['gru', 3],
    ['lstm', 4],
  ] as const)('bare names of a plain nn.%s (weight_hh has %i×H rows)', (cell, gates) => {
    it.each([1, 2, 3])('%i layer(s): the cell comes from the row count, and the output is the top layer\'s h', async (layers) => {
      const H = 6; // 6·G rows: distinct for G = 1, 3, 4
      const source = await createModel({ cell, inputSize: 2, hiddenSize: H, layers, outputSize: 0, seed: layers });
      const bare = rename(rawTensorsOf(source), /^(rnn|lstm|gru)\./, '');
      expect(bare.find((t) => t.name === 'weight_hh_l0')!.shape).toEqual([gates * H, H]);
      const loaded = await loadModel(writeTemp(buildSafetensors(bare), `bare-${cell}`));
      expect(loaded.arch).toEqual({ kind: 'recurrent', cell, layers, inputSize: 2, vocabSize: 0, hiddenSize: H, headSize: 0, naming: 'bare' });
      expect(loaded.parameterNames).toEqual(bare.map((t) => t.name));
      const a = source.openStream();
      const b = loaded.openStream();
      for (let t = 0; t < 3; t++) {
        const out = b.step(frame(t, 2));
        a.step(frame(t, 2));
        expect(bits(out), `step ${t}`).toEqual(bits(a.state().h.subarray((layers - 1) * H)));
        expect(bits(b.state().h)).toEqual(bits(a.state().h));
      }
    });
  });

  it('a prefix wins over the row count: lstm. tensors with 3·H rows are rejected, not read as a gru', async () => {
    const gru = await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 4, outputSize: 0, seed: 1 });
    const path = writeTemp(buildSafetensors(rename(rawTensorsOf(gru), /^gru\./, 'lstm.')), 'mislabelled');
    await expectFormatError(path, /"lstm\.weight_hh_l0"/, /\[12,4\]/, /expected \[16, 4\] for a lstm/);
  });
});

// ── every bad input ──

describe('every malformed file is refused with a ModelFormatError naming the file and the problem', () => {
  let good: RawTensor[];
  beforeAll(async () => {
    good = rawTensorsOf(await createModel({ cell: 'lstm', inputSize: 3, hiddenSize: 4, layers: 2, outputSize: 2, seed: 1 }));
  });

  it('(setup) the unmodified file loads', async () => {
    const model = await loadModel(writeTemp(buildSafetensors(good), 'good'));
    expect(model.arch.hiddenSize).toBe(4);
  });

  it('a file shorter than the 8-byte header length', async () => {
    await expectFormatError(writeTemp(new Uint8Array([1, 2, 3, 4, 5]), 'tiny'), /truncated/, /5 bytes/);
    await expectFormatError(writeTemp(new Uint8Array(0), 'empty'), /truncated/, /0 bytes/);
  });

  it('a header length beyond the end of the file', async () => {
    const bytes = buildSafetensors(good, { headerLength: 1_000_000n });
    await expectFormatError(writeTemp(bytes, 'long-header'), /header length 1000000/, new RegExp(`${bytes.byteLength}-byte file`));
    await expectFormatError(writeTemp(buildSafetensors(good, { headerLength: 2n ** 63n }), 'huge-header'), /header length 9223372036854775808/);
  });

  it('a file cut short inside its data section', async () => {
    const bytes = buildSafetensors(good);
    await expectFormatError(writeTemp(bytes.subarray(0, bytes.byteLength - 3), 'cut'), /"head\.bias"/, /outside/, /truncated/);
  });

  it('a header that is not JSON', async () => {
    await expectFormatError(writeTemp(buildSafetensors(good, { headerText: '{"lstm.weight_ih_l0": {dtype: F32' }), 'not-json'), /header is not valid JSON/);
    await expectFormatError(writeTemp(buildSafetensors([], { headerText: '' }), 'empty-header'), /header is not valid JSON/);
  });

  it('a header that is a JSON array or a scalar, not an object', async () => {
    await expectFormatError(writeTemp(buildSafetensors([], { headerText: '[1, 2, 3]' }), 'array'), /header must be a JSON object/);
    await expectFormatError(writeTemp(buildSafetensors([], { headerText: '42' }), 'scalar'), /header must be a JSON object/);
    await expectFormatError(writeTemp(buildSafetensors([], { headerText: 'null' }), 'null'), /header must be a JSON object/);
  });

  it('__metadata__ that is not an object of strings', async () => {
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: 5 as unknown as string } }), 'meta-number'), /"__metadata__\.seqcast" must be a string/);
  });

  it('data_offsets outside the data section', async () => {
    const bytes = buildSafetensors(replace(good, 'lstm.bias_ih_l1', { offsets: [1_000_000, 1_000_064] }));
    await expectFormatError(writeTemp(bytes, 'offsets-outside'), /"lstm\.bias_ih_l1"/, /data_offsets \[1000000, 1000064\]/, /outside/);
  });

  it('data_offsets that are reversed, negative or not two numbers', async () => {
    await expectFormatError(writeTemp(buildSafetensors(replace(good, 'head.bias', { offsets: [8, 0] })), 'reversed'), /"head\.bias" has invalid data_offsets \[8,0\]/);
    await expectFormatError(writeTemp(buildSafetensors(replace(good, 'head.bias', { offsets: [-8, 0] })), 'negative'), /"head\.bias" has invalid data_offsets/);
    await expectFormatError(writeTemp(buildSafetensors(replace(good, 'head.bias', { offsets: [0] as unknown as [number, number] })), 'one-offset'), /"head\.bias" has invalid data_offsets/);
  });

  it('two tensors whose bytes overlap', async () => {
    // head.bias (2 floats) placed over the first 8 bytes of lstm.weight_ih_l0
    const bytes = buildSafetensors(replace(good, 'head.bias', { offsets: [0, 8] }));
    await expectFormatError(writeTemp(bytes, 'overlap'), /"lstm\.weight_ih_l0" and "head\.bias" overlap/);
  });

  it('a byte length that does not match shape × dtype size', async () => {
    const bytes = buildSafetensors(replace(good, 'lstm.bias_hh_l0', { bytes: f32Bytes(new Array(15).fill(0.5)) }));
    await expectFormatError(writeTemp(bytes, 'short-tensor'), /"lstm\.bias_hh_l0" of shape \[16\] and dtype F32 needs 64 bytes, but data_offsets span 60/);
    const f16 = buildSafetensors(replace(good, 'head.bias', { dtype: 'F16' })); // F32 bytes under an F16 label: twice too long
    await expectFormatError(writeTemp(f16, 'f16-length'), /"head\.bias" of shape \[2\] and dtype F16 needs 4 bytes, but data_offsets span 8/);
  });

  it('a shape that is not a list of non-negative integers', async () => {
    await expectFormatError(writeTemp(buildSafetensors(replace(good, 'head.bias', { shape: [2.5] })), 'shape-frac'), /"head\.bias" has invalid shape \[2\.5\]/);
    await expectFormatError(writeTemp(buildSafetensors(replace(good, 'head.bias', { shape: [-2] })), 'shape-neg'), /"head\.bias" has invalid shape \[-2\]/);
  });

  it.each(['I64', 'F8_E4M3', 'I32', 'U8', 'BOOL', 'f32'])('an unsupported dtype (%s)', async (dtype) => {
    const bytes = buildSafetensors(replace(good, 'lstm.weight_hh_l1', { dtype }));
    await expectFormatError(writeTemp(bytes, `dtype-${dtype}`), new RegExp(`"lstm\\.weight_hh_l1" has unsupported dtype "${dtype}"`));
  });

  it('a missing tensor', async () => {
    const bytes = buildSafetensors(good.filter((t) => t.name !== 'head.bias'));
    await expectFormatError(writeTemp(bytes, 'missing'), /missing tensor "head\.bias"/, /expected shape \[2\]/);
    const noHh = buildSafetensors(good.filter((t) => t.name !== 'lstm.bias_hh_l1'));
    await expectFormatError(writeTemp(noHh, 'missing-bias'), /missing tensor "lstm\.bias_hh_l1"/);
  });

  it('an unexpected extra tensor', async () => {
    const bytes = buildSafetensors([...good, { name: 'extra.weight', dtype: 'F32', shape: [2], bytes: f32Bytes([1, 2]) }]);
    await expectFormatError(writeTemp(bytes, 'extra'), /unexpected tensor "extra\.weight"/);
    const twoExtra = buildSafetensors([...good, { name: 'ln.weight', dtype: 'F32', shape: [1], bytes: f32Bytes([1]) }, { name: 'ln.bias', dtype: 'F32', shape: [1], bytes: f32Bytes([1]) }]);
    await expectFormatError(writeTemp(twoExtra, 'extras'), /unexpected tensors "ln\.weight", "ln\.bias"/);
  });

  it('no recurrent tensors at all', async () => {
    const bytes = buildSafetensors(good.filter((t) => t.name.startsWith('head.')));
    await expectFormatError(writeTemp(bytes, 'head-only'), /no recurrent tensors found/);
  });

  it('recurrent tensors under two prefixes', async () => {
    const bytes = buildSafetensors(good.map((t) => (t.name.endsWith('_l1') ? { ...t, name: t.name.replace('lstm.', 'gru.') } : t)));
    await expectFormatError(writeTemp(bytes, 'two-prefixes'), /more than one prefix/, /"lstm\."/, /"gru\."/);
  });

  it('a weight_hh whose columns disagree with its rows (wrong H)', async () => {
    const bytes = buildSafetensors(replace(good, 'lstm.weight_hh_l0', { shape: [16, 3], bytes: f32Bytes(new Array(48).fill(0.1)) }));
    await expectFormatError(writeTemp(bytes, 'hh-wrong-h'), /"lstm\.weight_hh_l0" has shape \[16,3\]/);
  });

  it('a weight_hh of the upper layer with the wrong hidden size', async () => {
    const bytes = buildSafetensors(replace(good, 'lstm.weight_hh_l1', { shape: [16, 5], bytes: f32Bytes(new Array(80).fill(0.1)) }));
    await expectFormatError(writeTemp(bytes, 'hh1-wrong'), /"lstm\.weight_hh_l1" has shape \[16,5\], expected \[16,4\]/);
  });

  it('a weight_ih of layer 1 whose in-features are not H', async () => {
    const bytes = buildSafetensors(replace(good, 'lstm.weight_ih_l1', { shape: [16, 3], bytes: f32Bytes(new Array(48).fill(0.1)) }));
    await expectFormatError(writeTemp(bytes, 'ih1-wrong'), /"lstm\.weight_ih_l1" has shape \[16,3\], expected \[16,4\]/);
  });

  it('a head.weight with the wrong in-features', async () => {
    const bytes = buildSafetensors(replace(good, 'head.weight', { shape: [2, 5], bytes: f32Bytes(new Array(10).fill(0.1)) }));
    await expectFormatError(writeTemp(bytes, 'head-wrong'), /"head\.weight" has shape \[2,5\], expected \[2,4\]/);
  });

  it('a head.bias that disagrees with head.weight', async () => {
    const bytes = buildSafetensors(replace(good, 'head.bias', { shape: [3], bytes: f32Bytes([1, 2, 3]) }));
    await expectFormatError(writeTemp(bytes, 'head-bias'), /"head\.bias" has shape \[3\], expected \[2\]/);
  });

  it('a weight_ih_l0 with zero in-features (an empty input)', async () => {
    const bytes = buildSafetensors(replace(good, 'lstm.weight_ih_l0', { shape: [16, 0], bytes: new Uint8Array(0) }));
    await expectFormatError(writeTemp(bytes, 'zero-input'), /"lstm\.weight_ih_l0" has shape \[16,0\]/, /at least one input/);
  });

  it('a recurrent weight of the wrong rank', async () => {
    const bytes = buildSafetensors(replace(good, 'lstm.weight_ih_l0', { shape: [48] }));
    await expectFormatError(writeTemp(bytes, 'rank'), /"lstm\.weight_ih_l0" has shape \[48\], expected rank 2/);
  });

  it('an embed.weight whose width is not the first layer\'s input size', async () => {
    const tokens = rawTensorsOf(await createModel({ cell: 'gru', vocabSize: 5, embedSize: 3, hiddenSize: 4, seed: 1 }));
    const bytes = buildSafetensors(replace(tokens, 'embed.weight', { shape: [5, 2], bytes: f32Bytes(new Array(10).fill(0.1)) }));
    await expectFormatError(writeTemp(bytes, 'embed-wrong'), /"embed\.weight" has shape \[5,2\], expected \[5,3\]/);
  });

  it('bare recurrent names mixed with a head', async () => {
    const bytes = buildSafetensors(good.map((t) => ({ ...t, name: t.name.replace('lstm.', '') })));
    await expectFormatError(writeTemp(bytes, 'bare-head'), /bare recurrent names/, /"lstm\."/);
  });

  it('a gap in the layer indices', async () => {
    const three = rawTensorsOf(await createModel({ cell: 'gru', inputSize: 2, hiddenSize: 3, layers: 3, seed: 1 }));
    const bytes = buildSafetensors(three.filter((t) => !t.name.endsWith('_l1')));
    await expectFormatError(writeTemp(bytes, 'gap'), /gap/, /layer 1 is missing but layer 2 exists/);
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('a %s weight, naming the tensor and the element index', async (label, bad) => {
    const values = Array.from(readSafetensors(buildSafetensors(good), 'x').tensors.get('lstm.weight_hh_l1')!.data);
    values[37] = bad;
    const bytes = buildSafetensors(replace(good, 'lstm.weight_hh_l1', { bytes: f32Bytes(values) }));
    await expectFormatError(writeTemp(bytes, `nonfinite-${label}`), new RegExp(`"lstm\\.weight_hh_l1" element 37 is ${label.replace('+', '')}`), /finite/);
  });

  it('a NaN hidden in an F16 tensor is found after conversion', async () => {
    const halfBits = new Array(16).fill(0x3c00);
    halfBits[9] = 0x7e01;
    const bytes = buildSafetensors(replace(good, 'lstm.bias_ih_l0', { dtype: 'F16', bytes: u16Bytes(halfBits) }));
    await expectFormatError(writeTemp(bytes, 'f16-nan'), /"lstm\.bias_ih_l0" element 9 is NaN/);
  });

  it('seqcast metadata that is not JSON, or not a JSON object', async () => {
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: '{normalizer: ' } }), 'meta-bad'), /__metadata__\.seqcast is not valid JSON/);
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: '[1]' } }), 'meta-array'), /seqcast must be a JSON object/);
  });

  it('seqcast metadata of a newer format version, or of none this version knows', async () => {
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: '{"format": 3}' } }), 'meta-v3'), /format 3 is not supported \(this version reads 1 to 2\); the file was written by a newer seqcast/);
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: '{"format": "2"}' } }), 'meta-v-string'), /format "2" is not supported/);
  });

  it('a normalizer whose mean or std has the wrong length', async () => {
    const shortMean = JSON.stringify({ normalizer: { mean: [0, 0], std: [1, 1, 1] } });
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: shortMean } }), 'norm-mean'), /normalizer\.mean must hold 3 numbers/);
    const longStd = JSON.stringify({ normalizer: { mean: [0, 0, 0], std: [1, 1, 1, 1] } });
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: longStd } }), 'norm-std'), /normalizer\.std must hold 3 numbers/);
  });

  it('a normalizer with a zero, negative or non-numeric std', async () => {
    for (const [std, shown] of [[[1, 0, 1], '0'], [[1, 1, -2], '-2'], [[1, '1', 1], '"1"']] as const) {
      const meta = JSON.stringify({ normalizer: { mean: [0, 0, 0], std } });
      const index = std.findIndex((v) => typeof v !== 'number' || v <= 0);
      await expectFormatError(
        writeTemp(buildSafetensors(good, { metadata: { seqcast: meta } }), 'norm-zero'),
        new RegExp(`normalizer\\.std\\[${index}\\] is ${shown}; expected a finite number above 0`),
      );
    }
  });

  it('a normalizer whose values do not survive conversion to float32 (std underflows to 0, mean overflows)', async () => {
    const tinyStd = JSON.stringify({ normalizer: { mean: [0, 0, 0], std: [1, 1e-50, 1] } });
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: tinyStd } }), 'norm-tiny'), /normalizer\.std\[1\] is 1e-50/);
    const hugeMean = JSON.stringify({ normalizer: { mean: [0, 0, 1e39], std: [1, 1, 1] } });
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: hugeMean } }), 'norm-huge'), /normalizer\.mean\[2\] is 1e\+39/);
  });

  it('a vocab whose length is not the embedding\'s row count', async () => {
    const tokens = rawTensorsOf(await createModel({ cell: 'gru', vocabSize: 5, embedSize: 3, hiddenSize: 4, seed: 1 }));
    const meta = JSON.stringify({ vocab: 'abc' });
    await expectFormatError(writeTemp(buildSafetensors(tokens, { metadata: { seqcast: meta } }), 'vocab'), /vocab has 3 characters but embed\.weight has 5 rows/);
  });

  it('a normalizer on a token model', async () => {
    const tokens = rawTensorsOf(await createModel({ cell: 'gru', vocabSize: 5, embedSize: 3, hiddenSize: 4, seed: 1 }));
    const meta = JSON.stringify({ normalizer: { mean: [0, 0, 0], std: [1, 1, 1] } });
    await expectFormatError(writeTemp(buildSafetensors(tokens, { metadata: { seqcast: meta } }), 'token-norm'), /token model cannot carry a normalizer/);
  });

  it('channels that do not name every input', async () => {
    const meta = JSON.stringify({ channels: ['a', 'b'] });
    await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: meta } }), 'channels'), /channels must be 3 strings/);
  });

  it('an image shape that does not cover the input', async () => {
    for (const shape of [[2, 2], [3], [1.5, 2], 'x']) {
      const meta = JSON.stringify({ shape });
      await expectFormatError(writeTemp(buildSafetensors(good, { metadata: { seqcast: meta } }), 'shape'), /shape is .*; expected \[rows, cols\], two positive integers whose product is the input size 3/);
    }
  });

  it('a path that does not exist', async () => {
    const path = join(dir, 'no-such-dir', 'missing.safetensors');
    await expectFormatError(path, /cannot read model file/, /ENOENT/);
  });

  it('a path that is a directory', async () => {
    await expectFormatError(dir, /cannot read model file/, /EISDIR/);
  });

  it('bytes given directly are named "<model bytes>" in the message', async () => {
    const bytes = buildSafetensors(good.filter((t) => t.name !== 'head.bias'));
    await expect(loadModel(bytes)).rejects.toThrow(/^<model bytes>: missing tensor "head\.bias"/);
    await expect(loadModel(bytes)).rejects.toBeInstanceOf(ModelFormatError);
  });
});
