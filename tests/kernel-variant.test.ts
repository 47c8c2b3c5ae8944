// Which build of the kernel runs: the relaxed-SIMD build (fused multiply-add in the matrix products) where the
// runtime validates relaxed SIMD, else the baseline build, else (no SIMD) the scalar build;
// SEQCAST_KERNEL=baseline|relaxed|scalar|auto chooses. The `kernel-relaxed` project of vitest.config.ts runs this
// file and the kernel's golden, gradient and batching specifications under --experimental-wasm-relaxed-simd with
// SEQCAST_KERNEL=relaxed, the `kernel-scalar` project with SEQCAST_KERNEL=scalar.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createModel, InputError, KernelError } from '../src/index.js';
import { Kernel, kernelVariant, supportsRelaxedSimd, type KernelArch } from '../src/kernel/kernel.js';

const BASELINE = new Uint8Array(readFileSync(new URL('../build/seqcast.wasm', import.meta.url)));
const RELAXED = new Uint8Array(readFileSync(new URL('../build/seqcast-relaxed.wasm', import.meta.url)));
const SCALAR = new Uint8Array(readFileSync(new URL('../build/seqcast-scalar.wasm', import.meta.url)));
const DIST = new URL('../dist/index.js', import.meta.url).href;

/** Bit patterns of float32 values. */
function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

/** One LSTM step of `batch` fresh slots with deterministic parameters and inputs; the outputs and new states. */
async function stepOnce(wasm: Uint8Array<ArrayBuffer>, batch: number): Promise<{ outputs: Float32Array; states: Float32Array }> {
  const arch: KernelArch = { kind: 'recurrent', cell: 'lstm', layers: 2, inputSize: 5, vocabSize: 0, hiddenSize: 37, headSize: 3 };
  const kernel = await Kernel.create(arch, { batchCapacity: batch, wasm: new Uint8Array(wasm) });
  const params = kernel.params();
  for (let i = 0; i < params.length; i++) params[i] = Math.sin(i * 12.9898 + 0.5) * 0.4;
  kernel.paramsChanged();
  const slots: number[] = [];
  for (let b = 0; b < batch; b++) {
    const slot = kernel.openSlot();
    slots.push(slot);
    kernel.setSlot(b, slot);
    const at = kernel.inputOffset(b);
    for (let j = 0; j < arch.inputSize; j++) kernel.f32[at + j] = Math.cos(1.3 * b + 0.7 * j) * 2;
  }
  kernel.step(batch);
  const outputs = kernel.f32.slice(kernel.outputOffset(0), kernel.outputOffset(0) + batch * arch.headSize);
  const states = Float32Array.from(slots.flatMap((slot) => Array.from(kernel.slotState(slot))));
  return { outputs, states };
}

/**
 * Whether this machine fuses relaxed_madd: f32x4.relaxed_madd(a, a, c) with a = 1 + 2^-12, c = −(1 + 2^-11) is
 * 2^-24 fused (one rounding) and 0 unfused (a·a rounds to 1 + 2^-11 first). Relaxed SIMD lets a runtime do either.
 */
async function fusesMultiplyAdd(): Promise<boolean> {
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d, // (f32, f32, f32) → f32
    0x03, 0x02, 0x01, 0x00,
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f"
    0x0a, 0x16, 0x01, 0x14, 0x00,
    0x20, 0x00, 0xfd, 0x13, 0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13, // f32x4.splat of each argument
    0xfd, 0x85, 0x02, 0xfd, 0x1f, 0x00, 0x0b, // f32x4.relaxed_madd, lane 0
  ]);
  const { instance } = await WebAssembly.instantiate(bytes);
  const f = instance.exports.f as (a: number, b: number, c: number) => number;
  const a = 1 + 2 ** -12;
  return f(a, a, -(1 + 2 ** -11)) !== 0;
}

