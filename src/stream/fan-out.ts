// Fan-out to dashboards: each consumer takes the latest values at its own pace, and a slow one costs bounded memory.

import { Observable, type OperatorFunction } from 'rxjs';

/** How a conflating fan-out bounds what it holds and hands over, in a unit of `weigh` (bytes, say). */
export interface ConflateBudget<T> {
  /** A value's weight: e.g. the bytes it becomes on the wire. */
  weigh: (value: T) => number;
  /** Past this much held, every key keeps only its latest value. */
  held: number;
  /** One pull hands over values up to about this much (at least one value); the rest waits for the next pull. */
  batch: number;
}

/**
 * Holds, per key, the latest `depth` values (older ones are dropped, i.e.
 * conflated) and hands over what is held whenever `pulls` emits: a consumer
 * pulls when it is ready for more (a socket whose buffer has drained), so a
 * fast consumer sees every value and a slow one sees the most recent ones.
 * Memory is at most keys × depth values, however slow the consumer. With a
 * `budget`, what is held is also bounded by weight (past `budget.held`, each key
 * keeps only its latest value) and a pull hands over at most about
 * `budget.batch` of it, oldest keys first; the rest stays for the next pull.
 *
 * @example
 * // depth 1, key = stream name
 * values: '-a1-a2-b1-a3----'
 * pulls:  '------p-------p-'
 * result: '------x-------y-'  x = [a2], y = [b1, a3] (keys in the order they came since the last pull)
 */
export function conflateLatest<T>(keyOf: (value: T) => string, depth: number, pulls: Observable<unknown>, budget?: ConflateBudget<T>): OperatorFunction<T, T[]> {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`conflateLatest depth must be a positive integer, got ${depth}`);
  const weigh = budget?.weigh ?? (() => 0);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let held = new Map<string, T[]>();
      let heldWeight = 0;
      /** Keeps only each key's latest value. */
      const conflate = () => {
        heldWeight = 0;
        for (const [key, values] of held) {
          const latest = values[values.length - 1];
          held.set(key, [latest]);
          heldWeight += weigh(latest);
        }
      };
      const take = () => {
        if (held.size === 0) return;
        if (!budget) {
          const out: T[] = [];
          for (const values of held.values()) out.push(...values);
          held = new Map();
          subscriber.next(out);
          return;
        }
        const out: T[] = [];
        let weight = 0;
        for (const [key, values] of held) {
          while (values.length > 0 && (out.length === 0 || weight + weigh(values[0]) <= budget.batch)) {
            const value = values.shift()!;
            const w = weigh(value);
            weight += w;
            heldWeight -= w;
            out.push(value);
          }
          if (values.length > 0) break;
          held.delete(key);
        }
        subscriber.next(out);
      };
      const pullSubscription = pulls.subscribe({ next: take, error: (err) => subscriber.error(err) });
      const sourceSubscription = source.subscribe({
        next(value) {
          const key = keyOf(value);
          let values = held.get(key);
          if (!values) held.set(key, (values = []));
          values.push(value);
          heldWeight += weigh(value);
          if (values.length > depth) heldWeight -= weigh(values.shift()!);
          if (budget && heldWeight > budget.held) conflate();
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          while (held.size > 0) take();
          subscriber.complete();
        },
      });
      return () => {
        pullSubscription.unsubscribe();
        sourceSubscription.unsubscribe();
      };
    });
}
