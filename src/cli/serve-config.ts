// `seqcast serve --config seqcast.json`: every flag of serve settable in a JSON file, checked key by key with the
// flags' own parsers; flags on the command line (and environment variables) win over the file.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { InputError } from '../errors.js';
import { describeFileError } from '../io/files.js';
import { UsageError } from './usage.js';

/** Keys whose values are paths: read relative to the config file's folder. */
const PATH_KEYS = new Set(['model', 'stateDir', 'sink']);
/** Flags that may be given more than once: a list in the file. */
const REPEATABLE = new Set(['model', 'origin', 'allowedHost', 'sink']);
/** Options that are not settings. */
const NOT_SETTINGS = new Set(['config', 'help', 'version']);

/**
 * Reads the config file `file` into `command`'s options: each key is a long flag in camelCase ("port",
 * "stateDir", "maxPayload", "model" for --model), with a JSON value of the flag's kind: a number or string for a
 * flag with a value, true/false for a switch, a string or an array of strings for a repeatable flag. A value set
 * on the command line or through its environment variable is kept. Throws UsageError naming the file and the key
 * for an unknown key or a bad value, InputError for a file that cannot be read or is not a JSON object.
 */
export function applyServeConfig(command: Command, file: string): void {
  const config = readConfig(file);
  const settings = new Map<string, Option>();
  for (const option of command.options) {
    const key = option.attributeName();
    if (option.long && !NOT_SETTINGS.has(key)) settings.set(key, option);
  }
  for (const [key, raw] of Object.entries(config)) {
    const option = settings.get(key);
    if (!option) throw new UsageError('serve', `${file}: unknown key ${JSON.stringify(key)}${suggest(key, [...settings.keys()])}; the keys are serve's flags in camelCase: ${[...settings.keys()].join(', ')}`);
    const source = command.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') continue;
    const value = settingValue(option, key, raw, file);
    command.setOptionValueWithSource(key, PATH_KEYS.has(key) ? relativeTo(dirname(file), key, value) : value, 'config');
  }
}

function readConfig(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read the config file ${file}: ${describeFileError(err)}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InputError(`${file} must hold a JSON object of settings, e.g. {"port": 8080, "model": ["pump.safetensors"]}`);
  return config as Record<string, unknown>;
}

/** A key's JSON value as the option holds it, checked by the option's own parser. */
function settingValue(option: Option, key: string, raw: unknown, file: string): unknown {
  const where = `${file}: ${JSON.stringify(key)}`;
  if (option.isBoolean()) {
    if (typeof raw !== 'boolean') throw new UsageError('serve', `${where} must be true or false, got ${JSON.stringify(raw)}`);
    return raw;
  }
  const parse = (value: unknown, previous: unknown): unknown => {
    if (typeof value !== 'string' && typeof value !== 'number') throw new UsageError('serve', `${where} must be a ${option.parseArg && !REPEATABLE.has(key) ? 'number or string' : 'string'}, got ${JSON.stringify(value)}`);
    if (!option.parseArg) return String(value);
    try {
      return option.parseArg(String(value), previous);
    } catch (err) {
      throw new UsageError('serve', `${where}: ${(err as Error).message.replace(/^error: /, '')} (got ${JSON.stringify(value)})`);
    }
  };
  if (Array.isArray(raw)) {
    if (!REPEATABLE.has(key)) throw new UsageError('serve', `${where} takes one value, got a list`);
    return raw.reduce<unknown>((previous, value) => parse(value, previous), undefined);
  }
  return parse(raw, undefined);
}

function relativeTo(folder: string, key: string, value: unknown): unknown {
  const one = (path: string) => (key === 'sink' && path.startsWith('webhook:')) || isAbsolute(path) ? path : resolve(folder, path);
  return Array.isArray(value) ? value.map((path: string) => one(path)) : one(String(value));
}

/** " (did you mean "port"?)" for a key one or two edits away from a known one. */
function suggest(key: string, known: string[]): string {
  const near = known.find((k) => distance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return near ? ` (did you mean ${JSON.stringify(near)}?)` : '';
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
