import type { GroupRow } from '../../db/tables.js';
import type { ScimMember } from './scim-directory.js';
import { invalidValue } from './scim-error.js';

export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** A SCIM Group as a client sent it (POST, PUT, or a resource after PATCH). */
export interface ScimGroupInput {
  readonly displayName: string;
  readonly externalId: string | null;
  /** The member ids (`members[].value`), identities or groups; `null` when `members` is absent. */
  readonly memberIds: readonly string[] | null;
}

/**
 * Reads a SCIM Group body: `displayName` (required), `externalId`, `members` (`[{ value }]`);
 * 400 `invalidValue` names what is wrong.
 */
export function scimGroupInput(body: unknown): ScimGroupInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidValue('A SCIM Group must be a JSON object.');
  }
  const fields = body as Record<string, unknown>;
  const displayName = fields.displayName;
  if (typeof displayName !== 'string' || displayName.trim() === '') {
    throw invalidValue('"displayName" is required: a non-empty string.');
  }
  const externalId = fields.externalId ?? null;
  if (externalId !== null && (typeof externalId !== 'string' || externalId === '')) {
    throw invalidValue('"externalId" must be a non-empty string.');
  }
  const members = fields.members ?? null;
  if (members !== null && !Array.isArray(members)) {
    throw invalidValue('"members" must be a list of {"value": "<id>"}.');
  }
  const memberIds = members?.map((member: unknown) => {
    const value = (member as { value?: unknown } | null)?.value;
    if (typeof value !== 'string' || value === '') {
      throw invalidValue('Every member must be {"value": "<user or group id>"}.');
    }
    return value.toLowerCase();
  });
  return {
    displayName,
    externalId,
    memberIds: memberIds === undefined ? null : [...new Set(memberIds)],
  };
}

/** A group as a SCIM Group resource; its `id` is the group id. */
export function scimGroupOf(
  row: GroupRow,
  members: readonly ScimMember[] | null,
  baseUrl: string,
): Record<string, unknown> {
  return {
    schemas: [GROUP_SCHEMA],
    id: row.id,
    ...(row.externalId === null ? {} : { externalId: row.externalId }),
    displayName: row.name,
    ...(members === null
      ? {}
      : {
          members: members.map((m) => ({
            value: m.value,
            type: m.type,
            display: m.display,
            $ref: `${baseUrl}/${m.type}s/${m.value}`,
          })),
        }),
    meta: {
      resourceType: 'Group',
      created: row.createdAt.toISOString(),
      lastModified: row.createdAt.toISOString(),
      location: `${baseUrl}/Groups/${row.id}`,
    },
  };
}
