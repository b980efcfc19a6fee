import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const identityKind = pgEnum('identity_kind', ['USER', 'SERVICE', 'AGENT']);
export const identityStatus = pgEnum('identity_status', ['ACTIVE', 'DISABLED']);

const createdAt = () =>
  timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 })
    .notNull()
    .defaultNow();
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });

export const identities = pgTable(
  'identities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: identityKind('kind').notNull(),
    name: text('name').notNull(),
    externalId: text('external_id'),
    status: identityStatus('status').notNull().default('ACTIVE'),
    createdAt: createdAt(),
    createdBy: uuid('created_by'),
    disabledAt: at('disabled_at'),
    disabledBy: uuid('disabled_by'),
  },
  (t) => [
    uniqueIndex('identities_name_key').on(t.name),
    uniqueIndex('identities_external_id_key').on(t.externalId),
    index('identities_created_at_id_idx').on(t.createdAt, t.id),
  ],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    createdBy: uuid('created_by'),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
    revokedBy: uuid('revoked_by'),
    lastUsedAt: at('last_used_at'),
  },
  (t) => [
    uniqueIndex('api_keys_secret_hash_key').on(t.secretHash),
    index('api_keys_identity_id_idx').on(t.identityId),
    uniqueIndex('api_keys_identity_live_name_key')
      .on(t.identityId, t.name)
      .where(sql`${t.revokedAt} is null`),
  ],
);

export const scopes = pgTable(
  'scopes',
  {
    name: text('name').primaryKey(),
    resource: text('resource').notNull(),
    action: text('action').notNull(),
    description: text('description').notNull().default(''),
    builtin: boolean('builtin').notNull().default(false),
    createdAt: createdAt(),
    createdBy: uuid('created_by'),
  },
  (t) => [check('scopes_action_check', sql`${t.action} in ('read', 'write', 'execute')`)],
);

export const grants = pgTable(
  'grants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id),
    scope: text('scope')
      .notNull()
      .references(() => scopes.name),
    resource: text('resource'),
    reason: text('reason').notNull(),
    grantedBy: uuid('granted_by').references(() => identities.id),
    grantable: boolean('grantable').notNull().default(false),
    createdAt: createdAt(),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
    revokedBy: uuid('revoked_by').references(() => identities.id),
    revokeReason: text('revoke_reason'),
  },
  (t) => [
    index('grants_live_identity_idx').on(t.identityId).where(sql`${t.revokedAt} is null`),
    index('grants_identity_created_idx').on(t.identityId, t.createdAt),
    index('grants_created_at_id_idx').on(t.createdAt, t.id),
    check('grants_reason_check', sql`length(btrim(${t.reason})) > 0`),
  ],
);

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp('at', { withTimezone: true, mode: 'date', precision: 3 })
      .notNull()
      .default(sql`clock_timestamp()`),
    action: text('action').notNull(),
    actorId: uuid('actor_id'),
    subjectId: text('subject_id'),
    details: jsonb('details').notNull().default({}),
  },
  (t) => [
    index('audit_events_action_idx').on(t.action, t.id),
    index('audit_events_subject_idx').on(t.subjectId, t.id),
  ],
);

export type IdentityRow = typeof identities.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ScopeRow = typeof scopes.$inferSelect;
export type GrantRow = typeof grants.$inferSelect;
