import { Link } from '../components/nav';
import { Empty, ErrorList, Loading, ScrollTable } from '../components/ui';
import { graphql } from '../gql';
import { BASE } from '../lib/router';
import { useQuery } from '../lib/session-context';
import { duration } from '../lib/time';

const ScopeList = graphql(`
  query ScopeList {
    scopes {
      name
      description
      builtin
      aliases
      reapUnusedAfterSeconds
      policy {
        maxTtlSeconds
        requiresApproval
        sensitive
        condition
        autoApprove
      }
    }
  }
`);

/** Every scope with its policy: approval, sensitivity, longest grant, conditions. */
export function ScopesPage() {
  const scopes = useQuery(ScopeList, {});
  const list = scopes.data?.scopes ?? [];
  return (
    <section>
      <h1>Scopes and policies</h1>
      <p className="muted">
        Unused grants are reaped after <code>REAP_UNUSED_AFTER_SECONDS</code> (a server setting) in
        scopes without a policy of their own.
      </p>
      {scopes.loading && !scopes.data ? <Loading what="scopes" /> : null}
      <ErrorList errors={scopes.errors} />
      {scopes.data && list.length === 0 ? <Empty>No scope is defined.</Empty> : null}
      {list.length ? (
        <ScrollTable label="Scopes">
          <thead>
            <tr>
              <th scope="col">Scope</th>
              <th scope="col">Description</th>
              <th scope="col">Longest grant</th>
              <th scope="col">Reaped when unused for</th>
              <th scope="col">Policy</th>
            </tr>
          </thead>
          <tbody>
            {list.map((scope) => (
              <tr key={scope.name}>
                <td>
                  <Link to={`${BASE}/who-can?scope=${encodeURIComponent(scope.name)}`}>
                    {scope.name}
                  </Link>
                  {scope.builtin ? ' (built-in)' : ''}
                  {scope.aliases.length ? ` aka ${scope.aliases.join(', ')}` : ''}
                </td>
                <td>{scope.description || '—'}</td>
                <td>
                  {scope.policy.maxTtlSeconds ? duration(scope.policy.maxTtlSeconds) : 'no limit'}
                </td>
                <td>
                  {scope.reapUnusedAfterSeconds
                    ? duration(scope.reapUnusedAfterSeconds)
                    : 'the server default'}
                </td>
                <td>
                  {[
                    scope.policy.requiresApproval ? 'approval required' : null,
                    scope.policy.sensitive ? 'sensitive' : null,
                    scope.policy.condition ? `condition ${scope.policy.condition}` : null,
                    scope.policy.autoApprove
                      ? `auto-approves when ${scope.policy.autoApprove}`
                      : null,
                  ]
                    .filter(Boolean)
                    .join('; ') || 'none'}
                </td>
              </tr>
            ))}
          </tbody>
        </ScrollTable>
      ) : null}
    </section>
  );
}
