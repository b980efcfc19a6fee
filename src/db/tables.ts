import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
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
    /** Who answers for a SERVICE or AGENT identity; its grants never authorize beyond the owner's. */
    ownerId: uuid('owner_id').references((): AnyPgColumn => identities.id),
    /** Free-form attributes (department, team, clearance…), seen by conditions as `identity.attributes`. */
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    /**
     * The `seq` of the audit event that created this row, set by `recordChange` in the same
     * transaction. A row without one was written behind the API: it authorizes nothing, and
     * verification reports it (docs/concepts/audit.md, reconciliation).
     */
    auditSeq: bigint('audit_seq', { mode: 'number' }),
  },
  (t) => [
    // Verification lists live rows no event created; healthy tables have none to read.
    index('identities_unrecorded_idx').on(t.id).where(sql`${t.auditSeq} is null`),
    uniqueIndex('identities_name_key').on(t.name),
    index('identities_owner_id_idx').on(t.ownerId).where(sql`${t.ownerId} is not null`),
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
    /**
     * The `seq` of the audit event that created this row, set by `recordChange` in the same
     * transaction. A row without one was written behind the API: it authorizes nothing, and
     * verification reports it (docs/concepts/audit.md, reconciliation).
     */
    auditSeq: bigint('audit_seq', { mode: 'number' }),
    /**
     * The scopes (and resources) the key may act with, at most: intersected with its identity's
     * live grants on every request. `null`: everything the identity holds.
     */
    scopes: jsonb('scopes').$type<{ scope: string; resource: string | null }[]>(),
    /** RFC 9449 JWK SHA-256 thumbprint the key is bound to: every request must prove it. */
    jkt: text('jkt'),
  },
  (t) => [
    // Verification lists live rows no event created; healthy tables have none to read.
    index('api_keys_unrecorded_idx').on(t.id).where(sql`${t.auditSeq} is null`),
    uniqueIndex('api_keys_secret_hash_key').on(t.secretHash),
    index('api_keys_identity_id_idx').on(t.identityId),
    uniqueIndex('api_keys_identity_live_name_key')
      .on(t.identityId, t.name)
      .where(sql`${t.revokedAt} is null`),
  ],
);

/**
 * DPoP proof ids (`jti`) seen, shared by every instance: inserting one that is already there fails,
 * so a proof authenticates once. Rows are purged by the scheduler once `expires_at` has passed
 * (a proof that old is refused by its `iat` anyway).
 */
