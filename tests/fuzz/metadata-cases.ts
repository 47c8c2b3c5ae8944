// Fuzz cases for the seqcast metadata: a valid file of each model kind with its `seqcast` metadata replaced by a
// generated one, every known key given a value of any kind (sizes of 1e9, 2³² + 4, 1e300, −0, null, strings,
// arrays of the wrong length, nested objects) and unknown keys besides.

import { createModel, readSafetensors, type ModelSpec } from '../../src/index.js';
import { decodeParts, encodeParts, HOSTILE_NUMBERS, HOSTILE_VALUES } from './safetensors-cases.js';
import type { Random } from './random.js';

/** A base model: its file without metadata, and the sizes its metadata may refer to. */
export interface MetadataBase {
  file: Uint8Array;
  inputSize: number;
  vocabSize: number;
  attention: { heads: number; window: number; sinks: number } | undefined;
  kind: string;
}

const BASES: ModelSpec[] = [
  { cell: 'lstm', inputSize: 2, hiddenSize: 3, seed: 11 },
  { cell: 'gru', vocabSize: 4, hiddenSize: 2, seed: 12 },
  { kind: 'transformer', inputSize: 4, width: 8, heads: 2, window: 4, seed: 13 },
  { kind: 'hybrid', cell: 'gru', inputSize: 2, hiddenSize: 4, heads: 4, window: 2, sinks: 1, seed: 14 },
];

/** The base models, one per kind (recurrent frames, recurrent tokens, transformer, hybrid). */
export async function metadataBases(): Promise<MetadataBase[]> {
  const bases: MetadataBase[] = [];
  for (const spec of BASES) {
    const model = await createModel(spec);
    const file = model.toSafetensors();
    const a = model.arch.attention;
    bases.push({
      file,
      inputSize: model.arch.inputSize,
      vocabSize: model.arch.vocabSize,
      attention: a && { heads: a.heads, window: a.window, sinks: a.sinks },
      kind: model.arch.kind,
    });
    model.close();
    readSafetensors(file, 'base'); // the base itself is valid
  }
  return bases;
}

/** A value for a size key: often right, often hostile. */
function size(random: Random, right: number | undefined): unknown {
  if (right !== undefined && random.chance(0.5)) return random.chance(0.8) ? right : right + random.pick([-1, 1, 2 ** 32]);
  return random.chance(0.8) ? random.pick(HOSTILE_NUMBERS) : random.pick(HOSTILE_VALUES);
}

/** An array of `length` (± 1 sometimes) values drawn by `value`. */
function array(random: Random, length: number, value: () => unknown): unknown[] {
  const n = random.chance(0.8) ? length : Math.max(0, length + random.pick([-1, 1, 5]));
  return Array.from({ length: n }, value);
}

function number(random: Random): unknown {
  return random.chance(0.7) ? random.pick([0, 1, -1, 0.5, 87.17, 11.71, 1e-30, 1e-46, 3.4e38, 3.5e38, -3.5e38, 1e300]) : random.pick(HOSTILE_VALUES);
}

/** A generated `seqcast` metadata object for `base`. */
export function metadataValue(random: Random, base: MetadataBase): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  const maybe = (key: string, p: number, value: () => unknown) => {
    // defineProperty: a key such as "__proto__" becomes a key, as JSON.parse would make it
    if (random.chance(p)) Object.defineProperty(meta, key, { value: value(), enumerable: true, writable: true, configurable: true });
  };
  maybe('format', 0.5, () => (random.chance(0.7) ? 1 : random.pick(HOSTILE_VALUES)));
  maybe('kind', base.attention ? 0.9 : 0.3, () => (random.chance(0.7) ? base.kind : random.pick(['recurrent', 'transformer', 'hybrid', 'Transformer', ...HOSTILE_VALUES])));
  const a = base.attention;
  // an attention model needs heads and window: give them most of the time
  maybe('heads', a ? 0.95 : 0.2, () => size(random, a?.heads));
  maybe('window', a ? 0.95 : 0.2, () => size(random, a?.window));
  maybe('sinks', a ? 0.6 : 0.2, () => size(random, a?.sinks));
  maybe('normalizer', 0.4, () =>
    random.chance(0.1)
      ? random.pick(HOSTILE_VALUES)
      : { mean: random.chance(0.9) ? array(random, base.inputSize, () => number(random)) : random.pick(HOSTILE_VALUES), std: random.chance(0.9) ? array(random, base.inputSize, () => number(random)) : random.pick(HOSTILE_VALUES) },
  );
  maybe('channels', 0.3, () => (random.chance(0.9) ? array(random, base.inputSize, () => (random.chance(0.9) ? `c${random.int(9)}` : random.pick(HOSTILE_VALUES))) : random.pick(HOSTILE_VALUES)));
  maybe('shape', 0.3, () => (random.chance(0.6) ? [1, base.inputSize] : random.chance(0.5) ? [size(random, 2), size(random, 2)] : random.pick(HOSTILE_VALUES)));
  maybe('vocab', base.vocabSize > 0 ? 0.5 : 0.1, () => (random.chance(0.7) ? 'abcdefghij'.slice(0, base.vocabSize + random.pick([0, 0, 0, 1, -1])) : random.pick(HOSTILE_VALUES)));
  maybe('target', 0.2, () => random.pick(['delta', 'value', 'next', ...HOSTILE_VALUES]));
  maybe('training', 0.1, () => ({ lr: random.pick(HOSTILE_VALUES), steps: random.pick(HOSTILE_NUMBERS) }));
  maybe(random.pick(['__proto__', 'constructor', 'toString', 'x', '']), 0.1, () => random.pick(HOSTILE_VALUES));
  return meta;
}

/** The metadata `base` was written with, every key right: the starting point of the cases that change one or two keys. */
function validMetadata(base: MetadataBase): Record<string, unknown> {
  return {
    format: 1,
    kind: base.kind,
    ...(base.attention ?? {}),
    ...(base.vocabSize > 0 ? { vocab: 'abcdefghij'.slice(0, base.vocabSize) } : { normalizer: { mean: new Array(base.inputSize).fill(1), std: new Array(base.inputSize).fill(2) } }),
  };
}

/**
 * A case: a base file with generated metadata. Most change one or two keys of valid metadata to a hostile value, so
 * that each check is reached with everything else right; the others are generated whole (now and then not JSON).
 */
export function metadataCase(random: Random, bases: MetadataBase[]): Uint8Array {
  const base = random.pick(bases);
  const parts = decodeParts(base.file);
  let value: Record<string, unknown>;
  if (random.chance(0.6)) {
    value = validMetadata(base);
    const generated = metadataValue(random, base);
    for (let k = 1 + random.int(2); k > 0; k--) {
      const key = random.pick(['format', 'kind', 'heads', 'window', 'sinks', 'normalizer', 'vocab', 'channels', 'shape']);
      Object.defineProperty(value, key, { value: key in generated ? generated[key] : random.pick(HOSTILE_VALUES), enumerable: true, writable: true, configurable: true });
    }
  } else {
    value = metadataValue(random, base);
  }
  const text = random.chance(0.03) ? random.pick(['', 'null', '[]', '42', '"x"', '{', '{"window": 4,}']) : JSON.stringify(value);
  parts.entries = parts.entries.map(([name, value]) => (name === '__metadata__' ? [name, { ...(value as object), seqcast: text }] : [name, value]));
  return encodeParts(parts);
}
