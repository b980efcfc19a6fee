import type { Database } from '../db/client.js';
import { AccessReviewService } from '../modules/access-reviews/access-review-service.js';
import { AccessLog, type AccessLogOptions } from '../modules/audit/access-log.js';
import { AuditFeed } from '../modules/audit/audit-feed.js';
import { AuditService } from '../modules/audit/audit-service.js';
import { GrantService } from '../modules/grants/grant-service.js';
import { IdentityService } from '../modules/identities/identity-service.js';
import { ApiKeyService } from '../modules/keys/api-key-service.js';
import { ScopeService } from '../modules/scopes/scope-service.js';
import { WebhookService } from '../modules/webhooks/webhook-service.js';

/** The stateless domain services, one set per process. */
export interface Services {
  readonly identities: IdentityService;
  readonly apiKeys: ApiKeyService;
  readonly scopes: ScopeService;
  readonly grants: GrantService;
  readonly audit: AuditService;
  readonly webhooks: WebhookService;
  readonly accessReviews: AccessReviewService;
  /** Stateful: `start()` it before serving, `close()` it on shutdown. */
  readonly auditFeed: AuditFeed;
  /** Stateful: `close()` it on shutdown. `null` when access logging is switched off. */
  readonly accessLog: AccessLog | null;
}

export function createServices(
  database: Database,
  log: (message: string, error?: unknown) => void,
  accessLog: AccessLogOptions | false = {},
): Services {
  return {
    identities: new IdentityService(database),
    apiKeys: new ApiKeyService(database),
    scopes: new ScopeService(database),
    grants: new GrantService(database),
    audit: new AuditService(database),
    webhooks: new WebhookService(database),
    accessReviews: new AccessReviewService(database),
    auditFeed: new AuditFeed(database, log),
    accessLog: accessLog === false ? null : new AccessLog(database, log, accessLog),
  };
}
