import type { Tx } from '../../db/client.js';
import { auditEvents } from '../../db/tables.js';
import type { Caller } from '../keys/authentication.js';
import type { AuditAction } from './audit-actions.js';

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
 * identities created on a token's first sight).
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
  await tx.insert(auditEvents).values({
    action: event.action,
    actorId: actor?.identity.id ?? null,
    subjectId: event.subjectId,
    details,
  });
}
