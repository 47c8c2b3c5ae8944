// Runs a TypeScript bench script (through tsx) in a Node process that can run relaxed SIMD, so that the script can
// time both builds of the kernel side by side (docs/abi.md): as is where the runtime has relaxed SIMD (Node 22+),
// with --experimental-wasm-relaxed-simd where that flag turns it on (Node 20), else as is (the script then times the
// plain build only).
//
// Usage: node bench/with-relaxed-simd.mjs bench/peers.ts [args...]

import { spawnSync } from 'node:child_process';

const FLAG = '--experimental-wasm-relaxed-simd';
// the smallest module using a relaxed SIMD instruction (the same probe as src/kernel/kernel.ts)
const PROBE = 'WebAssembly.validate(new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,61,1,59,0,'
  + `${Array(3).fill(`253,12,${Array(16).fill(0).join(',')}`).join(',')},253,133,2,11]))`;

function hasRelaxed(flags) {
  const run = spawnSync(process.execPath, [...flags, '-p', PROBE], { encoding: 'utf8' });
  return run.status === 0 && run.stdout.trim() === 'true';
}

const flags = hasRelaxed([]) ? [] : hasRelaxed([FLAG]) ? [FLAG] : [];
const run = spawnSync(process.execPath, [...flags, '--import', 'tsx', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(run.status ?? 1);
