// Which detections a viewer has acknowledged: kept in this browser (localStorage), per stream, by the frame seq that detected.

/** The storage acknowledgements live in (window.localStorage in the page; a Map-backed stand-in in tests). */
export type AckStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** The localStorage key: one JSON object { stream: [seq, ...] } for every stream. */
export const ACK_KEY = 'seqcast.acknowledged';
/** Acknowledged seqs kept per stream (the oldest go first), so the storage stays small. */
export const ACKS_PER_STREAM = 500;

/**
 * Acknowledged detections, read from and written through to `storage` (a blocked or full storage only loses them on
 * reload). They are this viewer's: other viewers of the same server keep their own.
 */
export class Acknowledgements {
  private readonly byStream = new Map<string, number[]>();

  constructor(private readonly storage: AckStorage | undefined) {
    try {
      const saved = JSON.parse(storage?.getItem(ACK_KEY) ?? '{}') as unknown;
      if (saved && typeof saved === 'object') {
        for (const [stream, seqs] of Object.entries(saved)) {
          if (Array.isArray(seqs)) this.byStream.set(stream, seqs.filter((s): s is number => Number.isInteger(s)));
        }
      }
    } catch {
      // an unreadable entry (another version's, or edited by hand) is no acknowledgement
    }
  }

  /** Whether the detection of `stream` at frame `seq` is acknowledged. */
  has(stream: string, seq: number): boolean {
    return this.byStream.get(stream)?.includes(seq) ?? false;
  }

  /** Acknowledges the detection of `stream` at frame `seq`. */
  add(stream: string, seq: number): void {
    const seqs = this.byStream.get(stream) ?? [];
    if (seqs.includes(seq)) return;
    seqs.push(seq);
    if (seqs.length > ACKS_PER_STREAM) seqs.splice(0, seqs.length - ACKS_PER_STREAM);
    this.byStream.set(stream, seqs);
    try {
      this.storage?.setItem(ACK_KEY, JSON.stringify(Object.fromEntries(this.byStream)));
    } catch {
      // storage full or blocked: acknowledged for this page's life only
    }
  }
}

/** localStorage, or undefined where the page may not use it (a sandboxed frame, storage blocked). */
export function browserStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

