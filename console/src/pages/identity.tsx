import { useId, useState } from 'react';
import { Link } from '../components/nav';
import {
  DisabledAction,
  Empty,
  ErrorList,
  Field,
  Loading,
  ReasonAction,
  ScrollTable,
  Time,
} from '../components/ui';
import { graphql } from '../gql';
import type { IdentityPageQuery } from '../gql/graphql';
import { execute } from '../lib/api';
import type { ApiError } from '../lib/errors';
import { BASE } from '../lib/router';
import { useQuery, useSession } from '../lib/session-context';

const IdentityDetail = graphql(`
  query IdentityPage($id: ID!) {
    identity(id: $id) {
      id
      name
      kind
      status
      externalId
      createdAt
      disabledAt
      owner {
        id
        name
      }
      ownedIdentities {
        id
        name
        kind
      }
      grants {
        id
        resource
        reason
        grantable
        createdAt
        expiresAt
        condition
        scope {
          name
        }
        role {
          name
        }
        group {
          name
        }
        grantedBy {
          name
        }
      }
      apiKeys {
        id
        name
        prefix
        createdAt
        expiresAt
        lastUsedAt
        active
      }
      groups {
        group {
          name
        }
      }
    }
    effectivePermissions(identityId: $id) {
      scope
      resource
      expiresAt
      grantable
      paths {
        grantId
        role
        groups
      }
    }
  }
`);

const RecentActivity = graphql(`
  query RecentActivity($subjectId: String!) {
    auditEvents(first: 10, filter: { subjectId: $subjectId }) {
      nodes {
        id
        at
        action
        actor {
          name
        }
      }
    }
  }
`);

const GrantScope = graphql(`
  mutation GrantScope($input: GrantInput!) {
    grant(input: $input) {
      id
    }
  }
`);

const RevokeGrant = graphql(`
  mutation RevokeGrant($id: ID!, $reason: String!) {
    revokeGrant(id: $id, reason: $reason) {
      id
      active
    }
  }
`);

const DisableIdentity = graphql(`
  mutation DisableIdentity($id: ID!) {
    disableIdentity(id: $id) {
      id
      status
    }
  }
`);

const CreateKey = graphql(`
  mutation CreateKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      secret
      apiKey {
        id
        prefix
      }
    }
  }
`);

const RevokeKey = graphql(`
  mutation RevokeKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      active
    }
  }
`);

type Detail = NonNullable<IdentityPageQuery['identity']>;
type Permission = NonNullable<IdentityPageQuery['effectivePermissions']>[number];

/** An identity: its grants (and how it holds them), keys, permissions and recent activity. */
export function IdentityPage({ id }: { id: string }) {
  const session = useSession();
  const detail = useQuery(IdentityDetail, { id });
  const identity = detail.data?.identity ?? null;
  if (detail.loading && !detail.data) return <Loading what="the identity" />;
  if (!identity) {
    return (
      <section>
        <h1>Identity</h1>
        <ErrorList errors={detail.errors} />
        {detail.errors.length === 0 ? <Empty>There is no identity {id}.</Empty> : null}
      </section>
    );
  }
  const paths = new Map<string, Permission['paths'][number]>();
  for (const permission of detail.data?.effectivePermissions ?? []) {
    for (const path of permission.paths) paths.set(path.grantId, path);
  }
  const mayChange = session.can.identitiesWrite;
  return (
    <section>
      <h1>
        {identity.name}{' '}
        <small className="muted">
          ({identity.kind.toLowerCase()}, {identity.status.toLowerCase()})
        </small>
      </h1>
      <ErrorList errors={detail.errors} />
      <dl className="facts">
        <dt>Id</dt>
        <dd>
          <code>{identity.id}</code>
        </dd>
        <dt>External id</dt>
        <dd>{identity.externalId ?? '—'}</dd>
        <dt>Created</dt>
        <dd>
          <Time at={identity.createdAt} />
        </dd>
        {identity.owner ? (
          <>
            <dt>Owner</dt>
            <dd>
              <Link to={`${BASE}/identities/${identity.owner.id}`}>{identity.owner.name}</Link>
            </dd>
          </>
        ) : null}
        {identity.groups?.length ? (
          <>
            <dt>Groups</dt>
            <dd>{identity.groups.map((g) => g.group?.name).join(', ')}</dd>
          </>
        ) : null}
      </dl>
      {identity.status === 'ACTIVE' && identity.id !== session.me.id ? (
        <ReasonAction
          label="Disable identity"
          capability={mayChange}
          askReason={false}
          onSubmit={async () => {
            const result = await execute(session.key, DisableIdentity, { id: identity.id });
            if (result.errors.length === 0) detail.reload();
            return result.errors;
          }}
        />
      ) : null}

      <h2>Grants</h2>
      <Grants identity={identity} paths={paths} onChange={detail.reload} />
      <h3>Grant a scope</h3>
      <GrantForm identityId={identity.id} onGranted={detail.reload} />

      <h2>Effective permissions</h2>
      {detail.data?.effectivePermissions?.length === 0 ? (
        <Empty>It can use nothing now.</Empty>
      ) : null}
      <ul className="plain" aria-label="Effective permissions">
        {detail.data?.effectivePermissions?.map((p) => (
          <li key={`${p.scope} ${p.resource ?? '*'}`}>
            <strong>{p.scope}</strong> on {p.resource ?? 'every resource'}
            {p.grantable ? ', grantable' : ''}
            {p.expiresAt ? (
              <>
                , until <Time at={p.expiresAt} />
              </>
            ) : null}
            {' — '}
            {p.paths.map((path) => pathText(path)).join('; ')}
          </li>
        ))}
      </ul>

      <h2>API keys</h2>
      <Keys identity={identity} onChange={detail.reload} />

      {identity.ownedIdentities?.length ? (
        <>
          <h2>Owned agents and services</h2>
          <ul className="plain">
            {identity.ownedIdentities.map((owned) =>
              owned ? (
                <li key={owned.id}>
                  <Link to={`${BASE}/identities/${owned.id}`}>{owned.name}</Link> (
                  {owned.kind.toLowerCase()})
                </li>
              ) : null,
            )}
          </ul>
        </>
      ) : null}

      {session.can.auditRead.allowed ? <Activity id={identity.id} /> : null}
    </section>
  );
}

