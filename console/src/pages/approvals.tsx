import { useEffect, useState } from 'react';
import { Link } from '../components/nav';
import { Empty, ErrorList, Loading, ReasonAction, Time } from '../components/ui';
import { graphql } from '../gql';
import type { AccessRequestFieldsFragment } from '../gql/graphql';
import { execute, subscribe } from '../lib/api';
import type { ApiError } from '../lib/errors';
import { BASE } from '../lib/router';
import { useQuery, useSession } from '../lib/session-context';
import { duration } from '../lib/time';

graphql(`
  fragment AccessRequestFields on AccessRequest {
    id
    status
    reason
    resource
    ttlSeconds
    createdAt
    expiresAt
    requesterId
    requester {
      name
      kind
    }
    identityId
    identity {
      name
    }
    scope {
      name
      description
      policy {
        maxTtlSeconds
        requiresApproval
        sensitive
        condition
      }
    }
    group {
      name
    }
  }
`);

const Awaiting = graphql(`
  query AwaitingMyApproval {
    accessRequestsAwaitingMyApproval {
      ...AccessRequestFields
    }
  }
`);

const LiveRequests = graphql(`
  subscription LiveAccessRequests {
    accessRequests {
      ...AccessRequestFields
    }
  }
`);

const Approve = graphql(`
  mutation ApproveAccessRequest($id: ID!, $reason: String) {
    approveAccessRequest(id: $id, reason: $reason) {
      id
      status
    }
  }
`);

const Deny = graphql(`
  mutation DenyAccessRequest($id: ID!, $reason: String!) {
    denyAccessRequest(id: $id, reason: $reason) {
      id
      status
    }
  }
`);

const OthersWhoCan = graphql(`
  query OthersWhoCan($scope: String!, $resource: String) {
    whoCan(scope: $scope, resource: $resource, first: 20) {
      nodes {
        identityId
        identity {
          name
        }
        grant {
          grantable
        }
      }
    }
  }
`);

/** Requests awaiting the person's decision, kept current by the accessRequests subscription. */
export function ApprovalsPage() {
  const session = useSession();
  const awaiting = useQuery(Awaiting, {});
  const [requests, setRequests] = useState<AccessRequestFieldsFragment[]>([]);
  const [liveErrors, setLiveErrors] = useState<readonly ApiError[]>([]);
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    if (awaiting.data) setRequests([...awaiting.data.accessRequestsAwaitingMyApproval]);
  }, [awaiting.data]);

  useEffect(() => {
    const offConnected = session.live.on('connected', () => setConnected(true));
    const stop = subscribe(
      session.live,
      LiveRequests,
      {},
      (data) => {
        const request = data.accessRequests;
        setRequests((current) => {
          const others = current.filter((r) => r.id !== request.id);
          return request.status === 'PENDING' ? [...others, request] : others;
        });
      },
      setLiveErrors,
    );
    return () => {
      offConnected();
      stop();
    };
  }, [session.live]);

  return (
    <section>
      <h1>Approvals</h1>
      <p role="status" className={connected ? 'live-on' : 'muted'}>
        {connected ? 'Live: new requests appear here as they are made' : 'Connecting…'}
      </p>
      {awaiting.loading && !awaiting.data ? <Loading what="requests awaiting you" /> : null}
      <ErrorList errors={awaiting.errors} />
      <ErrorList errors={liveErrors} />
      {awaiting.data && requests.length === 0 ? <Empty>Nothing awaits your decision.</Empty> : null}
      <ul className="cards" aria-label="Requests awaiting your decision">
        {requests.map((request) => (
          <RequestCard
            key={request.id}
            request={request}
            onDecided={() => setRequests((c) => c.filter((r) => r.id !== request.id))}
          />
        ))}
      </ul>
    </section>
  );
}

function RequestCard({
  request,
  onDecided,
}: {
  request: AccessRequestFieldsFragment;
  onDecided: () => void;
}) {
  const session = useSession();
  const what = request.scope?.name ?? `membership of ${request.group?.name ?? 'a group'}`;
  const decide = async (mutation: 'approve' | 'deny', reason: string) => {
    const result =
      mutation === 'approve'
        ? await execute(session.key, Approve, { id: request.id, reason: reason || null })
        : await execute(session.key, Deny, { id: request.id, reason });
    if (result.errors.length === 0) onDecided();
    return result.errors;
  };
  return (
    <li
      className="card"
      aria-label={`Request for ${what} by ${request.requester?.name ?? request.requesterId}`}
    >
      <h2>
        {what}
        {request.resource ? ` on ${request.resource}` : ' on every resource'} for{' '}
        {duration(request.ttlSeconds)}
      </h2>
      <dl>
        <dt>Requester</dt>
        <dd>
          <Link to={`${BASE}/identities/${request.requesterId}`}>
            {request.requester?.name ?? request.requesterId}
          </Link>
          {request.identityId !== request.requesterId
            ? `, for ${request.identity?.name ?? request.identityId}`
            : ''}
        </dd>
        <dt>Reason</dt>
        <dd>{request.reason}</dd>
        <dt>Asked</dt>
        <dd>
          <Time at={request.createdAt} />, lapses <Time at={request.expiresAt} />
        </dd>
        {request.scope ? (
          <>
            <dt>Policy</dt>
            <dd>
              {request.scope.policy.requiresApproval ? 'approval required' : 'no approval required'}
              {request.scope.policy.sensitive ? ', sensitive' : ''}
              {request.scope.policy.maxTtlSeconds
                ? `, at most ${duration(request.scope.policy.maxTtlSeconds)}`
                : ', no time limit'}
              {request.scope.policy.condition
                ? `, condition ${request.scope.policy.condition}`
                : ''}
            </dd>
          </>
        ) : null}
      </dl>
      {request.scope ? (
        <OtherDeciders scope={request.scope.name} resource={request.resource ?? null} />
      ) : null}
      <div className="actions">
        <ReasonAction
          label="Approve"
          reasonRequired={false}
          reasonLabel="Note (optional)"
          onSubmit={(reason) => decide('approve', reason)}
        />
        <ReasonAction label="Deny" onSubmit={(reason) => decide('deny', reason)} />
      </div>
    </li>
  );
}

function OtherDeciders({ scope, resource }: { scope: string; resource: string | null }) {
  const session = useSession();
  const who = useQuery(OthersWhoCan, { scope, resource }, !session.can.grantsRead.allowed);
  if (!session.can.grantsRead.allowed) return null;
  const deciders =
    who.data?.whoCan?.nodes.filter(
      (holder) => holder.grant?.grantable && holder.identityId !== session.me.id,
    ) ?? [];
  return (
    <p className="muted">
      Who else may decide:{' '}
      {who.loading
        ? '…'
        : deciders.length === 0
          ? 'nobody else holds it grantable.'
          : deciders.map((d) => d.identity?.name ?? d.identityId).join(', ')}
    </p>
  );
}
