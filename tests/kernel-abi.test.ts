// The kernel as a host in another language sees it: no imports, exactly the exports docs/abi.md documents (the
// diagnostics only in their test-only build), and a step path that never allocates.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createModel } from '../src/index.js';
import { diagnosticWasm, type DiagnosticExports } from '../src/kernel/diagnostics.js';

/** A module's import and export names, read from its binary (the relaxed builds do not compile on every runtime). */
interface Interface { imports: string[]; exports: string[] }

function interfaceOf(file: string): Interface {
  const bytes = readFileSync(new URL(`../build/${file}`, import.meta.url));
  let at = 8; // magic and version
  const leb = () => {
    let value = 0, shift = 0, byte;
    do { byte = bytes[at++]; value |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
    return value >>> 0;
  };
  const name = () => { const length = leb(); at += length; return bytes.toString('utf8', at - length, at); };
  const result: Interface = { imports: [], exports: [] };
  while (at < bytes.length) {
    const id = bytes[at++], size = leb(), end = at + size;
    if (id === 2 || id === 7) {
      for (let count = leb(); count > 0; count--) {
        if (id === 2) {
          result.imports.push(`${name()}.${name()}`);
          at = end; // nothing is expected here; one name is enough to fail the test
          break;
        }
        result.exports.push(name());
        at++; // kind
        leb(); // index
      }
    }
    at = end;
  }
  return result;
}

const PRODUCTION = {
  'build/seqcast.wasm': interfaceOf('seqcast.wasm'),
  'build/seqcast-relaxed.wasm': interfaceOf('seqcast-relaxed.wasm'),
  'build/seqcast-scalar.wasm': interfaceOf('seqcast-scalar.wasm'),
};
const DIAGNOSTICS = {
  'build/seqcast-diagnostics.wasm': interfaceOf('seqcast-diagnostics.wasm'),
  'build/seqcast-diagnostics-relaxed.wasm': interfaceOf('seqcast-diagnostics-relaxed.wasm'),
  'build/seqcast-diagnostics-scalar.wasm': interfaceOf('seqcast-diagnostics-scalar.wasm'),
};

const page = readFileSync(new URL('../docs/abi.md', import.meta.url), 'utf8');
const [productionPart, diagnosticsPart] = page.split(/^## Diagnostics\b/m);

/**
 * The exports a part of docs/abi.md documents: the names in the first cell of each row of a table headed
 * `| export |`, and functions in `###` headings; `memory` where the page says it is exported.
 */
function documented(part: string): string[] {
  const names: string[] = [];
  let inExportTable = false;
  for (const line of part.split('\n')) {
    if (/^\| export \|/.test(line)) inExportTable = true;
    else if (!line.startsWith('|')) inExportTable = false;
    const firstCell = inExportTable ? line.split('|')[1] : '';
    for (const match of firstCell.matchAll(/`(\w+)[`(]/g)) names.push(match[1]);
    const heading = /^### `(\w+)\(/.exec(line);
    if (heading) names.push(heading[1]);
  }
  if (part.includes('exported as `memory`')) names.push('memory');
  return names.sort();
}

const exportsOf = (module: Interface) => [...module.exports].sort();

describe('the kernel module', () => {
  it.each(Object.entries({ ...PRODUCTION, ...DIAGNOSTICS }))('%s imports nothing, so any WebAssembly runtime can host it', (_, module) => {
    expect(module.imports).toEqual([]);
  });

  it('reads a module\'s interface as the runtime does', () => {
    const module = new WebAssembly.Module(readFileSync(new URL('../build/seqcast.wasm', import.meta.url)));
    expect(PRODUCTION['build/seqcast.wasm'].exports).toEqual(WebAssembly.Module.exports(module).map((e) => e.name));
    expect(WebAssembly.Module.imports(module)).toEqual([]);
  });

  it('docs/abi.md documents each production export once, and diagnostics apart', () => {
    const production = documented(productionPart), diagnostics = documented(diagnosticsPart);
    expect(production.length).toBeGreaterThan(80);
    expect(new Set(production).size, 'a production export documented twice').toBe(production.length);
    expect(diagnostics).toEqual(['activation', 'arenaUsed', 'debugAffine', 'debugAlloc', 'debugAttend', 'debugGelu', 'debugLayerNorm', 'debugPeak', 'debugPositionalEncoding', 'debugTokenShortcut']);
    expect(production.filter((name) => diagnostics.includes(name))).toEqual([]);
  });

  it.each(Object.entries(PRODUCTION))('%s exports exactly the names docs/abi.md documents for production, both ways', (_, module) => {
    const exported = exportsOf(module), names = documented(productionPart);
    expect(exported.filter((name) => !names.includes(name)), 'exported but not documented').toEqual([]);
    expect(names.filter((name) => !exported.includes(name)), 'documented but not exported').toEqual([]);
  });

  it.each(Object.entries(DIAGNOSTICS))('%s exports the production ABI and the documented diagnostics, nothing else', (_, module) => {
    expect(exportsOf(module)).toEqual([...documented(productionPart), ...documented(diagnosticsPart)].sort());
  });

  it.each([
    ['an LSTM', { cell: 'lstm' as const, inputSize: 3, hiddenSize: 37, layers: 2 }],
    ['a transformer', { kind: 'transformer' as const, inputSize: 3, width: 12, heads: 3, window: 9, sinks: 2 }],
  ])('never grows memory while stepping %s (nothing allocates on the step path)', async (_, spec) => {
    // the diagnostics build, whose arenaUsed tells what the arena handed out
    const model = await createModel(spec, { batchCapacity: 8, wasm: await diagnosticWasm() });
    const exports = model.kernel.exports as DiagnosticExports;
    const streams = Array.from({ length: 8 }, () => model.openStream());
    const frames = streams.map((_, i) => [i, -i, 0.5]);
    model.stepBatch(streams, frames);
    const bytes = model.kernel.memoryBytes;
    const used = exports.arenaUsed();
    for (let step = 0; step < 2000; step++) {
      model.stepBatch(streams, frames);
      streams[step % 8].step(frames[0]);
    }
    expect(exports.arenaUsed()).toBe(used);
    expect(model.kernel.memoryBytes).toBe(bytes);
  });
});
