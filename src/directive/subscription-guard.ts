import type { GraphQLError } from 'graphql';

/** The last value a guarded subscription yields: its resolver turns it into the `FORBIDDEN` error. */
export class SubscriptionDenied {
  constructor(readonly error: GraphQLError) {}
}

/**
 * Re-checks access before every event of `source`. `check` reloads the caller's grants; when it
 * returns an error, that error is yielded once (as `SubscriptionDenied`) and the stream ends, so
 * nothing after the loss of access is delivered.
 */
export async function* guardEvents<T>(
  source: AsyncIterable<T>,
  check: () => Promise<GraphQLError | null>,
): AsyncGenerator<T | SubscriptionDenied> {
  for await (const event of source) {
    const error = await check();
    if (error !== null) {
      yield new SubscriptionDenied(error);
      return;
    }
    yield event;
  }
}
