import type { Client } from 'graphql-ws';
import { expect } from 'vitest';
import type { GqlError } from '../fixtures/gql.js';
import { createIdentity, type Target } from '../fixtures/seed.js';
import type { TestServer } from '../fixtures/test-server.js';
import { OperationRecorder } from '../fixtures/ws.js';

/** What a subscriber selects (no `actor`: an audit:read-only caller may not read identities). */
export const AUDIT_SUBSCRIPTION = `subscription($filter: AuditFilter) {
  auditEvents(filter: $filter) { id seq action actorId subjectId }
}`;

export interface LiveAuditEvent {
  readonly id: string;
  readonly seq: string;
  readonly action: string;
  readonly actorId: string | null;
  readonly subjectId: string | null;
}

export type AuditRecorder = OperationRecorder<{ auditEvents: LiveAuditEvent }>;

/** Subscribes to `Subscription.auditEvents` with `filter`. */
export function subscribeToAudit(client: Client, filter?: Record<string, unknown>): AuditRecorder {
  return new OperationRecorder(client, AUDIT_SUBSCRIPTION, filter === undefined ? {} : { filter });
}

/** The events among `results` (results with data), in the order they arrived. */
export function eventsOf(results: AuditRecorder['results']): LiveAuditEvent[] {
  return results.flatMap((r) => (r.data?.auditEvents ? [r.data.auditEvents] : []));
}

/** Waits (at most `ms`) until `recorder` received the event whose subject is `subjectId`. */
export function waitForSubject(
  recorder: AuditRecorder,
  subjectId: string,
  ms = 5000,
): Promise<unknown> {
  return recorder.waitFor(
    (r) => r.data?.auditEvents?.subjectId === subjectId,
    ms,
    `the event about ${subjectId}`,
  );
}

/** An identity created by the admin (or `as`), returning its id: the subject of its event. */
export async function markerIdentity(target: Target, as?: string): Promise<string> {
  return (await createIdentity(target, as === undefined ? {} : { as })).id;
}

/**
 * Makes sure the subscriptions are live before a spec goes on: `trigger` commits an event every
 * recorder's filter matches (returning its subject) until every recorder has received the latest
 * one. Events arrive in chain order, so whatever was committed before that marker has been
 * delivered by then; each recorder is then marked, so `sinceMark()` shows only what follows.
 */
export async function primeSubscriptions(
  recorders: readonly AuditRecorder[],
  trigger: () => Promise<string>,
): Promise<void> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const subject = await trigger();
    const received = await Promise.all(
      recorders.map((r) =>
        waitForSubject(r, subject, 500).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (received.every(Boolean)) {
      for (const recorder of recorders) recorder.mark();
      return;
    }
  }
  throw new Error('The subscriptions never received a marker event.');
}

/** The seq of the newest audit event, read from the database. */
export async function newestSeq(server: TestServer): Promise<number> {
  const [row] = await server.database.query<{ seq: string | null }>(
    'select max(seq)::text as seq from audit_events',
  );
  return Number(row?.seq ?? 0);
}

/** The seq of the newest event with this action and subject, read from the database. */
export async function seqOf(
  server: TestServer,
  action: string,
  subjectId: string,
): Promise<number> {
  const [row] = await server.database.query<{ seq: string | null }>(
    'select max(seq)::text as seq from audit_events where action = $1 and subject_id = $2',
    [action, subjectId],
  );
  if (row?.seq === null || row?.seq === undefined) {
    throw new Error(`No ${action} event about ${subjectId}.`);
  }
  return Number(row.seq);
}

/**
 * Asserts a subscription ended the way a lost grant ends one: a last result with no data and one
 * `FORBIDDEN` error at `["auditEvents"]` naming audit:read, then `complete` (not an error).
 */
export async function expectEndedForbidden(recorder: AuditRecorder): Promise<GqlError> {
  const ending = await recorder.ended;
  expect(ending, JSON.stringify(recorder.results.at(-1))).toEqual({ kind: 'complete' });
  const last = recorder.results.at(-1);
  expect(last?.data ?? null, JSON.stringify(last)).toBeNull();
  expect(last?.errors, JSON.stringify(last)).toHaveLength(1);
  const error = last?.errors?.[0] as GqlError;
  expect(error.extensions?.code).toBe('FORBIDDEN');
  expect(error.path).toEqual(['auditEvents']);
  expect(error.message).toContain('audit:read');
  return error;
}
