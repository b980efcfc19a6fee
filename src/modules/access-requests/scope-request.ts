import type { AccessRequestRow } from '../../db/tables.js';

/** A request for a grant of a scope (not to join a group). */
export type ScopeRequest = AccessRequestRow & { readonly scope: string };

export function isScopeRequest(request: AccessRequestRow): request is ScopeRequest {
  return request.scope !== null;
}
