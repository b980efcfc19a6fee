import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import './graphiql.css';
import { useEffect, useMemo, useRef } from 'react';
import { socketUrl } from '../lib/api';
import { bearer } from '../lib/session';
import { useSession } from '../lib/session-context';

/**
 * CodeMirror's hidden textareas get names (the query, variables, headers and response editors) and
 * its scroll areas become focusable, so keyboard and screen reader users reach every editor.
 */
function labelEditors(root: HTMLElement): void {
  for (const area of root.querySelectorAll('textarea:not([aria-label])')) {
    const name = area.closest('.graphiql-query-editor')
      ? 'Query editor'
      : area.closest('.graphiql-response')
        ? 'Response'
        : area.closest('.graphiql-editor-tool')
          ? 'Variables or headers editor'
          : 'Editor';
    area.setAttribute('aria-label', name);
  }
  for (const scroll of root.querySelectorAll('.CodeMirror-scroll:not([tabindex="0"])')) {
    scroll.setAttribute('tabindex', '0');
  }
}

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
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const root = host.current;
    if (root === null) return;
    const observer = new MutationObserver(() => labelEditors(root));
    observer.observe(root, { childList: true, subtree: true });
    labelEditors(root);
    return () => observer.disconnect();
  }, []);
  const fetcher = useMemo(
    () =>
      createGraphiQLFetcher({
        url: '/graphql',
        // Also sent when the headers editor has not been read yet; what it says wins.
        headers: { Authorization: bearer(session.key) },
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
    <div className="graphiql-host" ref={host}>
      <h1 className="visually-hidden">GraphiQL</h1>
      <GraphiQL
        forcedTheme="light"
        fetcher={fetcher}
        defaultHeaders={JSON.stringify({ Authorization: bearer(session.key) }, null, 2)}
        defaultQuery={'{\n  me {\n    id\n    name\n  }\n}\n'}
        shouldPersistHeaders={false}
      />
    </div>
  );
}
