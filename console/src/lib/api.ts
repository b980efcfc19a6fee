import { type Client, createClient } from 'graphql-ws';
import type { TypedDocumentString } from '../gql/graphql';
import { type ApiError, apiErrorOf } from './errors';
import { bearer } from './session';

/** A GraphQL answer: whatever data came back, and every error (partial results keep both). */
export interface ApiResult<T> {
  readonly data: T | null;
  readonly errors: readonly ApiError[];
}

/**
 * Runs an operation over HTTP POST /graphql with the person's own key: the console can do
 * nothing its user could not do with curl. A network failure comes back as an error, not thrown.
 */
export async function execute<T, V>(
  key: string,
  document: TypedDocumentString<T, V>,
  variables: V,
): Promise<ApiResult<T>> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: bearer(key) },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch (error) {
    return { data: null, errors: [apiErrorOf({ message: `Keyholder did not answer: ${error}` })] };
  }
  let body: { data?: T | null; errors?: unknown[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    return {
      data: null,
      errors: [apiErrorOf({ message: `Keyholder answered ${response.status} without JSON.` })],
    };
  }
  return { data: body.data ?? null, errors: (body.errors ?? []).map(apiErrorOf) };
}

/** The graphql-ws URL of this origin's /graphql. */
export function socketUrl(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
}

/** One graphql-ws connection for a signed-in key (lazy, retried on drops). */
export function liveClient(key: string): Client {
  return createClient({
    url: socketUrl(window.location),
    connectionParams: { authorization: bearer(key) },
    retryAttempts: 5,
  });
}

/**
 * Subscribes with `client`: each event's data to `onData`, errors (FORBIDDEN when access ends) to
 * `onError`. Returns the function that ends the subscription.
 */
export function subscribe<T, V>(
  client: Client,
  document: TypedDocumentString<T, V>,
  variables: V,
  onData: (data: T) => void,
  onError: (errors: readonly ApiError[]) => void,
): () => void {
  return client.subscribe<T>(
    { query: document.toString(), variables: variables as Record<string, unknown> },
    {
      next: (result) => {
        if (result.errors?.length) onError(result.errors.map(apiErrorOf));
        if (result.data) onData(result.data as T);
      },
      error: (error) => {
        const errors = Array.isArray(error)
          ? error.map(apiErrorOf)
          : [apiErrorOf(closeReason(error))];
        onError(errors);
      },
      complete: () => {},
    },
  );
}

function closeReason(error: unknown): unknown {
  if (typeof CloseEvent !== 'undefined' && error instanceof CloseEvent) {
    return {
      message: `The live connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''}).`,
    };
  }
  return error instanceof Error ? { message: error.message } : error;
}
