import type { Client } from 'graphql-ws';
import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import type { TypedDocumentString } from '../gql/graphql';
import { type ApiResult, execute } from './api';
import type { ApiError } from './errors';

/** A built-in scope's answer for the signed-in person: may they, and Keyholder's reason. */
export interface Capability {
  /** The built-in scope asked about (`grants:write`). */
  readonly scope: string;
  readonly allowed: boolean;
  readonly reason: string;
}

export type CapabilityName =
  | 'auditRead'
  | 'grantsRead'
  | 'grantsWrite'
  | 'identitiesRead'
  | 'identitiesWrite'
  | 'scopesRead';

/** The signed-in person: their key, who they are, what they may do, and the live connection. */
export interface Session {
  readonly key: string;
  readonly me: { readonly id: string; readonly name: string; readonly kind: string };
  readonly can: Readonly<Record<CapabilityName, Capability>>;
  readonly live: Client;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside a signed-in console.');
  return session;
}

/** A query's state: loading, then its data and errors; `reload` asks again. */
export interface QueryState<T> extends ApiResult<T> {
  readonly loading: boolean;
  reload(): void;
}

/** Runs `document` with the session's key whenever `variables` change (compared as JSON). */
export function useQuery<T, V>(
  document: TypedDocumentString<T, V>,
  variables: V,
  skip = false,
): QueryState<T> {
  const { key } = useSession();
  const [state, setState] = useState<ApiResult<T> & { loading: boolean }>({
    data: null,
    errors: [],
    loading: !skip,
  });
  const [round, setRound] = useState(0);
  const serialized = JSON.stringify(variables);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the variables are compared by value.
  useEffect(() => {
    if (skip) return;
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    execute(key, document, JSON.parse(serialized) as V).then((result) => {
      if (current) setState({ ...result, loading: false });
    });
    return () => {
      current = false;
    };
  }, [key, document, serialized, round, skip]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { ...state, reload };
}

/** A mutation: `run` sends it with the session's key and resolves with its result. */
export function useMutation<T, V>(
  document: TypedDocumentString<T, V>,
): {
  run(variables: V): Promise<ApiResult<T>>;
  running: boolean;
  errors: readonly ApiError[];
} {
  const { key } = useSession();
  const [running, setRunning] = useState(false);
  const [errors, setErrors] = useState<readonly ApiError[]>([]);
  const run = useCallback(
    async (variables: V) => {
      setRunning(true);
      const result = await execute(key, document, variables);
      setRunning(false);
      setErrors(result.errors);
      return result;
    },
    [key, document],
  );
  return { run, running, errors };
}
