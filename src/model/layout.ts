// Model architecture and its parameters by PyTorch state_dict name: the one
// place that knows which tensors a model has, their shapes and their order.

import { ModelFormatError } from '../errors.js';
import type { CellKind } from '../kernel/kernel.js';

/** The shape of a recurrent model. */
export interface ModelArch {
  cell: CellKind;
  /** Stacked recurrent layers. */
  layers: number;
  /** Frame width X, or the embedding width E for token models. */
  inputSize: number;
  /** Vocabulary size V for token models (embed.weight [V, E]); 0 for frame models. */
  vocabSize: number;
  hiddenSize: number;
  /** Output size O of the dense head; 0 when the model has no head (its output is the top h). */
  headSize: number;
  /**
   * `module`: names of a composite module (`embed.`, `lstm.`, `head.` prefixes).
   * `bare`: a plain nn.RNN / nn.LSTM / nn.GRU's own names (`weight_ih_l0`, ...).
   */
  naming: 'module' | 'bare';
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
  const rows = GATES[arch.cell] * arch.hiddenSize;
  if (arch.vocabSize > 0) layout.push({ name: 'embed.weight', shape: [arch.vocabSize, arch.inputSize] });
  for (let l = 0; l < arch.layers; l++) {
    layout.push(
      { name: `${prefix}weight_ih_l${l}`, shape: [rows, l === 0 ? arch.inputSize : arch.hiddenSize] },
      { name: `${prefix}weight_hh_l${l}`, shape: [rows, arch.hiddenSize] },
      { name: `${prefix}bias_ih_l${l}`, shape: [rows] },
      { name: `${prefix}bias_hh_l${l}`, shape: [rows] },
    );
  }
  if (arch.headSize > 0) {
    layout.push({ name: 'head.weight', shape: [arch.headSize, arch.hiddenSize] }, { name: 'head.bias', shape: [arch.headSize] });
  }
  return layout;
}

/** Checks a hand-written architecture; throws ModelFormatError naming the bad field. */
export function validateArch(arch: ModelArch): void {
  if (!CELLS.includes(arch.cell)) throw new ModelFormatError(`cell "${arch.cell}" is not one of ${CELLS.join(', ')}`);
  const positive: [string, number][] = [
    ['layers', arch.layers],
    ['hiddenSize', arch.hiddenSize],
    ['inputSize', arch.inputSize],
  ];
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

const RECURRENT_NAME = /^(?:(rnn|lstm|gru)\.)?(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)$/;

/**
 * Infers the architecture from state_dict names and shapes, then checks that
 * the tensors are exactly the ones that architecture has, with the right shapes.
 * `source` names the file in messages.
 */
export function inferArch(shapes: Map<string, number[]>, source: string): ModelArch {
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
  if (prefixes.size === 0) {
    throw new ModelFormatError(
      `${source}: no recurrent tensors found; expected names like "lstm.weight_ih_l0" (or rnn./gru., or a bare "weight_ih_l0")`,
    );
  }
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
  let headSize = 0;
  const head = shapes.get('head.weight');
  if (head) {
    if (head.length !== 2) throw new ModelFormatError(`${source}: tensor "head.weight" has shape [${head}], expected [O, ${hiddenSize}]`);
    headSize = head[0];
  }
  const arch: ModelArch = {
    cell,
    layers: maxLayer + 1,
    inputSize: ih[1],
    vocabSize,
    hiddenSize,
    headSize,
    naming: prefix ? 'module' : 'bare',
  };
  if (arch.naming === 'bare' && (embed || head)) {
    throw new ModelFormatError(`${source}: bare recurrent names ("weight_ih_l0") cannot be combined with embed./head. tensors; prefix them with "${cell}."`);
  }
  checkTensorsMatch(arch, shapes, source);
  return arch;
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

/** "a 2-layer lstm, input 4, hidden 8, head 3" — used in messages. */
export function describeArch(arch: ModelArch): string {
  const input = arch.vocabSize > 0 ? `vocabulary ${arch.vocabSize}, embedding ${arch.inputSize}` : `input ${arch.inputSize}`;
  const head = arch.headSize > 0 ? `, head ${arch.headSize}` : ', no head';
  return `a ${arch.layers}-layer ${arch.cell} with ${input}, hidden ${arch.hiddenSize}${head}`;
}

function requireShape(shapes: Map<string, number[]>, name: string, source: string, rank: number): number[] {
  const shape = shapes.get(name);
  if (!shape) throw new ModelFormatError(`${source}: missing tensor "${name}"`);
  if (shape.length !== rank) throw new ModelFormatError(`${source}: tensor "${name}" has shape [${shape}], expected rank ${rank}`);
  return shape;
}
