// From a model file or a ModelSpec to what a Model is built from: the architecture, the metadata and the
// initial tensors (safetensors → arch; spec → arch and PyTorch's seeded initialisation). No kernel here.

import { readFile } from 'node:fs/promises';
import { ModelFormatError } from '../errors.js';
import type { AttentionArch, CellKind, ModelKind, Nonlinearity, PositionalScheme } from '../kernel/kernel.js';
import { initTensor, seededRandom } from '../model/init.js';
import { DEFAULT_POSITIONAL, inferArch, parameterLayout, validateArch, type ModelArch } from '../model/layout.js';
import { parseMetadata, validateMetadata, withNonlinearity, type SeqcastMetadata } from '../model/metadata.js';
import { readSafetensors } from '../model/safetensors.js';

/** What `createModel` needs: the architecture, plus optional seed and metadata. */
export interface ModelSpec {
  /** 'recurrent' (default), 'transformer' or 'hybrid'. */
  kind?: ModelKind;
  /** The recurrent cell (recurrent and hybrid models). */
  cell?: CellKind;
  /** An rnn cell's activation, as nn.RNN's `nonlinearity`: 'tanh' (default) or 'relu'; recorded in the metadata. */
  nonlinearity?: Nonlinearity;
  /** Frame width X (frame models). */
  inputSize?: number;
  /** Vocabulary size V (token models; input is a token id through an embedding). */
  vocabSize?: number;
  /** Embedding width E for recurrent token models; default = hiddenSize. */
  embedSize?: number;
  /** H (recurrent and hybrid). */
  hiddenSize?: number;
  /** Stacked recurrent layers; default 1. */
  layers?: number;
  /** Transformer residual width D (a hybrid's is H). */
  width?: number;
  /** Attention heads (must divide D). */
  heads?: number;
  /** MLP inner width; default 4·D. */
  mlpSize?: number;
  /** Attention blocks; default 1. */
  blocks?: number;
  /** Positions each step attends to, itself included. */
  window?: number;
  /** The stream's first positions kept forever (StreamingLLM sinks); default 0. */
  sinks?: number;
  /**
   * How attention knows order (docs/model-format.md, "Positions"): `alibi`, the default (a bias by each key's offset
   * inside the cache: any stream position behaves as the trained ones), `sinusoidal` (a transformer's absolute
   * encoding, as files before metadata format 2) or `none`.
   */
  positional?: PositionalScheme;
  /** Head outputs; default inputSize (frames, so forecast works) or vocabSize (tokens); 0 for no head. */
  outputSize?: number;
  /** Seed for the PyTorch-style initialisation; default 0. */
  seed?: number;
  metadata?: SeqcastMetadata;
}

/** A model as its parts: architecture, metadata, and every parameter tensor by name. */
export interface ModelParts {
  arch: ModelArch;
  metadata: SeqcastMetadata;
  tensors: Map<string, ArrayLike<number>>;
}

/** The bytes of a model file (a path) or the bytes themselves, with the name messages use for them. */
export async function readModelBytes(pathOrBytes: string | Uint8Array): Promise<{ bytes: Uint8Array; source: string }> {
  if (typeof pathOrBytes !== 'string') return { bytes: pathOrBytes, source: '<model bytes>' };
  try {
    return { bytes: await readFile(pathOrBytes), source: pathOrBytes };
  } catch (err) {
    throw new ModelFormatError(`cannot read model file ${pathOrBytes}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Safetensors bytes → a model's parts, every fault a ModelFormatError naming `source`. */
export function partsFromSafetensors(bytes: Uint8Array, source: string): ModelParts {
  const file = readSafetensors(bytes, source);
  const shapes = new Map([...file.tensors].map(([name, t]) => [name, t.shape]));
  const metadata = parseMetadata(file.metadata.seqcast, source);
  const arch = inferArch(shapes, source, metadata);
  validateMetadata(metadata, arch, source);
  for (const [name, { data }] of file.tensors) {
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new ModelFormatError(`${source}: tensor "${name}" element ${bad} is ${data[bad]}; weights must be finite`);
  }
  return { arch: withNonlinearity(arch, metadata), metadata, tensors: new Map([...file.tensors].map(([name, t]) => [name, t.data])) };
}

/** A ModelSpec → the architecture it describes and its metadata (checked). */
export function archFromSpec(spec: ModelSpec): { arch: ModelArch; metadata: SeqcastMetadata } {
  const kind = spec.kind ?? 'recurrent';
  const tokens = spec.vocabSize !== undefined && spec.vocabSize > 0;
  if (!tokens && spec.inputSize === undefined) throw new ModelFormatError('a model spec needs inputSize (frames) or vocabSize (tokens)');
  const width = kind === 'hybrid' ? spec.hiddenSize : spec.width;
  const attention: AttentionArch | undefined = kind === 'recurrent' ? undefined : {
    width: width ?? NaN,
    heads: spec.heads ?? NaN,
    mlpSize: spec.mlpSize ?? 4 * (width ?? NaN),
    blocks: spec.blocks ?? 1,
    window: spec.window ?? NaN,
    sinks: spec.sinks ?? 0,
    // a spec built from a loaded model's metadata keeps that model's scheme
    positional: (spec.positional ?? spec.metadata?.positional ?? DEFAULT_POSITIONAL) as PositionalScheme,
  };
  const recurrent = kind !== 'transformer';
  const headInput = attention ? attention.width : spec.hiddenSize;
  const arch: ModelArch = {
    kind,
    cell: recurrent ? spec.cell : undefined,
    layers: recurrent ? (spec.layers ?? 1) : 0,
    inputSize: tokens ? (kind === 'transformer' ? (width ?? NaN) : (spec.embedSize ?? spec.hiddenSize ?? NaN)) : spec.inputSize!,
    vocabSize: tokens ? spec.vocabSize! : 0,
    hiddenSize: recurrent ? (spec.hiddenSize ?? NaN) : 0,
    headSize: spec.outputSize ?? (tokens ? spec.vocabSize! : spec.inputSize!),
    attention,
    naming: 'module',
  };
  if (headInput === undefined) throw new ModelFormatError(`a ${kind} model spec needs ${kind === 'transformer' ? 'width' : 'hiddenSize'}`);
  validateArch(arch);
  const given = spec.metadata?.nonlinearity;
  if (spec.nonlinearity !== undefined && given !== undefined && given !== spec.nonlinearity) {
    throw new ModelFormatError(`model spec: nonlinearity ${JSON.stringify(spec.nonlinearity)} disagrees with its metadata's ${JSON.stringify(given)}`);
  }
  const metadata = { ...(spec.metadata ?? {}), ...(spec.nonlinearity !== undefined ? { nonlinearity: spec.nonlinearity } : {}) };
  validateMetadata(metadata, arch, 'model spec');
  return { arch: withNonlinearity(arch, metadata), metadata };
}

/** A ModelSpec → a model's parts, initialised as PyTorch does (seeded by spec.seed, default 0). */
export function partsFromSpec(spec: ModelSpec): ModelParts {
  const { arch, metadata } = archFromSpec(spec);
  const random = seededRandom(spec.seed ?? 0);
  // in state_dict order: the random draws follow the layout
  const tensors = new Map(parameterLayout(arch).map((tensor) => [tensor.name, initTensor(tensor, arch, random)] as const));
  return { arch, metadata, tensors };
}