describe('the kernel build a process runs', () => {
  it('is the one SEQCAST_KERNEL names, or by default the relaxed-SIMD build exactly where the runtime validates relaxed SIMD', async () => {
    const wanted = process.env.SEQCAST_KERNEL;
    const expected = wanted === 'baseline' || wanted === 'relaxed' || wanted === 'scalar' ? wanted : supportsRelaxedSimd() ? 'relaxed' : 'baseline';
    expect(await kernelVariant()).toBe(expected);
  });

  it('the relaxed build validates exactly where the probe finds relaxed SIMD, and the baseline build everywhere', () => {
    expect(WebAssembly.validate(RELAXED)).toBe(supportsRelaxedSimd());
    expect(WebAssembly.validate(BASELINE)).toBe(true);
  });

  it.runIf(!supportsRelaxedSimd())('SEQCAST_KERNEL=relaxed on a runtime without relaxed SIMD refuses with a clear error, naming the flag', async () => {
    const script = `const { createModel } = await import(${JSON.stringify(DIST)});
try { await createModel({ cell: 'lstm', inputSize: 1, hiddenSize: 4, outputSize: 1 }); console.log('loaded'); }
catch (err) { console.log(err.name + ': ' + err.message); }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, SEQCAST_KERNEL: 'relaxed' } });
    expect(stdout).toMatch(/KernelError: .*relaxed-SIMD kernel was asked for.*--experimental-wasm-relaxed-simd/);
  });

  it('a model can ask for a build: baseline and scalar run everywhere, relaxed only where relaxed SIMD runs, anything else is refused', async () => {
    const spec = { cell: 'lstm' as const, inputSize: 2, hiddenSize: 9, outputSize: 2, seed: 1 };
    const plain = await createModel(spec, { kernel: 'baseline' });
    const plainStep = plain.openStream().step([0.5, -1]);
    expect(plainStep.every(Number.isFinite)).toBe(true);
    const scalar = await createModel(spec, { kernel: 'scalar' });
    expect(scalar.openStream().step([0.5, -1])).toEqual(plainStep);
    if (supportsRelaxedSimd()) {
      const fused = await createModel(spec, { kernel: 'relaxed' });
      expect(fused.openStream().step([0.5, -1]).every(Number.isFinite)).toBe(true);
    } else {
      await expect(createModel(spec, { kernel: 'relaxed' })).rejects.toThrow(KernelError);
    }
    await expect(createModel(spec, { kernel: 'fast' as never })).rejects.toThrow(InputError);
  });

  it('SEQCAST_KERNEL=scalar gives a model the scalar build, and an unknown value is refused naming the four it takes', async () => {
    const script = `const { createModel, kernelVariant } = await import(${JSON.stringify(DIST)});
console.log(await kernelVariant());
process.env.SEQCAST_KERNEL = 'fast';
try { await createModel({ cell: 'gru', inputSize: 1, hiddenSize: 3, outputSize: 1 }); console.log('loaded'); }
catch (err) { console.log(err.name + ': ' + err.message); }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, SEQCAST_KERNEL: 'scalar' } });
    expect(stdout.split('\n')[0]).toBe('scalar');
    expect(stdout).toMatch(/KernelError: SEQCAST_KERNEL must be "baseline", "relaxed", "scalar" or "auto", got "fast"/);
  });

  it('by default a runtime that does not validate SIMD gets the scalar build, and a model on it steps as on the SIMD build', async () => {
    // a runtime without SIMD, as Node 20 cannot be made one: WebAssembly.validate refuses every module (the probes)
    const script = `const { createModel, kernelVariant } = await import(${JSON.stringify(DIST)});
const spec = { cell: 'lstm', inputSize: 2, hiddenSize: 9, outputSize: 2, seed: 1 };
const simd = Array.from((await createModel(spec, { kernel: 'baseline' })).openStream().step([0.5, -1]));
WebAssembly.validate = () => false;
const variant = await kernelVariant();
const scalar = Array.from((await createModel(spec)).openStream().step([0.5, -1]));
let refused = '';
try { await createModel(spec, { kernel: 'baseline' }); } catch (err) { refused = err.name + ': ' + err.message; }
console.log(JSON.stringify({ variant, same: JSON.stringify(scalar) === JSON.stringify(simd), refused }));`;
    const env = { ...process.env };
    delete env.SEQCAST_KERNEL;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env });
    const result = JSON.parse(stdout) as { variant: string; same: boolean; refused: string };
    expect(result.variant).toBe('scalar');
    expect(result.same).toBe(true);
    expect(result.refused).toMatch(/KernelError: the SIMD kernel was asked for .* does not run WebAssembly SIMD; ask for "scalar"/);
  });

  it('the scalar build steps a batched LSTM exactly as the SIMD build does, bit for bit', async () => {
    for (const batch of [1, 2, 37]) {
      const simd = await stepOnce(BASELINE, batch);
      const scalar = await stepOnce(SCALAR, batch);
      expect(bits(scalar.outputs), `outputs, batch of ${batch}`).toEqual(bits(simd.outputs));
      expect(bits(scalar.states), `states, batch of ${batch}`).toEqual(bits(simd.states));
    }
  });

  it.runIf(supportsRelaxedSimd())('the two builds agree to float32 rounding on a batched LSTM step; fused multiply-adds change only the last bits', async () => {
    const baseline = await stepOnce(BASELINE, 37);
    const relaxed = await stepOnce(RELAXED, 37);
    for (const key of ['outputs', 'states'] as const) {
      const a = baseline[key], b = relaxed[key];
      expect(b.length).toBe(a.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
      expect(worst, `${key}: largest difference`).toBeLessThan(1e-5);
    }
    // where this machine fuses them, the relaxed build rounds once per multiply-add, so some bits differ
    if (await fusesMultiplyAdd()) expect(bits(relaxed.states)).not.toEqual(bits(baseline.states));
  });
});
