// The kernel as a host in another language sees it: no imports, the documented
// exports, and a step path that never allocates.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createModel } from '../src/index.js';

const module = new WebAssembly.Module(readFileSync(new URL('../build/seqcast.wasm', import.meta.url)));

describe('the kernel module', () => {
  it('imports nothing, so any WebAssembly runtime can host it', () => {
    expect(WebAssembly.Module.imports(module)).toEqual([]);
  });

  it('exports every function docs/abi.md documents', () => {
    const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    const documented = readFileSync(new URL('../docs/abi.md', import.meta.url), 'utf8');
    const names = [...documented.matchAll(/^\| `(\w+)\(/gm), ...documented.matchAll(/^### `(\w+)\(/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(30);
    for (const name of names) expect(exported.has(name), `${name} is documented but not exported`).toBe(true);
  });

  it.each([
    ['an LSTM', { cell: 'lstm' as const, inputSize: 3, hiddenSize: 37, layers: 2 }],
    ['a transformer', { kind: 'transformer' as const, inputSize: 3, width: 12, heads: 3, window: 9, sinks: 2 }],
  ])('never grows memory while stepping %s (nothing allocates on the step path)', async (_, spec) => {
    const model = await createModel(spec, { batchCapacity: 8 });
    const streams = Array.from({ length: 8 }, () => model.openStream());
    const frames = streams.map((_, i) => [i, -i, 0.5]);
    model.stepBatch(streams, frames);
    const bytes = model.kernel.memoryBytes;
    const used = model.kernel.exports.arenaUsed();
    for (let step = 0; step < 2000; step++) {
      model.stepBatch(streams, frames);
      streams[step % 8].step(frames[0]);
    }
    expect(model.kernel.exports.arenaUsed()).toBe(used);
    expect(model.kernel.memoryBytes).toBe(bytes);
  });
});
