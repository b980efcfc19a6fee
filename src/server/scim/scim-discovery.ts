import { LIST_RESPONSE_SCHEMA, MAX_SCIM_PAGE } from './scim-exchange.js';
import { GROUP_SCHEMA } from './scim-group.js';
import { ENTERPRISE_USER_SCHEMA, USER_SCHEMA } from './scim-user.js';

const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const CONFIG_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

interface AttributeOptions {
  readonly type?: 'string' | 'boolean' | 'complex' | 'reference';
  readonly multiValued?: boolean;
  readonly required?: boolean;
  readonly mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  readonly uniqueness?: 'none' | 'server';
  readonly subAttributes?: readonly Record<string, unknown>[];
}

/** One attribute definition of RFC 7643 §7, with the defaults most attributes share. */
function attribute(name: string, description: string, options: AttributeOptions = {}) {
  return {
    name,
    type: options.type ?? 'string',
    multiValued: options.multiValued ?? false,
    description,
    required: options.required ?? false,
    caseExact: false,
    mutability: options.mutability ?? 'readWrite',
    returned: 'default',
    uniqueness: options.uniqueness ?? 'none',
    ...(options.subAttributes ? { subAttributes: options.subAttributes } : {}),
  };
}

const multiValuedString = (name: string, description: string) =>
  attribute(name, description, {
    type: 'complex',
    multiValued: true,
    subAttributes: [
      attribute('value', `The ${name} value.`),
      attribute('type', 'A label such as "work".'),
      attribute('primary', 'Whether this is the primary value.', { type: 'boolean' }),
    ],
  });

const SCHEMAS = [
  {
    id: USER_SCHEMA,
    name: 'User',
    description: 'A person: a Keyholder USER identity.',
    attributes: [
      attribute('userName', 'The identity name (made a valid name); a change renames it.', {
        required: true,
        uniqueness: 'server',
      }),
      attribute('name', 'The parts of the person\'s name, kept in the "scim" attribute.', {
        type: 'complex',
        subAttributes: ['formatted', 'familyName', 'givenName', 'middleName'].map((n) =>
          attribute(n, `The ${n} part of the name.`),
        ),
      }),
      attribute('displayName', 'The name shown for the person.'),
      attribute('title', "The person's title."),
      attribute('active', 'false disables the identity: its keys and tokens are refused.', {
        type: 'boolean',
      }),
      multiValuedString('emails', 'Email addresses.'),
      multiValuedString('phoneNumbers', 'Phone numbers.'),
    ],
  },
  {
    id: ENTERPRISE_USER_SCHEMA,
    name: 'EnterpriseUser',
    description: 'Enterprise attributes, kept in the identity\'s "scim" attribute.',
    attributes: ['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map(
      (n) => attribute(n, `The person's ${n}.`),
    ),
  },
  {
    id: GROUP_SCHEMA,
    name: 'Group',
    description: 'A Keyholder group; memberships made through SCIM have source SCIM.',
    attributes: [
      attribute('displayName', 'The group name; a change renames it.', {
        required: true,
        uniqueness: 'server',
      }),
      attribute('members', 'The direct members: users and groups.', {
        type: 'complex',
        multiValued: true,
        subAttributes: [
          attribute('value', 'The id of the user or group.', { mutability: 'immutable' }),
          attribute('type', '"User" or "Group".', { mutability: 'immutable' }),
          attribute('display', "The member's name.", { mutability: 'readOnly' }),
        ],
      }),
    ],
  },
];

/** `/Schemas` and `/Schemas/{id}`: the attributes Keyholder serves (RFC 7643 §7). */
export function scimSchemas(baseUrl: string, id: string | null): unknown {
  const all = SCHEMAS.map((schema) => ({
    schemas: [SCHEMA_SCHEMA],
    ...schema,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  }));
  if (id !== null) return all.find((s) => s.id === id) ?? null;
  return listOf(all);
}

/** `/ResourceTypes` and `/ResourceTypes/{name}`: Users and Groups (RFC 7643 §6). */
export function scimResourceTypes(baseUrl: string, name: string | null): unknown {
  const all = [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'Keyholder USER identities',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Keyholder groups',
      schema: GROUP_SCHEMA,
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
  if (name !== null) return all.find((t) => t.id === name) ?? null;
  return listOf(all);
}

/** `/ServiceProviderConfig` (RFC 7643 §5): PATCH yes; bulk, sort, ETags and passwords no. */
export function scimServiceProviderConfig(baseUrl: string): unknown {
  return {
    schemas: [CONFIG_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_SCIM_PAGE },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Keyholder API key',
        description:
          'Authorization: Bearer <API key or token> of an identity holding identities:read, identities:write, groups:read and groups:write.',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

function listOf(resources: readonly unknown[]) {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
