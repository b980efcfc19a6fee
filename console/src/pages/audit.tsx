import { useEffect, useId, useRef, useState } from 'react';
import { Empty, ErrorList, Field, Loading, Time } from '../components/ui';
import { graphql } from '../gql';
import type { AuditEventFieldsFragment, AuditFilter } from '../gql/graphql';
import { execute, subscribe } from '../lib/api';
import {
  type AuditView,
  auditViewOf,
  mergeEvents,
  searchOf,
  showsEvent,
} from '../lib/audit-filter';
import type { ApiError } from '../lib/errors';
import { BASE, navigate, useLocation } from '../lib/router';
import { useMutation, useSession } from '../lib/session-context';

graphql(`
  fragment AuditEventFields on AuditEvent {
    id
    seq
    at
    action
    actorId
    actor {
      name
    }
    subjectId
    details
    hash
  }
`);

const LiveAudit = graphql(`
  subscription LiveAudit($filter: AuditFilter) {
    auditEvents(filter: $filter) {
      ...AuditEventFields
    }
  }
`);

const PastAudit = graphql(`
  query PastAudit($filter: AuditFilter, $after: String) {
    auditEvents(first: 50, after: $after, filter: $filter) {
      nodes {
        ...AuditEventFields
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const VerifyAudit = graphql(`
  query VerifyAudit {
    verifyAuditLog {
      ok
      checked
      firstBrokenId
      reason
      lastSeq
      lastHash
    }
  }
`);

const LIVE_LIMIT = 500;

/** The live, hash-chained audit feed, its filters, and search of the past. */
export function AuditPage() {
  const session = useSession();
  const location = useLocation();
  const view = auditViewOf(location.search);
  const filterKey = JSON.stringify(view.filter);
  const [live, setLive] = useState<AuditEventFieldsFragment[]>([]);
  const [held, setHeld] = useState<AuditEventFieldsFragment[]>([]);
  const [paused, setPaused] = useState(false);
  const [liveErrors, setLiveErrors] = useState<readonly ApiError[]>([]);
  const [connected, setConnected] = useState(false);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    setLive([]);
    setHeld([]);
    setLiveErrors([]);
    setConnected(false);
    const filter = JSON.parse(filterKey) as AuditFilter;
    const offOpened = session.live.on('connected', () => setConnected(true));
    const stop = subscribe(
      session.live,
      LiveAudit,
      { filter },
      (data) => {
        const event = data.auditEvents;
        if (pausedRef.current) setHeld((h) => mergeEvents([event], h, LIVE_LIMIT));
        else setLive((l) => mergeEvents([event], l, LIVE_LIMIT));
      },
      setLiveErrors,
    );
    return () => {
      offOpened();
      stop();
    };
  }, [session.live, filterKey]);

  const resume = () => {
    setLive((l) => mergeEvents(held, l, LIVE_LIMIT));
    setHeld([]);
    setPaused(false);
  };

  const shown = live.filter((event) => showsEvent(view, event.action));
  return (
    <section>
      <h1>Live audit</h1>
      <Filters view={view} />
      <div className="toolbar">
        <span role="status" className={connected ? 'live-on' : 'muted'}>
          {connected ? (paused ? 'Paused' : 'Live') : 'Connecting…'}
          {held.length > 0 ? `: ${held.length} new while paused` : ''}
        </span>
        {paused ? (
          <button type="button" onClick={resume}>
            Resume
          </button>
        ) : (
          <button type="button" onClick={() => setPaused(true)}>
            Pause
          </button>
        )}
        <VerifyButton />
      </div>
      <ErrorList errors={liveErrors} />
      <h2>As it happens</h2>
      {shown.length === 0 ? (
        <Empty>
          No events since you opened this page{view.showAccess ? '' : ' (access events are hidden)'}
          .
        </Empty>
      ) : (
        <EventList events={shown} label="Live audit events" />
      )}
      <PastSearch view={view} />
    </section>
  );
}

function Filters({ view }: { view: AuditView }) {
  const [draft, setDraft] = useState<Record<string, string>>(() => ({
    actorId: view.filter.actorId ?? '',
    subjectId: view.filter.subjectId ?? '',
    action: view.filter.action ?? '',
    scope: view.filter.scope ?? '',
    decision: view.filter.decision ?? '',
    from: view.filter.from ? String(view.filter.from).slice(0, 16) : '',
    to: view.filter.to ? String(view.filter.to).slice(0, 16) : '',
  }));
  const [showAccess, setShowAccess] = useState(view.showAccess);
  const decisionId = useId();
  const accessId = useId();
  const set = (field: string) => (value: string) => setDraft((d) => ({ ...d, [field]: value }));
  return (
    <form
      className="filters"
      aria-label="Audit filters"
      onSubmit={(event) => {
        event.preventDefault();
        const raw = { ...draft };
        for (const field of ['from', 'to']) {
          const value = raw[field];
          if (value) raw[field] = new Date(value).toISOString();
        }
        const next = auditViewOf(new URLSearchParams(raw).toString());
        const search = searchOf({ filter: next.filter, showAccess });
        navigate(`${BASE}/audit${search ? `?${search}` : ''}`);
      }}
    >
      <Field label="Actor id" value={draft.actorId ?? ''} onChange={set('actorId')} />
      <Field label="Subject id" value={draft.subjectId ?? ''} onChange={set('subjectId')} />
      <Field
        label="Action"
        value={draft.action ?? ''}
        onChange={set('action')}
        placeholder="grant."
      />
      <Field label="Scope" value={draft.scope ?? ''} onChange={set('scope')} />
      <div className="field">
        <label htmlFor={decisionId}>Decision</label>
        <select
          id={decisionId}
          value={draft.decision}
          onChange={(e) => set('decision')(e.target.value)}
        >
          <option value="">any</option>
          <option value="ALLOWED">allowed</option>
          <option value="DENIED">denied</option>
        </select>
      </div>
      <Field label="From" type="datetime-local" value={draft.from ?? ''} onChange={set('from')} />
      <Field label="To" type="datetime-local" value={draft.to ?? ''} onChange={set('to')} />
      <div className="field checkbox">
        <input
          id={accessId}
          type="checkbox"
          checked={showAccess}
          onChange={(e) => setShowAccess(e.target.checked)}
        />
        <label htmlFor={accessId}>Show access events</label>
      </div>
      <button type="submit">Apply filters</button>
    </form>
  );
}

function EventList({
  events,
  label,
}: {
  events: readonly AuditEventFieldsFragment[];
  label: string;
}) {
  return (
    <ol className="events" aria-label={label}>
      {events.map((event) => (
        <li key={event.id} data-action={event.action}>
          <details>
            <summary>
              <Time at={event.at} /> <strong>{event.action}</strong>
              {event.actor
                ? ` by ${event.actor.name}`
                : event.actorId
                  ? ` by ${event.actorId}`
                  : ''}
              {event.subjectId ? ` on ${event.subjectId}` : ''}
            </summary>
            <dl>
              <dt>Sequence</dt>
              <dd>{event.seq}</dd>
              <dt>Hash</dt>
              <dd>
                <code>{event.hash}</code>
              </dd>
              <dt>Details</dt>
              <dd>
                <pre>{JSON.stringify(event.details, null, 2)}</pre>
              </dd>
            </dl>
          </details>
        </li>
      ))}
    </ol>
  );
}

function PastSearch({ view }: { view: AuditView }) {
  const session = useSession();
  const [events, setEvents] = useState<AuditEventFieldsFragment[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const [errors, setErrors] = useState<readonly ApiError[]>([]);
  const [loading, setLoading] = useState(false);
  const filterKey = JSON.stringify(view.filter);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new filter starts a new search.
  useEffect(() => {
    setEvents(null);
    setCursor(null);
  }, [filterKey]);
  const load = async (after: string | null) => {
    setLoading(true);
    const result = await execute(session.key, PastAudit, { filter: view.filter, after });
    setLoading(false);
    setErrors(result.errors);
    const page = result.data?.auditEvents;
    if (!page) return;
    setEvents((current) => [...(after ? (current ?? []) : []), ...page.nodes]);
    setCursor(page.pageInfo.endCursor ?? null);
    setMore(page.pageInfo.hasNextPage);
  };
  const shown = events?.filter((event) => showsEvent(view, event.action)) ?? null;
  return (
    <>
      <h2>Search the past</h2>
      <button type="button" onClick={() => load(null)} disabled={loading}>
        Search with these filters
      </button>
      {loading ? <Loading what="past events" /> : null}
      <ErrorList errors={errors} />
      {shown !== null && shown.length === 0 ? <Empty>No past event matches.</Empty> : null}
      {shown?.length ? <EventList events={shown} label="Past audit events" /> : null}
      {more ? (
        <button type="button" onClick={() => load(cursor)} disabled={loading}>
          Older events
        </button>
      ) : null}
    </>
  );
}

function VerifyButton() {
  const verify = useMutation(VerifyAudit);
  const [result, setResult] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        disabled={verify.running}
        onClick={async () => {
          const answer = (await verify.run({})).data?.verifyAuditLog;
          if (!answer) return setResult(null);
          setResult(
            answer.ok
              ? `The chain is intact: ${answer.checked} events verified, up to #${answer.lastSeq ?? 0}.`
              : `The chain is broken at event ${answer.firstBrokenId}: ${answer.reason ?? 'no reason given'} (${answer.checked} verified before it).`,
          );
        }}
      >
        Verify the audit log
      </button>
      {result ? <span role="status">{result}</span> : null}
      <ErrorList errors={verify.errors} />
    </>
  );
}
