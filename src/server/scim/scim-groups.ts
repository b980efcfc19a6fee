import type { GroupRow } from '../../db/tables.js';
import { assertManagesGroup } from '../../modules/groups/assert-manages-group.js';
import { MAX_MEMBERS_PER_CALL } from '../../modules/groups/group-service.js';
import type { ScimMember } from './scim-directory.js';
import { invalidValue, ScimError, scimNotFound } from './scim-error.js';
import {
  listResponse,
  methodNotAllowed,
  pageOf,
  SCIM_REASON,
  type ScimRequest,
  type ScimResponse,
} from './scim-exchange.js';
import { parseEqualityFilter } from './scim-filter.js';
import { type ScimGroupInput, scimGroupInput, scimGroupOf } from './scim-group.js';
import { type MemberDelta, memberDelta } from './scim-member-delta.js';
import { applyScimPatch } from './scim-patch.js';

/**
 * `/Groups` and `/Groups/{id}`: SCIM Groups as Keyholder groups, every change through the group
 * service, so its rules hold (managing a group needs `groups:write` on it; adding members needs
 * holding grantable what the group confers; no lockout), each change is audited with the reason
 * "SCIM provisioning" and advances the revision. Memberships made here have `source: SCIM`.
 * - `POST` creates (and adds `members`); `GET` lists (`filter` `displayName eq`, `externalId eq`,
 *   `id eq`; `excludedAttributes=members`) or reads;
 * - `PATCH` applies `members` add, remove (also `members[value eq "…"]`) and replace (a PATCH that
 *   only adds and removes listed members answers 204 without reading the others); `PUT` sets
 *   the members listed (leaves them when `members` is absent); a new `displayName` or
 *   `externalId` renames the group (`GroupService.rename`: the client must manage it under both
 *   names; 409 `uniqueness` when taken);
 * - `DELETE` deletes the group: its grants are revoked and its memberships end.
 */
export async function serveGroups(request: ScimRequest): Promise<ScimResponse> {
  const { method, id } = request;
  if (id === null) {
    if (method === 'GET') return listGroups(request);
    if (method === 'POST') return createGroup(request);
    throw methodNotAllowed(method, '/Groups', 'GET and POST');
  }
  const group = await request.directory.group(id);
  if (group === null) throw scimNotFound(`Group ${id} does not exist.`);
  const members = async () => (await request.directory.members([group.id])).get(group.id) ?? [];
  switch (method) {
    case 'GET':
      return {
        status: 200,
        body: scimGroupOf(group, wantsMembers(request) ? await members() : null, request.baseUrl),
      };
    case 'PUT': {
      const input = scimGroupInput(request.body);
      return updateGroup(request, group, await members(), input);
    }
    case 'PATCH': {
      const delta = memberDelta(request.body);
      if (delta !== null) {
        await changeMembers(request, group, delta);
        return { status: 204 };
      }
      const current = await members();
      const patched = applyScimPatch(scimGroupOf(group, current, request.baseUrl), request.body);
      const input = scimGroupInput(patched);
      return updateGroup(request, group, current, { ...input, memberIds: input.memberIds ?? [] });
    }
    case 'DELETE': {
      assertManagesGroup(request.ctx, group, `Deleting group "${group.name}"`);
      await request.ctx.services.groups.delete(request.ctx.caller, group.id, SCIM_REASON);
      return { status: 204 };
    }
    default:
      throw methodNotAllowed(method, '/Groups/{id}', 'GET, PUT, PATCH and DELETE');
  }
}

/** Whether `attributes` / `excludedAttributes` leave `members` in the answer. */
function wantsMembers(request: ScimRequest): boolean {
  const listed = (name: string) =>
    (request.query.get(name) ?? '')
      .split(',')
      .map((a) => a.trim().toLowerCase())
      .filter((a) => a !== '');
  const attributes = listed('attributes');
  if (attributes.length > 0 && !attributes.includes('members')) return false;
  return !listed('excludedAttributes').includes('members');
}

async function listGroups(request: ScimRequest): Promise<ScimResponse> {
  const filter = parseEqualityFilter(request.query.get('filter'), [
    'displayName',
    'externalId',
    'id',
  ] as const);
  const { startIndex, count } = pageOf(request.query);
  const page = await request.directory.groups(filter, startIndex - 1, count);
  const members = wantsMembers(request)
    ? await request.directory.members(page.rows.map((row) => row.id))
    : null;
  return {
    status: 200,
    body: listResponse(
      page.total,
      startIndex,
      page.rows.map((row) =>
        scimGroupOf(row, members === null ? null : (members.get(row.id) ?? []), request.baseUrl),
      ),
    ),
  };
}

