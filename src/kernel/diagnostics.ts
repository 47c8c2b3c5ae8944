// The kernel's test-only build (build/seqcast-diagnostics.wasm, -relaxed.wasm and -scalar.wasm, from
// assembly/diagnostics.ts): the production ABI plus probes for tests and benchmarks (docs/abi.md "Diagnostics").
// Never what a model gets by default: debugAlloc leaks arena memory and debugTokenShortcut changes numerics.

import { type KernelExports } from './kernel.js';
import { compileBuild, readBuild, resolveVariant, type KernelVariant } from './variant.js';

/** The diagnostics build's exports: the production ABI and the probes. Pointers are byte offsets into `memory`. */
export interface DiagnosticExports extends KernelExports {
  /** Bytes of linear memory the arena has handed out. */
  arenaUsed(): number;
  /** The kernel's own tanh (0), sigmoid (1) or exp (2) of one value. */
  activation(kind: number, x: number): number;
  /** Zeroed scratch for the ops below (never freed; may grow memory). */
  debugAlloc(bytes: number): number;
  /** `iterations` rounds of 12 independent f32x4 multiply-then-add chains (192 FLOPs each): the arithmetic ceiling. */
  debugPeak(iterations: number): number;
  /** 0 turns the token-table shortcut off (the plain [x | h] products, steps and training), 1 back on. */
  debugTokenShortcut(on: number): void;
  /** out (batch, rows) = bias1 + bias2 + panel · input (simd.ts affinePacked; bias2 may be 0). */
  debugAffine(out: number, batch: number, rows: number, input: number, width: number, panel: number, bias1: number, bias2: number): void;
  debugLayerNorm(x: number, y: number, rows: number, d: number, weight: number, bias: number, means: number, variances: number): void;
  debugGelu(x: number, n: number): void;
  debugPositionalEncoding(x: number, d: number, position: number): void;
  debugAttend(qkv: number, keys: number, values: number, out: number, weights: number, scores: number, rowOffsets: number,
    position: number, d: number, heads: number, window: number, sinks: number): number;
}

/** Each variant's diagnostics build in build/. */
export const DIAGNOSTIC_FILES: Record<KernelVariant, string> = {
  baseline: 'seqcast-diagnostics.wasm',
  relaxed: 'seqcast-diagnostics-relaxed.wasm',
  scalar: 'seqcast-diagnostics-scalar.wasm',
};

/** The diagnostics build's bytes, of the variant a model would get (`auto`: SEQCAST_KERNEL, then relaxed where it runs). */
export async function diagnosticWasm(variant: KernelVariant | 'auto' = 'auto'): Promise<BufferSource> {
  return readBuild(DIAGNOSTIC_FILES[resolveVariant(variant)]);
}

/** A bare instance of the diagnostics build, for the single-op probes (nothing configured). */
export async function diagnosticKernel(variant: KernelVariant | 'auto' = 'auto'): Promise<DiagnosticExports> {
  const module = await compileBuild(DIAGNOSTIC_FILES[resolveVariant(variant)]);
  const instance = await WebAssembly.instantiate(module, {});
  return instance.exports as unknown as DiagnosticExports;
}
