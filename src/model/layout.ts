// Model architecture and its parameters by PyTorch state_dict name: the one
// place that knows which tensors a model has, their shapes and their order.

import { ModelFormatError } from '../errors.js';
import type { AttentionArch, CellKind, KernelArch, ModelKind, PositionalScheme } from '../kernel/kernel.js';

/**
 * The shape of a model: recurrent ([embed] → RNN/LSTM/GRU → [head]),
 * transformer (embed | proj_in + PE → blocks → ln_f → [head]) or hybrid
 * ([embed] → recurrent stack → blocks over its top h → ln_f → [head]).
 */
export interface ModelArch extends KernelArch {
  /**
   * `module`: names of a composite module (`embed.`, `lstm.`, `blocks.0.`, `head.` prefixes).
   * `bare`: a plain nn.RNN / nn.LSTM / nn.GRU's own names (`weight_ih_l0`, ...).
   */
  naming: 'module' | 'bare';
}

/** What shapes cannot tell about attention, from the `seqcast` metadata. */
export interface AttentionHints {
  kind?: unknown;
  heads?: unknown;
  window?: unknown;
  sinks?: unknown;
  positional?: unknown;
}

export interface TensorSpec {
  name: string;
  shape: number[];
}

/** Gate blocks per cell: LSTM i,f,g,o; GRU r,z,n; RNN one. */
export const GATES: Record<CellKind, number> = { rnn: 1, lstm: 4, gru: 3 };

const CELLS: CellKind[] = ['rnn', 'lstm', 'gru'];

/** Every parameter of `arch` in kernel order (docs/abi.md, PARAMETER ORDER). */
export function parameterLayout(arch: ModelArch): TensorSpec[] {
  const layout: TensorSpec[] = [];
  const prefix = arch.naming === 'bare' ? '' : `${arch.cell}.`;
  const rows = arch.cell ? GATES[arch.cell] * arch.hiddenSize : 0;
  const a = arch.attention;
  if (arch.vocabSize > 0) layout.push({ name: 'embed.weight', shape: [arch.vocabSize, arch.inputSize] });
  if (arch.kind === 'transformer' && arch.vocabSize === 0) {
    layout.push({ name: 'proj_in.weight', shape: [a!.width, arch.inputSize] }, { name: 'proj_in.bias', shape: [a!.width] });
  }
  for (let l = 0; l < arch.layers; l++) {
    layout.push(
      { name: `${prefix}weight_ih_l${l}`, shape: [rows, l === 0 ? arch.inputSize : arch.hiddenSize] },
      { name: `${prefix}weight_hh_l${l}`, shape: [rows, arch.hiddenSize] },
      { name: `${prefix}bias_ih_l${l}`, shape: [rows] },
      { name: `${prefix}bias_hh_l${l}`, shape: [rows] },
    );
  }
  if (a) {
    const d = a.width;
    for (let i = 0; i < a.blocks; i++) {
      const p = `blocks.${i}.`;
      layout.push(
        { name: `${p}ln1.weight`, shape: [d] }, { name: `${p}ln1.bias`, shape: [d] },
        { name: `${p}attn.in_proj_weight`, shape: [3 * d, d] }, { name: `${p}attn.in_proj_bias`, shape: [3 * d] },
        { name: `${p}attn.out_proj.weight`, shape: [d, d] }, { name: `${p}attn.out_proj.bias`, shape: [d] },
        { name: `${p}ln2.weight`, shape: [d] }, { name: `${p}ln2.bias`, shape: [d] },
        { name: `${p}fc1.weight`, shape: [a.mlpSize, d] }, { name: `${p}fc1.bias`, shape: [a.mlpSize] },
        { name: `${p}fc2.weight`, shape: [d, a.mlpSize] }, { name: `${p}fc2.bias`, shape: [d] },
      );
    }
    layout.push({ name: 'ln_f.weight', shape: [d] }, { name: 'ln_f.bias', shape: [d] });
  }
  if (arch.headSize > 0) {
    layout.push({ name: 'head.weight', shape: [arch.headSize, outputSource(arch)] }, { name: 'head.bias', shape: [arch.headSize] });
  }
  return layout;
}

