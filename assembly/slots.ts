// Stream slots: each stream's state (h, c, KV caches), position and latest attention weights live in a slot of the
// slot table (state.ts Slots), which doubles when full. A slot is stepped in place: no gather or scatter of state.

import { arenaAlloc } from "./arena";
import { OK, ERR_BAD_CONFIG, ERR_BAD_SLOT, ERR_NOT_CONFIGURED, ERR_OUT_OF_MEMORY } from "./codes";
import { Shape, Slots, slotState, stateLength, weightsLength } from "./state";

/** Moves the slot table to one of `capacity` slots (never shrinks). May grow memory. */
export function growSlots(capacity: i32): i32 {
  if (capacity <= Slots.capacity) return OK;
  const bytesPerState = <usize>stateLength() * 4;
  const bytesPerWeights = <usize>weightsLength() * 4;
  const states = arenaAlloc(<usize>capacity * bytesPerState);
  const flags = arenaAlloc(<usize>capacity);
  const marks = arenaAlloc(<usize>capacity * 4);
  const positions = arenaAlloc(<usize>capacity * 8);
  const weights = arenaAlloc(<usize>capacity * bytesPerWeights);
  const counts = arenaAlloc(<usize>capacity * 4);
  if (!states || !flags || !marks || !positions || !counts || (bytesPerWeights > 0 && !weights)) return ERR_OUT_OF_MEMORY;
  const old = <usize>Slots.capacity;
  if (old > 0) {
    memory.copy(states, Slots.states, old * bytesPerState);
    memory.copy(flags, Slots.openFlags, old);
    memory.copy(marks, Slots.marks, old * 4);
    memory.copy(positions, Slots.positions, old * 8);
    memory.copy(weights, Slots.weights, old * bytesPerWeights);
    memory.copy(counts, Slots.weightCounts, old * 4);
  }
  Slots.states = states; Slots.openFlags = flags; Slots.marks = marks;
  Slots.positions = positions; Slots.weights = weights; Slots.weightCounts = counts;
  Slots.capacity = capacity;
  return OK;
}

/** Whether `slot` names an open slot. */
// @ts-ignore: decorator
@inline export function validSlot(slot: i32): bool {
  return Shape.configured && slot >= 0 && slot < Slots.capacity && load<u8>(Slots.openFlags + <usize>slot) != 0;
}

/** Zero state, position 0, no attention weights. */
function clearSlot(slot: i32): void {
  memory.fill(slotState(slot), 0, <usize>stateLength() * 4);
  store<f64>(Slots.positions + (<usize>slot << 3), 0);
  store<i32>(Slots.weightCounts + (<usize>slot << 2), 0);
}

/** Opens a slot with zero state; returns its id (≥ 0) or an error code. May grow memory. */
export function slotOpen(): i32 {
  if (!Shape.configured) return ERR_NOT_CONFIGURED;
  let slot = 0;
  while (slot < Slots.capacity && load<u8>(Slots.openFlags + <usize>slot) != 0) slot++;
  if (slot == Slots.capacity) {
    const grown = growSlots(Slots.capacity * 2);
    if (grown != OK) return grown;
  }
  store<u8>(Slots.openFlags + <usize>slot, 1);
  clearSlot(slot);
  return slot;
}

export function slotClose(slot: i32): i32 {
  if (!validSlot(slot)) return ERR_BAD_SLOT;
  store<u8>(Slots.openFlags + <usize>slot, 0);
  return OK;
}

/** Zeroes a slot's h (and c), its caches and its position. */
export function slotReset(slot: i32): i32 {
  if (!validSlot(slot)) return ERR_BAD_SLOT;
  clearSlot(slot);
  return OK;
}

/** Copies slot `src`'s state and position into slot `dst`. */
export function slotCopy(dst: i32, src: i32): i32 {
  if (!validSlot(dst) || !validSlot(src)) return ERR_BAD_SLOT;
  memory.copy(slotState(dst), slotState(src), <usize>stateLength() * 4);
  store<f64>(Slots.positions + (<usize>dst << 3), load<f64>(Slots.positions + (<usize>src << 3)));
  return OK;
}

/** Positions stepped by a slot since open or reset (the next position's index); -1 if not open. */
export function slotPosition(slot: i32): f64 {
  return validSlot(slot) ? load<f64>(Slots.positions + (<usize>slot << 3)) : -1;
}

/** Sets a slot's position (restoring a snapshot); a non-negative integer below 2^53. */
export function slotSetPosition(slot: i32, position: f64): i32 {
  if (!validSlot(slot)) return ERR_BAD_SLOT;
  if (!(position >= 0 && position <= 9007199254740991 && Math.floor(position) == position)) return ERR_BAD_CONFIG;
  store<f64>(Slots.positions + (<usize>slot << 3), position);
  return OK;
}

/**
 * Byte offset of the attention weights of a slot's latest position in block
 * `block`: (heads, S + W) f32, keys in position order; the first
 * slotAttentionCount(slot) entries of each head's row are valid. 0 if none.
 */
export function slotAttentionPtr(slot: i32, block: i32): usize {
  if (!validSlot(slot) || block < 0 || block >= Shape.blocks) return 0;
  return Slots.weights + (<usize>(slot * weightsLength() + block * Shape.heads * (Shape.sinks + Shape.window)) << 2);
}

/** Keys the latest position attended (0 before the first step). */
export function slotAttentionCount(slot: i32): i32 {
  return validSlot(slot) ? load<i32>(Slots.weightCounts + (<usize>slot << 2)) : 0;
}

export function slotIsOpen(slot: i32): i32 { return validSlot(slot) ? 1 : 0; }
/** Byte offset of a slot's state: h (L, H), then c (L, H) for LSTM, then each block's KV cache; 0 if not open. */
export function slotStatePtr(slot: i32): usize { return validSlot(slot) ? slotState(slot) : 0; }
export function slotStateLength(): i32 { return Shape.configured ? stateLength() : 0; }
export function getSlotCapacity(): i32 { return Slots.capacity; }