export const dpopProofs = pgTable(
  'dpop_proofs',
  {
    jti: text('jti').primaryKey(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [index('dpop_proofs_expires_at_idx').on(t.expiresAt)],
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
    /** Policy: the longest grant allowed, in seconds (null: no limit, permanent grants allowed). */
    maxTtlSeconds: integer('max_ttl_seconds'),
    /** Policy: obtainable only through an approved access request (two-person rule). */
    requiresApproval: boolean('requires_approval').notNull().default(false),
    /** Policy: access events always written, and alerts on every denial and new grant. */
    sensitive: boolean('sensitive').notNull().default(false),
    /** Policy: grants unused for this many seconds are revoked by the reaper (null: never). */
    reapUnusedAfterSeconds: integer('reap_unused_after_seconds'),
    /** Policy: a CEL condition every grant of the scope must also satisfy at decision time. */
    condition: text('condition'),
    /** Policy: a CEL condition over an access request; a request satisfying it is approved at once. */
    autoApproveCondition: text('auto_approve_condition'),
    /** Who set the auto-approval condition: policy approvals grant on their behalf. */
    autoApproveSetBy: uuid('auto_approve_set_by').references((): AnyPgColumn => identities.id),
    /** Revoking a grant of this scope also revokes, by default, what it authorized (cascade). */
    cascadeRevocation: boolean('cascade_revocation').notNull().default(false),
    /**
     * When a use of one of its grants was first recorded (by @requires, check, AuthZEN or a
     * remoteGrants report): until then nowhere that reports enforces it, and the reaper leaves its
     * grants alone.
     */
    firstUsedAt: timestamp('first_used_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [
    check('scopes_action_check', sql`${t.action} in ('read', 'write', 'execute')`),
    check('scopes_max_ttl_seconds_check', sql`${t.maxTtlSeconds} > 0`),
    check('scopes_reap_unused_after_seconds_check', sql`${t.reapUnusedAfterSeconds} > 0`),
    // Every authentication reads the scope conditions that exist: an index of those alone.
    index('scopes_conditional_idx').on(t.name).where(sql`${t.condition} is not null`),
  ],
);

/**
 * Other names of a scope, as external enforcement points name permissions (`can_update_todo`):
 * AuthZEN's `action.name` may be a scope name or one of these. Unique across scopes.
 */
export const scopeAliases = pgTable(
  'scope_aliases',
  {
    alias: text('alias').primaryKey(),
    scope: text('scope')
      .notNull()
      .references(() => scopes.name),
    createdAt: createdAt(),
  },
  (t) => [index('scope_aliases_scope_idx').on(t.scope, t.alias)],
);

/**
 * Teams: a named set of identities and of other groups (nested up to 8 deep), fed by people, by the
 * identity provider (SCIM) or by one issuer's tokens' groups claim (TOKEN memberships, each
 * lasting until its token's `exp`). Grants to a group reach
 * every member while both the grant and the memberships are live. Deleted groups are kept (their
 * history stays readable) and lose their grants and memberships.
 */
export const groups = pgTable(
  'groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    /** The identity provider's id of the group (SCIM `externalId`, a token's `groups` value). */
    externalId: text('external_id'),
    /**
     * The OIDC issuer whose tokens' groups claim feeds this group (`source: TOKEN` memberships);
     * null: no token makes anyone a member.
     */
    tokenIssuer: text('token_issuer'),
    /** The manager who let `tokenIssuer` feed the group: token memberships are added in their name. */
    tokenFedBy: uuid('token_fed_by').references((): AnyPgColumn => identities.id),
    createdAt: createdAt(),
    createdBy: uuid('created_by').references((): AnyPgColumn => identities.id),
    deletedAt: at('deleted_at'),
    deletedBy: uuid('deleted_by').references((): AnyPgColumn => identities.id),
  },
  (t) => [
    uniqueIndex('groups_live_name_key').on(t.name).where(sql`${t.deletedAt} is null`),
    check(
      'groups_token_feed_check',
      sql`(${t.tokenIssuer} is null) = (${t.tokenFedBy} is null) and (${t.tokenIssuer} is null or ${t.externalId} is not null)`,
    ),
    uniqueIndex('groups_live_external_id_key')
      .on(t.externalId)
      .where(sql`${t.deletedAt} is null and ${t.externalId} is not null`),
    index('groups_created_at_id_idx').on(t.createdAt, t.id),
  ],
);

export const membershipSource = pgEnum('membership_source', ['MANUAL', 'SCIM', 'TOKEN']);

/**
 * One membership of an identity or a group (`memberIdentityId` xor `memberGroupId`) in a group,
 * live while `removedAt` is null and `expiresAt` has not passed.
 */
export const groupMembers = pgTable(
  'group_members',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id),
    memberIdentityId: uuid('member_identity_id').references(() => identities.id),
    memberGroupId: uuid('member_group_id').references(() => groups.id),
    reason: text('reason').notNull(),
    source: membershipSource('source').notNull().default('MANUAL'),
    addedAt: timestamp('added_at', { withTimezone: true, mode: 'date', precision: 3 })
      .notNull()
      .defaultNow(),
    addedBy: uuid('added_by').references(() => identities.id),
    expiresAt: at('expires_at'),
    removedAt: at('removed_at'),
    removedBy: uuid('removed_by').references(() => identities.id),
    removeReason: text('remove_reason'),
    /**
     * The `seq` of the audit event that created this row, set by `recordChange` in the same
     * transaction. A row without one was written behind the API: it authorizes nothing, and
     * verification reports it (docs/concepts/audit.md, reconciliation).
     */
    auditSeq: bigint('audit_seq', { mode: 'number' }),
  },
  (t) => [
    // Verification lists live rows no event created; healthy tables have none to read.
    index('group_members_unrecorded_idx').on(t.id).where(sql`${t.auditSeq} is null`),
    check(
      'group_members_one_member_check',
      sql`(${t.memberIdentityId} is null) <> (${t.memberGroupId} is null)`,
    ),
    check('group_members_not_itself_check', sql`${t.memberGroupId} is distinct from ${t.groupId}`),
    check('group_members_reason_check', sql`length(btrim(${t.reason})) > 0`),
    uniqueIndex('group_members_live_identity_key')
      .on(t.groupId, t.memberIdentityId)
      .where(sql`${t.removedAt} is null and ${t.memberIdentityId} is not null`),
    uniqueIndex('group_members_live_group_key')
      .on(t.groupId, t.memberGroupId)
      .where(sql`${t.removedAt} is null and ${t.memberGroupId} is not null`),
    index('group_members_identity_idx')
      .on(t.memberIdentityId)
      .where(sql`${t.removedAt} is null and ${t.memberIdentityId} is not null`),
    index('group_members_group_idx')
      .on(t.memberGroupId)
      .where(sql`${t.removedAt} is null and ${t.memberGroupId} is not null`),
    index('group_members_group_added_idx').on(t.groupId, t.addedAt, t.id),
  ],
);