/** Width of what the head reads: the top h, or the attention blocks' residual. */
export function outputSource(arch: KernelArch): number {
  return arch.attention ? arch.attention.width : arch.hiddenSize;
}

/** Checks a hand-written architecture; throws ModelFormatError naming the bad field. */
export function validateArch(arch: ModelArch, source = 'model spec'): void {
  if (!KINDS.includes(arch.kind)) throw new ModelFormatError(`${source}: kind "${arch.kind}" is not one of ${KINDS.join(', ')}`);
  if (arch.kind !== 'transformer' && !CELLS.includes(arch.cell!)) {
    throw new ModelFormatError(`${source}: cell "${arch.cell}" is not one of ${CELLS.join(', ')}`);
  }
  const positive: [string, number][] = [['inputSize', arch.inputSize]];
  if (arch.kind !== 'transformer') positive.push(['layers', arch.layers], ['hiddenSize', arch.hiddenSize]);
  if (arch.kind !== 'recurrent') {
    const a = arch.attention;
    if (!a) throw new ModelFormatError(`${source}: a ${arch.kind} model needs attention settings`);
    positive.push(['width', a.width], ['heads', a.heads], ['mlpSize', a.mlpSize], ['blocks', a.blocks], ['window', a.window]);
    validateAttention(a, source);
    checkPositional(a.positional, arch.kind, `${source}: positional`);
  }
  for (const [field, value] of positive) {
    if (!Number.isInteger(value) || value < 1) throw new ModelFormatError(`${field} must be a positive integer, got ${value}`);
  }
  for (const [field, value] of [['vocabSize', arch.vocabSize], ['headSize', arch.headSize]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new ModelFormatError(`${field} must be a non-negative integer, got ${value}`);
  }
  if (arch.naming === 'bare' && (arch.vocabSize > 0 || arch.headSize > 0)) {
    throw new ModelFormatError('a bare recurrent module has no embedding and no head');
  }
}

/**
 * Limits on what a model file or spec may ask of the kernel (docs/model-format.md, "Limits"): checked before
 * anything is allocated, so that a number from a file can neither wrap in the kernel's 32-bit arithmetic
 * (2³² + 4 would be a window of 4) nor ask for gigabytes per stream.
 */
export const LIMITS = {
  /** W, positions each step attends to besides the sinks, itself included. */
  window: 65_536,
  /** S, the stream's first positions kept forever. */
  sinks: 65_536,
  /** Floats of one stream's attention caches, 2 · blocks · (S + W) · D: 2²⁵ floats = 128 MiB. */
  attentionCacheFloats: 2 ** 25,
} as const;

/** Floats of one stream's attention caches: keys and values, (S + W) × D per block. */
export function attentionCacheFloats(a: AttentionArch): number {
  return 2 * a.blocks * (a.sinks + a.window) * a.width;
}

/**
 * Refuses heads that do not divide D, a window outside 1..LIMITS.window, sinks outside 0..LIMITS.sinks, and
 * attention caches above LIMITS.attentionCacheFloats per stream, naming the value.
 */
export function validateAttention(a: AttentionArch, source: string): void {
  for (const [field, value] of [['width', a.width], ['mlpSize', a.mlpSize], ['blocks', a.blocks]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ModelFormatError(`${source}: ${field} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(a.heads) || a.heads < 1) throw new ModelFormatError(`${source}: heads must be a positive integer, got ${a.heads}`);
  if (a.width % a.heads !== 0) throw new ModelFormatError(`${source}: heads = ${a.heads} does not divide the model width D = ${a.width}`);
  if (!Number.isInteger(a.window) || a.window < 1) throw new ModelFormatError(`${source}: window must be an integer of at least 1, got ${a.window}`);
  if (a.window > LIMITS.window) throw new ModelFormatError(`${source}: window ${a.window} is above the limit of ${LIMITS.window} positions`);
  if (!Number.isInteger(a.sinks) || a.sinks < 0) throw new ModelFormatError(`${source}: sinks must be an integer of at least 0, got ${a.sinks}`);
  if (a.sinks > LIMITS.sinks) throw new ModelFormatError(`${source}: sinks ${a.sinks} is above the limit of ${LIMITS.sinks} positions`);
  const cache = attentionCacheFloats(a);
  if (cache > LIMITS.attentionCacheFloats) {
    throw new ModelFormatError(
      `${source}: a stream's attention caches would hold ${cache} floats (2 · ${a.blocks} blocks · (${a.sinks} sinks + window ${a.window}) · D ${a.width}), above the limit of ${LIMITS.attentionCacheFloats} (128 MiB); use a smaller window`,
    );
  }
}

const KINDS: ModelKind[] = ['recurrent', 'transformer', 'hybrid'];

/** The positional schemes this version knows (docs/model-format.md, "Positions"). */
export const POSITIONAL_SCHEMES: readonly PositionalScheme[] = ['alibi', 'sinusoidal', 'none'];

/** A new attention model's scheme when its spec or `seqcast train` names none: attention by in-cache offset. */
export const DEFAULT_POSITIONAL: PositionalScheme = 'alibi';

/** What a file that names no scheme means (every file before metadata format 2): a transformer's absolute sinusoidal encoding, a hybrid's none. */
export function legacyPositional(kind: ModelKind): PositionalScheme {
  return kind === 'transformer' ? 'sinusoidal' : 'none';
}

/**
 * Checks `value` as the positional scheme of a `kind` model; `what` names it in messages (`seqcast metadata
 * "positional"`, or a spec's `positional`). A hybrid has no absolute encoding to keep, so it takes alibi or none.
 */
export function checkPositional(value: unknown, kind: ModelKind, what: string): PositionalScheme {
  if (typeof value !== 'string' || !(POSITIONAL_SCHEMES as readonly string[]).includes(value)) {
    throw new ModelFormatError(`${what} is ${JSON.stringify(value)}; this version knows ${POSITIONAL_SCHEMES.map((s) => `"${s}"`).join(', ')} (a newer seqcast may read it)`);
  }
  if (value === 'sinusoidal' && kind === 'hybrid') {
    throw new ModelFormatError(`${what} is "sinusoidal", but a hybrid's attention has no absolute positional encoding; use "alibi" or "none"`);
  }
  return value as PositionalScheme;
}

const RECURRENT_NAME = /^(?:(rnn|lstm|gru)\.)?(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)$/;
/** The backward direction of a bidirectional nn.RNN / nn.LSTM / nn.GRU (bidirectional=True). */
const REVERSE_NAME = /^(?:(rnn|lstm|gru)\.)?(?:weight_ih|weight_hh|bias_ih|bias_hh)_l\d+_reverse$/;
const BLOCK_NAME = /^blocks\.(\d+)\./;

/**
 * Infers the architecture from state_dict names and shapes (plus, for
 * attention models, the metadata's kind, heads, window, sinks and positional scheme), then checks
 * that the tensors are exactly the ones that architecture has, with the right
 * shapes. `source` names the file in messages.
 */
export function inferArch(shapes: Map<string, number[]>, source: string, hints: AttentionHints = {}): ModelArch {
  refuseBidirectional(shapes, source);
  const recurrent = inferRecurrent(shapes, source);
  const blockIndices = new Set<number>();
  for (const name of shapes.keys()) {
    const match = BLOCK_NAME.exec(name);
    if (match) blockIndices.add(Number(match[1]));
  }
  const hasAttention = blockIndices.size > 0 || shapes.has('ln_f.weight') || shapes.has('proj_in.weight') ||
    hints.kind === 'transformer' || hints.kind === 'hybrid';
  let arch: ModelArch;
  if (!hasAttention) {
    if (!recurrent) {
      throw new ModelFormatError(
        `${source}: no recurrent tensors found; expected names like "lstm.weight_ih_l0" (or rnn./gru., or a bare "weight_ih_l0"), or attention blocks "blocks.0.*"`,
      );
    }
    if (hints.kind !== undefined && hints.kind !== 'recurrent') {
      throw new ModelFormatError(`${source}: metadata kind ${JSON.stringify(hints.kind)} is not one of ${KINDS.join(', ')}`);
    }
    arch = { ...recurrent, kind: 'recurrent', headSize: headRows(shapes, source, recurrent.hiddenSize) };
  } else {
    const kind = (hints.kind ?? (recurrent ? 'hybrid' : 'transformer')) as ModelKind;
    if (kind !== 'transformer' && kind !== 'hybrid') {
      throw new ModelFormatError(`${source}: the file has attention tensors but metadata kind is ${JSON.stringify(hints.kind)}; expected "transformer" or "hybrid"`);
    }
    if (kind === 'transformer' && recurrent) throw new ModelFormatError(`${source}: metadata kind "transformer" but the file has recurrent tensors; a model with both is a "hybrid"`);
    if (kind === 'hybrid' && !recurrent) throw new ModelFormatError(`${source}: metadata kind "hybrid" but no recurrent tensors ("lstm.weight_ih_l0", ...) were found`);
    if (recurrent?.naming === 'bare') throw new ModelFormatError(`${source}: a hybrid's recurrent tensors need their prefix ("${recurrent.cell}.weight_ih_l0")`);
    const count = blockIndices.size === 0 ? 0 : Math.max(...blockIndices) + 1;
    if (count === 0) throw new ModelFormatError(`${source}: an attention model needs blocks; missing tensor "blocks.0.ln1.weight"`);
    for (let i = 0; i < count; i++) {
      if (!blockIndices.has(i)) throw new ModelFormatError(`${source}: block indices have a gap: "blocks.${i}.*" is missing but "blocks.${count - 1}.*" exists`);
    }
    const width = requireShape(shapes, 'blocks.0.ln1.weight', source, 1)[0];
    const mlpSize = requireShape(shapes, 'blocks.0.fc1.weight', source, 2)[0];
    const attention: AttentionArch = {
      width,
      heads: requireHint(hints.heads, 'heads', source),
      mlpSize,
      blocks: count,
      window: requireHint(hints.window, 'window', source),
      sinks: hints.sinks === undefined ? 0 : requireHint(hints.sinks, 'sinks', source),
      positional: hints.positional === undefined ? legacyPositional(kind) : checkPositional(hints.positional, kind, `${source}: seqcast metadata "positional"`),
    };
    validateAttention(attention, source);
    if (kind === 'hybrid') {
      if (width !== recurrent!.hiddenSize) {
        throw new ModelFormatError(`${source}: tensor "blocks.0.ln1.weight" has shape [${width}], expected [${recurrent!.hiddenSize}]: a hybrid's blocks work on the recurrent hidden size`);
      }
      arch = { ...recurrent!, kind, attention, headSize: headRows(shapes, source, width) };
    } else {
      const embed = shapes.get('embed.weight');
      const projIn = shapes.get('proj_in.weight');
      if (!embed && !projIn) throw new ModelFormatError(`${source}: a transformer needs its input: missing tensor "embed.weight" (tokens) or "proj_in.weight" (frames)`);
      if (embed && projIn) throw new ModelFormatError(`${source}: a transformer takes tokens ("embed.weight") or frames ("proj_in.weight"), not both`);
      let inputSize = width;
      let vocabSize = 0;
      if (embed) vocabSize = requireShape(shapes, 'embed.weight', source, 2)[0];
      else inputSize = requireShape(shapes, 'proj_in.weight', source, 2)[1];
      arch = { kind, layers: 0, inputSize, vocabSize, hiddenSize: 0, headSize: headRows(shapes, source, width), attention, naming: 'module' };
    }
  }
  if (arch.naming === 'bare' && (shapes.has('embed.weight') || shapes.has('head.weight'))) {
    throw new ModelFormatError(`${source}: bare recurrent names ("weight_ih_l0") cannot be combined with embed./head. tensors; prefix them with "${arch.cell}."`);
  }
  checkTensorsMatch(arch, shapes, source);
  return arch;
}

/**
 * Refuses a bidirectional model by its `*_reverse` tensors, before anything else about it (its head, 2H wide, would
 * otherwise be the first thing that does not fit): a stream is stepped as its values arrive, forward only.
 */
function refuseBidirectional(shapes: Map<string, number[]>, source: string): void {
  const reverse = [...shapes.keys()].filter((name) => REVERSE_NAME.test(name));
  if (reverse.length === 0) return;
  const cell = REVERSE_NAME.exec(reverse[0])![1] ?? 'recurrent module';
  const named = reverse.slice(0, 4).map((n) => `"${n}"`).join(', ') + (reverse.length > 4 ? ` and ${reverse.length - 4} more` : '');
  throw new ModelFormatError(
    `${source}: tensor${reverse.length > 1 ? 's' : ''} ${named} ${reverse.length > 1 ? 'are' : 'is'} the backward direction of a bidirectional ${cell} (bidirectional=True), ` +
      'which reads each sequence from its end as well; a live stream is stepped as its values arrive, so seqcast runs one direction only. Train the model with bidirectional=False',
  );
}

/** The recurrent stack's shape from its tensors, or undefined when there are none. */
function inferRecurrent(shapes: Map<string, number[]>, source: string): Omit<ModelArch, 'kind' | 'headSize'> | undefined {
  const prefixes = new Set<string>();
  let maxLayer = -1;
  const layers = new Set<number>();
  for (const name of shapes.keys()) {
    const match = RECURRENT_NAME.exec(name);
    if (!match) continue;
    prefixes.add(match[1] ?? '');
    const layer = Number(match[3]);
    layers.add(layer);
    maxLayer = Math.max(maxLayer, layer);
  }
  if (prefixes.size === 0) return undefined;
  if (prefixes.size > 1) {
    const names = [...prefixes].map((p) => (p ? `"${p}."` : 'bare names'));
    throw new ModelFormatError(`${source}: recurrent tensors under more than one prefix (${names.join(', ')}); a model has one recurrent stack`);
  }
  for (let l = 0; l <= maxLayer; l++) {
    if (!layers.has(l)) throw new ModelFormatError(`${source}: recurrent layers have a gap: layer ${l} is missing but layer ${maxLayer} exists`);
  }
  const prefix = [...prefixes][0];
  const hhName = `${prefix ? `${prefix}.` : ''}weight_hh_l0`;
  const ihName = `${prefix ? `${prefix}.` : ''}weight_ih_l0`;
  const hh = requireShape(shapes, hhName, source, 2);
  const ih = requireShape(shapes, ihName, source, 2);
  const hiddenSize = hh[1];
  const gates = hh[0] / hiddenSize;
  const byGates = CELLS.find((c) => GATES[c] === gates);
  if (hiddenSize < 1 || !byGates) {
    throw new ModelFormatError(
      `${source}: tensor "${hhName}" has shape [${hh}]; expected [G*H, H] with G = 1 (rnn), 3 (gru) or 4 (lstm)`,
    );
  }
  if (ih[1] < 1) throw new ModelFormatError(`${source}: tensor "${ihName}" has shape [${ih}]; a model needs at least one input feature`);
  const cell = (prefix || byGates) as CellKind;
  if (GATES[cell] !== gates) {
    throw new ModelFormatError(
      `${source}: tensor "${hhName}" has shape [${hh}], expected [${GATES[cell] * hiddenSize}, ${hiddenSize}] for a ${cell} with hidden size ${hiddenSize}`,
    );
  }
  let vocabSize = 0;
  const embed = shapes.get('embed.weight');
  if (embed) {
    if (embed.length !== 2) throw new ModelFormatError(`${source}: tensor "embed.weight" has shape [${embed}], expected [V, E]`);
    vocabSize = embed[0];
  }
  return { cell, layers: maxLayer + 1, inputSize: ih[1], vocabSize, hiddenSize, naming: prefix ? 'module' : 'bare' };
}

/** O from head.weight [O, in], or 0 without a head; `inWidth` is what the head reads (H, or D). */
function headRows(shapes: Map<string, number[]>, source: string, inWidth: number): number {
  const head = shapes.get('head.weight');
  const bias = shapes.get('head.bias');
  if (!head && bias) {
    const rows = bias.length === 1 ? bias[0] : 'O';
    throw new ModelFormatError(`${source}: missing tensor "head.weight" (expected shape [${rows}, ${inWidth}]): the file has "head.bias" (shape [${bias}]), and a head (nn.Linear) needs both`);
  }
  if (!head) return 0;
  if (head.length !== 2) throw new ModelFormatError(`${source}: tensor "head.weight" has shape [${head}], expected [O, in]`);
  return head[0];
}

function requireHint(value: unknown, key: string, source: string): number {
  if (value === undefined) {
    throw new ModelFormatError(`${source}: an attention model needs "${key}" in its seqcast metadata (shapes cannot tell it); see docs/model-format.md`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ModelFormatError(`${source}: seqcast metadata "${key}" must be an integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws unless `shapes` holds exactly the tensors of `arch`, each with its shape. */
export function checkTensorsMatch(arch: ModelArch, shapes: Map<string, number[]>, source: string): void {
  const layout = parameterLayout(arch);
  const expected = new Set(layout.map((t) => t.name));
  const why = describeArch(arch);
  for (const { name, shape } of layout) {
    const actual = shapes.get(name);
    if (!actual) throw new ModelFormatError(`${source}: missing tensor "${name}" (expected shape [${shape}] for ${why})`);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(`${source}: tensor "${name}" has shape [${actual}], expected [${shape}] for ${why}`);
    }
  }
  const unexpected = [...shapes.keys()].filter((name) => !expected.has(name));
  if (unexpected.length > 0) {
    throw new ModelFormatError(
      `${source}: unexpected tensor${unexpected.length > 1 ? 's' : ''} ${unexpected.map((n) => `"${n}"`).join(', ')} (not part of ${why})`,
    );
  }
}

/**
 * The scheme in a description, unless it is the kind's legacy one: a description (which snapshots hash, to refuse
 * another model's state) of a model files before format 2 could hold reads as it always did.
 */
const POSITIONAL_WORDS: Record<PositionalScheme, string> = { alibi: 'ALiBi positions', sinusoidal: 'sinusoidal positions', none: 'no positional encoding' };

/** "a 2-layer lstm, input 4, hidden 8, head 3" — used in messages. */
export function describeArch(arch: KernelArch): string {
  const input = arch.vocabSize > 0 ? `vocabulary ${arch.vocabSize}, embedding ${arch.inputSize}` : `input ${arch.inputSize}`;
  const head = arch.headSize > 0 ? `, head ${arch.headSize}` : ', no head';
  const a = arch.attention;
  const blocks = a ? `${a.blocks} attention block${a.blocks > 1 ? 's' : ''} (D ${a.width}, ${a.heads} heads, MLP ${a.mlpSize}, window ${a.window}, sinks ${a.sinks}${a.positional === legacyPositional(arch.kind) ? '' : `, ${POSITIONAL_WORDS[a.positional]}`})` : '';
  if (arch.kind === 'transformer') return `a transformer with ${input}, ${blocks}${head}`;
  const cell = arch.nonlinearity === 'relu' ? `${arch.cell} (relu)` : arch.cell;
  const stack = `a ${arch.layers}-layer ${cell} with ${input}, hidden ${arch.hiddenSize}`;
  return arch.kind === 'hybrid' ? `a hybrid: ${stack}, then ${blocks}${head}` : `${stack}${head}`;
}

function requireShape(shapes: Map<string, number[]>, name: string, source: string, rank: number): number[] {
  const shape = shapes.get(name);
  if (!shape) throw new ModelFormatError(`${source}: missing tensor "${name}"`);
  if (shape.length !== rank) throw new ModelFormatError(`${source}: tensor "${name}" has shape [${shape}], expected rank ${rank}`);
  return shape;
}
