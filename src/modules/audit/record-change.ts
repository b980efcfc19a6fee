import type { Tx } from '../../db/client.js';
import { auditEvents } from '../../db/tables.js';
import type { Caller } from '../keys/authenticate.js';

/** One change, as it is written to the audit log. Actions are `<noun>.<verb>`. */
export interface ChangeEvent {
  readonly action: string;
  readonly subjectId: string;
  readonly details: Record<string, unknown>;
}

/**
 * Writes the change's audit event inside the change's own transaction, with the actor and the
 * request it came in on; `actor` is null for Keyholder's own changes (bootstrap).
 */
export async function recordChange(
  tx: Tx,
  actor: Caller | null,
  event: ChangeEvent,
): Promise<void> {
  await tx.insert(auditEvents).values({
    action: event.action,
    actorId: actor?.identity.id ?? null,
    subjectId: event.subjectId,
    details: actor?.request ? { ...event.details, request: actor.request } : event.details,
  });
}
