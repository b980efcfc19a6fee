import { useState } from 'react';
import { Link } from '../components/nav';
import { Empty, ErrorList, Field, Loading, ScrollTable, Time } from '../components/ui';
import { graphql } from '../gql';
import { BASE, navigate, useLocation } from '../lib/router';
import { useQuery } from '../lib/session-context';

const WhoCan = graphql(`
  query WhoCan($scope: String!, $resource: String, $after: String) {
    whoCan(scope: $scope, resource: $resource, first: 100, after: $after) {
      totalCount
      nodes {
        identityId
        identity {
          name
          kind
        }
        expiresAt
        grant {
          id
          resource
          grantable
          condition
          policyCondition
        }
        path {
          role
          groups
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

/** A scope and an optional resource: everyone who can use it now, and how. */
export function WhoCanPage() {
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const scope = params.get('scope') ?? '';
  const resource = params.get('resource') ?? '';
  const after = params.get('after');
  const [draft, setDraft] = useState({ scope, resource });
  const answer = useQuery(WhoCan, { scope, resource: resource || null, after }, scope === '');
  const page = answer.data?.whoCan;
  return (
    <section>
      <h1>Who can</h1>
      <form
        className="filters"
        aria-label="Who can"
        onSubmit={(event) => {
          event.preventDefault();
          const next = new URLSearchParams({ scope: draft.scope });
          if (draft.resource) next.set('resource', draft.resource);
          navigate(`${BASE}/who-can?${next}`);
        }}
      >
        <Field
          label="Scope"
          value={draft.scope}
          onChange={(scope) => setDraft((d) => ({ ...d, scope }))}
          required
        />
        <Field
          label="Resource (optional)"
          value={draft.resource}
          onChange={(resource) => setDraft((d) => ({ ...d, resource }))}
        />
        <button type="submit">Ask</button>
      </form>
      {scope === '' ? <Empty>Name a scope.</Empty> : null}
      {answer.loading ? <Loading what="holders" /> : null}
      <ErrorList errors={answer.errors} />
      {page ? (
        <p role="status">
          {page.totalCount} {page.totalCount === 1 ? 'holder' : 'holders'} of {scope}
          {resource ? ` on ${resource}` : ''}.
        </p>
      ) : null}
      {page?.nodes.length ? (
        <ScrollTable label="Holders">
          <thead>
            <tr>
              <th scope="col">Identity</th>
              <th scope="col">How</th>
              <th scope="col">Resource</th>
              <th scope="col">Until</th>
            </tr>
          </thead>
          <tbody>
            {page.nodes.map((holder) => (
              <tr key={`${holder.identityId} ${holder.grant?.id ?? ''}`}>
                <td>
                  <Link to={`${BASE}/identities/${holder.identityId}`}>
                    {holder.identity?.name ?? holder.identityId}
                  </Link>
                </td>
                <td>
                  {holder.path.groups.length
                    ? `through ${holder.path.groups.join(' → ')}`
                    : 'directly'}
                  {holder.path.role ? `, role ${holder.path.role}` : ''}
                  {holder.grant?.grantable ? ', grantable' : ''}
                  {holder.grant?.condition ? `, when ${holder.grant.condition}` : ''}
                  {holder.grant?.policyCondition ? `, policy: ${holder.grant.policyCondition}` : ''}
                </td>
                <td>{holder.grant?.resource ?? 'every resource'}</td>
                <td>{holder.expiresAt ? <Time at={holder.expiresAt} /> : 'no expiry'}</td>
              </tr>
            ))}
          </tbody>
        </ScrollTable>
      ) : null}
      {page?.pageInfo.hasNextPage ? (
        <Link
          to={`${BASE}/who-can?${new URLSearchParams({ scope, ...(resource ? { resource } : {}), after: page.pageInfo.endCursor ?? '' })}`}
        >
          Next holders
        </Link>
      ) : null}
    </section>
  );
}
