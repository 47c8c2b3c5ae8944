// Checks JSON.parse cannot make: a repeated key in an object (JSON.parse keeps the last one silently) and what
// follows the top-level value. Used on safetensors headers, whose format forbids duplicate keys.

/** A key found twice in one object: the key, and the top-level key it sits under (undefined at the top level). */
export interface DuplicateKey {
  key: string;
  under: string | undefined;
}

/** What scanJson found in a text that JSON.parse accepted. */
export interface JsonScan {
  /** The first key that repeats within one object, if any. */
  duplicate: DuplicateKey | undefined;
  /** Index just past the top-level value's last character. */
  end: number;
}

const OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d, QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c;

/**
 * Walks `text`, which must be valid JSON (JSON.parse accepted it), without recursion (nesting depth costs
 * memory, not stack): finds the first key that repeats within one object, and where the top-level value ends.
 */
export function scanJson(text: string): JsonScan {
  // one entry per open container: the keys seen so far for an object, null for an array
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  let topKey: string | undefined;
  let end = -1;
  for (let i = 0; i < text.length && end < 0; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      for (i++; text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
      const keys = open[open.length - 1];
      if (keys && expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (keys.has(key)) return { duplicate: { key, under: open.length > 1 ? topKey : undefined }, end: -1 };
        keys.add(key);
        if (open.length === 1) topKey = key;
        expectKey = false;
      }
      if (open.length === 0) end = i + 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      open.push(c === OPEN_OBJECT ? new Set() : null);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      open.pop();
      expectKey = false;
      if (open.length === 0) end = i + 1;
    } else if (c === COMMA) {
      expectKey = open[open.length - 1] !== null;
    }
  }
  return { duplicate: undefined, end: end < 0 ? text.length : end };
}
