import {
  type ConditionSettings,
  DEFAULT_CONDITION_SETTINGS,
} from 'keyholder-directive/conditions/condition-settings.js';
import { UsageWindows } from 'keyholder-directive/conditions/usage-windows.js';
import type { Database } from '../db/client.js';
import {
  type AccessRequestOptions,
  AccessRequestService,
} from '../modules/access-requests/access-request-service.js';
import { AccessReviewService } from '../modules/access-reviews/access-review-service.js';
import { AccessLog, type AccessLogOptions } from '../modules/audit/access-log.js';
import type { AccessLogMode } from '../modules/audit/access-log-mode.js';
import { auditKeys } from '../modules/audit/audit-chain.js';
import { AuditFeed } from '../modules/audit/audit-feed.js';
import { AuditService } from '../modules/audit/audit-service.js';
import { AuditVerifier } from '../modules/audit/audit-verifier.js';
import { GrantService } from '../modules/grants/grant-service.js';
import { GroupService } from '../modules/groups/group-service.js';
import { IdentityService } from '../modules/identities/identity-service.js';
import { ApiKeyService } from '../modules/keys/api-key-service.js';
import { RevisionService } from '../modules/revision/revision-service.js';
import { RoleService } from '../modules/roles/role-service.js';
import { ScopeService } from '../modules/scopes/scope-service.js';
import { SensitiveScopes } from '../modules/scopes/sensitive-scopes.js';
import type { OidcIssuer } from '../modules/tokens/oidc-issuers.js';
import {
  type GrantUsageOptions,
  GrantUsageRecorder,
} from '../modules/usage/grant-usage-recorder.js';
import { UsageService } from '../modules/usage/usage-service.js';
import { WebhookService } from '../modules/webhooks/webhook-service.js';
import { WebhookTargets } from '../modules/webhooks/webhook-target.js';

/** The stateless domain services, one set per process. */
export interface Services {
  readonly identities: IdentityService;
  readonly apiKeys: ApiKeyService;
  readonly scopes: ScopeService;
  readonly grants: GrantService;
  readonly audit: AuditService;
  /** Verification of the audit log, and its signed checkpoints. */
  readonly auditVerifier: AuditVerifier;
  readonly webhooks: WebhookService;
  readonly accessRequests: AccessRequestService;
  readonly revisions: RevisionService;
  readonly usage: UsageService;
  readonly accessReviews: AccessReviewService;
  readonly groups: GroupService;
  readonly roles: RoleService;
  /** Stateful: `start()` it before serving, `close()` it on shutdown. */
  readonly auditFeed: AuditFeed;
  /**
   * Stateful: `close()` it on shutdown. Writes every access event with `ACCESS_LOG=on`, and only
   * those of operations concerning a sensitive scope with it off (see `accessLogMode`).
   */
  readonly accessLog: AccessLog;
  readonly accessLogMode: AccessLogMode;
  /** Stateful: `start()` it before serving, `close()` it on shutdown. */
  readonly sensitiveScopes: SensitiveScopes;
  /** Stateful: `close()` it on shutdown (after the servers stop, so the last uses are written). */
  readonly grantUsage: GrantUsageRecorder;
  /** How each grant was used in the last minute and hour on this instance (`usage` in conditions). */
  readonly usageWindows: UsageWindows;
  /** How the per-request condition context is filled. */
  readonly conditionSettings: ConditionSettings;
}

export function createServices(
  database: Database,
  log: (message: string, error?: unknown) => void,
  /** `false`: only access events of operations concerning a sensitive scope. */
  accessLog: AccessLogOptions | false = {},
  accessRequests: AccessRequestOptions = {},
  grantUsage: GrantUsageOptions = {},
  conditionSettings: ConditionSettings = DEFAULT_CONDITION_SETTINGS,
  /** Networks webhooks may be sent to although private (see `WebhookTargets`). */
  webhookAllowedNetworks: readonly string[] = [],
  /** The OIDC issuers this server trusts: only they may feed groups (`setGroupTokenIssuer`). */
  oidcIssuers: readonly Pick<OidcIssuer, 'issuer' | 'groupsClaim'>[] = [],
): Services {
  const auditFeed = new AuditFeed(database, log);
  const sensitiveScopes = new SensitiveScopes(database, log);
  return {
    identities: new IdentityService(database),
    apiKeys: new ApiKeyService(database),
    scopes: new ScopeService(database),
    grants: new GrantService(database),
    audit: new AuditService(database),
    auditVerifier: new AuditVerifier(database, auditKeys),
    webhooks: new WebhookService(database, new WebhookTargets(webhookAllowedNetworks)),
    accessRequests: new AccessRequestService(database, auditFeed, accessRequests),
    revisions: new RevisionService(database),
    auditFeed,
    accessLog: new AccessLog(database, log, accessLog === false ? {} : accessLog),
    accessLogMode: { all: accessLog !== false, sensitive: sensitiveScopes },
    sensitiveScopes,
    usage: new UsageService(database),
    grantUsage: new GrantUsageRecorder(database, log, grantUsage),
    accessReviews: new AccessReviewService(database),
    groups: new GroupService(database, oidcIssuers),
    roles: new RoleService(database),
    usageWindows: new UsageWindows(),
    conditionSettings,
  };
}
