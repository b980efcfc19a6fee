/** A scope that guards Keyholder itself. */
export interface BuiltinScope {
  readonly name: string;
  readonly description: string;
  /**
   * Added after the first release. A database bootstrapped before it has no holder; at start it
   * is granted to the root admins (see `grantUpgradedBuiltins`).
   */
  readonly addedByUpgrade?: true;
}

/** The scopes that guard Keyholder itself, seeded at every start. */
export const BUILTIN_SCOPES: readonly BuiltinScope[] = [
  { name: 'identities:read', description: 'Read identities and their API key metadata.' },
  {
    name: 'identities:write',
    description: 'Create and disable identities; create and revoke API keys.',
  },
  { name: 'scopes:read', description: 'Read scope definitions.' },
  { name: 'scopes:write', description: 'Define new scopes.' },
  { name: 'grants:read', description: "Read grants and check any identity's access." },
  { name: 'grants:write', description: 'Grant and revoke scopes (only those held grantable).' },
  { name: 'audit:read', description: 'Search and watch the audit log.' },
  {
    name: 'webhooks:read',
    description: 'Read webhooks and their delivery status.',
    addedByUpgrade: true,
  },
  {
    name: 'webhooks:write',
    description: 'Create and disable webhooks: makes the server call any URL with audit events.',
    addedByUpgrade: true,
  },
  {
    name: 'groups:read',
    description: 'Read groups and their members (on a group name: that group only).',
    addedByUpgrade: true,
  },
  {
    name: 'groups:write',
    description:
      'Create groups and change their members (on a group name: manage that group only).',
    addedByUpgrade: true,
  },
  { name: 'roles:read', description: 'Read roles and their scopes.', addedByUpgrade: true },
  {
    name: 'decisions:execute',
    description:
      'Ask for access decisions about any identity over AuthZEN (/access/v1): for enforcement points.',
    addedByUpgrade: true,
  },
  {
    name: 'roles:write',
    description: 'Define roles and change their scopes (only with scopes held grantable).',
    addedByUpgrade: true,
  },
  {
    name: 'system:read',
    description: "Read Keyholder's operational state: detailed health and metrics.",
    addedByUpgrade: true,
  },
];

/** Resources reserved for Keyholder's own scopes; `defineScope` refuses them. */
export const RESERVED_RESOURCES: readonly string[] = [
  'identities',
  'scopes',
  'grants',
  'audit',
  'keys',
  'webhooks',
  'keyholder',
  'access-requests',
  'reviews',
  'groups',
  'roles',
  'decisions',
  'system',
];
