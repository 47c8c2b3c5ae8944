// Where the 64-stream step spends its time (issue 16, "First, make one core's batch count"): the whole raw
// `kernel.step(64)` at H = 128 beside the products it is made of, timed alone through the diagnostics build's
// debugAffine (the gate product (64, 512) over [x | h] rows of width 136 and the head (64, 8) over width 128),
// interleaved in one run. step − products = the cell's nonlinearities, the row copies and the validation.
// PROFILE_AGAINST=<a diagnostics .wasm> adds the gate product of that build (e.g. a copy taken before a change),
// interleaved with this one's: an A/B of the product on the same buffers in the same run.
// Run: `npx tsx bench/kernel-profile.ts`, or `node bench/with-relaxed-simd.mjs bench/kernel-profile.ts` with
// SEQCAST_KERNEL=relaxed for the relaxed build. Prints; writes nothing.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { loadModel } from '../src/index.js';
import { diagnosticKernel, type DiagnosticExports } from '../src/kernel/diagnostics.js';
import { resolveVariant } from '../src/kernel/variant.js';
import { fmtUs, randomFrames } from './common.js';
import { timeCases } from './timing.js';
import { X, W2_HIDDEN as H, W2_STREAMS as B, O } from './kernel-config.js';

const variant = resolveVariant('auto');
const model = await loadModel(fileURLToPath(new URL(`models/lstm_h${H}.safetensors`, import.meta.url)));
const kernel = model.kernel;
const slots = Array.from({ length: B }, (_, b) => model.openStream({ name: `profile-${b}` }).slot);
const frames = randomFrames(B, 7, X);
for (let b = 0; b < B; b++) { kernel.setSlot(b, slots[b]); kernel.f32.set(frames[b], kernel.inputOffset(b)); }

const G = 4 * H, W = (X + H + 3) & ~3, Hp = (H + 3) & ~3;

/** The product's buffers in one diagnostics instance, filled the same way in each. */
function buffers(d: DiagnosticExports) {
  const alloc = (floats: number) => d.debugAlloc(floats * 4);
  const panel = alloc(Math.ceil(G / 8) * 8 * W), input = alloc(B * W), out = alloc(B * G), bias = alloc(G);
  const headPanel = alloc(8 * Hp), headIn = alloc(B * Hp), headOut = alloc(B * O);
  const f32 = new Float32Array(d.memory.buffer);
  for (let i = 0; i < B * W; i++) f32[input / 4 + i] = Math.sin(i);
  for (let i = 0; i < Math.ceil(G / 8) * 8 * W; i++) f32[panel / 4 + i] = Math.cos(i) * 0.1;
  return { panel, input, out, bias, headPanel, headIn, headOut };
}
const d = await diagnosticKernel(variant);
const { panel, input, out, bias, headPanel, headIn, headOut } = buffers(d);

const cases = [
  { name: `kernel.step(${B}) whole step`, run: (n: number) => { for (let i = 0; i < n; i++) kernel.step(B); } },
  { name: `gate product (${B}, ${G}) · width ${W}`, run: (n: number) => { for (let i = 0; i < n; i++) d.debugAffine(out, B, G, input, W, panel, bias, bias); } },
  { name: `head product (${B}, ${O}) · width ${Hp}`, run: (n: number) => { for (let i = 0; i < n; i++) d.debugAffine(headOut, B, O, headIn, Hp, headPanel, bias, 0); } },
];
if (process.env.PROFILE_AGAINST) {
  const other = (await WebAssembly.instantiate(await readFile(process.env.PROFILE_AGAINST), {})).instance.exports as unknown as DiagnosticExports;
  const o = buffers(other);
  cases.push({ name: `gate product, ${process.env.PROFILE_AGAINST.split('/').pop()}`, run: (n: number) => { for (let i = 0; i < n; i++) other.debugAffine(o.out, B, G, o.input, W, o.panel, o.bias, o.bias); } });
}
const before = loadavg()[0];
const t = await timeCases(cases.map((c) => ({ run: c.run, streamStepsPerCall: B })), { repeats: 21, repeatTargetMs: 40, warmupMs: 300, warmupMinCalls: 100 });
const after = loadavg()[0];
const flops = [8 * H * (X + H) + 2 * O * H, 2 * G * (X + H), 2 * O * H, 2 * G * (X + H)];
console.log(`${variant} build, load average ${before.toFixed(1)} → ${after.toFixed(1)}; µs per stream-step, median (p10 – p90)`);
cases.forEach((c, i) => console.log(`  ${c.name.padEnd(40)} ${fmtUs(t[i].medianUs)} (${fmtUs(t[i].p10Us)} – ${fmtUs(t[i].p90Us)})  ${(flops[i] / (t[i].medianUs * 1e3)).toFixed(1)} GFLOP/s`));
const rest = t[0].medianUs - t[1].medianUs - t[2].medianUs;
console.log(`  products ${(100 * (t[1].medianUs + t[2].medianUs) / t[0].medianUs).toFixed(0)}% of the step; the rest (nonlinearities, copies, validation) ${fmtUs(rest)} µs = ${(100 * rest / t[0].medianUs).toFixed(0)}%`);
if (t.length > 3) {
  const ratios = t[1].samplesUs.map((us, r) => t[3].samplesUs[r] / us).sort((a, b) => a - b);
  const at = (p: number) => ratios[Math.min(ratios.length - 1, Math.floor(p * ratios.length))];
  console.log(`  this build's gate product is ${at(0.5).toFixed(3)}× as fast as the other's (per-round ratios, median; p10 – p90 ${at(0.1).toFixed(3)} – ${at(0.9).toFixed(3)})`);
}
model.close();
