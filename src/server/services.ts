import type { Database } from '../db/client.js';
import { AuditService } from '../modules/audit/audit-service.js';
import { GrantService } from '../modules/grants/grant-service.js';
import { IdentityService } from '../modules/identities/identity-service.js';
import { ApiKeyService } from '../modules/keys/api-key-service.js';
import { ScopeService } from '../modules/scopes/scope-service.js';

/** The stateless domain services, one set per process. */
export interface Services {
  readonly identities: IdentityService;
  readonly apiKeys: ApiKeyService;
  readonly scopes: ScopeService;
  readonly grants: GrantService;
  readonly audit: AuditService;
}

export function createServices(database: Database): Services {
  return {
    identities: new IdentityService(database),
    apiKeys: new ApiKeyService(database),
    scopes: new ScopeService(database),
    grants: new GrantService(database),
    audit: new AuditService(database),
  };
}
