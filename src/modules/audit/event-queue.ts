import { GraphQLError } from 'graphql';

/** The code of errors that end a live stream for a reason the client can act on (resubscribe). */
export const SUBSCRIPTION_ENDED = 'SUBSCRIPTION_ENDED';

/**
 * A push-fed async iterator for one subscriber.
 * - `push` queues a value (or hands it to a waiting `next`);
 * - past `limit` queued values the queue ends with an error instead of growing: a subscriber that
 *   cannot keep up is told so, never silently skipped;
 * - `return` (the client unsubscribing) ends it and runs `onClose` once.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  readonly #values: T[] = [];
  readonly #waiting: ((result: IteratorResult<T>) => void)[] = [];
  readonly #failures: ((error: Error) => void)[] = [];
  #ended = false;
  #error: Error | null = null;

  constructor(
    private readonly limit: number,
    private readonly onClose: () => void,
  ) {}

  push(value: T): void {
    if (this.#ended) return;
    const waiter = this.#waiting.shift();
    if (waiter) {
      this.#failures.shift();
      waiter({ value, done: false });
      return;
    }
    if (this.#values.length >= this.limit) {
      this.end(
        new GraphQLError(
          `The subscriber fell more than ${this.limit} events behind and was closed; subscribe again.`,
          { extensions: { code: SUBSCRIPTION_ENDED } },
        ),
      );
      return;
    }
    this.#values.push(value);
  }

  /** Ends the stream, after the queued values, optionally with an error. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error ?? null;
    this.onClose();
    for (const [i, waiter] of this.#waiting.entries()) {
      if (this.#error) this.#failures[i]?.(this.#error);
      else waiter({ value: undefined, done: true });
    }
    this.#waiting.length = 0;
    this.#failures.length = 0;
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.#values.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.#ended) {
      return this.#error
        ? Promise.reject(this.#error)
        : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve);
      this.#failures.push(reject);
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.#values.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
