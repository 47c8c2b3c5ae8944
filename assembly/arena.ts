// The kernel's one arena: a bump allocator over linear memory that never frees.
//
// Everything a model needs (parameters, stream-slot states, batch scratch) is
// laid out once by `configure`; only the slot table may grow later, by moving
// to a larger region. Growing memory detaches every host-side typed-array view,
// so hosts rebuild their views after any call documented as "may grow".

/** Bytes of alignment for every region: one v128. */
const ALIGN: usize = 16;

let arenaTop: usize = 0;

/** Allocates `bytes` zeroed bytes aligned to 16; returns 0 when memory cannot grow. */
export function arenaAlloc(bytes: usize): usize {
  if (arenaTop == 0) arenaTop = (__heap_base + ALIGN - 1) & ~(ALIGN - 1);
  const start = arenaTop;
  const end = (start + bytes + ALIGN - 1) & ~(ALIGN - 1);
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pagesNeeded = <i32>((end - have + 0xffff) >>> 16);
    if (memory.grow(pagesNeeded) < 0) return 0;
  }
  memory.fill(start, 0, end - start);
  arenaTop = end;
  return start;
}

/** Bytes handed out so far, from the start of the heap. */
export function arenaUsed(): usize {
  return arenaTop == 0 ? 0 : arenaTop - __heap_base;
}
