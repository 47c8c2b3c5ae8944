// Every number in a model file's seqcast metadata is checked against its stated limit (docs/model-format.md,
// "Limits") before the kernel allocates anything: a window or sinks of 1e9, 2³² + 4 (which 32-bit arithmetic would
// wrap to 4), 1e300, null where an object belongs. Each is a ModelFormatError naming the file and the key, on real files.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, loadModel, ModelFormatError, readSafetensors, writeSafetensors, type ModelSpec } from '../../src/index.js';
import { LIMITS } from '../../src/model/layout.js';

const TRANSFORMER: ModelSpec = { kind: 'transformer', inputSize: 2, width: 8, heads: 2, window: 4, seed: 3 };
const RECURRENT: ModelSpec = { cell: 'gru', inputSize: 2, hiddenSize: 3, seed: 3 };

let dir: string;
/** Each spec's tensors and its metadata as seqcast writes them. */
const saved = new Map<ModelSpec, { tensors: { name: string; shape: number[]; data: Float32Array }[]; meta: Record<string, unknown> }>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqcast-limits-'));
  for (const spec of [TRANSFORMER, RECURRENT]) {
    const model = await createModel(spec);
    const file = readSafetensors(model.toSafetensors(), 'saved');
    saved.set(spec, { tensors: [...file.tensors].map(([name, t]) => ({ name, ...t })), meta: JSON.parse(file.metadata.seqcast) });
    model.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** Writes the model of `spec` with `change` merged into its seqcast metadata; returns the path. */
function fileWith(spec: ModelSpec, change: Record<string, unknown>): string {
  const { tensors, meta } = saved.get(spec)!;
  const path = join(dir, `limits-${++counter}.safetensors`);
  writeFileSync(path, writeSafetensors(tensors, { seqcast: JSON.stringify({ ...meta, ...change }) }));
  return path;
}

async function expectRefused(path: string, pattern: RegExp): Promise<void> {
  const error = await loadModel(path).then((model) => (model.close(), undefined), (err: unknown) => err);
  expect(error, `${path} should be refused`).toBeInstanceOf(ModelFormatError);
  expect((error as Error).message).toContain(path);
  expect((error as Error).message).toMatch(pattern);
}

describe('seqcast metadata numbers are checked against their limits before anything is allocated', () => {
  it('(setup) the files as written load', async () => {
    for (const spec of [TRANSFORMER, RECURRENT]) (await loadModel(fileWith(spec, {}))).close();
  });

  it('a window of 1e9 (3.9 GB of caches) is refused, not attempted', async () => {
    await expectRefused(fileWith(TRANSFORMER, { window: 1e9 }), /window 1000000000 is above the limit of 65536 positions/);
  });

  it('sinks of 1e9 are refused', async () => {
    await expectRefused(fileWith(TRANSFORMER, { sinks: 1e9 }), /sinks 1000000000 is above the limit of 65536/);
  });

  it('a window of 2³² + 4 is refused, not wrapped to a window of 4', async () => {
    await expectRefused(fileWith(TRANSFORMER, { window: 2 ** 32 + 4 }), /window 4294967300 is above the limit/);
    await expectRefused(fileWith(TRANSFORMER, { window: 2 ** 31 }), /window 2147483648 is above the limit/);
  });

  it('sinks of 1e300 are refused, not read as 0', async () => {
    await expectRefused(fileWith(TRANSFORMER, { sinks: 1e300 }), /sinks 1e\+300 is above the limit/);
  });

  it('a window or sinks that is not an integer, or below its minimum', async () => {
    await expectRefused(fileWith(TRANSFORMER, { window: 4.5 }), /"window" must be an integer, got 4\.5/);
    await expectRefused(fileWith(TRANSFORMER, { window: null }), /"window" must be an integer, got null/);
    await expectRefused(fileWith(TRANSFORMER, { window: 0 }), /window must be an integer of at least 1, got 0/);
    await expectRefused(fileWith(TRANSFORMER, { sinks: -1 }), /sinks must be an integer of at least 0, got -1/);
  });

  it('the window limit is inclusive: 65536 positions load and step', async () => {
    const model = await loadModel(fileWith(TRANSFORMER, { window: LIMITS.window }));
    expect(model.arch.attention!.window).toBe(65_536);
    expect(model.openStream().step([1, 2]).every(Number.isFinite)).toBe(true);
    model.close();
  });

  it('attention caches above 2²⁵ floats per stream are refused, for a spec as for a file', async () => {
    // 2 · 1 block · (65536 + 1) · 256 floats > 2²⁵
    await expect(createModel({ kind: 'transformer', inputSize: 2, width: 256, heads: 4, window: 65_536, sinks: 1 })).rejects.toThrow(
      /attention caches would hold 33554944 floats .* above the limit of 33554432/,
    );
    await expect(createModel({ kind: 'transformer', inputSize: 2, width: 8, heads: 2, window: 1e9 })).rejects.toBeInstanceOf(ModelFormatError);
  });

  it('normalizer: null (or any non-object) is refused with a ModelFormatError, not a TypeError', async () => {
    await expectRefused(fileWith(RECURRENT, { normalizer: null }), /normalizer is null; expected \{"mean": \[\.\.\.\], "std": \[\.\.\.\]\}/);
    await expectRefused(fileWith(RECURRENT, { normalizer: [1, 2] }), /normalizer is \[1,2\]/);
    await expectRefused(fileWith(RECURRENT, { normalizer: 'z-score' }), /normalizer is "z-score"/);
    await expect(createModel({ ...RECURRENT, metadata: { normalizer: null as never } })).rejects.toBeInstanceOf(ModelFormatError);
  });

  it('kind: null is refused, not taken for an absent kind', async () => {
    await expectRefused(fileWith(TRANSFORMER, { kind: null }), /metadata kind is null, but the model is a transformer model/);
    await expectRefused(fileWith(RECURRENT, { kind: 'transformer' }), /kind/);
  });

  it('a recurrent model\'s attention keys must be within their limits too (they are written back on save)', async () => {
    await expectRefused(fileWith(RECURRENT, { window: 1e9 }), /"window" is 1000000000; expected an integer from 1 to 65536/);
    await expectRefused(fileWith(RECURRENT, { sinks: 1e300 }), /"sinks" is 1e\+300; expected an integer from 0 to 65536/);
    await expectRefused(fileWith(RECURRENT, { heads: 'four' }), /"heads" is "four"; expected an integer of at least 1/);
  });

  it('a heads count of 1e300 is refused by its divisibility, naming the width', async () => {
    await expectRefused(fileWith(TRANSFORMER, { heads: 1e300 }), /heads = 1e\+300 does not divide the model width D = 8/);
  });
});
