import { useState } from 'react';
import { Empty, ErrorList, Field, Loading, Time } from '../components/ui';
import { graphql } from '../gql';
import { BASE, navigate, useLocation } from '../lib/router';
import { useQuery, useSession } from '../lib/session-context';

const CheckDecision = graphql(`
  query CheckDecision(
    $identityId: ID!
    $scope: String!
    $resource: String
    $context: CheckContextInput
  ) {
    check(identityId: $identityId, scope: $scope, resource: $resource, context: $context) {
      allowed
      reason
      decidedAt
      revision
      grant {
        id
        reason
        expiresAt
      }
      path {
        role
        groups
      }
      conditions {
        source
        expression
        result
        error
        values
      }
    }
  }
`);

/** "May X do S on R?", with Keyholder's explanation and an optional what-if context. */
export function CheckPage() {
  const session = useSession();
  const location = useLocation();
  const params = new URLSearchParams(location.search);
  const asked = {
    identityId: params.get('identity') ?? '',
    scope: params.get('scope') ?? '',
    resource: params.get('resource') ?? '',
    ip: params.get('ip') ?? '',
    time: params.get('time') ?? '',
  };
  const [draft, setDraft] = useState({
    ...asked,
    identityId: asked.identityId || session.me.id,
  });
  const set = (field: keyof typeof draft) => (value: string) =>
    setDraft((d) => ({ ...d, [field]: value }));
  const context =
    asked.ip || asked.time
      ? {
          ...(asked.ip ? { ip: asked.ip } : {}),
          ...(asked.time ? { time: new Date(asked.time).toISOString() } : {}),
        }
      : null;
  const ready = asked.identityId !== '' && asked.scope !== '';
  const decision = useQuery(
    CheckDecision,
    {
      identityId: asked.identityId,
      scope: asked.scope,
      resource: asked.resource || null,
      context,
    },
    !ready,
  );
  const answer = decision.data?.check;
  return (
    <section>
      <h1>Check</h1>
      <form
        className="filters"
        aria-label="Check a decision"
        onSubmit={(event) => {
          event.preventDefault();
          const next = new URLSearchParams();
          next.set('identity', draft.identityId);
          next.set('scope', draft.scope);
          if (draft.resource) next.set('resource', draft.resource);
          if (draft.ip) next.set('ip', draft.ip);
          if (draft.time) next.set('time', draft.time);
          navigate(`${BASE}/check?${next}`);
        }}
      >
        <Field label="Identity id" value={draft.identityId} onChange={set('identityId')} required />
        <Field
          label="Scope"
          value={draft.scope}
          onChange={set('scope')}
          required
          placeholder="orders:read"
        />
        <Field label="Resource (optional)" value={draft.resource} onChange={set('resource')} />
        <Field label="What if: IP address" value={draft.ip} onChange={set('ip')} />
        <Field
          label="What if: time"
          type="datetime-local"
          value={draft.time}
          onChange={set('time')}
        />
        <button type="submit">Check</button>
      </form>
      {!ready ? <Empty>Name an identity and a scope.</Empty> : null}
      {decision.loading ? <Loading what="the decision" /> : null}
      <ErrorList errors={decision.errors} />
      {answer ? (
        <div className={answer.allowed ? 'decision allowed' : 'decision denied'} role="status">
          <p>
            <strong>{answer.allowed ? 'Allowed' : 'Denied'}</strong>: {answer.reason}
          </p>
          <p className="muted">
            Decided <Time at={answer.decidedAt} /> at revision {answer.revision}
            {answer.path
              ? `; held ${answer.path.groups.length ? `through ${answer.path.groups.join(' → ')}` : 'directly'}${answer.path.role ? `, role ${answer.path.role}` : ''}`
              : ''}
            {answer.grant?.expiresAt ? '; the grant expires ' : ''}
            {answer.grant?.expiresAt ? <Time at={answer.grant.expiresAt} /> : null}
          </p>
          {answer.conditions.length ? (
            <ul className="plain" aria-label="Conditions evaluated">
              {answer.conditions.map((c) => (
                <li key={`${c.source} ${c.expression}`}>
                  {c.source.toLowerCase().replace('_', ' ')} condition <code>{c.expression}</code>:{' '}
                  {c.result.toLowerCase()}
                  {c.error ? ` (${c.error})` : ''}
                  {c.result !== 'TRUE' ? ` — saw ${JSON.stringify(c.values)}` : ''}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
