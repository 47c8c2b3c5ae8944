// Helpers shared by the benchmark scripts (bench/kernel.ts, bench/peers.ts):
// deterministic inputs, comparison, statistics, formatting and the machine line
// (timing is bench/timing.ts; writing results is bench/report.ts).

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import { kernelVariant } from '../src/index.js';
import { KERNEL_FILES } from '../src/kernel/kernel.js';

/** Matrix-product FLOPs of one LSTM stream-step (nonlinearities not counted): 8·H·(X+H) + 2·O·H. */
export function lstmFlopsPerStreamStep(H: number, X: number, O: number): number {
  return 8 * H * (X + H) + 2 * O * H;
}

// ---------------------------------------------------------------- inputs

/** Deterministic standard-normal floats (mulberry32 + Box–Muller). */
export function normalSource(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** `count` frames of `width` standard-normal floats. */
export function randomFrames(count: number, seed: number, width: number): Float32Array[] {
  const next = normalSource(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: width }, next));
}

// ---------------------------------------------------------------- comparison

/** Largest |a − b|, and where (Infinity when the lengths differ or a value is NaN). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  if (a.length !== b.length) return { diff: Infinity, at: -1 };
  let diff = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) {
      diff = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  return { diff, at };
}

// ---------------------------------------------------------------- statistics

export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Linear-interpolated percentile of an ascending array, p in [0, 1]. */
export function percentile(sorted: number[], p: number): number {
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

// ---------------------------------------------------------------- formatting

export function fmtUs(us: number): string {
  if (us < 10) return us.toFixed(2);
  if (us < 100) return us.toFixed(1);
  return Math.round(us).toLocaleString('en-US');
}

export function fmtRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)} k`;
  return perSec.toFixed(0);
}

export function fmtGflops(g: number): string {
  if (g < 0.1) return g.toFixed(3);
  return g < 10 ? g.toFixed(2) : g.toFixed(1);
}

// ---------------------------------------------------------------- machine

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  date: string;
  loadavg: number[];
}

export function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    date: new Date().toISOString(),
    loadavg: os.loadavg(),
  };
}

export interface WasmInfo {
  /** The kernel file, from the repository root. */
  file: string;
  sha256: string;
  bytes: number;
  mtime: string;
}

/** The file of the kernel build this process runs (build/seqcast-relaxed.wasm where the runtime has relaxed SIMD, docs/abi.md). */
export async function kernelInUse(): Promise<URL> {
  return new URL(`../build/${KERNEL_FILES[await kernelVariant()]}`, import.meta.url);
}

export async function wasmInfo(url: URL): Promise<WasmInfo> {
  const bytes = await readFile(url);
  const info = await stat(url);
  return { file: `build/${url.pathname.split('/').pop()}`, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, mtime: info.mtime.toISOString() };
}

/**
 * The server options every flat-out server bench shares: a free loopback port, no dashboard, limits high enough
 * that the generator's `streams` streams are never rate-limited or refused.
 */
export function floodServerOptions(streams: number) {
  return { port: 0, webRoot: null, rateLimit: 10_000_000, maxStreamsPerConnection: streams, maxPayload: 16 * 1024 * 1024 } as const;
}
