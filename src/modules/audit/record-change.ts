import { sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { rowsOf } from '../../db/rows-of.js';
import type { Caller } from '../keys/authentication.js';
import type { AuditAction } from './audit-actions.js';
import { CHAINED_COLUMNS, type ChainedEvent, sealEvents } from './audit-chain.js';

/** One change, as it is written to the audit log. */
export interface ChangeEvent {
  readonly action: AuditAction;
  readonly subjectId: string;
  /** The scopes the change concerns; search by scope finds the event under each. */
  readonly scopes?: readonly string[];
  readonly details: Record<string, unknown>;
}

/**
 * Writes the change's audit event inside the change's own transaction (opened by `runChange`,
 * which reports the revision the event advances), with the actor, the request it came in on
 * (`details.request`) and, for a caller signed in with an identity-provider token, that token's
 * issuer and subject (`details.token`); `actor` is null for Keyholder's own changes (bootstrap,
 * identities created on a token's first sight). The event is sealed in the same transaction
 * (`sealEvents`), and a row it creates is stamped with its `seq` (reconciliation).
 */
export async function recordChange(
  tx: Tx,
  actor: Caller | null,
  event: ChangeEvent,
): Promise<void> {
  const details: Record<string, unknown> = { ...event.details };
  if (event.scopes !== undefined) details.scopes = event.scopes;
  if (actor?.request) details.request = actor.request;
  if (actor?.token) details.token = { issuer: actor.token.issuer, subject: actor.token.subject };
  const written = rowsOf<ChainedEvent>(
    await tx.execute(sql`insert into audit_events as e (action, actor_id, subject_id, details)
      values (${event.action}, ${actor?.identity.id ?? null}, ${event.subjectId}, ${JSON.stringify(details)}::jsonb)
      returning ${sql.raw(CHAINED_COLUMNS)}`),
  );
  await sealEvents(tx, written);
}
