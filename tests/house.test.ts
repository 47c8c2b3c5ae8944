// The house's rules, checked in `npm test`: the import graph of src/ (dependency-cruiser, rules in .dependency-cruiser.cjs)
// and the length of every source file.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, format, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Past this many lines a file is doing two jobs (DESIGN.md "One job per file"), unless its header says why it is not. */
const MAX_LINES = 400;

/**
 * Files over MAX_LINES allowed for now, with no reason in their header.
 * Removed when the api/stream refactor lands (and the server and kernel splits): the integrator deletes these lines.
 */
const KNOWN_LONG_FILES: string[] = [];

/** The header comment (the file's leading comment lines) of a long file must carry this, followed by the reason. */
const LONG_FILE_REASON = /over 400 lines because\b/i;

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .sort();
}

/** The file's opening comment: its leading lines that start with // or belong to a /* … *\/ block. */
function header(text: string): string {
  const lines = text.split('\n');
  const kept: string[] = [];
  let inBlock = false;
  for (const line of lines) {
    const trimmed = line.trim();
    if (inBlock || trimmed.startsWith('//') || trimmed.startsWith('/*')) {
      kept.push(trimmed);
      if (trimmed.startsWith('/*')) inBlock = true;
      if (trimmed.includes('*/')) inBlock = false;
      continue;
    }
    break;
  }
  return kept.join(' ');
}

describe('the house', () => {
  it('has no import circles and no import up a floor in src/ (.dependency-cruiser.cjs)', async () => {
    const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
    const tsConfig = extractTSConfig(join(ROOT, 'tsconfig.json'));
    const previous = process.cwd();
    process.chdir(ROOT); // the rules' paths are relative to the repository root
    let result;
    try {
      result = await cruise(['src'], { ...options, validate: true }, {}, { tsConfig });
    } finally {
      process.chdir(previous);
    }
    const output = result.output as ICruiseResult;
    const violations = output.summary.violations;
    // the modules were found through the .js specifiers: every src file is in the graph
    expect(output.modules.filter((m) => m.source.startsWith('src/')).map((m) => m.source).sort()).toEqual(sourceFiles('src'));
    const report = violations.length > 0 ? (await format(output, { outputType: 'err' })).output : '';
    expect(violations, String(report)).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines unless its header says why`, () => {
    const tooLong: string[] = [];
    for (const file of [...sourceFiles('src'), ...sourceFiles('assembly')]) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      if (lines > MAX_LINES && !LONG_FILE_REASON.test(header(text)) && !KNOWN_LONG_FILES.includes(file)) tooLong.push(`${file}: ${lines} lines`);
    }
    expect(tooLong, `split these files, or say in the header "over ${MAX_LINES} lines because …"`).toEqual([]);
  });
});
