// What a model's outputs are (the metadata `target`), and the heads of files an earlier `seqcast train` wrote with
// the output mapping folded in. docs/model-format.md, "What the outputs are", is the contract.

import type { ModelArch } from '../model/layout.js';
import type { SeqcastMetadata } from '../model/metadata.js';

/**
 * What the head predicts, from the metadata `target` (validateMetadata checked it):
 * - `next` (absent, "next" or "value"): the next frame, in model units;
 * - `delta`: the change from the frame just fed, in model units (next = input + output there);
 * - `label`: class logits or a label value, as they are (never mapped through the input normalizer).
 */
export type OutputTarget = 'next' | 'delta' | 'label';

/** The target of a model with this metadata. */
export function outputTarget(metadata: SeqcastMetadata): OutputTarget {
  if (metadata.target === 'delta') return 'delta';
  if (metadata.target === 'label') return 'label';
  return 'next';
}

/** What `seqcast train` records in `training.head` since it saves heads as trained (no mapping folded in). */
export const HEAD_AS_TRAINED = 'as trained';

/**
 * The head of a file written by an earlier `seqcast train` (its `training` entry has no `head`), unfolded into the
 * head as trained, or undefined when there is nothing to unfold. That version folded the output mapping into the
 * head so that y · std + mean came out right: a delta model's bias was shifted by −mean/std, and a label model with
 * as many outputs as inputs had its head pre-divided by the normalizer. `weight` is [O, H] row-major.
 */
export function unfoldedLegacyHead(
  metadata: SeqcastMetadata,
  arch: ModelArch,
  head: { weight: ArrayLike<number>; bias: ArrayLike<number> },
): { weight: Float32Array; bias: Float32Array } | undefined {
  const training = metadata.training;
  const norm = metadata.normalizer;
  if (typeof training !== 'object' || training === null || 'head' in training || !norm || arch.headSize !== arch.inputSize) return undefined;
  const target = outputTarget(metadata);
  if (target === 'next') return undefined;
  const O = arch.headSize;
  const H = head.weight.length / O;
  const weight = Float32Array.from(head.weight);
  const bias = Float32Array.from(head.bias);
  for (let o = 0; o < O; o++) {
    if (target === 'delta') {
      bias[o] = head.bias[o] + norm.mean[o] / norm.std[o];
    } else {
      for (let j = 0; j < H; j++) weight[o * H + j] = head.weight[o * H + j] * norm.std[o];
      bias[o] = head.bias[o] * norm.std[o] + norm.mean[o];
    }
  }
  return { weight, bias };
}

/** The metadata of an unfolded legacy file: its `training` entry now says the head is as trained (Model.save writes that). */
export function markedAsTrained(metadata: SeqcastMetadata): SeqcastMetadata {
  return { ...metadata, training: { ...(metadata.training as object), head: HEAD_AS_TRAINED } };
}
