// The `seqcast` entry of a safetensors file's __metadata__: configuration that
// tensor names and shapes cannot tell (docs/model-format.md is the contract).

import { ModelFormatError } from '../errors.js';
import type { Nonlinearity } from '../kernel/kernel.js';
import { checkPositional, legacyPositional, LIMITS, type ModelArch } from './layout.js';

/**
 * The newest version of the metadata JSON this code reads. Format 2 added `positional` and `nonlinearity`; seqcast
 * writes 2 only for a file a format-1 reader would run wrong (metadataFormatFor), else 1.
 */
export const METADATA_FORMAT = 2;

/**
 * The format version a file of `arch` needs: 2 when a format-1 reader would run it wrong (a positional scheme format 1
 * cannot say, or a relu rnn, which a format-1 reader takes for tanh), else 1.
 */
export function metadataFormatFor(arch: ModelArch): number {
  const a = arch.attention;
  return (a && a.positional !== legacyPositional(arch.kind)) || arch.nonlinearity === 'relu' ? 2 : 1;
}

/** Per-channel statistics: the model sees (x − mean) / std and its outputs are mapped back. */
export interface Normalizer {
  mean: number[];
  std: number[];
}

export interface SeqcastMetadata {
  format?: number;
  /** Input normalization for frame models, one entry per channel. */
  normalizer?: Normalizer;
  /** Characters of a char-level token model; token id k is the k-th character (code point). */
  vocab?: string;
  /** Names of the input channels, for CSV headers and dashboards. */
  channels?: string[];
  /** Frames that are images: [rows, cols], row-major, rows · cols = the input size (dashboards draw them). */
  shape?: number[];
  /** Attention models: what shapes cannot tell (docs/model-format.md). */
  kind?: 'recurrent' | 'transformer' | 'hybrid';
  heads?: number;
  window?: number;
  sinks?: number;
  /** An nn.RNN's activation, which its tensors cannot tell: "tanh" (the default) or "relu". */
  nonlinearity?: Nonlinearity;
  /** Attention models (format 2): "alibi", "sinusoidal" or "none"; absent: the kind's legacy scheme (layout.ts). */
  positional?: string;
  /** Anything else is kept as is and written back on save. */
  [key: string]: unknown;
}

