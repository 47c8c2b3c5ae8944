// Fresh parameters, initialised as PyTorch initialises the same modules.

import type { ModelArch, TensorSpec } from './layout.js';

/** Columns of the nn.Linear a weight or bias belongs to. */
function linearFanIn(name: string, arch: ModelArch): number {
  const a = arch.attention;
  if (name.startsWith('proj_in.')) return arch.inputSize;
  if (name.endsWith('fc2.weight') || name.endsWith('fc2.bias')) return a!.mlpSize;
  if (name.startsWith('head.')) return a ? a.width : arch.hiddenSize;
  return a!.width; // fc1, out_proj
}

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
 * nn.Embedding N(0, 1); nn.LayerNorm weight 1, bias 0; nn.MultiheadAttention
 * in_proj_weight xavier_uniform, its biases 0.
 */
export function initTensor(spec: TensorSpec, arch: ModelArch, random: () => number): Float32Array {
  const size = spec.shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(size);
  const name = spec.name.replace(/^blocks\.\d+\./, '');
  if (/^(ln\d|ln_f)\.weight$/.test(name)) return out.fill(1); // LayerNorm: weight 1, bias 0
  if (/^(ln\d|ln_f)\.bias$/.test(name) || name === 'attn.in_proj_bias' || name === 'attn.out_proj.bias') return out;
  if (name === 'attn.in_proj_weight') {
    // xavier_uniform_ on [3D, D]: bound sqrt(6 / (fan_in + fan_out))
    const bound = Math.sqrt(6 / (spec.shape[0] + spec.shape[1]));
    for (let i = 0; i < size; i++) out[i] = (random() * 2 - 1) * bound;
    return out;
  }
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
  // recurrent tensors: U(−1/√H, 1/√H); nn.Linear weight and bias: U(−1/√in, 1/√in), in = the weight's columns
  const linear = /\.(weight|bias)$/.test(name) && !/_l\d+$/.test(name);
  const fanIn = linear ? linearFanIn(spec.name, arch) : arch.hiddenSize;
  const bound = 1 / Math.sqrt(fanIn);
  for (let i = 0; i < size; i++) out[i] = (random() * 2 - 1) * bound;
  return out;
}
