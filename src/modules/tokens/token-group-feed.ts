import { createHash } from 'node:crypto';
import type { Database } from '../../db/client.js';
import { reconcileTokenMemberships } from '../groups/token-memberships.js';
import type { VerifiedToken } from './token-verifier.js';

/** Subjects whose last reconciled token is remembered when no bound is given. */
const DEFAULT_MAX_SUBJECTS = 10_000;

/**
 * Keeps subjects' TOKEN memberships in step with their tokens' groups claim
 * (`reconcileTokenMemberships`), off the hot path:
 * - a token is reconciled once per process: the subject's last reconciled (issuer, `exp`, group
 *   ids) is remembered by hash, so every later request with the same token, or an identical one,
 *   costs nothing; a new token (a later `exp`, another set) is reconciled once, and writes only
 *   what differs from what is stored;
 * - concurrent first requests with one token share one reconciliation;
 * - at most `maxSubjects` remembered, the least recently reconciled first out;
 * - a group not joined (its manager can no longer hand it out) or not left (the last path to a
 *   root holder) is logged, once per token.
 */
export class TokenGroupFeed {
  readonly #seen = new Map<string, string>();
  readonly #inFlight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly database: Database,
    private readonly log: (message: string, error?: unknown) => void,
    private readonly maxSubjects = DEFAULT_MAX_SUBJECTS,
  ) {}

  /**
   * Reconciles `token`'s `groupIds` for the identity of `externalId` unless this token was;
   * resolves `false` when no identity has that externalId yet (nothing was done or remembered).
   */
  async reconcile(
    externalId: string,
    token: VerifiedToken,
    groupIds: readonly string[],
  ): Promise<boolean> {
    const digest = createHash('sha256')
      .update(JSON.stringify([token.issuer, token.expiresAt.getTime(), groupIds]))
      .digest('base64url');
    if (this.#seen.get(externalId) === digest) return true;
    const key = `${externalId}\n${digest}`;
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const work = this.#run(externalId, digest, token, groupIds).finally(() =>
      this.#inFlight.delete(key),
    );
    this.#inFlight.set(key, work);
    return work;
  }

  async #run(
    externalId: string,
    digest: string,
    token: VerifiedToken,
    groupIds: readonly string[],
  ): Promise<boolean> {
    const changes = await reconcileTokenMemberships(this.database, externalId, {
      issuer: token.issuer,
      subject: token.subject,
      expiresAt: token.expiresAt,
      groupIds,
    });
    if (changes.absent) return false;
    for (const { group, why } of changes.refused) {
      this.log(`The groups claim of the token of ${externalId}, group "${group}": ${why}`);
    }
    this.#seen.delete(externalId);
    this.#seen.set(externalId, digest);
    if (this.#seen.size > this.maxSubjects) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    return true;
  }
}
