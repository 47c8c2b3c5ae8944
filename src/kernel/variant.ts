// Which build of the kernel a process runs (docs/abi.md): the relaxed-SIMD build where the runtime has relaxed SIMD,
// else the baseline one (else, on a runtime without SIMD, the scalar one), or what SEQCAST_KERNEL asks for; and
// reading and compiling a build from build/.

import { InputError, KernelError } from '../errors.js';

/**
 * The kernel's three builds, from the same source: `relaxed` (build/seqcast-relaxed.wasm) uses relaxed SIMD's fused
 * multiply-add in the matrix products; `baseline` (build/seqcast.wasm) multiplies, then adds, and runs on any
 * WebAssembly runtime with SIMD; `scalar` (build/seqcast-scalar.wasm) has no SIMD at all, for runtimes and
 * translators without it (wasm2c, wasm3, microcontroller interpreters), and computes exactly what `baseline`
 * does, bit for bit, more slowly. Node 22+ and current browsers run relaxed SIMD; Node 20 only with
 * --experimental-wasm-relaxed-simd.
 */
export type KernelVariant = 'baseline' | 'relaxed' | 'scalar';

/** Each build's file in build/. */
export const KERNEL_FILES: Record<KernelVariant, string> = {
  baseline: 'seqcast.wasm',
  relaxed: 'seqcast-relaxed.wasm',
  scalar: 'seqcast-scalar.wasm',
};

const VARIANTS: readonly KernelVariant[] = ['baseline', 'relaxed', 'scalar'];

/** The smallest module that uses a SIMD128 instruction (a v128.const): whether this runtime has fixed-width SIMD. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () → v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x16, 0x01, 0x14, 0x00, // code: one body of 20 bytes, no locals
  0xfd, 0x0c, ...new Array<number>(16).fill(0), // v128.const 0
  0x0b, // end
]);

/** The smallest module that uses a relaxed SIMD instruction (f32x4.relaxed_madd): whether this runtime has them. */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () → v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), // three v128.const 0
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

/** Whether this runtime validates relaxed SIMD. */
export function supportsRelaxedSimd(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/** Whether this runtime validates fixed-width SIMD (SIMD128). */
export function supportsSimd(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

function isVariant(value: unknown): value is KernelVariant {
  return VARIANTS.includes(value as KernelVariant);
}

/** SEQCAST_KERNEL (Node): `baseline`, `relaxed`, `scalar` or `auto` (the default: the fastest the runtime has). */
function requestedVariant(): KernelVariant | 'auto' {
  const value = typeof process === 'undefined' ? undefined : process.env?.SEQCAST_KERNEL;
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (isVariant(value)) return value;
  throw new KernelError(0, `SEQCAST_KERNEL must be "baseline", "relaxed", "scalar" or "auto", got "${value}"`);
}

/**
 * The build to load for a request: `auto` means SEQCAST_KERNEL, then relaxed where this runtime validates it, else
 * baseline where it has SIMD, else scalar.
 */
export function resolveVariant(wanted: KernelVariant | 'auto' = 'auto'): KernelVariant {
  if (wanted !== 'auto' && !isVariant(wanted)) {
    throw new InputError(`kernel must be "auto", "baseline", "relaxed" or "scalar", got ${JSON.stringify(wanted)}`);
  }
  const request = wanted === 'auto' ? requestedVariant() : wanted;
  if (request === 'scalar') return 'scalar';
  if (request === 'relaxed' && !supportsRelaxedSimd()) {
    throw new KernelError(0, 'the relaxed-SIMD kernel was asked for (SEQCAST_KERNEL=relaxed or kernel: "relaxed"), but this runtime does not run relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; Node 22+ and current browsers have it)');
  }
  if (request === 'baseline' && !supportsSimd()) {
    throw new KernelError(0, 'the SIMD kernel was asked for (SEQCAST_KERNEL=baseline or kernel: "baseline"), but this runtime does not run WebAssembly SIMD; ask for "scalar" (build/seqcast-scalar.wasm) or "auto"');
  }
  if (request === 'auto') return supportsRelaxedSimd() ? 'relaxed' : supportsSimd() ? 'baseline' : 'scalar';
  return request;
}

/**
 * Where the production builds lie beside this module. Written out (not `${file}`) so that a bundler (vite, for the
 * dashboard's local mode, web/src/local/) ships exactly these files and rewrites these URLs; other builds (the
 * diagnostics) are found by name, under Node or unbundled.
 */
const BUILD_URLS: Record<string, URL> = {
  [KERNEL_FILES.baseline]: new URL('../../build/seqcast.wasm', import.meta.url),
  [KERNEL_FILES.relaxed]: new URL('../../build/seqcast-relaxed.wasm', import.meta.url),
  [KERNEL_FILES.scalar]: new URL('../../build/seqcast-scalar.wasm', import.meta.url),
};

/** The bytes of build/`file`: read from disk under Node, fetched in a browser or worker. */
export async function readBuild(file: string): Promise<BufferSource> {
  const url = BUILD_URLS[file] ?? new URL(/* @vite-ignore */ `../../build/${file}`, import.meta.url);
  if (url.protocol !== 'file:') return fetchBuild(url);
  const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises');
  try {
    return await readFile(url);
  } catch (err) {
    throw new KernelError(0, `cannot read the kernel ${url.pathname}: run \`npm run build\` first (${(err as Error).message})`);
  }
}

async function fetchBuild(url: URL): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok) throw new KernelError(0, `cannot fetch the kernel ${url.href}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/** Each build file, compiled once per process. */
const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** build/`file`, compiled once per process. */
export function compileBuild(file: string): Promise<WebAssembly.Module> {
  let module = compiled.get(file);
  if (!module) {
    module = readBuild(file).then((bytes) => WebAssembly.compile(bytes));
    compiled.set(file, module);
    // a failure (no build yet) is not remembered: the next call tries again
    module.catch(() => compiled.delete(file));
  }
  return module;
}

/** Which build of the kernel a model gets by default in this process (see KernelVariant). */
export async function kernelVariant(): Promise<KernelVariant> {
  return resolveVariant();
}
