import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';

/**
 * Refuses a subscription operation sent over HTTP with `BAD_REQUEST` (400) before execution:
 * subscriptions are served over WebSocket (graphql-ws) on the same path. Executed over HTTP, the
 * root field would resolve without an event and fail as an internal error.
 */
export function useNoHttpSubscriptions<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError(
            'Subscriptions are served over WebSocket (the graphql-ws protocol) at /graphql; over HTTP, send queries and mutations.',
            { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } },
          );
        },
      };
    },
  };
}
