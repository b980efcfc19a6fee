import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';

/** What the context function is given for one HTTP request. */
export interface HttpContextArgs {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The parsed JSON body of a POST; `undefined` for a GET or a body that is not JSON. */
  readonly body: unknown;
  /** The query string, with its `?`, or `''`. */
  readonly search: string;
}

/**
 * Apollo Server on a bare `node:http` request, the way Apollo's own `startStandaloneServer` and
 * its framework integrations do it: headers into a `HeaderMap`, `executeHTTPGraphQLRequest`, and
 * its status, headers and body written back (streamed when Apollo answers in chunks). Everything
 * GraphQL over HTTP decides (methods, CSRF prevention, content negotiation, batching) is Apollo's.
 */
export function apolloRequestHandler<TContext extends BaseContext>(
  apollo: ApolloServer<TContext>,
  context: (args: HttpContextArgs) => Promise<TContext>,
): (req: IncomingMessage, res: ServerResponse, body: unknown, search: string) => Promise<void> {
  return async (req, res, body, search) => {
    const headers = new HeaderMap();
    for (const key in req.headers) {
      const value = req.headers[key];
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method?.toUpperCase() ?? 'GET', headers, search, body },
      context: () => context({ req, res, body, search }),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
