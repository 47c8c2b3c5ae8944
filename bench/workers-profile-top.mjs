// The top self-time functions of a .cpuprofile (node --cpu-prof), with their share of the samples.
// Run: node bench/workers-profile-top.mjs FILE.cpuprofile [rows]
import { readFileSync } from 'node:fs';

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const rows = Number(process.argv[3] ?? 30);
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
let total = 0;
for (const [id, count] of counts) {
  const { callFrame } = byId.get(id);
  const key = `${callFrame.functionName || '(anonymous)'} ${callFrame.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + count);
  total += count;
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, c]) => s + c, 0);
process.stdout.write(`${total} samples, ${((100 * idle) / total).toFixed(1)}% idle; self time of the busy samples:\n`);
for (const [key, count] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, rows)) {
  process.stdout.write(`${((100 * count) / (total - idle)).toFixed(1).padStart(5)}%  ${key}\n`);
}