/** A named bundle of scopes (each on every resource, one id or a prefix), granted as one. */
export const roles = pgTable('roles', {
  name: text('name').primaryKey(),
  description: text('description').notNull().default(''),
  createdAt: createdAt(),
  createdBy: uuid('created_by').references((): AnyPgColumn => identities.id),
  deletedAt: at('deleted_at'),
  deletedBy: uuid('deleted_by').references((): AnyPgColumn => identities.id),
});

/** The scopes of a role, now (changes are audited with before and after). */
export const roleScopes = pgTable(
  'role_scopes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    role: text('role')
      .notNull()
      .references(() => roles.name),
    scope: text('scope')
      .notNull()
      .references(() => scopes.name),
    resource: text('resource'),
  },
  (t) => [
    uniqueIndex('role_scopes_role_scope_resource_key').on(
      t.role,
      t.scope,
      sql`coalesce(${t.resource}, '')`,
    ),
    // whoCan finds the roles that bundle a scope.
    index('role_scopes_scope_idx').on(t.scope),
  ],
);

/**
 * A right to use a scope, or every scope of a role (`scope` xor `role`), held by an identity or by
 * every member of a group (`identityId` xor `groupId`).
 */
export const grants = pgTable(
  'grants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    identityId: uuid('identity_id').references(() => identities.id),
    groupId: uuid('group_id').references(() => groups.id),
    scope: text('scope').references(() => scopes.name),
    role: text('role').references(() => roles.name),
    resource: text('resource'),
    reason: text('reason').notNull(),
    grantedBy: uuid('granted_by').references(() => identities.id),
    grantable: boolean('grantable').notNull().default(false),
    createdAt: createdAt(),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
    revokedBy: uuid('revoked_by').references(() => identities.id),
    revokeReason: text('revoke_reason'),
    /** When the expiry sweeper wrote this grant's `grant.expired` event (at most once). */
    expiryRecordedAt: at('expiry_recorded_at'),
    /** A CEL condition evaluated at every decision: the grant authorizes only while it holds. */
    condition: text('condition'),
    /**
     * The granter's grants this one rested on when it was made (the delegation or approval's
     * authority): a cascading revocation of all of them revokes it too. Null for root grants.
     */
    authorizedBy: uuid('authorized_by').array(),
    /**
     * The `seq` of the audit event that created this row, set by `recordChange` in the same
     * transaction. A row without one was written behind the API: it authorizes nothing, and
     * verification reports it (docs/concepts/audit.md, reconciliation).
     */
    auditSeq: bigint('audit_seq', { mode: 'number' }),
  },
  (t) => [
    // Verification lists live rows no event created; healthy tables have none to read.
    index('grants_unrecorded_idx').on(t.id).where(sql`${t.auditSeq} is null`),
    index('grants_live_identity_idx').on(t.identityId).where(sql`${t.revokedAt} is null`),
    index('grants_live_group_idx')
      .on(t.groupId)
      .where(sql`${t.revokedAt} is null and ${t.groupId} is not null`),
    index('grants_expiry_due_idx')
      .on(t.expiresAt)
      .where(
        sql`${t.expiresAt} is not null and ${t.revokedAt} is null and ${t.expiryRecordedAt} is null`,
      ),
    index('grants_identity_created_idx').on(t.identityId, t.createdAt),
    index('grants_created_at_id_idx').on(t.createdAt, t.id),
    // unusedGrants reads never-used live grants oldest first.
    index('grants_live_created_idx').on(t.createdAt, t.id).where(sql`${t.revokedAt} is null`),
    // grants(filter: { scope }) reads a scope's grants in page order.
    index('grants_scope_created_idx').on(t.scope, t.createdAt, t.id),
    // whoCan reads the live direct grants of a scope, and of the roles bundling it, in holder order.
    index('grants_live_scope_holder_idx')
      .on(t.scope, t.identityId, t.id)
      .where(sql`${t.revokedAt} is null and ${t.identityId} is not null`),
    index('grants_live_role_holder_idx')
      .on(t.role, t.identityId, t.id)
      .where(sql`${t.revokedAt} is null and ${t.role} is not null and ${t.identityId} is not null`),
    // Cascading revocation finds what live grants rested on the ones it revokes.
    index('grants_live_authorized_by_idx')
      .using('gin', t.authorizedBy)
      .where(sql`${t.revokedAt} is null`),
    check('grants_reason_check', sql`length(btrim(${t.reason})) > 0`),
    check('grants_one_holder_check', sql`(${t.identityId} is null) <> (${t.groupId} is null)`),
    check('grants_scope_or_role_check', sql`(${t.scope} is null) <> (${t.role} is null)`),
  ],
);

