import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { identities } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import type { RequestMeta } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import type { VerifiedToken } from './token-verifier.js';

const LONE_SURROGATE_GLOBAL =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const NAME_CLAIMS = ['preferred_username', 'email', 'name'] as const;

/**
 * A name claim made fit to be an identity name, as `createIdentity` requires of people: control
 * characters become spaces, lone surrogates the replacement character, NFKC, invisible and
 * bidirectional controls removed, runs of spaces one, at
 * most 160 characters; empty when nothing is left.
 */
export function nameFromClaim(value: string): string {
  return (
    value
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
      .replace(/[\u0000-\u001f\u007f]/g, ' ')
      .replace(LONE_SURROGATE_GLOBAL, '\uFFFD')
      .normalize('NFKC')
      // Invisible and bidirectional controls would let a name pass for another.
      .replace(/[\p{Cf}\p{Zl}\p{Zp}]/gu, '')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 160)
      .trim()
  );
}

/** The names tried for a new identity, in order: a name claim, then it made unique. */
export function candidateNames(token: VerifiedToken, externalId: string): string[] {
  const claimed = NAME_CLAIMS.map((claim) => token.payload[claim])
    .map((value) => (typeof value === 'string' ? nameFromClaim(value) : ''))
    .find((value) => value !== '');
  const subject = nameFromClaim(token.subject);
  const base = claimed ?? (subject === '' ? 'token-user' : subject);
  const tag = createHash('sha256').update(externalId).digest('hex');
  // The same subject always tries the same names, so concurrent first requests agree.
  return [base, `${base}-${tag.slice(0, 8)}`, `${base}-${tag.slice(0, 16)}`, `${base}-${tag}`];
}

/**
 * Creates the USER identity of a token's subject seen for the first time (no owner, no grants),
 * with its `identity.created` audit event in the same transaction: actor none, the issuer and
 * subject in `details.token`, the request in `details.request`. Race-safe: concurrent first
 * requests insert with `on conflict do nothing`, so exactly one creates it and the others find it.
 * A name another identity holds gets a suffix derived from the externalId.
 */
export async function createTokenIdentity(
  database: Database,
  token: VerifiedToken,
  externalId: string,
  request: RequestMeta | undefined,
): Promise<void> {
  for (const name of candidateNames(token, externalId)) {
    const created = await runChange(database, null, async (tx) => {
      const [row] = await tx
        .insert(identities)
        .values({ name, kind: 'USER', externalId })
        .onConflictDoNothing()
        .returning({ id: identities.id });
      if (row === undefined) return false;
      await recordChange(tx, null, {
        action: 'identity.created',
        subjectId: row.id,
        details: {
          after: { name, kind: 'USER', externalId, ownerId: null },
          token: { issuer: token.issuer, subject: token.subject },
          ...(request ? { request } : {}),
        },
      });
      return true;
    });
    if (created) return;
    const [taken] = await database.db
      .select({ id: identities.id })
      .from(identities)
      .where(eq(identities.externalId, externalId));
    if (taken !== undefined) return; // another request created it first
  }
  throw new Error(`No free identity name for externalId ${externalId}.`);
}
