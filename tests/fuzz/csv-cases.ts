// Fuzz cases for the CSV reader (src/io/csv.ts): tables of numbers as people and programs write them, then mutated:
// quotes opened and not closed, cells that are not numbers or beyond float32, BOMs, mixed line ends, blank lines,
// NUL bytes, bytes that are not UTF-8.

import type { Random } from './random.js';

const CELLS = [
  '0', '1', '-1', '3.25', '.5', '-.5', '5.', '1e-3', '1E+38', '3.4e38', '3.5e38', '-3.4028235e38', '1e-46', '1e400', '-0', '+7',
  'nan', 'NaN', 'inf', '-Infinity', '', ' ', 'abc', '0x10', '1,5', '1_000', '١٢', '"3"', '"a,b"', '"line\nbreak"', '"x""y"', '"unclosed', 'é', '\u0000',
];

const LINE_ENDS = ['\n', '\r\n', '\r'];

/** A table: an optional header, then rows of cells (mostly numbers), joined with mixed line ends. */
function table(random: Random): string {
  const columns = 1 + random.int(4);
  const lines: string[] = [];
  if (random.chance(0.3)) lines.push(Array.from({ length: columns }, (_, i) => random.pick([`col${i}`, 'value', '"quoted header"', ''])).join(','));
  for (let r = 1 + random.int(8); r > 0; r--) {
    const width = random.chance(0.9) ? columns : 1 + random.int(5);
    lines.push(Array.from({ length: width }, () => (random.chance(0.8) ? String(Math.fround((random.next() - 0.5) * 10 ** random.int(8))) : random.pick(CELLS))).join(random.chance(0.95) ? ',' : random.pick([';', ', ', ' ,', '\t'])));
    if (random.chance(0.1)) lines.push(random.pick(['', ' ', ',,']));
  }
  let text = '';
  for (const line of lines) text += line + random.pick(LINE_ENDS);
  if (random.chance(0.2)) text = text.replace(/(\r\n|\r|\n)$/, '');
  if (random.chance(0.1)) text = `\uFEFF${text}`;
  return text;
}

/** Case `index` of a run: a table's bytes, now and then with bytes flipped, cut or inserted. */
export function csvCase(random: Random): Uint8Array {
  const bytes = new TextEncoder().encode(table(random));
  if (random.chance(0.7) || bytes.byteLength === 0) return bytes;
  const out = Array.from(bytes);
  for (let k = 1 + random.int(3); k > 0; k--) {
    const at = random.int(out.length + 1);
    const what = random.int(3);
    if (what === 0) out.splice(at, 0, random.pick([0x22, 0x2c, 0x0a, 0x0d, 0x00, 0xff, 0xc3, 0xef, 0xbb, 0xbf]));
    else if (what === 1) out.splice(at, 1);
    else out.length = Math.min(out.length, at);
  }
  return Uint8Array.from(out);
}
