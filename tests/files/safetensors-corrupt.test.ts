// The safetensors loader refuses every file the format forbids, on real files: a header length off by a few bytes
// (into its padding, or into the data), trailing bytes, holes, overlapping or duplicate names, duplicate keys, a
// UTF-8 byte order mark, padding that is not spaces. Each refusal is a ModelFormatError naming the file and the fault.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, loadModel, ModelFormatError, type Model } from '../../src/index.js';

let dir: string;
let model: Model;
/** The model's file as seqcast writes it: loads, and every test below breaks one thing in it. */
let good: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-corrupt-'));
  model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 4 });
  good = model.toSafetensors();
});
afterAll(() => {
  model.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The parts of a safetensors file: its header JSON text, its padding and its data bytes. */
function split(bytes: Uint8Array): { json: string; padding: number; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + length));
  const json = text.trimEnd();
  return { json, padding: text.length - json.length, data: bytes.subarray(8 + length) };
}

/** A file from its parts; the header length is the header's unless `headerLength` says otherwise. */
function join8(header: Uint8Array, data: Uint8Array, headerLength = header.byteLength): Uint8Array {
  const out = new Uint8Array(8 + header.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(header, 8);
  out.set(data, 8 + header.byteLength);
  return out;
}

/** A file with this header text (padded with `padding` spaces) and these data bytes. */
function build(json: string, data: Uint8Array, padding = 0, headerLength?: number): Uint8Array {
  const header = new TextEncoder().encode(json + ' '.repeat(padding));
  return join8(header, data, headerLength);
}

/** The good file's header as an object, to edit. */
function headerOf(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>> {
  return JSON.parse(split(bytes).json);
}

let counter = 0;
async function expectRefused(bytes: Uint8Array, ...patterns: RegExp[]): Promise<void> {
  const path = join(dir, `corrupt-${++counter}.safetensors`);
  writeFileSync(path, bytes);
  const error = await loadModel(path).then(() => undefined, (err: unknown) => err);
  expect(error, `loading ${path} should fail`).toBeInstanceOf(ModelFormatError);
  expect((error as Error).message).toContain(path);
  for (const pattern of patterns) expect((error as Error).message).toMatch(pattern);
}

describe('a corrupt safetensors file is refused', () => {
  it('(setup) the file as written loads, and has at least 4 spaces of header padding to play with', async () => {
    const path = join(dir, 'good.safetensors');
    writeFileSync(path, good);
    const loaded = await loadModel(path);
    expect(loaded.getParameter('head.bias')).toEqual(model.getParameter('head.bias'));
    loaded.close();
    const { padding } = split(good);
    if (padding < 4) good = build(split(good).json, split(good).data, padding + 8);
    expect(split(good).padding).toBeGreaterThanOrEqual(4);
  });

  it('a header length 4 bytes short, ending inside its space padding: the weights would shift by one float', async () => {
    const { json, padding, data } = split(good);
    const header = new TextEncoder().encode(json + ' '.repeat(padding));
    await expectRefused(join8(header, data, header.byteLength - 4), /4 bytes of the \d+-byte data section belong to no tensor/, /wrong header length/);
  });

  it('a header length 4 bytes long, reaching into the data', async () => {
    const { json, padding, data } = split(good);
    const header = new TextEncoder().encode(json + ' '.repeat(padding));
    await expectRefused(join8(header, data, header.byteLength + 4), /header (is padded with|is not valid UTF-8)/);
  });

  it('bytes after the last tensor', async () => {
    const { json, padding, data } = split(good);
    const longer = new Uint8Array(data.byteLength + 8);
    longer.set(data);
    await expectRefused(build(json, longer, padding), /8 bytes of the \d+-byte data section belong to no tensor \(after tensor "head\.bias"\)/);
  });

  it('a data section with no tensor at all', async () => {
    await expectRefused(build('{}', new Uint8Array(16), 6), /16 bytes .* belong to no tensor \(and the header lists no tensor\)/);
  });

  it('a hole between two tensors', async () => {
    const header = headerOf(good);
    const { data } = split(good);
    // every tensor from lstm.weight_hh_l0 on moves 4 bytes later; 4 bytes of zeros fill the gap
    const [holeAt] = (header['lstm.weight_hh_l0'] as { data_offsets: [number, number] }).data_offsets;
    for (const entry of Object.values(header)) {
      const offsets = (entry as { data_offsets?: [number, number] }).data_offsets;
      if (offsets && offsets[0] >= holeAt) offsets.forEach((o, i) => (offsets[i] = o + 4));
    }
    const moved = new Uint8Array(data.byteLength + 4);
    moved.set(data.subarray(0, holeAt));
    moved.set(data.subarray(holeAt), holeAt + 4);
    await expectRefused(build(JSON.stringify(header), moved), new RegExp(`hole: bytes ${holeAt}\\.\\.${holeAt + 3} belong to no tensor \\(before "lstm\\.weight_hh_l0"\\)`));
  });

  it('two tensors whose bytes overlap', async () => {
    const header = headerOf(good);
    (header['head.bias'] as { data_offsets: [number, number] }).data_offsets = [0, 8];
    await expectRefused(build(JSON.stringify(header), split(good).data), /"lstm\.weight_ih_l0" and "head\.bias" overlap/);
  });

  it('a tensor name given twice (JSON.parse would keep the second silently)', async () => {
    const { json, data } = split(good);
    const entry = JSON.stringify(headerOf(good)['head.bias']);
    const twice = json.replace(/^\{/, `{"head.bias":${entry},`);
    await expectRefused(build(twice, data), /key "head\.bias" twice in the header/, /forbids duplicate keys/);
  });

  it('a key given twice inside one tensor\'s entry', async () => {
    const { json, data } = split(good);
    const twice = json.replace('"head.bias":{"dtype":"F32"', '"head.bias":{"dtype":"F32","dtype":"F16"');
    expect(twice).not.toBe(json);
    await expectRefused(build(twice, data), /key "dtype" twice in the entry of "head\.bias"/);
  });

  it('__metadata__ given twice', async () => {
    const { json, data } = split(good);
    await expectRefused(build(json.replace(/^\{/, '{"__metadata__":{"format":"pt"},'), data), /key "__metadata__" twice/);
  });

  it('a header that starts with a UTF-8 byte order mark', async () => {
    const { json, padding, data } = split(good);
    await expectRefused(build(`\uFEFF${json}`, data, padding), /byte order mark/, /start with "\{"/);
  });

  it('a header that starts with whitespace, or is padded with anything but spaces', async () => {
    const { json, data } = split(good);
    await expectRefused(build(` ${json}`, data), /header starts with " "; the format requires it to start with "\{"/);
    await expectRefused(build(`${json}\n\t`, data), /padded with "\\n" at byte \d+; only spaces may follow/);
  });

  it('a header that is not valid UTF-8', async () => {
    const { json, data } = split(good);
    const header = new TextEncoder().encode(json);
    const bad = new Uint8Array(header.byteLength + 2);
    bad.set(header);
    bad.set([0xc3, 0x28], header.byteLength); // a lead byte without its continuation
    await expectRefused(join8(bad, data), /header is not valid UTF-8/);
  });

  it('a dtype named after an Object property ("constructor") is an unknown dtype, not a crash', async () => {
    const header = headerOf(good);
    (header['head.bias'] as { dtype: string }).dtype = 'constructor';
    await expectRefused(build(JSON.stringify(header), split(good).data), /"head\.bias" has unsupported dtype "constructor"/);
  });
});
