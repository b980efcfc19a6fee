import type { ApolloServerPlugin } from '@apollo/server';
import type { KeyholderContext } from '../context/keyholder-context.js';
import type { GrantUsageRecorder } from '../modules/usage/grant-usage-recorder.js';

/**
 * Counts one use of every grant that allowed something in an HTTP operation, once its response
 * is ready: in memory only, written later by the recorder (no database round trip per request).
 */
export function useGrantUsage(
  grantUsage: GrantUsageRecorder,
): ApolloServerPlugin<KeyholderContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue }) {
          const used = contextValue.uses?.take();
          if (used !== undefined && used.length > 0) grantUsage.record(used);
        },
      };
    },
  };
}
