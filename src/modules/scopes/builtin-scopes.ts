/** The scopes that guard Keyholder itself, seeded at every start. */
export const BUILTIN_SCOPES: readonly { name: string; description: string }[] = [
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
];
