import { and, eq, gt } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { type AccessRequestRow, accessRequests } from '../../db/tables.js';

/** How a request is decided: by whom, why, and (for auto-approval) by which scope's policy. */
export interface RequestDecision {
  readonly status: 'APPROVED' | 'DENIED';
  /** The identity that decided; `null` when a policy did (see `approvedByPolicy`). */
  readonly decidedBy: string | null;
  readonly decisionReason: string | null;
  /** The scope whose auto-approval condition approved it. @default null */
  readonly approvedByPolicy?: string | null;
  /** When it is decided. @default now */
  readonly at?: Date;
}

/**
 * Moves a still-pending request to its decision, if no other decision got there first: the
 * UPDATE's `status = 'PENDING'` condition is re-checked under the row lock, so of two concurrent
 * decisions exactly one returns a row. `null` when the request is no longer pending or has expired.
 */
export async function claimRequest(
  tx: Tx,
  id: string,
  decision: RequestDecision,
): Promise<AccessRequestRow | null> {
  const now = decision.at ?? new Date();
  const [row] = await tx
    .update(accessRequests)
    .set({
      status: decision.status,
      decidedAt: now,
      decidedBy: decision.decidedBy,
      decisionReason: decision.decisionReason,
      approvedByPolicy: decision.approvedByPolicy ?? null,
    })
    .where(
      and(
        eq(accessRequests.id, id),
        eq(accessRequests.status, 'PENDING'),
        gt(accessRequests.expiresAt, now),
      ),
    )
    .returning();
  return row ?? null;
}