function pathText(path: { role?: string | null; groups: readonly string[] }): string {
  const through = path.groups.length ? `through ${path.groups.join(' → ')}` : 'directly';
  return path.role ? `${through}, role ${path.role}` : through;
}

function Grants({
  identity,
  paths,
  onChange,
}: {
  identity: Detail;
  paths: Map<string, { role?: string | null; groups: readonly string[] }>;
  onChange: () => void;
}) {
  const session = useSession();
  const grants = (identity.grants ?? []).filter((g) => g !== null);
  if (grants.length === 0) return <Empty>No active grant.</Empty>;
  return (
    <ScrollTable label="Grants">
      <thead>
        <tr>
          <th scope="col">Scope or role</th>
          <th scope="col">Resource</th>
          <th scope="col">How</th>
          <th scope="col">Reason</th>
          <th scope="col">Expires</th>
          <th scope="col">Action</th>
        </tr>
      </thead>
      <tbody>
        {grants.map((grant) => {
          const what = grant.scope?.name ?? `role ${grant.role?.name ?? '?'}`;
          const path = paths.get(grant.id);
          return (
            <tr key={grant.id} data-grant={grant.id}>
              <td>
                {what}
                {grant.grantable ? ' (grantable)' : ''}
              </td>
              <td>{grant.resource ?? 'every resource'}</td>
              <td>
                {path ? pathText(path) : grant.group ? `through ${grant.group.name}` : 'directly'}
                {grant.grantedBy ? `, granted by ${grant.grantedBy.name}` : ''}
                {grant.condition ? `, when ${grant.condition}` : ''}
              </td>
              <td>{grant.reason}</td>
              <td>{grant.expiresAt ? <Time at={grant.expiresAt} /> : 'never'}</td>
              <td>
                {grant.group ? (
                  <span className="muted">revoke it on the group</span>
                ) : (
                  <ReasonAction
                    label={`Revoke ${what}`}
                    capability={session.can.grantsWrite}
                    onSubmit={async (reason) => {
                      const result = await execute(session.key, RevokeGrant, {
                        id: grant.id,
                        reason,
                      });
                      if (result.errors.length === 0) onChange();
                      return result.errors;
                    }}
                  />
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </ScrollTable>
  );
}

function GrantForm({ identityId, onGranted }: { identityId: string; onGranted: () => void }) {
  const session = useSession();
  const [scope, setScope] = useState('');
  const [resource, setResource] = useState('');
  const [ttl, setTtl] = useState('');
  const [reason, setReason] = useState('');
  const [grantable, setGrantable] = useState(false);
  const [errors, setErrors] = useState<readonly ApiError[]>([]);
  const [done, setDone] = useState<string | null>(null);
  const grantableId = useId();
  if (!session.can.grantsWrite.allowed) {
    return <DisabledAction label="Grant" capability={session.can.grantsWrite} />;
  }
  return (
    <form
      className="filters"
      aria-label="Grant a scope"
      onSubmit={async (event) => {
        event.preventDefault();
        const result = await execute(session.key, GrantScope, {
          input: {
            identityId,
            scope,
            resource: resource || null,
            ttlSeconds: ttl ? Number(ttl) : null,
            reason,
            grantable,
          },
        });
        setErrors(result.errors);
        if (result.data?.grant) {
          setDone(`Granted ${scope}.`);
          setScope('');
          setResource('');
          setReason('');
          onGranted();
        }
      }}
    >
      <Field label="Scope" value={scope} onChange={setScope} required placeholder="orders:read" />
      <Field label="Resource (empty: every resource)" value={resource} onChange={setResource} />
      <Field
        label="Lifetime in seconds (empty: no expiry)"
        value={ttl}
        onChange={setTtl}
        type="number"
      />
      <Field label="Reason" value={reason} onChange={setReason} required />
      <div className="field checkbox">
        <input
          id={grantableId}
          type="checkbox"
          checked={grantable}
          onChange={(e) => setGrantable(e.target.checked)}
        />
        <label htmlFor={grantableId}>Grantable</label>
      </div>
      <button type="submit">Grant</button>
      {done ? <span role="status">{done}</span> : null}
      <ErrorList errors={errors} />
    </form>
  );
}

function Keys({ identity, onChange }: { identity: Detail; onChange: () => void }) {
  const session = useSession();
  const [name, setName] = useState('');
  const [ttl, setTtl] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [errors, setErrors] = useState<readonly ApiError[]>([]);
  const keys = (identity.apiKeys ?? []).filter((k) => k !== null);
  const may = session.can.identitiesWrite;
  return (
    <>
      {keys.length === 0 ? <Empty>No API key.</Empty> : null}
      <ul className="plain" aria-label="API keys">
        {keys.map((key) => (
          <li key={key.id}>
            <code>{key.prefix}…</code> {key.name}, {key.active ? 'active' : 'revoked or expired'},
            made <Time at={key.createdAt} />, last used{' '}
            {key.lastUsedAt ? <Time at={key.lastUsedAt} /> : 'never'}{' '}
            {key.active ? (
              <ReasonAction
                label={`Revoke key ${key.prefix}`}
                capability={may}
                askReason={false}
                onSubmit={async () => {
                  const result = await execute(session.key, RevokeKey, { id: key.id });
                  if (result.errors.length === 0) onChange();
                  return result.errors;
                }}
              />
            ) : null}
          </li>
        ))}
      </ul>
      {secret !== null ? (
        <div className="secret" role="alert">
          <p>
            The new key, shown this once (Keyholder keeps only its hash; the console forgets it when
            you dismiss this):
          </p>
          <code>{secret}</code>
          <button type="button" onClick={() => setSecret(null)}>
            I have stored it: forget it
          </button>
        </div>
      ) : null}
      {may.allowed ? (
        <form
          className="filters"
          aria-label="Create an API key"
          onSubmit={async (event) => {
            event.preventDefault();
            const result = await execute(session.key, CreateKey, {
              input: { identityId: identity.id, name, ttlSeconds: ttl ? Number(ttl) : null },
            });
            setErrors(result.errors);
            if (result.data?.createApiKey) {
              setSecret(result.data.createApiKey.secret);
              setName('');
              onChange();
            }
          }}
        >
          <Field label="Key name" value={name} onChange={setName} required />
          <Field
            label="Lifetime in seconds (empty: no expiry)"
            value={ttl}
            onChange={setTtl}
            type="number"
          />
          <button type="submit">Create key</button>
          <ErrorList errors={errors} />
        </form>
      ) : (
        <DisabledAction label="Create key" capability={may} />
      )}
    </>
  );
}

function Activity({ id }: { id: string }) {
  const recent = useQuery(RecentActivity, { subjectId: id });
  const events = recent.data?.auditEvents?.nodes ?? [];
  return (
    <>
      <h2>Recent activity</h2>
      <ErrorList errors={recent.errors} />
      {recent.data && events.length === 0 ? <Empty>No event concerns it.</Empty> : null}
      <ul className="plain" aria-label="Recent activity">
        {events.map((event) => (
          <li key={event.id}>
            <Time at={event.at} /> {event.action}
            {event.actor ? ` by ${event.actor.name}` : ''}
          </li>
        ))}
      </ul>
      <Link to={`${BASE}/audit?subjectId=${encodeURIComponent(id)}`}>
        All its events in the audit
      </Link>
    </>
  );
}
