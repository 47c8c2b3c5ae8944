// Digests of the kernel's state words, for the bit-identity check of tests/kernel-bit-identity.test.ts and
// scripts/kernel-digests.ts: every case drives a build through the raw ABI (docs/abi.md; no src/ host code, so a
// change on the host side cannot move a digest) and hashes (sha256) what it computed: outputs, slot states, attention
// weights, gradients, parameters after training steps, optimizer moments, losses and norms.
//
// The cases (tests/helpers/kernel-digest-golden.ts, kernel-digest-streams.ts): every golden case in tests/golden, through the same kernel paths the golden tests drive (steps, BPTT,
// truncated BPTT, clipping and Adam, attention, LayerNorm, GELU, the positional encoding), a few odd-sized and
// token-table models, and five 10,000-step streams on the demo data (demo/machine_temperature_system_failure.csv) with
// learning on. A refactor of assembly/ must leave every digest as it was.

import { createHash, type Hash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { seededRandom } from '../../src/model/init.js';

export type Variant = 'baseline' | 'relaxed' | 'scalar';

/** Each variant's production build and its test-only diagnostics build (the same file before the diagnostics split). */
export const BUILD_FILES: Record<Variant, { production: string; diagnostics: string }> = {
  baseline: { production: 'seqcast.wasm', diagnostics: 'seqcast-diagnostics.wasm' },
  relaxed: { production: 'seqcast-relaxed.wasm', diagnostics: 'seqcast-diagnostics-relaxed.wasm' },
  scalar: { production: 'seqcast-scalar.wasm', diagnostics: 'seqcast-diagnostics-scalar.wasm' },
};

export interface Builds {
  production: WebAssembly.Module;
  diagnostics: WebAssembly.Module;
}

/** The builds of `variant` in folder `dir` (build/, or a copy of an older build). */
export function loadBuilds(dir: string, variant: Variant): Builds {
  const files = BUILD_FILES[variant];
  const production = new WebAssembly.Module(readFileSync(`${dir}/${files.production}`));
  // builds from before the split exported their diagnostics from the production module itself
  const diagnosticsFile = existsSync(`${dir}/${files.diagnostics}`) ? files.diagnostics : files.production;
  return { production, diagnostics: new WebAssembly.Module(readFileSync(`${dir}/${diagnosticsFile}`)) };
}

type Fn = (...args: number[]) => number;

/** One kernel instance, driven by export name. */
export class Abi {
  private readonly exports: Record<string, unknown>;
  readonly memory: WebAssembly.Memory;

  constructor(module: WebAssembly.Module) {
    this.exports = new WebAssembly.Instance(module, {}).exports as Record<string, unknown>;
    this.memory = this.exports.memory as WebAssembly.Memory;
  }

  call(name: string, ...args: number[]): number {
    const fn = this.exports[name];
    if (typeof fn !== 'function') throw new Error(`the kernel exports no function ${name}`);
    return (fn as Fn)(...args);
  }

  /** Calls `name`, which must not return an error code. */
  ok(name: string, ...args: number[]): number {
    const code = this.call(name, ...args);
    if (code < 0) throw new Error(`kernel ${name}(${args.join(', ')}) returned ${code}`);
    return code;
  }

  f32(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  i32(): Int32Array {
    return new Int32Array(this.memory.buffer);
  }

  write(ptr: number, values: ArrayLike<number>): void {
    this.f32().set(values, ptr >>> 2);
  }

  writeI32(ptr: number, values: ArrayLike<number>): void {
    this.i32().set(values, ptr >>> 2);
  }

  read(ptr: number, floats: number): Float32Array {
    return this.f32().slice(ptr >>> 2, (ptr >>> 2) + floats);
  }
}

/** A sha256 over the bytes of what a case computed. */
export class Digest {
  private readonly hash: Hash = createHash('sha256');

  /** `floats` f32 words at byte offset `ptr`. */
  words(abi: Abi, ptr: number, floats: number): void {
    if (floats > 0) this.hash.update(new Uint8Array(abi.memory.buffer, ptr, floats * 4));
  }

  /** Numbers as f64 (return codes, losses, norms, positions). */
  numbers(...values: number[]): void {
    this.hash.update(new Uint8Array(Float64Array.from(values).buffer));
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

/** One digest case: drives a fresh instance of one of the two builds. */
export interface DigestCase {
  name: string;
  build: keyof Builds;
  run(abi: Abi, digest: Digest): void;
}

/** Deterministic uniform floats in [−scale, scale) (mulberry32, the model initializer's generator). */
export function seeded(seed: number, scale = 0.5): () => number {
  const next = seededRandom(seed);
  return () => (next() * 2 - 1) * scale;
}

export const CELL = { rnn: 0, lstm: 1, gru: 2 } as const;
export const LOSS_MSE = 0, LOSS_CE = 1, ADAM = 0, SGD = 1;

/** Writes tensors in kernel order (each must have the kernel's length), then commits them. */
export function writeParams(abi: Abi, tensors: ArrayLike<number>[]): void {
  const count = abi.call('getParamCount');
  if (count !== tensors.length) throw new Error(`the kernel holds ${count} tensors, the case gives ${tensors.length}`);
  tensors.forEach((t, i) => {
    const length = abi.call('getParamLength', i);
    if (length !== t.length) throw new Error(`tensor ${i}: the kernel holds ${length} floats, the case gives ${t.length}`);
    abi.write(abi.call('getParamPtr', i), t);
  });
  abi.ok('trainCommitParams');
}

/** Fills the whole parameter block with seeded values, then commits it. */
export function seedParams(abi: Abi, seed: number, scale: number): void {
  const next = seeded(seed, scale);
  abi.write(abi.call('getParamsPtr'), Float32Array.from({ length: abi.call('getParamsLength') }, next));
  abi.ok('trainCommitParams');
}

/** What an attention model keeps per slot, for hashing its latest weights. */
export interface AttentionShape { blocks: number; heads: number }

/** Hashes every open slot's state, position and (attention models) latest valid weights. */
export function hashSlots(abi: Abi, digest: Digest, slots: number[], attention?: AttentionShape, keys = 0): void {
  const length = abi.call('slotStateLength');
  for (const slot of slots) {
    digest.words(abi, abi.call('slotStatePtr', slot), length);
    digest.numbers(abi.call('slotPosition', slot));
    if (!attention) continue;
    const count = abi.call('slotAttentionCount', slot);
    digest.numbers(count);
    for (let block = 0; block < attention.blocks; block++) {
      const ptr = abi.call('slotAttentionPtr', slot, block);
      for (let h = 0; h < attention.heads; h++) digest.words(abi, ptr + h * keys * 4, count);
    }
  }
}

/**
 * Steps `slots` for `steps` rounds in batches that change shape (all slots, the last alone, the rest in reverse),
 * feeding each slot its own position's input; hashes every return code and output row, then the slots.
 */
export function stepRounds(abi: Abi, digest: Digest, slots: number[], steps: number, input: (slotIndex: number, position: number) => number[] | number): void {
  const X = abi.call('getInputSize'), O = abi.call('getOutputSize');
  const io = { slots: abi.call('getIoSlotsPtr'), tokens: abi.call('getIoTokensPtr'), input: abi.call('getIoInputPtr'), output: abi.call('getIoOutputPtr') };
  const positions = slots.map(() => 0);
  for (let round = 0; round < steps; round++) {
    const all = slots.map((_, i) => i);
    const entries = slots.length === 1 || round % 3 === 0 ? all : round % 3 === 1 ? [slots.length - 1] : all.slice(0, -1).reverse();
    entries.forEach((i, b) => {
      abi.writeI32(io.slots + 4 * b, [slots[i]]);
      const x = input(i, positions[i]++);
      if (typeof x === 'number') abi.writeI32(io.tokens + 4 * b, [x]);
      else abi.write(io.input + 4 * b * X, x);
    });
    digest.numbers(abi.call('stepBatch', entries.length));
    digest.words(abi, io.output, entries.length * O);
  }
}

/** Hashes what a training pass left: codes, loss, outputs, gradients, final state and input gradients. */
export function hashTraining(abi: Abi, digest: Digest, T: number, B: number, state: { layers: number; hidden: number }): void {
  const O = abi.call('getOutputSize'), X = abi.call('getInputSize');
  digest.numbers(abi.call('trainLoss'), abi.call('trainLossCount'));
  digest.words(abi, abi.call('trainOutputPtr'), T * B * O);
  digest.words(abi, abi.call('gradsPtr'), abi.call('getParamsLength'));
  const L = state.layers * B * state.hidden;
  for (const ptr of ['trainHNPtr', 'trainCNPtr', 'trainDH0Ptr', 'trainDC0Ptr']) digest.words(abi, abi.call(ptr), L);
  if (abi.call('getKind') !== 0 || X > 0) digest.words(abi, abi.call('trainDXPtr'), T * B * X);
}

/** Hashes the parameters, both optimizer moments, the step count and the last norms. */
export function hashOptimizer(abi: Abi, digest: Digest): void {
  const n = abi.call('getParamsLength');
  digest.words(abi, abi.call('getParamsPtr'), n);
  for (const which of [0, 1]) {
    const ptr = abi.call('optimizerMomentPtr', which);
    if (ptr) digest.words(abi, ptr, n);
  }
  digest.numbers(abi.call('getOptimizerSteps'), abi.call('trainTotalNorm'), abi.call('trainClipCoef'));
}

/** Runs one case on a fresh instance of its build; its digest. */
export function digestOf(builds: Builds, c: DigestCase): string {
  const digest = new Digest();
  c.run(new Abi(builds[c.build]), digest);
  return digest.hex();
}

/**
 * Whether this runtime fuses relaxed_madd: f32x4.relaxed_madd(a, a, c) with a = 1 + 2^-12, c = −(1 + 2^-11) is 2^-24
 * fused and 0 unfused. The relaxed build's digests hold only on machines that do the same as the one that made them.
 */
export function fusesMultiplyAdd(): boolean {
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d,
    0x03, 0x02, 0x01, 0x00,
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
    0x0a, 0x16, 0x01, 0x14, 0x00,
    0x20, 0x00, 0xfd, 0x13, 0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13,
    0xfd, 0x85, 0x02, 0xfd, 0x1f, 0x00, 0x0b,
  ]);
  const f = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports.f as (a: number, b: number, c: number) => number;
  const a = 1 + 2 ** -12;
  return f(a, a, -(1 + 2 ** -11)) !== 0;
}

/** The fixture: digests per variant (relaxed: keyed by whether the machine fused), made from the build before the refactor. */
export interface DigestFixture {
  about: string;
  madeFrom: string;
  baseline: Record<string, string>;
  relaxed?: { fusedMultiplyAdd: boolean; digests: Record<string, string> };
  /** The scalar build's own digests (build/seqcast-scalar.wasm, no SIMD), and what they were made from. */
  scalar?: { madeFrom: string; digests: Record<string, string> };
}

export const FIXTURE_URL = new URL('../fixtures/kernel-digests.json', import.meta.url);