/**
 * When each grant last authorized something and how often, written in batches off the request
 * path. Kept apart from `grants` so the rows decisions read are not rewritten by every use.
 */
export const grantUsage = pgTable(
  'grant_usage',
  {
    grantId: uuid('grant_id')
      .primaryKey()
      .references(() => grants.id),
    lastUsedAt: at('last_used_at').notNull(),
    useCount: bigint('use_count', { mode: 'number' }).notNull().default(0),
  },
  // unusedGrants reads used grants least recently used first.
  (t) => [index('grant_usage_last_used_idx').on(t.lastUsedAt, t.grantId)],
);

export const accessRequestStatus = pgEnum('access_request_status', [
  'PENDING',
  'APPROVED',
  'DENIED',
  'EXPIRED',
  'CANCELLED',
]);

/**
 * Just-in-time access: an identity asks for a scope (for itself or an identity it owns); an
 * approver who holds the scope grantable approves (creating the temporary grant in the same
 * transaction) or denies. Pending requests expire at `expiresAt`.
 */
export const accessRequests = pgTable(
  'access_requests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    requesterId: uuid('requester_id')
      .notNull()
      .references(() => identities.id),
    /** Who would hold the grant: the requester or an identity it owns. */
    identityId: uuid('identity_id')
      .notNull()
      .references(() => identities.id),
    /** The scope asked for; null for a request to join a group. */
    scope: text('scope').references(() => scopes.name),
    resource: text('resource'),
    /** The group asked to join (`scope` null): approved, the identity becomes a member. */
    groupId: uuid('group_id').references(() => groups.id),
    ttlSeconds: integer('ttl_seconds').notNull(),
    reason: text('reason').notNull(),
    status: accessRequestStatus('status').notNull().default('PENDING'),
    createdAt: createdAt(),
    /** When a still-pending request lapses. */
    expiresAt: at('expires_at').notNull(),
    decidedAt: at('decided_at'),
    decidedBy: uuid('decided_by').references(() => identities.id),
    decisionReason: text('decision_reason'),
    grantId: uuid('grant_id').references(() => grants.id),
    /** The membership an approved request to join a group created. */
    membershipId: uuid('membership_id').references(() => groupMembers.id),
    /** The scope whose auto-approval condition approved the request (no person decided). */
    approvedByPolicy: text('approved_by_policy'),
  },
  (t) => [
    index('access_requests_pending_scope_idx')
      .on(t.scope, t.createdAt)
      .where(sql`${t.status} = 'PENDING'`),
    index('access_requests_requester_created_idx').on(t.requesterId, t.createdAt),
    index('access_requests_identity_created_idx').on(t.identityId, t.createdAt),
    check('access_requests_reason_check', sql`length(btrim(${t.reason})) > 0`),
    check('access_requests_ttl_seconds_check', sql`${t.ttlSeconds} > 0`),
    check(
      'access_requests_scope_or_group_check',
      sql`(${t.scope} is null) <> (${t.groupId} is null)`,
    ),
    index('access_requests_pending_group_idx')
      .on(t.groupId, t.createdAt)
      .where(sql`${t.status} = 'PENDING' and ${t.groupId} is not null`),
  ],
);

