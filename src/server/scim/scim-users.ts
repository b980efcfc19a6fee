import { isDeepStrictEqual } from 'node:util';
import type { IdentityRow } from '../../db/tables.js';
import { nameFromClaim } from '../../modules/tokens/create-token-identity.js';
import { SCIM_DELETED_ATTRIBUTE } from './scim-directory.js';
import { ScimError, scimNotFound } from './scim-error.js';
import {
  listResponse,
  methodNotAllowed,
  pageOf,
  SCIM_REASON,
  type ScimRequest,
  type ScimResponse,
} from './scim-exchange.js';
import { parseEqualityFilter } from './scim-filter.js';
import { applyScimPatch } from './scim-patch.js';
import {
  SCIM_PROFILE_ATTRIBUTE,
  type ScimUserInput,
  scimUserInput,
  scimUserOf,
} from './scim-user.js';

/**
 * `/Users` and `/Users/{id}`: SCIM Users as USER identities, every change through the identity
 * service (audited, advancing the revision, refused when it would lock Keyholder out).
 * - `POST`: creates the identity (`userName` → name, `externalId`, the profile in the `scim`
 *   attribute), disabled at once when `active` is false; 409 `uniqueness` for a taken name;
 * - `GET` lists (`filter` `userName eq`, `externalId eq` or `id eq`; `startIndex`, `count`) or reads;
 * - `PUT` and `PATCH`: the new profile, and `active` false disables the identity (its keys deny
 *   from the next request on), `active` true re-enables it (`enableIdentity`: old keys stay
 *   revoked); a new `userName` or `externalId` renames the identity (`IdentityService.rename`:
 *   409 `uniqueness` when taken, 403 when a new externalId would hand over what the client does
 *   not hold grantable);
 * - `DELETE`: disables the identity and stops serving it (404 from then on); its history stays,
 *   and a `POST` of the same `userName` and `externalId` brings it back (`reviveUser`).
 */
export async function serveUsers(request: ScimRequest): Promise<ScimResponse> {
  const { method, id } = request;
  if (id === null) {
    if (method === 'GET') return listUsers(request);
    if (method === 'POST') return createUser(request);
    throw methodNotAllowed(method, '/Users', 'GET and POST');
  }
  const current = await request.directory.user(id);
  if (current === null) throw scimNotFound(`User ${id} does not exist.`);
  switch (method) {
    case 'GET':
      return { status: 200, body: scimUserOf(current, request.baseUrl) };
    case 'PUT':
      return updateUser(request, current, scimUserInput(request.body), true);
    case 'PATCH': {
      const patched = applyScimPatch(scimUserOf(current, request.baseUrl), request.body);
      return updateUser(request, current, scimUserInput(patched), false);
    }
    case 'DELETE':
      return deleteUser(request, current);
    default:
      throw methodNotAllowed(method, '/Users/{id}', 'GET, PUT, PATCH and DELETE');
  }
}

async function listUsers(request: ScimRequest): Promise<ScimResponse> {
  const filter = parseEqualityFilter(request.query.get('filter'), [
    'userName',
    'externalId',
    'id',
  ] as const);
  const { startIndex, count } = pageOf(request.query);
  const page = await request.directory.users(
    filter?.attribute === 'userName' ? { ...filter, value: nameFromClaim(filter.value) } : filter,
    startIndex - 1,
    count,
  );
  return {
    status: 200,
    body: listResponse(
      page.total,
      startIndex,
      page.rows.map((row) => scimUserOf(row, request.baseUrl)),
    ),
  };
}

async function createUser(request: ScimRequest): Promise<ScimResponse> {
  const input = scimUserInput(request.body);
  const deleted = await request.directory.deletedUser(input.name);
  if (deleted !== null) return reviveUser(request, deleted, input);
  const { identities } = request.ctx.services;
  const created = await identities.create(request.ctx.caller, {
    name: input.name,
    kind: 'USER',
    externalId: input.externalId,
    attributes: { [SCIM_PROFILE_ATTRIBUTE]: input.profile },
  });
  const row =
    input.active === false ? await identities.disable(request.ctx.caller, created.id) : created;
  const body = scimUserOf(row, request.baseUrl);
  return { status: 201, body, location: (body.meta as { location: string }).location };
}

/**
 * A person deleted over SCIM and provisioned again (same name, same `externalId`) gets their
 * identity back: enabled (`enableIdentity`: old keys stay revoked, grants still live need the
 * client to hold them grantable) unless `active` is false, with the new profile. Another
 * `externalId` is another person: 409 `uniqueness`.
 */
async function reviveUser(
  request: ScimRequest,
  deleted: IdentityRow,
  input: ScimUserInput,
): Promise<ScimResponse> {
  if (input.externalId !== deleted.externalId) {
    throw new ScimError(
      409,
      `The name "${deleted.name}" belongs to user ${deleted.id}, deleted over SCIM with another externalId; it is not reused for someone else.`,
      'uniqueness',
    );
  }
  const { identities } = request.ctx.services;
  const actor = request.ctx.caller;
  if (input.active !== false && deleted.status !== 'ACTIVE') {
    await identities.enable(actor, deleted.id, SCIM_REASON);
  }
  const { [SCIM_DELETED_ATTRIBUTE]: _deletedAt, ...kept } = deleted.attributes;
  const row = await identities.setAttributes(actor, deleted.id, {
    ...kept,
    [SCIM_PROFILE_ATTRIBUTE]: input.profile,
  });
  const body = scimUserOf(row, request.baseUrl);
  return { status: 201, body, location: (body.meta as { location: string }).location };
}

async function updateUser(
  request: ScimRequest,
  current: IdentityRow,
  input: ScimUserInput,
  replacing: boolean,
): Promise<ScimResponse> {
  const { identities } = request.ctx.services;
  const actor = request.ctx.caller;
  const rename: { name?: string; externalId?: string | null } = {};
  if (input.name.toLowerCase() !== current.name.toLowerCase()) rename.name = input.name;
  const externalId = replacing && input.externalId === null ? current.externalId : input.externalId;
  if (externalId !== current.externalId) rename.externalId = externalId;
  let row =
    Object.keys(rename).length === 0 ? current : await identities.rename(actor, current.id, rename);
  const attributes = { ...row.attributes, [SCIM_PROFILE_ATTRIBUTE]: input.profile };
  // Not saying `active` keeps it: a PUT that leaves it out never re-enables someone offboarded.
  if (input.active === true && current.status !== 'ACTIVE') {
    row = await identities.enable(actor, current.id, SCIM_REASON);
  }
  if (!isDeepStrictEqual(row.attributes, attributes)) {
    row = await identities.setAttributes(actor, current.id, attributes);
  }
  if (input.active === false && current.status === 'ACTIVE') {
    row = await identities.disable(actor, current.id);
  }
  return { status: 200, body: scimUserOf(row, request.baseUrl) };
}

async function deleteUser(request: ScimRequest, current: IdentityRow): Promise<ScimResponse> {
  const { identities } = request.ctx.services;
  const actor = request.ctx.caller;
  if (current.status === 'ACTIVE') await identities.disable(actor, current.id);
  await identities.setAttributes(actor, current.id, {
    ...current.attributes,
    [SCIM_DELETED_ATTRIBUTE]: new Date().toISOString(),
  });
  return { status: 204 };
}
