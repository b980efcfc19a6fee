import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../context/keyholder-context.js';
import type { Database } from '../db/client.js';
import {
  type RequestAccessHint,
  requestAccessHint,
} from '../modules/access-requests/request-access-hint.js';

interface Asked {
  readonly scope: string;
  readonly resource: string | null;
}

function askedOf(error: GraphQLFormattedError): Asked | null {
  if (error.extensions?.code !== ErrorCode.FORBIDDEN) return null;
  const asked = error.extensions.requestAccess as Partial<Asked> | undefined;
  if (asked === undefined || typeof asked.scope !== 'string') return null;
  return { scope: asked.scope, resource: asked.resource ?? null };
}

/**
 * Completes the `requestAccess` a `@requires` denial carries (scope and resource) into the whole
 * `RequestAccessHint` (the policy's TTL, approval, auto-approval) for the caller, once per scope
 * and resource per response. A hint that cannot be worked out (an undefined scope, a database
 * error) is left out; the denial itself always stands.
 */
export function useRequestAccessHints(
  database: Database,
  log: (message: string, error: unknown) => void,
): ApolloServerPlugin<KeyholderContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== 'single') return;
          const errors = response.body.singleResult.errors;
          if (errors === undefined || !errors.some((error) => askedOf(error) !== null)) return;
          const identityId = contextValue.caller?.identity.id;
          const hints = new Map<string, Promise<RequestAccessHint | null>>();
          const hintFor = (asked: Asked) => {
            const key = `${asked.scope}\u0000${asked.resource ?? ''}`;
            let hint = hints.get(key);
            if (hint === undefined) {
              hint =
                identityId === undefined
                  ? Promise.resolve(null)
                  : contextValue.loaders.scope
                      .load(asked.scope)
                      .then((scope) =>
                        requestAccessHint(database, identityId, scope, asked.resource),
                      )
                      .catch((error: unknown) => {
                        log('Could not work out a requestAccess hint', error);
                        return null;
                      });
              hints.set(key, hint);
            }
            return hint;
          };
          response.body.singleResult.errors = await Promise.all(
            errors.map(async (error) => {
              const asked = askedOf(error);
              if (asked === null) return error;
              const { requestAccess: _asked, ...extensions } = error.extensions ?? {};
              const hint = await hintFor(asked);
              return {
                ...error,
                extensions: hint === null ? extensions : { ...extensions, requestAccess: hint },
              };
            }),
          );
        },
      };
    },
  };
}
