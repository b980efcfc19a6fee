import type { Tx } from '../../db/client.js';
import { auditEvents } from '../../db/tables.js';
import type { RequestMeta } from '../keys/authenticate.js';

/** One change, as it is written to the audit log. Actions are `<noun>.<verb>`. */
export interface ChangeEvent {
  readonly action: string;
  readonly actorId: string | null;
  readonly subjectId: string;
  readonly details: Record<string, unknown>;
  /** The request that made the change; absent for Keyholder's own changes (bootstrap). */
  readonly request?: RequestMeta | undefined;
}

/** Writes the change's audit event inside the change's own transaction. */
export async function recordChange(tx: Tx, event: ChangeEvent): Promise<void> {
  await tx.insert(auditEvents).values({
    action: event.action,
    actorId: event.actorId,
    subjectId: event.subjectId,
    details: event.request ? { ...event.details, request: event.request } : event.details,
  });
}
