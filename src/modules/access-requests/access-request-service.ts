import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type AccessRequestRow, accessRequests } from '../../db/tables.js';
import type { AuditFeed } from '../audit/audit-feed.js';
import { actorOf } from '../grants/grant-authority.js';
import type { Caller } from '../keys/authentication.js';
import { parseId } from '../shared/validate.js';
import { accessRequestEvents } from './access-request-feed.js';
import { accessRequestsAwaitingApproval, myAccessRequests } from './access-request-queries.js';
import type { AccessRequestStatus } from './access-request-status.js';
import { approveAccessRequest, denyAccessRequest } from './decide-access-request.js';
import { type RequestAccessInput, requestAccess } from './request-access.js';

/** How access requests behave. */
export interface AccessRequestOptions {
  /** How long a request waits for a decision before it expires, in seconds. @default 86400 */
  readonly pendingTtlSeconds?: number;
}

/**
 * Just-in-time access: requests for temporary grants, decided by another identity that holds the
 * scope grantable, and requests to join groups, decided by a manager of the group (two-person
 * rule). Every step is an audit event in the step's transaction.
 */
export class AccessRequestService {
  readonly #pendingTtlSeconds: number;

  constructor(
    private readonly database: Database,
    private readonly feed: AuditFeed,
    options: AccessRequestOptions = {},
  ) {
    this.#pendingTtlSeconds = options.pendingTtlSeconds ?? 86_400;
  }

  /** The request `id` names, or null (a malformed id is `BAD_USER_INPUT`). */
  async find(id: string): Promise<AccessRequestRow | null> {
    const [row] = await this.database.db
      .select()
      .from(accessRequests)
      .where(eq(accessRequests.id, parseId(id, 'access request')));
    return row ?? null;
  }

  request(actor: Caller, input: RequestAccessInput): Promise<AccessRequestRow> {
    return requestAccess(this.database, actor, input, this.#pendingTtlSeconds);
  }

  approve(actor: Caller, id: string, reason?: string | null): Promise<AccessRequestRow> {
    return approveAccessRequest(this.database, actor, id, reason);
  }

  deny(actor: Caller, id: string, reason: string): Promise<AccessRequestRow> {
    return denyAccessRequest(this.database, actor, id, reason);
  }

  mine(caller: Caller, status?: AccessRequestStatus | null): Promise<AccessRequestRow[]> {
    return myAccessRequests(this.database, caller, status);
  }

  awaitingApproval(caller: Caller): Promise<AccessRequestRow[]> {
    return accessRequestsAwaitingApproval(this.database, caller);
  }

  /** New and decided requests the subscriber could decide (see `accessRequestEvents`). */
  subscribe(caller: Caller): AsyncIterableIterator<AccessRequestRow> {
    return accessRequestEvents(this.database, this.feed, actorOf(caller));
  }
}
