// npm runs this after `npm install` from git (and after npm install or npm ci in a checkout): it builds dist/, the
// kernels and the dashboard when they are missing, so a git dependency arrives usable. A checkout that has them is
// left alone; `npm run build` rebuilds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const built = ['dist/index.js', 'build/seqcast.wasm', 'build/seqcast-relaxed.wasm'].every((file) => existsSync(file));
if (!built) {
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const result = spawnSync(npm[0], [...npm[1], 'run', 'build', '--silent'], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
