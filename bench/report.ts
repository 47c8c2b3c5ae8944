// The one report writer of the benches: a bench's own section of bench/RESULTS.md, its results JSON and other result files.
// With BENCH_SMOKE=1 (a quick check that a bench still runs, bench/timing.ts) nothing is written.

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SMOKE } from './timing.js';

/** Writes `text` to `file`, unless this is a smoke run (then says what it would have written). */
export async function writeResultsFile(file: URL, text: string): Promise<void> {
  if (SMOKE) {
    console.log(`smoke run: not writing ${fileURLToPath(file)} (${text.length} characters)`);
    return;
  }
  await writeFile(file, text);
}

/** Writes `results` to `file` as indented JSON with a final newline. */
export async function writeResultsJson(file: URL, results: unknown): Promise<void> {
  await writeResultsFile(file, `${JSON.stringify(results, null, 2)}\n`);
}

/**
 * Replaces the text between `start` and `end` (markers included; `sectionText`
 * must carry them) in the markdown file, or appends the section when the file
 * has none yet. Other sections are left as they are.
 */
export async function writeResultsSection(file: URL, start: string, end: string, sectionText: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = '# seqcast benchmarks\n\nEach section below is written by a benchmark script, which replaces only its own section (between its `<!-- name:start -->` and `<!-- name:end -->` markers).\n';
  }
  const at = text.indexOf(start);
  const endAt = text.indexOf(end, at);
  if (at >= 0 && endAt > at) {
    text = text.slice(0, at) + sectionText + text.slice(endAt + end.length);
  } else {
    text = `${text.replace(/\n*$/, '\n\n')}${sectionText}\n`;
  }
  await writeResultsFile(file, text);
}
