// The package as a user installs it: `import ... from 'seqcast'` resolves to the built dist/.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the seqcast package', () => {
  beforeAll(() => {
    if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
      spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
    }
  });

  it('is importable by name and steps a model from the built files', () => {
    const script = `
      import { createModel, InputError } from 'seqcast';
      const model = await createModel({ cell: 'lstm', inputSize: 2, hiddenSize: 5, seed: 3 });
      const stream = model.openStream();
      const y = stream.step([0.5, -1]);
      let refused = false;
      try { stream.step([1]); } catch (err) { refused = err instanceof InputError; }
      console.log(JSON.stringify({ length: y.length, finite: y.every(Number.isFinite), refused }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ length: 2, finite: true, refused: true });
  });
});
