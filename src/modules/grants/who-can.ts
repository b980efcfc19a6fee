import { and, asc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type GrantRow, grants, identities } from '../../db/tables.js';
import { requireScopeName } from '../shared/validate.js';
import { parseResourcePattern } from './resource-pattern.js';

/**
 * Every active grant, held by an active identity, that lets its holder use `scope` on `resource`
 * now. `null` asks about every resource (only grants without a resource cover it); `x*` about every
 * id starting with `x` (grants without a resource, and prefixes of it, cover it). Oldest first.
 */
export async function whoCan(
  database: Database,
  rawScope: string,
  rawResource: string | null | undefined,
): Promise<GrantRow[]> {
  const scope = requireScopeName(rawScope, 'scope').name;
  const resource = parseResourcePattern(rawResource);
  const covers =
    resource === null
      ? isNull(grants.resource)
      : or(
          isNull(grants.resource),
          eq(grants.resource, resource),
          sql`(right(${grants.resource}, 1) = '*' and starts_with(${resource}, left(${grants.resource}, -1)))`,
        );
  const rows = await database.db
    .select({ grant: grants })
    .from(grants)
    .innerJoin(identities, eq(identities.id, grants.identityId))
    .where(
      and(
        eq(grants.scope, scope),
        isNull(grants.revokedAt),
        or(isNull(grants.expiresAt), gt(grants.expiresAt, new Date())),
        eq(identities.status, 'ACTIVE'),
        covers,
      ),
    )
    .orderBy(asc(grants.createdAt), asc(grants.id));
  return rows.map((r) => r.grant);
}
