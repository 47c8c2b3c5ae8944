// isolate: a failure inside part of the pipeline costs the one value it failed on, never the values before or after it.

import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';

/**
 * Runs `stages` (synchronous operators, such as the pipeline's maps) on each value as it comes, and when they throw
 * on one, hands that value and the error to `failed` and carries on with fresh `stages` for the next value:
 * the error ends neither the pipeline nor the values still waiting upstream (a micro-batch being collected).
 * Every value in is either emitted (as `stages` make it) or handed to `failed`, exactly once.
 *
 * The stages must hold no state of their own between values (the pipeline's keep theirs on the stream entries),
 * since they are made afresh after a failure.
 *
 * @example
 * // a batch whose scoring throws: its frames are answered with `internal`, the next batch goes through
 * batches$.pipe(isolate(pipe(predict(reject), scoreErrors()), (batch, err) => rejectAll(batch, err)))
 */
export function isolate<A, B>(stages: OperatorFunction<A, B>, failed: (value: A, error: unknown) => void): OperatorFunction<A, B> {
  return (source) =>
    new Observable<B>((subscriber) => {
      let input: Subject<A>;
      let inner: Subscription;
      let failure: { error: unknown } | undefined;
      const connect = () => {
        input = new Subject<A>();
        inner = stages(input).subscribe({
          next: (value) => subscriber.next(value),
          error: (error) => (failure = { error }),
          complete: () => subscriber.complete(),
        });
      };
      connect();
      const outer = source.subscribe({
        next(value) {
          input.next(value);
          if (!failure) return;
          const { error } = failure;
          failure = undefined;
          connect();
          failed(value, error);
        },
        error: (error) => subscriber.error(error),
        complete: () => input.complete(),
      });
      return () => {
        outer.unsubscribe();
        inner.unsubscribe();
      };
    });
}
