import { useState } from 'react';
import { Link } from '../components/nav';
import { Empty, ErrorList, Field, Loading, ScrollTable, Time } from '../components/ui';
import { graphql } from '../gql';
import { BASE, navigate, useLocation } from '../lib/router';
import { useQuery } from '../lib/session-context';

const SearchIdentities = graphql(`
  query SearchIdentities($filter: IdentityFilter) {
    identities(first: 50, filter: $filter) {
      nodes {
        id
        name
        kind
        status
        externalId
        createdAt
      }
      pageInfo {
        hasNextPage
      }
    }
  }
`);

/** Search identities by name (the query string carries it: `?q=`). */
export function IdentitiesPage() {
  const location = useLocation();
  const q = new URLSearchParams(location.search).get('q') ?? '';
  const [draft, setDraft] = useState(q);
  const found = useQuery(SearchIdentities, { filter: q ? { nameContains: q } : null });
  const nodes = found.data?.identities?.nodes ?? [];
  return (
    <section>
      <h1>Identities</h1>
      <search>
        <form
          className="filters"
          onSubmit={(event) => {
            event.preventDefault();
            navigate(`${BASE}/identities${draft ? `?q=${encodeURIComponent(draft)}` : ''}`);
          }}
        >
          <Field label="Name contains" value={draft} onChange={setDraft} />
          <button type="submit">Search</button>
        </form>
      </search>
      {found.loading ? <Loading what="identities" /> : null}
      <ErrorList errors={found.errors} />
      {found.data && nodes.length === 0 ? <Empty>No identity matches.</Empty> : null}
      {nodes.length > 0 ? (
        <ScrollTable label="Identities found">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">External id</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((identity) =>
              identity ? (
                <tr key={identity.id}>
                  <td>
                    <Link to={`${BASE}/identities/${identity.id}`}>{identity.name}</Link>
                  </td>
                  <td>{identity.kind.toLowerCase()}</td>
                  <td>{identity.status.toLowerCase()}</td>
                  <td>{identity.externalId ?? '—'}</td>
                  <td>
                    <Time at={identity.createdAt} />
                  </td>
                </tr>
              ) : null,
            )}
          </tbody>
        </ScrollTable>
      ) : null}
      {found.data?.identities?.pageInfo.hasNextPage ? (
        <p className="muted">Only the first 50 are shown: narrow the search.</p>
      ) : null}
    </section>
  );
}
