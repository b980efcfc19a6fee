import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { GroupRow } from '../../db/tables.js';
import { assertCallerHolds } from '../grants/caller-authority.js';

/**
 * Throws `FORBIDDEN` unless the operation's caller may manage `group` now: `groups:write` on the
 * group's name (a group manager), or on every group, its conditions included. `what` begins the
 * sentence, e.g. `Adding members to group "sre"`.
 */
export function assertManagesGroup(
  ctx: Pick<KeyholderContext, 'caller' | 'conditions'>,
  group: Pick<GroupRow, 'name'>,
  what: string,
): void {
  assertCallerHolds(
    ctx,
    'groups:write',
    group.name,
    `${what} needs the scope "groups:write" on group "${group.name}" (or on every group).`,
    { required: { scope: 'groups:write', resource: group.name } },
  );
}
