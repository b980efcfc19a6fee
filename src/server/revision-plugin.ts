import type { ApolloServerPlugin } from '@apollo/server';
import type { KeyholderContext } from '../context/keyholder-context.js';

/** The HTTP response header that carries the revision a response reflects. */
export const REVISION_HEADER = 'keyholder-revision';

/**
 * Tells the client which revision each HTTP response reflects (see `RevisionRecord`):
 * - `Keyholder-Revision` header and `extensions.revision`: the newest revision the response
 *   reflects — what its decisions saw or, for a mutation, its newest committed change;
 * - `extensions.committedRevision`: only when the request committed a change, the revision of its
 *   newest one. A refused or rolled-back mutation has none.
 * Requests refused before execution (no valid key) carry neither.
 */
export function useRevision(): ApolloServerPlugin<KeyholderContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          const record = contextValue.revisions;
          if (record === undefined) return;
          const revision = record.latest;
          response.http.headers.set(REVISION_HEADER, revision);
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const committed = record.committed;
          result.extensions = {
            ...result.extensions,
            revision,
            ...(committed === null ? {} : { committedRevision: committed }),
          };
        },
      };
    },
  };
}
