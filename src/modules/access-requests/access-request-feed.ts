import { eq } from 'drizzle-orm';
import { capToKeyScopes } from 'keyholder-directive/authz/cap-to-key-scopes.js';
import type { Database } from '../../db/client.js';
import { type AccessRequestRow, type AuditEventRow, accessRequests } from '../../db/tables.js';
import type { AuditFeed } from '../audit/audit-feed.js';
import { parseAuditFilter } from '../audit/audit-filter.js';
import type { Actor } from '../grants/grant-authority.js';
import { loadLiveGrants } from '../grants/live-grants.js';
import { mayDecide } from './access-request-queries.js';
import { decisionRequirement } from './decision-authority.js';

/**
 * The live stream behind `Subscription.accessRequests`: every `accessrequest.*` event committed by
 * any instance (through the audit feed's LISTEN/NOTIFY), turned into the request as it is now, and
 * kept only when `subscriber` could decide it at that moment: its live grants, read afresh for
 * each event (an owned agent's capped by its owner's, a scoped key's by its scopes, with the TOKEN
 * memberships its token names, as for its requests), meet what deciding needs
 * (the scope grantable on the request's resource, or managing the group asked to join), and it is
 * neither the requester nor the grantee. A new request arrives as PENDING; its approval, denial or expiry follow.
 *
 * Hand-written rather than an async generator so that `return()` ends the audit subscription at
 * once, even while waiting for the next event.
 */
export function accessRequestEvents(
  database: Database,
  feed: AuditFeed,
  subscriber: Actor,
): AsyncIterableIterator<AccessRequestRow> {
  const source = feed.subscribe(parseAuditFilter({ action: 'accessrequest.' }));
  const relevant = async (event: AuditEventRow): Promise<AccessRequestRow | null> => {
    if (event.subjectId === null) return null;
    const [request] = await database.db
      .select()
      .from(accessRequests)
      .where(eq(accessRequests.id, event.subjectId));
    if (request === undefined) return null;
    const need = await decisionRequirement(database.db, request);
    const extra = need.group === undefined ? ['grants:write', 'grants:read'] : [];
    const { grants } = await loadLiveGrants(database.db, [subscriber.id], {
      scopes: [need.scope, ...extra],
      tokenMemberships: subscriber.tokenGroups,
    });
    const held = capToKeyScopes(grants.get(subscriber.id) ?? [], subscriber.keyScopes);
    // Scope requests are decided with grants:write and grants:read too (see the schema).
    if (!extra.every((scope) => held.some((g) => g.scope === scope))) return null;
    return mayDecide(subscriber.id, held, request, need) ? request : null;
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
