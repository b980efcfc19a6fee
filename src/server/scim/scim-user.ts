import type { IdentityRow } from '../../db/tables.js';
import { nameFromClaim } from '../../modules/tokens/create-token-identity.js';
import { invalidValue } from './scim-error.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** The identity attribute holding the profile the identity provider sent (`identity.attributes.scim`). */
export const SCIM_PROFILE_ATTRIBUTE = 'scim';

/** Attributes Keyholder keeps elsewhere, or never: they are not copied into the profile. */
const NOT_PROFILE = new Set([
  'schemas',
  'id',
  'meta',
  'externalid',
  'active',
  'password',
  'groups',
]);

/** A SCIM User as a client sent it (POST, PUT, or a resource after PATCH), made fit to store. */
export interface ScimUserInput {
  /** The identity name: `userName` made a valid name (see `nameFromClaim`). */
  readonly name: string;
  readonly externalId: string | null;
  /** `null` when the body does not say (a new user is active; an update keeps what is). */
  readonly active: boolean | null;
  /** What is kept in the identity's `scim` attribute: `userName` and the profile (no password). */
  readonly profile: Record<string, unknown>;
}

/** `true`/`false`, also as the strings `"True"`/`"False"` that Microsoft Entra sends. */
export function scimBoolean(value: unknown, attribute: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) {
    return value.toLowerCase() === 'true';
  }
  throw invalidValue(`"${attribute}" must be true or false.`);
}

/**
 * Reads a SCIM User body: `userName` (required, made a valid identity name), `externalId`,
 * `active` and the rest of the profile; 400 `invalidValue` names what is wrong.
 */
export function scimUserInput(body: unknown): ScimUserInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidValue('A SCIM User must be a JSON object.');
  }
  const fields = body as Record<string, unknown>;
  const userName = fields.userName;
  if (typeof userName !== 'string' || nameFromClaim(userName) === '') {
    throw invalidValue('"userName" is required: a non-empty string.');
  }
  const externalId = fields.externalId ?? null;
  if (externalId !== null && (typeof externalId !== 'string' || externalId === '')) {
    throw invalidValue('"externalId" must be a non-empty string.');
  }
  const active =
    fields.active === undefined || fields.active === null
      ? null
      : scimBoolean(fields.active, 'active');
  const profile: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!NOT_PROFILE.has(key.toLowerCase()) && value !== null) profile[key] = value;
  }
  return { name: nameFromClaim(userName), externalId, active, profile };
}

/** The stored profile of an identity (empty when SCIM never provisioned it). */
export function profileOf(row: IdentityRow): Record<string, unknown> {
  const profile = row.attributes[SCIM_PROFILE_ATTRIBUTE];
  return profile !== null && typeof profile === 'object' && !Array.isArray(profile)
    ? (profile as Record<string, unknown>)
    : {};
}

/** A USER identity as a SCIM User resource; its `id` is the identity id. */
export function scimUserOf(row: IdentityRow, baseUrl: string): Record<string, unknown> {
  const profile = profileOf(row);
  const sent = profile.userName;
  const userName = typeof sent === 'string' && nameFromClaim(sent) === row.name ? sent : row.name;
  return {
    schemas:
      ENTERPRISE_USER_SCHEMA in profile ? [USER_SCHEMA, ENTERPRISE_USER_SCHEMA] : [USER_SCHEMA],
    ...profile,
    id: row.id,
    ...(row.externalId === null ? {} : { externalId: row.externalId }),
    userName,
    active: row.status === 'ACTIVE',
    meta: {
      resourceType: 'User',
      created: row.createdAt.toISOString(),
      lastModified: (row.disabledAt ?? row.createdAt).toISOString(),
      location: `${baseUrl}/Users/${row.id}`,
    },
  };
}
