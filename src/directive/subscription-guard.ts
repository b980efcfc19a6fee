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
 */
export async function* guardEvents<T>(
  source: AsyncIterable<T>,
  check: () => Promise<GraphQLError | null>,
  recheckMs = 0,
): AsyncGenerator<T | SubscriptionDenied> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | null = null;
  try {
    for (;;) {
      pending ??= iterator.next();
      let timer: NodeJS.Timeout | undefined;
      const tick =
        recheckMs > 0
          ? new Promise<'tick'>((resolve) => {
              timer = setTimeout(() => resolve('tick'), recheckMs);
            })
          : null;
      const next = await (tick === null ? pending : Promise.race([pending, tick]));
      clearTimeout(timer);
      if (next !== 'tick') pending = null;
      if (next !== 'tick' && next.done) return;
      const error = await check();
      if (error !== null) {
        yield new SubscriptionDenied(error);
        return;
      }
      if (next !== 'tick') yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}
