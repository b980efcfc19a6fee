import type { RequestConditionState } from '../conditions/request-condition-state.js';
import type { AccessRecord } from '../modules/audit/access-record.js';
import type { ActiveGrant } from '../modules/grants/live-grants.js';
import type { Caller, Prefetch } from '../modules/keys/authentication.js';
import type { Revision } from '../modules/revision/revision.js';
import type { RevisionRecord } from '../modules/revision/revision-record.js';
import type { GrantUseRecord } from '../modules/usage/grant-use-record.js';
import type { Loaders } from './loaders.js';
import type { Services } from './services.js';

/** Everything one operation's resolvers see. Built per request; nothing request-scoped is global. */
export interface KeyholderContext {
  readonly caller: Caller;
  /** What the operation's decisions saw and its changes committed (the same as `caller.revisions`). */
  readonly revisions: RevisionRecord;
  readonly loaders: Loaders;
  readonly services: Services;
  readonly requestId: string;
  /**
   * The operation's access decisions, for its access event; absent when access logging is off and
   * no scope is sensitive.
   */
  readonly access: AccessRecord | undefined;
  /**
   * Where the directive reports its decisions: the grants that allowed something, for usage
   * counting (always), passed on to `access` (when access logging is on).
   */
  readonly uses: GrantUseRecord;
  /** The request's side of conditions on grants: scope conditions, context, a gate per operation. */
  readonly conditions: RequestConditionState;
  /**
   * Long-lived operations (WebSocket subscriptions) re-authenticate and reload the caller's live
   * grants through this before every event; absent for HTTP, whose grants were loaded at its start.
   */
  readonly reloadGrants?: () => Promise<readonly ActiveGrant[]>;
  /**
   * Authenticates again and loads the caller and the prefetched identities and scopes afresh, in
   * one statement of a newer snapshot: for a decision that must reflect a given revision
   * (`check(atLeastRevision:)`). A key revoked meanwhile gets `UNAUTHENTICATED`.
   */
  readonly reread: (prefetch: Prefetch) => Promise<{ revision: Revision; loaders: Loaders }>;
}
