import type { GraphQLError } from 'graphql';

/** The last value a guarded subscription yields: its resolver turns it into the `FORBIDDEN` error. */
export class SubscriptionDenied {
  constructor(readonly error: GraphQLError) {}
}

/**
 * Re-checks access before every event of `source` and, when `recheckMs` > 0, also whenever that
 * long passes without one. `check` reloads the caller's grants; when it returns an error, that
 * error is yielded once (as `SubscriptionDenied`) and the stream ends, so nothing after the loss
 * of access is delivered.
 *
 * Hand-written rather than an async generator so that `return()` (the client unsubscribing, the
 * socket closing) takes effect at once: the pending wait is abandoned, the timer cleared and
 * `source.return()` called, with no event sent after it and no re-check left running.
 */
export function guardEvents<T>(
  source: AsyncIterable<T>,
  check: () => Promise<GraphQLError | null>,
  recheckMs = 0,
): AsyncIterableIterator<T | SubscriptionDenied> {
  const iterator = source[Symbol.asyncIterator]();
  const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
  let finished = false;
  let pendingEvent: Promise<IteratorResult<T>> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let interrupt: (() => void) | null = null;

  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    interrupt?.();
    // Not awaited: an async generator's return() waits for a next() in flight, which a quiet
    // source may never settle; the stream ends now either way.
    Promise.resolve(iterator.return?.()).catch(() => undefined);
  };

  const next = async (): Promise<IteratorResult<T | SubscriptionDenied>> => {
    while (!finished) {
      pendingEvent ??= iterator.next();
      const waits: Promise<IteratorResult<T> | 'tick' | 'stop'>[] = [
        pendingEvent,
        new Promise<'stop'>((resolve) => {
          interrupt = () => resolve('stop');
        }),
      ];
      if (recheckMs > 0) {
        waits.push(
          new Promise<'tick'>((resolve) => {
            timer = setTimeout(() => resolve('tick'), recheckMs);
          }),
        );
      }
      const outcome = await Promise.race(waits);
      clearTimeout(timer);
      interrupt = null;
      if (outcome === 'stop' || finished) break;
      if (outcome !== 'tick') {
        pendingEvent = null;
        if (outcome.done) {
          await finish();
          break;
        }
      }
      const error = await check();
      if (finished) break;
      if (error !== null) {
        await finish();
        return { value: new SubscriptionDenied(error), done: false };
      }
      if (outcome !== 'tick') return { value: outcome.value, done: false };
    }
    return done;
  };

  return {
    next,
    async return() {
      await finish();
      return done;
    },
    async throw(error?: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
