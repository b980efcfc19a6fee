import { and, eq, gt, isNull, or } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  type AccessRequestRow,
  type AuditEventRow,
  accessRequests,
  grants,
} from '../../db/tables.js';
import type { AuditFeed } from '../audit/audit-feed.js';
import { parseAuditFilter } from '../audit/audit-filter.js';
import type { ActiveGrant } from '../keys/authenticate.js';
import { mayDecide } from './access-request-queries.js';

/**
 * The live stream behind `Subscription.accessRequests`: every `accessrequest.*` event committed by
 * any instance (through the audit feed's LISTEN/NOTIFY), turned into the request as it is now, and
 * kept only when `subscriberId` could decide it at that moment: its live grantable grants of the
 * scope, read afresh for each event, cover the request's resource, and it is neither the requester
 * nor the grantee. A new request arrives as PENDING; its approval, denial or expiry follow.
 *
 * Hand-written rather than an async generator so that `return()` ends the audit subscription at
 * once, even while waiting for the next event.
 */
export function accessRequestEvents(
  database: Database,
  feed: AuditFeed,
  subscriberId: string,
): AsyncIterableIterator<AccessRequestRow> {
  const source = feed.subscribe(parseAuditFilter({ action: 'accessrequest.' }));
  const relevant = async (event: AuditEventRow): Promise<AccessRequestRow | null> => {
    if (event.subjectId === null) return null;
    const [request] = await database.db
      .select()
      .from(accessRequests)
      .where(eq(accessRequests.id, event.subjectId));
    if (request === undefined) return null;
    const held: ActiveGrant[] = await database.db
      .select({
        id: grants.id,
        identityId: grants.identityId,
        scope: grants.scope,
        resource: grants.resource,
        expiresAt: grants.expiresAt,
        grantable: grants.grantable,
        condition: grants.condition,
      })
      .from(grants)
      .where(
        and(
          eq(grants.identityId, subscriberId),
          eq(grants.scope, request.scope),
          eq(grants.grantable, true),
          isNull(grants.revokedAt),
          or(isNull(grants.expiresAt), gt(grants.expiresAt, new Date())),
        ),
      );
    return mayDecide(subscriberId, held, request) ? request : null;
  };
  const iterator: AsyncIterableIterator<AccessRequestRow> = {
    async next() {
      for (;;) {
        const step = await source.next();
        if (step.done) return { value: undefined, done: true };
        const request = await relevant(step.value);
        if (request !== null) return { value: request, done: false };
      }
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