async function createGroup(request: ScimRequest): Promise<ScimResponse> {
  const input = scimGroupInput(request.body);
  const { ctx } = request;
  assertManagesGroup(ctx, { name: input.displayName }, 'Creating');
  // Unknown members are refused before the group exists, so a retry does not find it taken.
  await knownMembers(request, input.memberIds ?? []);
  const group = await ctx.services.groups.create(
    ctx.caller,
    { name: input.displayName, externalId: input.externalId },
    { source: 'SCIM' },
  );
  const members = await setMembers(request, group, [], input.memberIds ?? []);
  const body = scimGroupOf(group, members, request.baseUrl);
  return { status: 201, body, location: (body.meta as { location: string }).location };
}

async function updateGroup(
  request: ScimRequest,
  group: GroupRow,
  current: readonly ScimMember[],
  input: ScimGroupInput,
): Promise<ScimResponse> {
  const renamed = await renameGroup(request, group, input);
  const members =
    input.memberIds === null
      ? current
      : await setMembers(request, renamed, current, input.memberIds);
  return { status: 200, body: scimGroupOf(renamed, members, request.baseUrl) };
}

/**
 * The group with the `displayName` and `externalId` of `input` (an absent externalId keeps it),
 * renamed through the group service when they differ. A rename moves who manages the group
 * (`groups:write` names it), so the client must manage it under both names.
 */
async function renameGroup(
  request: ScimRequest,
  group: GroupRow,
  input: ScimGroupInput,
): Promise<GroupRow> {
  const change: { name?: string; externalId?: string } = {};
  if (input.displayName !== group.name) change.name = input.displayName;
  if (input.externalId !== null && input.externalId !== group.externalId) {
    change.externalId = input.externalId;
  }
  if (Object.keys(change).length === 0) return group;
  const { ctx } = request;
  assertManagesGroup(ctx, group, `Renaming group "${group.name}"`);
  if (change.name !== undefined) {
    assertManagesGroup(ctx, { name: change.name }, `Renaming group "${group.name}" to`);
  }
  return ctx.services.groups.rename(ctx.caller, group.id, change);
}

/** `ids` split into identities and groups; 400 `invalidValue` for one that is neither. */
async function knownMembers(request: ScimRequest, ids: readonly string[]) {
  const found = await request.directory.classify(ids);
  if (found.unknown.length > 0) {
    throw invalidValue(
      `Member ${found.unknown[0]} is neither a user nor a group Keyholder knows; create it first.`,
    );
  }
  return found;
}

/**
 * Makes the group's direct members exactly `wanted` (user and group ids): removes the others,
 * adds the missing (see `changeMembers`). The members after.
 */
async function setMembers(
  request: ScimRequest,
  group: GroupRow,
  current: readonly ScimMember[],
  wanted: readonly string[],
): Promise<readonly ScimMember[]> {
  const have = new Set(current.map((m) => m.value));
  const keep = new Set(wanted);
  const remove = current.filter((m) => !keep.has(m.value)).map((m) => m.value);
  const add = wanted.filter((id) => !have.has(id));
  if (remove.length === 0 && add.length === 0) return current;
  await changeMembers(request, group, { add, remove });
  return (await request.directory.members([group.id])).get(group.id) ?? [];
}

/**
 * Removes, then adds, the members named (user and group ids), each step all or nothing, the
 * memberships `source: SCIM`; adding a member already in or removing one already out changes
 * nothing. An id to add that is neither a user nor a group is 400 `invalidValue`.
 */
async function changeMembers(request: ScimRequest, group: GroupRow, delta: MemberDelta) {
  if (delta.add.length === 0 && delta.remove.length === 0) return;
  const { ctx } = request;
  assertManagesGroup(ctx, group, `Changing the members of group "${group.name}"`);
  if (delta.add.length > MAX_MEMBERS_PER_CALL || delta.remove.length > MAX_MEMBERS_PER_CALL) {
    throw new ScimError(
      400,
      `At most ${MAX_MEMBERS_PER_CALL} members may join or leave in one request.`,
      'tooMany',
    );
  }
  const joining = await knownMembers(request, delta.add);
  const leaving = await request.directory.classify(delta.remove);
  const options = { source: 'SCIM', idempotent: true } as const;
  if (leaving.identityIds.length + leaving.groupIds.length > 0) {
    await ctx.services.groups.removeMembers(
      ctx.caller,
      {
        groupId: group.id,
        identityIds: leaving.identityIds,
        groupIds: leaving.groupIds,
        reason: SCIM_REASON,
      },
      options,
    );
  }
  if (joining.identityIds.length + joining.groupIds.length > 0) {
    await ctx.services.groups.addMembers(
      ctx.caller,
      {
        groupId: group.id,
        identityIds: joining.identityIds,
        groupIds: joining.groupIds,
        reason: SCIM_REASON,
      },
      options,
    );
  }
}
