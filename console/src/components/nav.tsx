import type { ReactNode } from 'react';
import { BASE, navigate } from '../lib/router';
import { useSession } from '../lib/session-context';

/** A link inside the console: navigates without reloading, opens in a new tab as usual. */
export function Link({
  to,
  children,
  current,
}: {
  to: string;
  children: ReactNode;
  current?: boolean;
}) {
  return (
    <a
      href={to}
      aria-current={current ? 'page' : undefined}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

const PAGES: readonly [string, string][] = [
  ['audit', 'Live audit'],
  ['approvals', 'Approvals'],
  ['identities', 'Identities'],
  ['check', 'Check'],
  ['who-can', 'Who can'],
  ['reviews', 'Reviews'],
  ['scopes', 'Scopes'],
  ['graphiql', 'GraphiQL'],
];

export function Nav({ current }: { current: string }) {
  const session = useSession();
  return (
    <header className="top">
      <Link to={BASE} current={current === ''}>
        <strong>Keyholder</strong>
      </Link>
      <nav aria-label="Console pages">
        <ul>
          {PAGES.map(([page, label]) => (
            <li key={page}>
              <Link to={`${BASE}/${page}`} current={current === page}>
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="who">
        <span>
          Signed in as <Link to={`${BASE}/identities/${session.me.id}`}>{session.me.name}</Link>
        </span>
        <button type="button" onClick={session.signOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}