export const accessReviewStatus = pgEnum('access_review_status', ['OPEN', 'CLOSED']);
export const accessReviewDecision = pgEnum('access_review_decision', ['KEEP', 'REVOKE']);

/** An access review campaign over the grants matching `filter`, decided by `dueAt`. */
export const accessReviews = pgTable(
  'access_reviews',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    filter: jsonb('filter').notNull().default({}),
    status: accessReviewStatus('status').notNull().default('OPEN'),
    dueAt: at('due_at').notNull(),
    createdAt: createdAt(),
    createdBy: uuid('created_by').references(() => identities.id),
    closedAt: at('closed_at'),
  },
  (t) => [
    index('access_reviews_open_due_idx').on(t.dueAt).where(sql`${t.status} = 'OPEN'`),
    index('access_reviews_created_at_id_idx').on(t.createdAt, t.id),
  ],
);

/**
 * One grant or one group membership (`grantId` xor `membershipId`) under review: kept or revoked
 * (removed) by a reviewer, or revoked when the review falls due.
 */
export const accessReviewItems = pgTable(
  'access_review_items',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    reviewId: uuid('review_id')
      .notNull()
      .references(() => accessReviews.id),
    grantId: uuid('grant_id').references(() => grants.id),
    membershipId: uuid('membership_id').references(() => groupMembers.id),
    decision: accessReviewDecision('decision'),
    decidedAt: at('decided_at'),
    /** Null when the review's due time decided it. */
    decidedBy: uuid('decided_by').references(() => identities.id),
    note: text('note'),
  },
  (t) => [
    uniqueIndex('access_review_items_review_grant_key').on(t.reviewId, t.grantId),
    uniqueIndex('access_review_items_review_membership_key')
      .on(t.reviewId, t.membershipId)
      .where(sql`${t.membershipId} is not null`),
    check(
      'access_review_items_one_subject_check',
      sql`(${t.grantId} is null) <> (${t.membershipId} is null)`,
    ),
  ],
);

/**
 * The revision every change advances (one row). A change's transaction sets it from the sequence
 * `keyholder_revision_seq` (drizzle/0005_lifecycle.sql); a decision reads it in the statement that
 * reads grants, so the revision it reports is exactly the state it saw. Read as `bigint`: a
 * revision may exceed 2^53, where a JavaScript number would silently round it.
 */
export const revisionHead = pgTable(
  'revision_head',
  {
    singleton: boolean('singleton').primaryKey().default(true),
    value: bigint('value', { mode: 'bigint' }).notNull(),
  },
  (t) => [check('revision_head_singleton_check', sql`${t.singleton}`)],
);

/**
 * One row per running Keyholder process on PostgreSQL: its lease to answer from its caches
 * (src/modules/revision/revision-feed.ts). A change returns only once every row whose lease is live
 * has `applied_revision` at or past the change's revision; `applied_revision` null says the
 * process answers nothing from its caches (it reads through), so nobody waits for it.
 */
