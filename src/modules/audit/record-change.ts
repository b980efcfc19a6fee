import type { Tx } from '../../db/client.js';
import { auditEvents } from '../../db/tables.js';

/** One change, as it is written to the audit log. Actions are `<noun>.<verb>`. */
export interface ChangeEvent {
  readonly action: string;
  readonly actorId: string | null;
  readonly subjectId: string;
  readonly details: Record<string, unknown>;
}

/** Writes the change's audit event inside the change's own transaction. */
export async function recordChange(tx: Tx, event: ChangeEvent): Promise<void> {
  await tx.insert(auditEvents).values({
    action: event.action,
    actorId: event.actorId,
    subjectId: event.subjectId,
    details: event.details,
  });
}
