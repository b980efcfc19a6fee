import { and, asc, eq, exists, isNull, ne, or, type SQL, sql } from 'drizzle-orm';
import { type AnyPgColumn, alias } from 'drizzle-orm/pg-core';
import type { Database } from '../../db/client.js';
import { type GrantRow, grants, identities } from '../../db/tables.js';
import { requireScopeName } from '../shared/validate.js';
import { liveGrant } from './live-grants.js';
import { parseResourcePattern } from './resource-pattern.js';

/**
 * Every active grant, held by an active identity (an owned agent's only while its owner can use the
 * same), that lets its holder use `scope` on `resource` now. `null` asks about every resource (only grants without a resource cover it); `x*` about every
 * id starting with `x` (grants without a resource, and prefixes of it, cover it). Oldest first.
 */
export async function whoCan(
  database: Database,
  rawScope: string,
  rawResource: string | null | undefined,
): Promise<GrantRow[]> {
  const scope = requireScopeName(rawScope, 'scope').name;
  const resource = parseResourcePattern(rawResource);
  const owner = alias(identities, 'owner');
  const ownerGrant = alias(grants, 'owner_grant');
  const rows = await database.db
    .select({ grant: grants })
    .from(grants)
    .innerJoin(identities, eq(identities.id, grants.identityId))
    .where(
      and(
        eq(grants.scope, scope),
        liveGrant(),
        eq(identities.status, 'ACTIVE'),
        covers(grants, resource),
        // An owned agent can use only what its (active) owner can use too.
        or(
          ne(identities.kind, 'AGENT'),
          isNull(identities.ownerId),
          exists(
            database.db
              .select({ one: sql`1` })
              .from(owner)
              .innerJoin(ownerGrant, eq(ownerGrant.identityId, owner.id))
              .where(
                and(
                  eq(owner.id, identities.ownerId),
                  eq(owner.status, 'ACTIVE'),
                  eq(ownerGrant.scope, scope),
                  liveGrant('owner_grant'),
                  covers(ownerGrant, resource),
                ),
              ),
          ),
        ),
      ),
    )
    .orderBy(asc(grants.createdAt), asc(grants.id));
  return rows.map((r) => r.grant);
}

interface GrantColumns {
  readonly resource: AnyPgColumn;
}

function covers(table: GrantColumns, resource: string | null): SQL | undefined {
  return resource === null
    ? isNull(table.resource)
    : or(
        isNull(table.resource),
        eq(table.resource, resource),
        sql`(right(${table.resource}, 1) = '*' and starts_with(${resource}, left(${table.resource}, -1)))`,
      );
}
