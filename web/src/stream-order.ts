// Which streams the list shows first and which one the page opens: live ones (receiving frames) first, idle ones apart.

/** What the ordering reads of a stream. */
export interface OrderedStream {
  name: string;
  /** A producer holds it (the server's `list`); false: an orphan waiting for its producer to come back. */
  held: boolean | undefined;
  /** Parked out of the kernel for idleness (the server's `list`). */
  parked: boolean | undefined;
  /** Seconds since its newest prediction reached the page; Infinity: none yet. */
  silentSeconds: number;
}

/** A held stream with no prediction for this long is idle, seconds. */
export const IDLE_AFTER_SECONDS = 30;

/**
 * Whether `stream` is idle: no producer, parked, or silent for IDLE_AFTER_SECONDS. A stream just listed that has not
 * sent anything yet is idle too, until its first prediction.
 */
export function isIdle(stream: OrderedStream): boolean {
  return stream.held === false || stream.parked === true || !(stream.silentSeconds < IDLE_AFTER_SECONDS);
}

/**
 * The streams split in two, each in the order given (the server's): the live ones, and the idle ones.
 *
 * @example
 * splitIdle([{ name: 'old', held: false, parked: false, silentSeconds: 900 }, { name: 'pump', held: true, parked: false, silentSeconds: 0.1 }]);
 * // { live: [pump], idle: [old] }
 */
export function splitIdle<T extends OrderedStream>(streams: T[]): { live: T[]; idle: T[] } {
  const live: T[] = [];
  const idle: T[] = [];
  for (const stream of streams) (isIdle(stream) ? idle : live).push(stream);
  return { live, idle };
}

/**
 * The stream the page opens when nothing is chosen: the one the address names (if listed), else the first live one,
 * else the first listed; undefined for no streams.
 */
export function firstStream(streams: OrderedStream[], wanted?: string): string | undefined {
  if (wanted !== undefined && streams.some((s) => s.name === wanted)) return wanted;
  return (streams.find((s) => !isIdle(s)) ?? streams[0])?.name;
}
