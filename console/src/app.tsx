import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Nav } from './components/nav';
import { ErrorList, Loading } from './components/ui';
import { graphql } from './gql';
import { execute, liveClient } from './lib/api';
import { type ApiError, apiErrorOf } from './lib/errors';
import { finishSignIn } from './lib/oidc';
import { BASE, navigate, pageOf, useLocation } from './lib/router';
import { forgetKey, storedKey, storeKey } from './lib/session';
import { type Session, SessionContext } from './lib/session-context';
import { ApprovalsPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { CheckPage } from './pages/check';
import { Home } from './pages/home';
import { IdentitiesPage } from './pages/identities';
import { IdentityPage } from './pages/identity';
import { ReviewsPage } from './pages/reviews';
import { ScopesPage } from './pages/scopes';
import { SignIn } from './pages/sign-in';
import { WhoCanPage } from './pages/who-can';

const GraphiqlPage = lazy(() =>
  import('./pages/graphiql').then((module) => ({ default: module.GraphiqlPage })),
);

const WhoAmI = graphql(`
  query WhoAmI {
    me {
      id
      name
      kind
    }
  }
`);

const Capabilities = graphql(`
  query Capabilities($id: ID!) {
    auditRead: check(identityId: $id, scope: "audit:read") {
      allowed
      reason
    }
    grantsRead: check(identityId: $id, scope: "grants:read") {
      allowed
      reason
    }
    grantsWrite: check(identityId: $id, scope: "grants:write") {
      allowed
      reason
    }
    identitiesRead: check(identityId: $id, scope: "identities:read") {
      allowed
      reason
    }
    identitiesWrite: check(identityId: $id, scope: "identities:write") {
      allowed
      reason
    }
    scopesRead: check(identityId: $id, scope: "scopes:read") {
      allowed
      reason
    }
  }
`);

const UNKNOWN = { allowed: false, reason: 'Keyholder did not say.' };

const SCOPES = {
  auditRead: 'audit:read',
  grantsRead: 'grants:read',
  grantsWrite: 'grants:write',
  identitiesRead: 'identities:read',
  identitiesWrite: 'identities:write',
  scopesRead: 'scopes:read',
} as const;

/** Signs `key` in: who it is and what it may do, or the errors that refused it. */
async function openSession(
  key: string,
  signOut: () => void,
): Promise<{ session: Session } | { errors: readonly ApiError[] }> {
  const who = await execute(key, WhoAmI, {});
  if (!who.data?.me) return { errors: who.errors };
  const me = who.data.me;
  const caps = await execute(key, Capabilities, { id: me.id });
  const can = Object.fromEntries(
    Object.entries(SCOPES).map(([name, scope]) => [
      name,
      { scope, ...(caps.data?.[name as keyof typeof SCOPES] ?? UNKNOWN) },
    ]),
  ) as Session['can'];
  return { session: { key, me, can, live: liveClient(key), signOut } };
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [errors, setErrors] = useState<readonly ApiError[]>([]);
  const [restoring, setRestoring] = useState(
    () => storedKey() !== null || /[?&](code|error)=/.test(window.location.search),
  );
  const location = useLocation();

  const signOut = useCallback(() => {
    forgetKey();
    setSession((current) => {
      void current?.live.dispose();
      return null;
    });
  }, []);

  const signIn = useCallback(
    async (key: string) => {
      const opened = await openSession(key, signOut);
      if ('errors' in opened) {
        forgetKey();
        setErrors(opened.errors);
        return;
      }
      storeKey(key);
      setErrors([]);
      setSession(opened.session);
    },
    [signOut],
  );

  useEffect(() => {
    let current = true;
    void (async () => {
      // Coming back from the identity provider: exchange the code, then go where the person was.
      const answer = await finishSignIn(
        window.location.search,
        sessionStorage,
        window.fetch.bind(window),
      );
      if (!current) return;
      if (answer !== null) {
        navigate('returnTo' in answer ? answer.returnTo : BASE, true);
        if ('token' in answer) await signIn(answer.token);
        else setErrors([apiErrorOf({ message: answer.error })]);
        setRestoring(false);
        return;
      }
      const key = storedKey();
      if (key !== null) await signIn(key);
      setRestoring(false);
    })();
    return () => {
      current = false;
    };
  }, [signIn]);

  const { page, rest } = pageOf(location.path);
  useEffect(() => {
    document.title = `${TITLES[page] ?? 'Not found'} · Keyholder console`;
  }, [page]);

  // After moving to another page, keyboard and screen reader users start at its heading.
  const firstPath = useRef(location.path);
  useEffect(() => {
    if (location.path === firstPath.current) return;
    firstPath.current = '';
    const frame = requestAnimationFrame(() => {
      const heading = document.querySelector<HTMLElement>('main h1');
      if (heading === null) return;
      heading.tabIndex = -1;
      heading.focus();
    });
    return () => cancelAnimationFrame(frame);
  }, [location.path]);

  const content = useMemo(() => {
    switch (page) {
      case '':
        return <Home />;
      case 'audit':
        return <AuditPage />;
      case 'approvals':
        return <ApprovalsPage />;
      case 'identities':
        return rest[0] ? <IdentityPage id={rest[0]} /> : <IdentitiesPage />;
      case 'check':
        return <CheckPage />;
      case 'who-can':
        return <WhoCanPage />;
      case 'reviews':
        return <ReviewsPage />;
      case 'scopes':
        return <ScopesPage />;
      case 'graphiql':
        return (
          <Suspense fallback={<Loading what="GraphiQL" />}>
            <GraphiqlPage />
          </Suspense>
        );
      default:
        return (
          <section>
            <h1>Not found</h1>
            <p>
              The console has no page at {location.path}.{' '}
              <a
                href={BASE}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(BASE);
                }}
              >
                Go to the start page
              </a>
              .
            </p>
          </section>
        );
    }
  }, [page, rest[0], location.path]);

  if (restoring && session === null) return <Loading what="your session" />;
  if (session === null) {
    return (
      <main id="main">
        <SignIn onSignIn={signIn} />
        <ErrorList errors={errors} />
      </main>
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Nav current={page} />
      <main id="main" className={page === 'graphiql' ? 'wide' : undefined}>
        {content}
      </main>
    </SessionContext.Provider>
  );
}

const TITLES: Record<string, string> = {
  '': 'Home',
  audit: 'Live audit',
  approvals: 'Approvals',
  identities: 'Identities',
  check: 'Check',
  'who-can': 'Who can',
  reviews: 'Access reviews',
  scopes: 'Scopes and policies',
  graphiql: 'GraphiQL',
};
