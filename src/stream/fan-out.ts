// Fan-out to dashboards: each consumer takes the latest values at its own pace, and a slow one costs bounded memory.

import { Observable, type OperatorFunction } from 'rxjs';

/**
 * Holds, per key, the latest `depth` values (older ones are dropped, i.e.
 * conflated) and hands over everything held whenever `pulls` emits: a consumer
 * pulls when it is ready for more (a socket whose buffer has drained), so a
 * fast consumer sees every value and a slow one sees the most recent ones.
 * Memory is at most keys × depth values, however slow the consumer.
 *
 * @example
 * // depth 1, key = stream name
 * values: '-a1-a2-b1-a3----'
 * pulls:  '------p-------p-'
 * result: '------x-------y-'  x = [a2], y = [b1, a3] (keys in the order they came since the last pull)
 */
export function conflateLatest<T>(keyOf: (value: T) => string, depth: number, pulls: Observable<unknown>): OperatorFunction<T, T[]> {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`conflateLatest depth must be a positive integer, got ${depth}`);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let held = new Map<string, T[]>();
      const take = () => {
        if (held.size === 0) return;
        const out: T[] = [];
        for (const values of held.values()) out.push(...values);
        held = new Map();
        subscriber.next(out);
      };
      const pullSubscription = pulls.subscribe({ next: take, error: (err) => subscriber.error(err) });
      const sourceSubscription = source.subscribe({
        next(value) {
          const key = keyOf(value);
          let values = held.get(key);
          if (!values) held.set(key, (values = []));
          values.push(value);
          if (values.length > depth) values.shift();
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          take();
          subscriber.complete();
        },
      });
      return () => {
        pullSubscription.unsubscribe();
        sourceSubscription.unsubscribe();
      };
    });
}
