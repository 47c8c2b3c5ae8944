// Which WebAssembly SIMD a module uses, read from its binary with no runtime's help (a runtime that has SIMD
// validates a module whether or not it uses it): every instruction of every function body is decoded, with its
// immediates, so a 0xfd byte inside a constant or an offset is not mistaken for the SIMD prefix; v128 as a
// parameter, result, local or global type counts too.

/** What a module's binary says about SIMD. */
export interface SimdUse {
  /** Functions whose body holds a 0xfd-prefixed (SIMD) instruction. */
  simdInstructions: number;
  /** v128 value types in the type, global and code (locals) sections. */
  v128Types: number;
  /** Instructions decoded in all function bodies. */
  instructions: number;
}

const V128 = 0x7b;

/** A cursor over a module's bytes, with the binary format's integer readers. */
class Reader {
  at: number;
  constructor(readonly bytes: Uint8Array, at = 0) { this.at = at; }

  byte(): number {
    if (this.at >= this.bytes.length) throw new Error(`wasm: read past the end at byte ${this.at}`);
    return this.bytes[this.at++];
  }

  /** An unsigned or signed LEB128 (its value is not needed, only its length, except where returned as unsigned). */
  leb(): number {
    let value = 0, shift = 0, byte;
    do {
      byte = this.byte();
      if (shift < 28) value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value >>> 0;
  }

  skip(bytes: number): void { this.at += bytes; }
}

/** Skips a block type: 0x40 (empty), a value type, or a type index (a signed LEB). */
function blockType(r: Reader): void {
  const first = r.bytes[r.at];
  if (first === 0x40 || (first >= 0x6f && first <= 0x7f)) r.skip(1);
  else r.leb();
}

/**
 * Decodes one instruction's opcode and skips its immediates; returns whether it was a SIMD (0xfd) one.
 * Covers the MVP, sign extension, saturating conversions, bulk memory and reference types: what asc emits.
 */
function instruction(r: Reader): boolean {
  const op = r.byte();
  if (op === 0xfd) {
    const sub = r.leb();
    // v128.load*/store* (0..11, 92..93) carry a memarg, lanes ops a lane index; the count does not need them exact
    // past this point, because the caller stops at the first SIMD instruction of a body
    void sub;
    return true;
  }
  if (op === 0x02 || op === 0x03 || op === 0x04) blockType(r); // block, loop, if
  else if (op === 0x0c || op === 0x0d) r.leb(); // br, br_if
  else if (op === 0x0e) { for (let n = r.leb(); n >= 0; n--) r.leb(); } // br_table: n labels and the default
  else if (op === 0x10) r.leb(); // call
  else if (op === 0x11) { r.leb(); r.leb(); } // call_indirect type, table
  else if (op === 0x1c) { for (let n = r.leb(); n > 0; n--) r.byte(); } // select with types
  else if (op >= 0x20 && op <= 0x26) r.leb(); // local.get/set/tee, global.get/set, table.get/set
  else if (op >= 0x28 && op <= 0x3e) { r.leb(); r.leb(); } // loads and stores: align, offset
  else if (op === 0x3f || op === 0x40) r.byte(); // memory.size, memory.grow
  else if (op === 0x41 || op === 0x42) r.leb(); // i32.const, i64.const (signed; only the length matters)
  else if (op === 0x43) r.skip(4); // f32.const
  else if (op === 0x44) r.skip(8); // f64.const
  else if (op === 0xd0) r.byte(); // ref.null type
  else if (op === 0xd2) r.leb(); // ref.func
  else if (op === 0xfc) {
    const sub = r.leb();
    if (sub === 8) { r.leb(); r.byte(); } // memory.init data, memory
    else if (sub === 9) r.leb(); // data.drop
    else if (sub === 10) { r.byte(); r.byte(); } // memory.copy
    else if (sub === 11) r.byte(); // memory.fill
    else if (sub === 12 || sub === 14) { r.leb(); r.leb(); } // table.init, table.copy
    else if (sub === 13 || (sub >= 15 && sub <= 17)) r.leb(); // elem.drop, table.grow/size/fill
    else if (sub > 17) throw new Error(`wasm: unknown 0xfc instruction ${sub} at byte ${r.at}`);
  } else if (op === 0x05 || op === 0x0b || op === 0x00 || op === 0x01 || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1) {
    // else, end, unreachable, nop, return, drop, select, ref.is_null: no immediates
  } else if (op >= 0x45 && op <= 0xc4) {
    // numeric instructions: no immediates
  } else {
    throw new Error(`wasm: unknown opcode 0x${op.toString(16)} at byte ${r.at - 1}`);
  }
  return false;
}

/** Reads `bytes` (a whole .wasm) and reports its SIMD use. Throws on a malformed or unknown encoding. */
export function simdUse(bytes: Uint8Array): SimdUse {
  const r = new Reader(bytes, 8);
  const result: SimdUse = { simdInstructions: 0, v128Types: 0, instructions: 0 };
  while (r.at < bytes.length) {
    const id = r.byte(), size = r.leb(), end = r.at + size;
    if (id === 1) { // types: 0x60 params results
      for (let n = r.leb(); n > 0; n--) {
        r.byte();
        for (let p = r.leb(); p > 0; p--) if (r.byte() === V128) result.v128Types++;
        for (let q = r.leb(); q > 0; q--) if (r.byte() === V128) result.v128Types++;
      }
    } else if (id === 6) { // globals: type, mutability, init expression
      for (let n = r.leb(); n > 0; n--) {
        if (r.byte() === V128) result.v128Types++;
        r.byte();
        while (true) {
          if (r.bytes[r.at] === 0x0b) { r.skip(1); break; }
          if (instruction(r)) result.simdInstructions++;
        }
      }
    } else if (id === 10) { // code
      for (let n = r.leb(); n > 0; n--) {
        const bodySize = r.leb(), bodyEnd = r.at + bodySize;
        for (let groups = r.leb(); groups > 0; groups--) {
          r.leb();
          if (r.byte() === V128) result.v128Types++;
        }
        while (r.at < bodyEnd) {
          result.instructions++;
          if (instruction(r)) { result.simdInstructions++; break; }
        }
        if (r.at > bodyEnd) throw new Error(`wasm: a function body overran its size at byte ${r.at}`);
        r.at = bodyEnd;
      }
    }
    r.at = end;
  }
  return result;
}
