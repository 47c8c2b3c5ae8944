// What a fuzz case must do: be accepted (and then hold the loader's promises) or be refused with a typed error
// (a SeqcastError). Anything else, a TypeError, a RangeError, a WebAssembly trap, a broken promise, is a crash.

import { Readable } from 'node:stream';
import { partsFromSafetensors } from '../../src/api/load.js';
import { Model } from '../../src/api/model.js';
import { SeqcastError } from '../../src/errors.js';
import { csvRows, formatNumberRow, isHeaderRow, parseNumberCell } from '../../src/io/csv.js';
import { LIMITS } from '../../src/model/layout.js';
import type { Outcome } from './random.js';

/** The outcome of a case that threw `err`. */
export function refusedOrCrashed(err: unknown): Outcome {
  return err instanceof SeqcastError ? 'refused' : 'crashed';
}

/** A promise the loader broke: thrown as a plain Error, so that the case counts as a crash. */
function broken(promise: string): never {
  throw new Error(`accepted, but ${promise}`);
}

/**
 * The loader without the kernel (safetensors parser, architecture, metadata), as every file meets it before any
 * memory is allocated. An accepted file's parts must hold what the format and docs/model-format.md promise.
 */
export function parseModelFile(bytes: Uint8Array): ReturnType<typeof partsFromSafetensors> {
  const parts = partsFromSafetensors(bytes, 'fuzz.safetensors');
  const { arch, metadata, tensors } = parts;
  const a = arch.attention;
  if (a && !(a.window >= 1 && a.window <= LIMITS.window && a.sinks >= 0 && a.sinks <= LIMITS.sinks && a.width % a.heads === 0)) broken(`its attention is out of its limits: ${JSON.stringify(a)}`);
  for (const [name, data] of tensors) {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) broken(`tensor ${name} holds ${data[i]}`);
  }
  const normalizer = metadata.normalizer;
  if (normalizer && !(normalizer.mean.length === arch.inputSize && normalizer.std.every((s) => Number.isFinite(Math.fround(s)) && Math.fround(s) > 0))) {
    broken(`its normalizer does not fit: ${JSON.stringify(normalizer)}`);
  }
  return parts;
}

/** The tensors of valid corpus files, parsed once. */
const expectedTensors = new WeakMap<Uint8Array, Map<string, ArrayLike<number>>>();

/**
 * parseModelFile as an outcome; with `sameTensorsAs` (a case whose mutations touched only the file's framing), an
 * accepted file must give exactly that file's tensors, bit for bit.
 */
export function fuzzParse(bytes: Uint8Array, sameTensorsAs?: Uint8Array): { outcome: Outcome; error?: unknown } {
  try {
    const { tensors } = parseModelFile(bytes);
    if (sameTensorsAs) {
      let expected = expectedTensors.get(sameTensorsAs);
      if (!expected) expectedTensors.set(sameTensorsAs, (expected = partsFromSafetensors(sameTensorsAs, 'corpus').tensors));
      for (const [name, data] of expected) {
        const got = tensors.get(name);
        if (!got || got.length !== data.length || Array.prototype.some.call(got, (v: number, i: number) => !Object.is(v, data[i]))) {
          broken(`tensor ${name} is not the file's: ${got ? Array.from(got).slice(0, 4) : 'missing'} instead of ${Array.from(data).slice(0, 4)}`);
        }
      }
    }
    return { outcome: 'accepted' };
  } catch (error) {
    return { outcome: refusedOrCrashed(error), error };
  }
}

/** The whole loader: an accepted file becomes a model in its kernel, and one stream of it steps once. */
export async function fuzzLoad(bytes: Uint8Array): Promise<{ outcome: Outcome; error?: unknown }> {
  let model: Model | undefined;
  try {
    model = await Model.fromParts(parseModelFile(bytes), {});
    const stream = model.openStream();
    stream.step(model.isTokenModel ? 0 : new Array(model.inputSize).fill(0.5));
    return { outcome: 'accepted' };
  } catch (error) {
    return { outcome: refusedOrCrashed(error), error };
  } finally {
    model?.close();
  }
}

/**
 * The CSV reader as predict, train and replay use it: rows with their lines, a header row told apart, every other
 * cell a number. Accepted rows must be float32 numbers that read back the same after formatNumberRow.
 */
export async function fuzzCsv(bytes: Uint8Array): Promise<{ outcome: Outcome; error?: unknown; rows?: number }> {
  try {
    let rows = 0;
    let lastLine = 0;
    for await (const { line, cells } of csvRows(Readable.from([Buffer.from(bytes)]), 'fuzz.csv')) {
      if (!(line > lastLine)) broken(`line ${line} follows line ${lastLine}`);
      lastLine = line;
      if (rows++ === 0 && isHeaderRow(cells)) continue;
      const values = cells.map((cell, i) => parseNumberCell(cell, { file: 'fuzz.csv', line, column: i + 1 }));
      if (!values.every((v) => Number.isFinite(Math.fround(v)))) broken(`row ${line} holds ${values}`);
      const again = formatNumberRow(values).trimEnd().split(',').map(Number).map(Math.fround);
      // (−0 is written as 0: a sign of zero is not kept)
      if (again.some((v, i) => v !== Math.fround(values[i]))) broken(`row ${line} does not read back: ${values} → ${again}`);
    }
    return { outcome: 'accepted', rows };
  } catch (error) {
    return { outcome: refusedOrCrashed(error), error };
  }
}
