import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { useMemo } from 'react';
import { socketUrl } from '../lib/api';
import { bearer } from '../lib/session';
import { useSession } from '../lib/session-context';

/** Whether this server serves GraphiQL (GRAPHIQL, written into index.html by the server). */
function graphiqlEnabled(): boolean {
  return (
    document.querySelector('meta[name="keyholder-graphiql"]')?.getAttribute('content') === 'on'
  );
}

/**
 * GraphiQL, bundled locally (its own chunk, loaded only here): queries over HTTP, subscriptions over
 * graphql-ws, the Authorization header prefilled from the console session.
 */
export function GraphiqlPage() {
  const session = useSession();
  const fetcher = useMemo(
    () =>
      createGraphiQLFetcher({
        url: '/graphql',
        subscriptionUrl: socketUrl(window.location),
        wsConnectionParams: { authorization: bearer(session.key) },
      }),
    [session.key],
  );
  if (!graphiqlEnabled()) {
    return (
      <section>
        <h1>GraphiQL</h1>
        <p>GraphiQL is off on this server (NODE_ENV=production without GRAPHIQL=on).</p>
      </section>
    );
  }
  return (
    <div className="graphiql-host">
      <GraphiQL
        fetcher={fetcher}
        defaultHeaders={JSON.stringify({ Authorization: bearer(session.key) }, null, 2)}
        defaultQuery={'{\n  me {\n    id\n    name\n  }\n}\n'}
        shouldPersistHeaders={false}
      />
    </div>
  );
}
