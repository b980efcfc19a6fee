import { eq } from 'drizzle-orm';
import { badUserInput, conflict, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Tx } from '../../db/client.js';
import { identities } from '../../db/tables.js';
import type { Caller } from '../keys/authentication.js';
import { MAX_TTL_SECONDS, parseId } from '../shared/validate.js';

/** Whom a request is for: the caller, or the identity it names. */
export function requestedIdentity(actor: Caller, input: { readonly identityId?: string | null }) {
  return input.identityId === null || input.identityId === undefined
    ? actor.identity.id
    : parseId(input.identityId, 'identity');
}

/** A request's `ttlSeconds`, checked: a whole number of seconds, at most five years. */
export function requireRequestTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TTL_SECONDS) {
    throw badUserInput(
      `ttlSeconds for the access request must be a whole number from 1 to ${MAX_TTL_SECONDS} (five years); got ${ttl}.`,
      { field: 'ttlSeconds' },
    );
  }
  return ttl;
}

/**
 * The identity a request is for, read in `tx`: `NOT_FOUND` when unknown, `FORBIDDEN` unless it is
 * the caller or owned by it, `CONFLICT` when disabled.
 */
export async function requestTarget(tx: Tx, actor: Caller, identityId: string) {
  const [target] = await tx.select().from(identities).where(eq(identities.id, identityId));
  if (target === undefined) throw notFound(`Identity ${identityId} does not exist.`);
  if (target.id !== actor.identity.id && target.ownerId !== actor.identity.id) {
    throw forbidden(
      `You may request access only for yourself or for an identity you own, and "${target.name}" is neither.`,
      { field: 'identityId' },
    );
  }
  if (target.status !== 'ACTIVE') {
    throw conflict(`Identity "${target.name}" is disabled; it cannot receive grants.`);
  }
  return target;
}