export const instanceLeases = pgTable('instance_leases', {
  id: uuid('id').primaryKey(),
  startedAt: at('started_at').notNull().defaultNow(),
  expiresAt: at('expires_at').notNull(),
  appliedRevision: bigint('applied_revision', { mode: 'bigint' }),
  /** Where it runs (`host:pid`), for the operator reading the table. */
  process: text('process').notNull(),
});

/**
 * The change journal (drizzle/0021_change_journal.sql and 0023): one row per committed change that
 * advanced the revision, written at commit by the database itself: the revision, the revision it
 * advanced from and the identities it touched (`touched`: ids each followed by a comma, `*` for
 * anything else an authentication reads). Instances read it when notified, rather than trusting
 * the notification's text, which any role connected to the database could send. Rows older than
 * ten minutes are deleted by the lease renewals.
 */
export const revisionChanges = pgTable('revision_changes', {
  revision: bigint('revision', { mode: 'bigint' }).primaryKey(),
  advancedFrom: bigint('advanced_from', { mode: 'bigint' }).notNull(),
  touched: text('touched').notNull(),
  committedAt: at('committed_at').notNull().defaultNow(),
});

/**
 * The audit log: append-only (triggers refuse UPDATE, DELETE and TRUNCATE) and hash-chained. The
 * chain trigger (drizzle/0001_audit_chain.sql) assigns `seq`, `at`, `prev_hash` and `hash` under an
 * advisory lock, so rows chain in one strict order even with several instances writing.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    /** Position in the chain, from 1 without gaps; assigned by the trigger. */
    seq: bigint('seq', { mode: 'number' }).notNull().default(0),
    at: timestamp('at', { withTimezone: true, mode: 'date', precision: 6 })
      .notNull()
      .default(sql`clock_timestamp()`),
    action: text('action').notNull(),
    actorId: uuid('actor_id'),
    subjectId: text('subject_id'),
    details: jsonb('details').notNull().default({}),
    /** The previous row's `hash` (64 zeros for the first row); assigned by the trigger. */
    prevHash: text('prev_hash').notNull().default(''),
    /** SHA-256 over this row's content and `prev_hash`; assigned by the trigger. */
    hash: text('hash').notNull().default(''),
  },
  (t) => [
    uniqueIndex('audit_events_seq_key').on(t.seq),
    index('audit_events_action_seq_idx').on(t.action, t.seq),
    index('audit_events_subject_seq_idx').on(t.subjectId, t.seq),
    index('audit_events_actor_seq_idx').on(t.actorId, t.seq),
    // An actor's change events by action (a prefix is one range per action): without access
    // events, which are most rows, so the write path of access logging does not pay for it.
    index('audit_events_change_actor_action_seq_idx')
      .on(t.actorId, t.action, t.seq)
      .where(sql`${t.action} not in ('access.allowed', 'access.denied', 'auth.failed')`),
    index('audit_events_at_seq_idx').on(t.at, t.seq),
  ],
);

/**
 * A search index over the audit log: one row per scope an event names (`details.scopes`), written
 * by a trigger when the event is inserted (drizzle/0003_audit_search.sql). Append-only like the log;
 * the scopes themselves are covered by the event's hash.
 */
export const auditEventScopes = pgTable(
  'audit_event_scopes',
  {
    scope: text('scope').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    /** The event's action, so scope and action (or decision) filters meet in one index. */
    action: text('action').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.scope, t.seq] }),
    index('audit_event_scopes_scope_action_seq_idx').on(t.scope, t.action, t.seq),
    // Verification reads a range of seq's index rows with the events it walks.
    index('audit_event_scopes_seq_idx').on(t.seq),
  ],
);

/**
 * Keyholder's seal on each audit event: HMAC-SHA-256, with a key the database never holds (`keyId`
 * names it), over the event's hash as Keyholder computes it (`audit-chain.ts`). Written by the
 * writer of the event in the event's own transaction, so an event inserted behind Keyholder's back
 * has none, and one edited or re-hashed with database rights alone no longer matches its seal.
 */
