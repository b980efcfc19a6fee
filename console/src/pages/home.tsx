import { Link } from '../components/nav';
import { Empty, ErrorList, Loading, ScrollTable, Time } from '../components/ui';
import { graphql } from '../gql';
import { BASE } from '../lib/router';
import { useQuery, useSession } from '../lib/session-context';

const MyAccess = graphql(`
  query MyAccess($id: ID!) {
    effectivePermissions(identityId: $id) {
      scope
      resource
      expiresAt
      grantable
    }
    myAccessRequests {
      id
      status
      resource
      ttlSeconds
      createdAt
      scope {
        name
      }
    }
  }
`);

/** Who is signed in, what they can use, and their access requests. */
export function Home() {
  const session = useSession();
  const mine = useQuery(MyAccess, { id: session.me.id });
  return (
    <section>
      <h1>
        {session.me.name} <small className="muted">({session.me.kind.toLowerCase()})</small>
      </h1>
      <p>
        Identity <code>{session.me.id}</code>.{' '}
        <Link to={`${BASE}/identities/${session.me.id}`}>Your identity's page</Link>.
      </p>
      <h2>What you can use now</h2>
      {mine.loading && !mine.data ? <Loading what="your permissions" /> : null}
      <ErrorList errors={mine.errors} />
      {mine.data?.effectivePermissions?.length === 0 ? <Empty>You hold nothing.</Empty> : null}
      {mine.data?.effectivePermissions?.length ? (
        <ScrollTable label="Your permissions">
          <thead>
            <tr>
              <th scope="col">Scope</th>
              <th scope="col">Resource</th>
              <th scope="col">Until</th>
              <th scope="col">Grantable</th>
            </tr>
          </thead>
          <tbody>
            {mine.data.effectivePermissions.map((p) => (
              <tr key={`${p.scope} ${p.resource ?? '*'}`}>
                <td>{p.scope}</td>
                <td>{p.resource ?? 'every resource'}</td>
                <td>{p.expiresAt ? <Time at={p.expiresAt} /> : 'no expiry'}</td>
                <td>{p.grantable ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </ScrollTable>
      ) : null}
      <h2>Your access requests</h2>
      {mine.data?.myAccessRequests.length === 0 ? <Empty>You have asked for nothing.</Empty> : null}
      <ul className="plain">
        {mine.data?.myAccessRequests.map((r) => (
          <li key={r.id}>
            {r.scope?.name ?? 'a group'} {r.resource ? `on ${r.resource}` : ''} —{' '}
            <span className={`status ${r.status.toLowerCase()}`}>{r.status.toLowerCase()}</span>,
            asked <Time at={r.createdAt} />
          </li>
        ))}
      </ul>
    </section>
  );
}
