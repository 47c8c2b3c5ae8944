// The package as a user gets it: `npm pack`'s tarball installed into an empty folder (dependencies from the local
// npm cache, else the registry), then `npx seqcast`, `import { loadModel } from 'seqcast'` and its types used from
// there, on this Node (20) and on Node 24 run through `npm exec --package=node@24…`, where relaxed SIMD loads by default.

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

/** The Node 24 LTS the package is also checked on, from the npm registry's `node` package (the machine's Node is untouched). */
const NODE_24 = 'node@24.21.0';
/** npm installs and a Node download take their time; anything slower than this has hung. */
const INSTALL_MS = 240_000;

let dir: string;
let app: string;
let tarball: string;

/** Runs a command to its end (bounded), returning what it printed; fails the test with its output when it fails. */
function run(command: string, args: string[], cwd: string, timeout = INSTALL_MS): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status ?? result.signal}${result.error ? ` (${result.error.message})` : ''}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** `node` (this one, or Node 24 through npm exec) running `args` in the app folder. */
function node(version: 'this' | 'node24', args: string[]): SpawnSyncReturns<string> {
  return version === 'this' ? run(process.execPath, args, app) : run('npm', ['exec', '--yes', `--package=${NODE_24}`, '--', 'node', ...args], app);
}

/** A script using the package as its README says, printing what it saw as JSON. */
const USE_IT = `
  import { loadModel, kernelVariant, InputError } from 'seqcast';
  const model = await loadModel('node_modules/seqcast/demo/machine-temperature.safetensors');
  const stream = model.openStream();
  const y = stream.step([73.97]);
  let refused = false;
  try { stream.step([1, 2]); } catch (err) { refused = err instanceof InputError; }
  // seqcast/cluster: a batch split over two worker threads gives model.stepBatch's outputs, bit for bit
  const { StepPool } = await import('seqcast/cluster');
  const pool = await StepPool.start(model, { workers: 2 });
  const inputs = [[70.1], [71.2], [72.3], [73.4], [74.5]];
  const pooled = await pool.stepBatch(pool.open(inputs.length), inputs);
  const direct = model.stepBatch(inputs.map(() => model.openStream()), inputs);
  await pool.close();
  const poolSame = pooled.every((row, b) => row.every((v, i) => Object.is(v, direct[b][i])));
  console.log(JSON.stringify({ describe: model.describe(), length: y.length, value: y[0], refused, kernel: await kernelVariant(), node: process.versions.node, poolSame }));
`;

/** A TypeScript file against the package's types: a right use, and a wrong one that must be an error. */
const TYPED = `
  import { loadModel, type Model } from 'seqcast';
  import { StepPool, type PooledStream } from 'seqcast/cluster';
  const model: Model = await loadModel('model.safetensors');
  const pool: StepPool = await StepPool.start(model, { workers: 2 });
  const pooled: PooledStream[] = pool.open(2);
  const rows: Float32Array[] = await pool.stepBatch(pooled, [[1, 2], [3, 4]]);
  console.log(rows.length);
  // @ts-expect-error: workers is a number
  await StepPool.start(model, { workers: 'two' });
  const next: Float32Array = model.openStream().step([1, 2]);
  console.log(next.length, model.inputSize);
  // @ts-expect-error: a path is a string
  await loadModel(42);
`;

beforeAll(() => {
  for (const built of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'build/seqcast.wasm', 'build/seqcast-relaxed.wasm', 'build/seqcast-scalar.wasm']) {
    if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: run npm run build first (npm test does)`);
  }
  dir = mkdtempSync(join(tmpdir(), 'seqcast-pack-'));
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], ROOT).stdout) as { filename: string }[];
  tarball = join(dir, packed[0].filename);
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const typesNode = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['@types/node'];
  run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball, `@types/node@${typesNode}`], app);
}, INSTALL_MS);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('seqcast installed from its npm pack tarball into an empty folder', () => {
  it('the tarball holds the built library, the command, the three kernel builds and the demo, and no sources or tests', () => {
    const listed = run('tar', ['-tzf', tarball], dir).stdout.split('\n');
    for (const file of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/bin/seqcast.js', 'package/build/seqcast.wasm', 'package/build/seqcast-relaxed.wasm', 'package/build/seqcast-scalar.wasm', 'package/demo/machine-temperature.safetensors', 'package/web/dist/index.html']) {
      expect(listed).toContain(file);
    }
    expect(listed.filter((file) => /^package\/(src|tests|bench|scripts)\//.test(file))).toEqual([]);
    expect(listed.filter((file) => file.endsWith('.wat') || /^package\/build\/.*diagnostics/.test(file))).toEqual([]); // the test-only kernel builds
  });

  it('npx seqcast --help runs the installed command', () => {
    const help = run('npx', ['--no-install', 'seqcast', '--help'], app).stdout;
    expect(help).toMatch(/^Usage: seqcast /);
    expect(help).toMatch(/^ {2}serve \[options\]/m);
    expect(help).toMatch(/^Exit status:/m);
  }, 60_000);

  it("import { loadModel } from 'seqcast' loads and steps the bundled model", () => {
    const seen = JSON.parse(node('this', ['--input-type=module', '-e', USE_IT]).stdout);
    expect(seen).toMatchObject({ describe: expect.stringMatching(/lstm/), length: 1, refused: true, poolSame: true });
    expect(seen.value).toBeGreaterThan(60);
    expect(seen.value).toBeLessThan(90);
  });

  it('its types check a right use and catch a wrong one (strict, the library types checked too)', () => {
    writeFileSync(join(app, 'use.ts'), TYPED);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['use.ts'] }),
    );
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app, 180_000);
  }, 180_000);

  it('npx seqcast serve --demo serves from the installed package: /readyz answers, SIGTERM stops it with 0', async () => {
    const child = spawn(join(app, 'node_modules/.bin/seqcast'), ['serve', '--demo', '--port', '0'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      await expect.poll(() => /serving on (http:\/\/\S+)/.exec(stdout)?.[1], { timeout: 30_000 }).toBeDefined();
      const url = /serving on (http:\/\/\S+)/.exec(stdout)![1];
      expect(stdout).toMatch(/dashboard: http/); // web/dist came along
      const ready = await fetch(`${url}readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, models: expect.arrayContaining(['machine-temperature']) });
      const exited = new Promise((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(killer);
    }
  }, 90_000);

  it(`on Node 24 (${NODE_24} from the registry): the command and the import work, and the relaxed-SIMD kernel loads without a flag`, () => {
    expect(node('node24', ['--version']).stdout.trim()).toBe(`v${NODE_24.slice('node@'.length)}`);
    expect(node('node24', ['node_modules/.bin/seqcast', '--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const seen = JSON.parse(node('node24', ['--input-type=module', '-e', USE_IT]).stdout);
    expect(seen).toMatchObject({ node: NODE_24.slice('node@'.length), length: 1, refused: true, kernel: 'relaxed', poolSame: true });
  }, INSTALL_MS);
});
