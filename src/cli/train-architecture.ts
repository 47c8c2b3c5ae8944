// `seqcast train`'s architecture flags checked together: the kind, a hybrid's cell, an rnn's nonlinearity and an
// attention model's positional scheme, each refused with the flag and its value before anything is read.

import { InputError } from '../errors.js';
import type { CellKind, Nonlinearity, PositionalScheme } from '../kernel/kernel.js';
import { DEFAULT_POSITIONAL, POSITIONAL_SCHEMES } from '../model/layout.js';

const TRAINABLE: CellKind[] = ['lstm', 'gru', 'rnn'];

/** The architecture's flags, as commander hands them over (train's TrainOptions extends them). */
export interface ArchitectureFlags {
  kind?: string;
  /** Attention models: the hybrid's recurrent cell, heads, blocks, MLP width, attention window and sinks. */
  cell?: string;
  heads?: number;
  blocks?: number;
  mlp?: number;
  attentionWindow?: number;
  sinks?: number;
  /** An rnn cell's activation: tanh or relu (nn.RNN's nonlinearity). */
  nonlinearity?: string;
  /** Attention models: how attention knows order, alibi (default), sinusoidal (transformer) or none. */
  positional?: string;
}

/** The architecture the flags choose. */
export interface Architecture {
  kind: 'recurrent' | 'transformer' | 'hybrid';
  /** The recurrent cell (a hybrid's, or the model's own); a transformer's is unused. */
  cell: CellKind;
  nonlinearity: Nonlinearity | undefined;
  positional: PositionalScheme;
}

/** Checks the architecture flags; throws InputError naming the flag and its value. `fallbackKind`: without --kind. */
export function architectureFrom(options: ArchitectureFlags, fallbackKind: string): Architecture {
  const kind = (options.kind ?? fallbackKind).toLowerCase();
  const attention = kind === 'transformer' || kind === 'hybrid';
  if (!attention && !(TRAINABLE as string[]).includes(kind)) {
    throw new InputError(`--kind must be lstm, gru, rnn, transformer or hybrid, got ${JSON.stringify(options.kind)}`);
  }
  const cell = kind === 'hybrid' ? (options.cell ?? 'lstm').toLowerCase() : kind;
  if (kind === 'hybrid' && !(TRAINABLE as string[]).includes(cell)) throw new InputError(`--cell must be lstm, gru or rnn, got ${JSON.stringify(options.cell)}`);
  if (!attention) {
    for (const [flag, given] of [['--cell', options.cell], ['--heads', options.heads], ['--blocks', options.blocks], ['--mlp', options.mlp], ['--attention-window', options.attentionWindow], ['--sinks', options.sinks], ['--positional', options.positional]] as const) {
      if (given !== undefined) throw new InputError(`${flag} applies to --kind transformer or hybrid, not ${kind}`);
    }
  }
  const nonlinearity = options.nonlinearity?.toLowerCase();
  if (nonlinearity !== undefined && nonlinearity !== 'tanh' && nonlinearity !== 'relu') throw new InputError(`--nonlinearity must be tanh or relu, got ${JSON.stringify(options.nonlinearity)}`);
  if (nonlinearity !== undefined && cell !== 'rnn') throw new InputError(`--nonlinearity applies to rnn cells (--kind rnn, or --kind hybrid --cell rnn), not ${kind === 'hybrid' ? `a hybrid's ${cell}` : kind}`);
  const positional = (options.positional ?? DEFAULT_POSITIONAL).toLowerCase();
  if (attention && !(POSITIONAL_SCHEMES as readonly string[]).includes(positional)) {
    throw new InputError(`--positional must be ${POSITIONAL_SCHEMES.join(', ')}, got ${JSON.stringify(options.positional)}`);
  }
  if (kind === 'hybrid' && positional === 'sinusoidal') throw new InputError('--positional sinusoidal applies to --kind transformer; a hybrid takes alibi or none');
  return {
    kind: attention ? (kind as 'transformer' | 'hybrid') : 'recurrent',
    cell: cell as CellKind,
    nonlinearity: nonlinearity as Nonlinearity | undefined,
    positional: positional as PositionalScheme,
  };
}
