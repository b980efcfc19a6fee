import { and, eq, isNull } from 'drizzle-orm';
import { forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { groups } from '../../db/tables.js';
import type { Caller } from '../keys/authentication.js';
import { groupsReachedBy } from './group-graph.js';

/**
 * The live group `groupId` as a grant's holder, `Group "<name>"`: `NOT_FOUND` when there is none,
 * `FORBIDDEN` when `actor` belongs to it (directly or nested): a grant to it would be one to
 * itself.
 */
export async function groupToGrant(tx: Tx, groupId: string, actor: Caller): Promise<string> {
  const [group] = await tx
    .select({ id: groups.id, name: groups.name })
    .from(groups)
    .where(and(eq(groups.id, groupId), isNull(groups.deletedAt)));
  if (group === undefined) throw notFound(`Group ${groupId} does not exist.`);
  const reached = await groupsReachedBy(tx, { identityId: actor.identity.id });
  if (reached.some((r) => r.groupId === group.id)) {
    throw forbidden(
      `You belong to group "${group.name}"; a grant to it would be a grant to yourself. Ask another identity that holds the scope grantable.`,
    );
  }
  return `Group "${group.name}"`;
}
