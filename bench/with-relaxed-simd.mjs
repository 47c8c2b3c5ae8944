// Runs a TypeScript bench script (through tsx) in a Node process that can run relaxed SIMD, so that the script can
// time both builds of the kernel side by side (docs/abi.md): as is where the runtime has relaxed SIMD (Node 22+),
// with --experimental-wasm-relaxed-simd where that flag turns it on (Node 20), else as is (the script then times the
// plain build only).
//
// Usage: node bench/with-relaxed-simd.mjs bench/peers.ts [args...]

import { spawnSync } from 'node:child_process';

const FLAG = '--experimental-wasm-relaxed-simd';
// the kernel's own probe (src/kernel/kernel.ts, built into dist/ by `npm run build`, which `npm run bench` runs first)
const PROBE = `import(${JSON.stringify(new URL('../dist/kernel/kernel.js', import.meta.url).href)}).then((k) => process.stdout.write(String(k.supportsRelaxedSimd())))`;

function hasRelaxed(flags) {
  const run = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', PROBE], { encoding: 'utf8' });
  return run.status === 0 && run.stdout.trim() === 'true';
}

const flags = hasRelaxed([]) ? [] : hasRelaxed([FLAG]) ? [FLAG] : [];
const run = spawnSync(process.execPath, [...flags, '--import', 'tsx', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(run.status ?? 1);
