// Fuzz cases for the wire protocol's decoding, calling only src/protocol: text messages (JSON parse, then each
// message checked) and binary frames messages (header checked, then every record read). Valid messages of every
// type, then mutated: fields of any kind, deep nesting, huge batches, cut or flipped bytes.

import { checkMessage, parseText } from '../src/protocol/json.js';
import { checkFramesMessage, encodeFrames, frameSeq, frameStreamId, frameTime, frameValues } from '../src/protocol/binary.js';
import type { Random } from '../tests/fuzz/random.js';
import type { CaseResult } from '../tests/fuzz/run.js';

const HOSTILE: unknown[] = [null, true, '', 'x'.repeat(300), -1, 0, 1.5, 1e300, 2 ** 32, 2 ** 53, [], {}, [1, [2, [3]]], { a: { b: {} } }, 'delta', '*'];

/** A valid client message of any type. */
function message(random: Random): Record<string, unknown> {
  const stream = random.pick(['pump', 'a', 's'.repeat(200), 'ünï', '']);
  switch (random.int(8)) {
    case 0:
      return { type: 'open', stream, horizon: random.int(4), learn: random.chance(0.5), normalize: random.pick(['auto', 'online', 'none']), learning: { every: 8, window: 32, target: 'delta' } };
    case 1:
      return { type: 'frame', stream, seq: random.int(100), values: [1, 2], t: 1000 };
    case 2:
      return { type: 'configure', stream, horizon: 2, learn: true };
    case 3:
      return { type: 'subscribe', streams: random.chance(0.5) ? '*' : ['a', 'b'] };
    case 4:
      return { type: 'unsubscribe', streams: ['a'] };
    case 5:
      return { type: 'reset', stream };
    case 6:
      return { type: 'close', stream };
    default:
      return { type: 'list' };
  }
}

/** JSON text of a value nested `depth` deep in arrays (and objects), written as text: JSON.stringify would overflow the stack. */
function nested(random: Random, depth: number): string {
  const object = random.chance(0.5);
  return object ? '{"seq":'.repeat(depth) + '0' + '}'.repeat(depth) : '['.repeat(depth) + '0' + ']'.repeat(depth);
}

/** A text message: one message or a batch, mutated field by field, or text that is not quite JSON. */
export function textCase(random: Random): string {
  const deep: string[] = [];
  const batch = Array.from({ length: random.chance(0.8) ? 1 : 1 + random.int(50) }, () => {
    const m = message(random);
    for (let k = random.int(3); k > 0; k--) {
      const key = random.pick([...Object.keys(m), 'type', 'seq', 'extra', '__proto__']);
      let value = random.pick(HOSTILE);
      if (random.chance(0.05)) {
        value = `\u0000nested${deep.length}`;
        deep.push(nested(random, random.pick([10, 1000, 20_000])));
      }
      Object.defineProperty(m, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return m;
  });
  let text = JSON.stringify(batch.length === 1 && random.chance(0.5) ? batch[0] : batch);
  deep.forEach((value, i) => (text = text.replace(`"\\u0000nested${i}"`, value)));
  if (random.chance(0.1)) {
    const at = random.int(text.length + 1);
    text = text.slice(0, at) + random.pick(['', '{', '"', '\\', '\u0000', ',', ']']) + text.slice(at + random.int(3));
  }
  return text;
}

/** The JSON side as the server meets it: parse, then check each message. Refused: every message a problem. */
export function fuzzText(text: string): CaseResult {
  try {
    const parsed = parseText(text);
    if (!Array.isArray(parsed)) return { outcome: 'refused', error: parsed };
    let accepted = 0;
    let problem: unknown;
    for (const value of parsed) {
      const checked = checkMessage(value);
      if (!('code' in checked)) {
        accepted++;
        continue;
      }
      // a problem answer is echoed to the client: it must say something, within bounds
      if (typeof checked.message !== 'string' || checked.message.length > 2000) {
        return { outcome: 'crashed', error: new Error(`an unbounded or missing problem message: ${String(checked.message).slice(0, 100)}…`) };
      }
      problem ??= checked;
    }
    return accepted > 0 ? { outcome: 'accepted' } : { outcome: 'refused', error: problem };
  } catch (error) {
    return { outcome: 'crashed', error };
  }
}

/** A binary frames message, valid or mutated (header fields, length, flipped bytes). */
export function binaryCase(random: Random): Uint8Array {
  const width = random.pick([0, 1, 2, 8, 256]);
  const count = 1 + random.int(8);
  const frames = Array.from({ length: count }, (_, i) => ({
    streamId: random.int(2 ** 32),
    seq: i,
    t: random.chance(0.5) ? undefined : random.next() * 1e12,
    values: Float32Array.from({ length: width }, () => random.pick([0, 1, -1, NaN, Infinity, 3.4e38, random.next()])),
  }));
  const bytes = encodeFrames(frames);
  if (random.chance(0.3)) return bytes;
  const out = random.chance(0.3) ? bytes.slice(0, random.int(bytes.byteLength + 1)) : bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let k = 1 + random.int(3); k > 0 && out.byteLength > 0; k--) {
    const at = random.int(Math.min(out.byteLength, random.chance(0.7) ? 8 : out.byteLength));
    if (random.chance(0.5) && at + 2 <= out.byteLength) view.setUint16(at - (at % 2), random.pick([0, 1, 0xffff, random.int(0x10000)]), true);
    else out[at] ^= 1 << random.int(8);
  }
  return out;
}

/** The binary side as the server meets it: the header checked, then every record's id, seq, t and values read. */
export function fuzzBinary(bytes: Uint8Array): CaseResult {
  try {
    const message = checkFramesMessage(bytes);
    if ('code' in message) return { outcome: 'refused', error: message };
    for (let i = 0; i < message.count; i++) {
      frameStreamId(message, i);
      frameSeq(message, i);
      frameTime(message, i);
      if (frameValues(message, i).length !== message.width) return { outcome: 'crashed', error: new Error(`record ${i} has the wrong width`) };
    }
    return { outcome: 'accepted' };
  } catch (error) {
    return { outcome: 'crashed', error };
  }
}
