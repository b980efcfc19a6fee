import { eq, inArray } from 'drizzle-orm';
import { type KeyScope, minimalKeyScopes } from 'keyholder-directive/authz/cap-to-key-scopes.js';
import { GrantSet } from 'keyholder-directive/authz/grant-set.js';
import { badUserInput, conflict, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import { type ApiKeyRow, apiKeys, identities, scopes as scopeTable } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { describeResource } from '../grants/describe-resource.js';
import { actorOf, isUnconditional, loadAuthority } from '../grants/grant-authority.js';
import { parseResourcePattern } from '../grants/resource-pattern.js';
import { runChange } from '../revision/run-change.js';
import { sqlState, UNIQUE_VIOLATION } from '../shared/db-errors.js';
import { parseId, requireScopeName, requireText, resolveExpiry } from '../shared/validate.js';
import { generateSecret } from './api-key-secret.js';
import type { Caller } from './authentication.js';

export interface CreateApiKeyInput {
  readonly identityId: string;
  readonly name: string;
  readonly ttlSeconds?: number | null;
  /** The most the key may act with (see `ApiKeyService`); absent: see the rules there. */
  readonly scopes?: readonly { scope: string; resource?: string | null }[] | null;
  /** RFC 9449 JWK SHA-256 thumbprint (base64url) to bind the key to. */
  readonly jkt?: string | null;
}

/** The most entries a scoped key may name. */
export const MAX_KEY_SCOPES = 100;

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * API keys. A key lets its holder act as its identity, at most with its `scopes` (intersected with
 * the identity's live grants on every request), so:
 * - a key for yourself never outlives the key (or identity-provider token) you are using, names
 *   only what you hold now, and is scoped like the key you are using when you name nothing;
 * - a key for another identity is capped by what its creator could delegate when it was created:
 *   its scopes are those asked for, each of which the creator must hold grantable, without a
 *   condition and lasting at least as long as the key; asking nothing, all of that authority.
 *   Authority that holds only under a condition or ends before the key does never counts.
 */
export class ApiKeyService {
  constructor(private readonly database: Database) {}

  async create(
    actor: Caller,
    input: CreateApiKeyInput,
  ): Promise<{ secret: string; apiKey: ApiKeyRow }> {
    const identityId = parseId(input.identityId, 'identity');
    const name = requireText(input.name, 'API key name', 200);
    const now = Date.now();
    let expiresAt = resolveExpiry(input, now, 'API key');
    const self = identityId === actor.identity.id;
    if (self && actor.keyExpiresAt !== null) {
      if (expiresAt === null || expiresAt > actor.keyExpiresAt) {
        throw badUserInput(
          `A key you create for yourself cannot outlive the ${actor.token ? 'token' : 'key'} you are using, which expires at ${actor.keyExpiresAt.toISOString()}; give a shorter ttlSeconds.`,
          { field: 'ttlSeconds' },
        );
      }
      expiresAt = expiresAt ?? actor.keyExpiresAt;
    }
    const asked = parseKeyScopes(input.scopes);
    const jkt = parseThumbprint(input.jkt);
    const secret = generateSecret();
    try {
      return await runChange(this.database, actor, async (tx) => {
        const [target] = await tx.select().from(identities).where(eq(identities.id, identityId));
        if (target === undefined) throw notFound(`Identity ${identityId} does not exist.`);
        if (target.status === 'DISABLED')
          throw conflict(`Identity "${target.name}" is disabled; it cannot get API keys.`);
        if (asked !== null) await assertDefined(tx, asked);
        if (self && asked !== null) {
          const held = new GrantSet(actor.grants);
          const missing = asked.find(
            (entry) => held.coveringAll(entry.scope, entry.resource, now).length === 0,
          );
          if (missing !== undefined) {
            throw forbidden(
              `A key for yourself can name only what you hold; you do not hold "${missing.scope}" on ${describeResource(missing.resource)}.`,
              { required: { scope: missing.scope, resource: missing.resource } },
            );
          }
        }
        let scopes: readonly KeyScope[] | null = asked ?? (self ? actor.keyScopes : null);
        if (!self) {
          const authority = (await loadAuthority(tx, actorOf(actor))).grants.filter(
            (g) => isUnconditional(g) && lastsUntil(g.expiresAt, expiresAt),
          );
          const lasting = new GrantSet(authority);
          const beyond = (asked ?? []).find(
            (entry) => lasting.coveringAll(entry.scope, entry.resource, now).length === 0,
          );
          if (beyond !== undefined) {
            throw forbidden(
              `A key for another identity can name only what you may delegate for its whole life; you do not hold "${beyond.scope}" on ${describeResource(beyond.resource)} with grantable: true, without a condition${expiresAt === null ? ' and without expiry' : ` until ${expiresAt.toISOString()}`}.`,
              { required: { scope: beyond.scope, resource: beyond.resource, grantable: true } },
            );
          }
          scopes = minimalKeyScopes(
            asked ?? authority.map((g) => ({ scope: g.scope, resource: g.resource })),
          );
        }
        const [row] = await tx
          .insert(apiKeys)
          .values({
            identityId,
            name,
            prefix: secret.prefix,
            secretHash: secret.hash,
            expiresAt,
            createdBy: actor.identity.id,
            scopes: scopes === null ? null : [...scopes],
            jkt,
          })
          .returning();
        if (row === undefined) throw new Error('Insert returned no API key row.');
        await recordChange(tx, actor, {
          action: 'apikey.created',
          subjectId: row.id,
          details: {
            after: {
              identityId,
              name,
              prefix: row.prefix,
              expiresAt: expiresAt?.toISOString() ?? null,
              scopes,
              jkt,
            },
          },
        });
        return { secret: secret.secret, apiKey: row };
      });
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION) {
        throw conflict(`The identity already has a live API key named "${name}".`);
      }
      throw error;
    }
  }

  async revoke(actor: Caller, rawId: string): Promise<ApiKeyRow> {
    const id = parseId(rawId, 'API key');
    return runChange(this.database, actor, async (tx) => {
      const [current] = await tx.select().from(apiKeys).where(eq(apiKeys.id, id)).for('update');
      if (current === undefined) throw notFound(`API key ${id} does not exist.`);
      if (current.revokedAt !== null) {
        throw conflict(
          `API key ${current.prefix} was already revoked at ${current.revokedAt.toISOString()}.`,
        );
      }
      const [row] = await tx
        .update(apiKeys)
        .set({ revokedAt: new Date(), revokedBy: actor.identity.id })
        .where(eq(apiKeys.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no API key row.');
      await recordChange(tx, actor, {
        action: 'apikey.revoked',
        subjectId: id,
        details: { before: { identityId: current.identityId, prefix: current.prefix } },
      });
      return row;
    });
  }
}

/** Whether authority ending at `ends` lasts as long as a key ending at `keyEnds`. */
function lastsUntil(ends: Date | null, keyEnds: Date | null): boolean {
  if (ends === null) return true;
  return keyEnds !== null && ends.getTime() >= keyEnds.getTime();
}

/** `createApiKey`'s `scopes`, validated: at most `MAX_KEY_SCOPES`, each a scope on a resource pattern. */
function parseKeyScopes(input: CreateApiKeyInput['scopes']): KeyScope[] | null {
  if (input === null || input === undefined) return null;
  if (input.length > MAX_KEY_SCOPES) {
    throw badUserInput(
      `A key may name at most ${MAX_KEY_SCOPES} scopes; ${input.length} were given.`,
      { field: 'scopes' },
    );
  }
  return minimalKeyScopes(
    input.map((entry) => ({
      scope: requireScopeName(entry.scope, 'scopes').name,
      resource: parseResourcePattern(entry.resource),
    })),
  );
}

/** Refuses a key naming a scope that is not defined (`BAD_USER_INPUT`, naming it). */
async function assertDefined(tx: Tx, entries: readonly KeyScope[]): Promise<void> {
  const names = [...new Set(entries.map((e) => e.scope))];
  if (names.length === 0) return;
  const rows = await tx
    .select({ name: scopeTable.name })
    .from(scopeTable)
    .where(inArray(scopeTable.name, names));
  const defined = new Set(rows.map((r) => r.name));
  const unknown = names.find((name) => !defined.has(name));
  if (unknown !== undefined) {
    throw badUserInput(`Scope "${unknown}" is not defined; a key can name only defined scopes.`, {
      field: 'scopes',
    });
  }
}

/** `createApiKey`'s `jkt`: a base64url SHA-256 JWK thumbprint (RFC 7638), 43 characters. */
function parseThumbprint(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (!THUMBPRINT.test(value)) {
    throw badUserInput(
      'jkt must be the base64url SHA-256 thumbprint of a JWK (RFC 7638): 43 characters of A-Z, a-z, 0-9, "-" and "_".',
      { field: 'jkt' },
    );
  }
  return value;
}