/** Parses the `seqcast` metadata JSON and checks its format version (check the rest with validateMetadata once the model's shape is known). */
export function parseMetadata(text: string | undefined, source: string): SeqcastMetadata {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(`${source}: __metadata__.seqcast is not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelFormatError(`${source}: __metadata__.seqcast must be a JSON object`);
  }
  const meta = value as SeqcastMetadata;
  // first, so that a newer file is refused as newer, not for a key this version does not know
  if (meta.format !== undefined && !(Number.isInteger(meta.format) && meta.format >= 1 && meta.format <= METADATA_FORMAT)) {
    const newer = typeof meta.format === 'number' && meta.format > METADATA_FORMAT;
    throw new ModelFormatError(`${source}: seqcast metadata format ${JSON.stringify(meta.format)} is not supported (this version reads 1 to ${METADATA_FORMAT})${newer ? '; the file was written by a newer seqcast: upgrade to load it' : ''}`);
  }
  return meta;
}

/**
 * Throws ModelFormatError naming the first field that disagrees with the model or lies outside its limits
 * (docs/model-format.md, "Limits"). A key that is present must hold a value of its kind: `null` is no absence.
 * Runs before any kernel memory exists.
 */
export function validateMetadata(meta: SeqcastMetadata, arch: ModelArch, source: string): void {
  if (meta.kind !== undefined && meta.kind !== arch.kind) {
    throw new ModelFormatError(`${source}: seqcast metadata kind is ${JSON.stringify(meta.kind)}, but the model is a ${arch.kind} model`);
  }
  validateAttentionHints(meta, source);
  validatePositional(meta, arch, source);
  validateTarget(meta, arch, source);
  validateNonlinearity(meta, arch, source);
  if (meta.normalizer !== undefined) {
    if (arch.vocabSize > 0) throw new ModelFormatError(`${source}: a token model cannot carry a normalizer`);
    if (typeof meta.normalizer !== 'object' || meta.normalizer === null || Array.isArray(meta.normalizer)) {
      throw new ModelFormatError(`${source}: normalizer is ${JSON.stringify(meta.normalizer)}; expected {"mean": [...], "std": [...]}, one number per input channel each`);
    }
    const { mean, std } = meta.normalizer;
    for (const [field, values] of [['mean', mean], ['std', std]] as const) {
      if (!Array.isArray(values) || values.length !== arch.inputSize) {
        throw new ModelFormatError(`${source}: normalizer.${field} must hold ${arch.inputSize} numbers, one per input channel`);
      }
      values.forEach((v, i) => {
        // the normalizer is applied in float32: a value that overflows or (std) underflows there is as bad as Infinity or 0
        if (typeof v !== 'number' || !Number.isFinite(Math.fround(v)) || (field === 'std' && Math.fround(v) <= 0)) {
          throw new ModelFormatError(`${source}: normalizer.${field}[${i}] is ${JSON.stringify(v)}; expected a finite number${field === 'std' ? ' above 0' : ''}`);
        }
      });
    }
  }
  if (meta.vocab !== undefined) {
    if (typeof meta.vocab !== 'string') throw new ModelFormatError(`${source}: vocab must be a string of characters`);
    const size = Array.from(meta.vocab).length;
    if (size !== arch.vocabSize) {
      throw new ModelFormatError(`${source}: vocab has ${size} characters but embed.weight has ${arch.vocabSize} rows`);
    }
  }
  if (meta.channels !== undefined) {
    if (!Array.isArray(meta.channels) || meta.channels.length !== arch.inputSize || !meta.channels.every((c) => typeof c === 'string')) {
      throw new ModelFormatError(`${source}: channels must be ${arch.inputSize} strings, one per input channel`);
    }
  }
  if (meta.shape !== undefined) {
    if (arch.vocabSize > 0) throw new ModelFormatError(`${source}: a token model cannot carry an image shape`);
    const shape = meta.shape;
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((n) => Number.isInteger(n) && (n as number) > 0) || shape[0] * shape[1] !== arch.inputSize) {
      throw new ModelFormatError(`${source}: shape is ${JSON.stringify(shape)}; expected [rows, cols], two positive integers whose product is the input size ${arch.inputSize}`);
    }
  }
}

/** `target`, which the library acts on (docs/model-format.md, "What the outputs are"): a delta model's outputs are changes of its inputs. */
function validateTarget(meta: SeqcastMetadata, arch: ModelArch, source: string): void {
  const target = meta.target;
  if (target === undefined) return;
  if (target !== 'next' && target !== 'value' && target !== 'delta' && target !== 'label') {
    throw new ModelFormatError(`${source}: seqcast metadata "target" is ${JSON.stringify(target)}; expected "next", "value", "delta" or "label"`);
  }
  const outputs = arch.headSize > 0 ? arch.headSize : (arch.attention?.width ?? arch.hiddenSize);
  if (target === 'delta' && (arch.vocabSize > 0 || outputs !== arch.inputSize)) {
    throw new ModelFormatError(`${source}: target "delta" predicts the change of each input, so it needs a frame model with as many outputs as inputs; this one ${arch.vocabSize > 0 ? 'takes token ids' : `outputs ${outputs} values for ${arch.inputSize} inputs`}`);
  }
}

/** `nonlinearity`, nn.RNN's activation: "tanh" or "relu", on a model whose cell is an rnn. */
function validateNonlinearity(meta: SeqcastMetadata, arch: ModelArch, source: string): void {
  const value = meta.nonlinearity;
  if (value === undefined) return;
  if (value !== 'tanh' && value !== 'relu') {
    throw new ModelFormatError(`${source}: seqcast metadata "nonlinearity" is ${JSON.stringify(value)}; expected "tanh" or "relu" (nn.RNN's nonlinearity)`);
  }
  if (arch.cell !== 'rnn') {
    const cell = arch.cell === undefined ? 'a transformer has no recurrent cell' : `this model's cell is ${arch.cell}`;
    throw new ModelFormatError(`${source}: seqcast metadata "nonlinearity" is ${JSON.stringify(value)}, which applies to an rnn cell (nn.RNN) only; ${cell}`);
  }
}

/** The architecture with the activation the (validated) metadata names; unchanged for tanh or no key. */
export function withNonlinearity(arch: ModelArch, meta: SeqcastMetadata): ModelArch {
  return meta.nonlinearity === 'relu' ? { ...arch, nonlinearity: 'relu' } : arch;
}

/**
 * `positional`, when present: a known scheme (an attention model's was read, and checked, by inferArch or the
 * spec; a recurrent model's is kept and written back), and the model's own.
 */
function validatePositional(meta: SeqcastMetadata, arch: ModelArch, source: string): void {
  if (meta.positional === undefined) return;
  const what = `${source}: seqcast metadata "positional"`;
  if (!arch.attention) {
    checkPositional(meta.positional, 'transformer', what);
  } else if (meta.positional !== arch.attention.positional) {
    throw new ModelFormatError(`${what} is ${JSON.stringify(meta.positional)}, but the model's attention uses "${arch.attention.positional}"`);
  }
}

/** Limits of `heads`, `window` and `sinks` (any model that carries them: they are written back on save). */
const HINT_RANGES = { heads: [1, Infinity], window: [1, LIMITS.window], sinks: [0, LIMITS.sinks] } as const;

/** `heads`, `window` and `sinks`, when present, are integers within their limits (inferArch reads them for attention models). */
function validateAttentionHints(meta: SeqcastMetadata, source: string): void {
  for (const [key, [low, high]] of Object.entries(HINT_RANGES)) {
    const value = meta[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
      const range = high === Infinity ? `an integer of at least ${low}` : `an integer from ${low} to ${high}`;
      throw new ModelFormatError(`${source}: seqcast metadata "${key}" is ${JSON.stringify(value)}; expected ${range}`);
    }
  }
}
