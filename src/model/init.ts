// Fresh parameters, initialised as PyTorch initialises the same modules.

import type { ModelArch, TensorSpec } from './layout.js';

/** mulberry32: a small, fast, seedable PRNG; the same seed gives the same model everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fills one tensor the way PyTorch's reset_parameters would:
 * recurrent weights and biases U(−1/√H, 1/√H); nn.Linear U(−1/√in, 1/√in)
 * (kaiming_uniform with a = √5 for the weight, the same bound for the bias);
 * nn.Embedding N(0, 1).
 */
export function initTensor(spec: TensorSpec, arch: ModelArch, random: () => number): Float32Array {
  const size = spec.shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(size);
  if (spec.name === 'embed.weight') {
    for (let i = 0; i < size; i += 2) {
      // Box–Muller: two standard normals from two uniforms
      const r = Math.sqrt(-2 * Math.log(1 - random()));
      const theta = 2 * Math.PI * random();
      out[i] = r * Math.cos(theta);
      if (i + 1 < size) out[i + 1] = r * Math.sin(theta);
    }
    return out;
  }
  // the head's fan-in is the hidden size too, so one bound serves every tensor
  const bound = 1 / Math.sqrt(arch.hiddenSize);
  for (let i = 0; i < size; i++) out[i] = (random() * 2 - 1) * bound;
  return out;
}