export const auditSeals = pgTable('audit_seals', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  keyId: text('key_id').notNull(),
  mac: text('mac').notNull(),
});

/**
 * Signed checkpoints of the chain's head (Ed25519; `payload` is the exact JSON signed): every N
 * events or T seconds, also written to the outside sink. Verification checks the chain against
 * the latest one, so a shortened or rewritten chain is found.
 */
export const auditCheckpoints = pgTable('audit_checkpoints', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  hash: text('hash').notNull(),
  count: bigint('count', { mode: 'number' }).notNull(),
  signedAt: timestamp('signed_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
  keyId: text('key_id').notNull(),
  payload: text('payload').notNull(),
  signature: text('signature').notNull(),
});

export const webhookDeliveryStatus = pgEnum('webhook_delivery_status', [
  'PENDING',
  'DELIVERED',
  'FAILED',
]);

/**
 * Where audit events are sent. The filter is stored in the form the outbox trigger
 * (drizzle/0004_webhooks.sql) matches cheaply: exact actions, action prefixes, and optional scopes
 * (null: any). `secret` signs deliveries; it is shown once, at creation, and never read by the API.
 */
export const webhooks = pgTable(
  'webhooks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    url: text('url').notNull(),
    actions: text('actions').array().notNull(),
    actionPrefixes: text('action_prefixes').array().notNull(),
    scopes: text('scopes').array(),
    /** Only events flagged `details.sensitive` (about a sensitive scope). */
    sensitiveOnly: boolean('sensitive_only').notNull().default(false),
    description: text('description'),
    secret: text('secret').notNull(),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
    createdBy: uuid('created_by').references(() => identities.id),
    disabledAt: at('disabled_at'),
    disabledBy: uuid('disabled_by').references(() => identities.id),
    /**
     * Whose rights the deliveries need, now: the creator, or a service identity the creator owns
     * (an organisation's webhook). Null on webhooks made before owners: the creator's.
     */
    ownerId: uuid('owner_id').references(() => identities.id),
    /** Set while the owner does not hold what creating the webhook needs: nothing is sent. */
    pausedAt: at('paused_at'),
    pauseReason: text('pause_reason'),
  },
  (t) => [
    index('webhooks_created_at_id_idx').on(t.createdAt, t.id),
    index('webhooks_paused_idx').on(t.pausedAt).where(sql`${t.pausedAt} is not null`),
  ],
);

/**
 * The outbox: one row per webhook and matching audit event, inserted by a trigger on
 * `audit_events` in the change's own transaction, then updated by the dispatcher as it delivers.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id),
    /** The audit event's id (no foreign key: the log's own triggers keep its rows forever). */
    eventId: bigint('event_id', { mode: 'number' }).notNull(),
    action: text('action').notNull(),
    status: webhookDeliveryStatus('status').notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    /** When the dispatcher may next try; null once delivered or failed. */
    nextAttemptAt: at('next_attempt_at').defaultNow(),
    lastAttemptAt: at('last_attempt_at'),
    deliveredAt: at('delivered_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_webhook_event_key').on(t.webhookId, t.eventId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'PENDING'`),
  ],
);

export type IdentityRow = typeof identities.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ScopeRow = typeof scopes.$inferSelect;
export type GrantRow = typeof grants.$inferSelect;
export type GroupRow = typeof groups.$inferSelect;
export type ScopeAliasRow = typeof scopeAliases.$inferSelect;
export type GroupMemberRow = typeof groupMembers.$inferSelect;
export type RoleRow = typeof roles.$inferSelect;
export type RoleScopeRow = typeof roleScopes.$inferSelect;
export type AuditEventRow = typeof auditEvents.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type GrantUsageRow = typeof grantUsage.$inferSelect;
export type AccessRequestRow = typeof accessRequests.$inferSelect;
export type AccessReviewRow = typeof accessReviews.$inferSelect;
export type AccessReviewItemRow = typeof accessReviewItems.$inferSelect;
