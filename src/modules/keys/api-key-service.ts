import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type ApiKeyRow, apiKeys, identities } from '../../db/tables.js';
import { badUserInput, conflict, forbidden, notFound } from '../../errors.js';
import { recordChange } from '../audit/record-change.js';
import { loadAuthority } from '../grants/grant-authority.js';
import { loadLiveGrants } from '../grants/live-grants.js';
import { runChange } from '../revision/run-change.js';
import { sqlState, UNIQUE_VIOLATION } from '../shared/db-errors.js';
import { parseId, requireText, resolveExpiry } from '../shared/validate.js';
import { generateSecret } from './api-key-secret.js';
import type { Caller } from './authentication.js';

export interface CreateApiKeyInput {
  readonly identityId: string;
  readonly name: string;
  readonly ttlSeconds?: number | null;
}

/**
 * API keys. A key lets its holder act as its identity, so:
 * - a key for another identity needs the creator to hold, grantable, everything that identity holds;
 * - a key for yourself never outlives the key (or identity-provider token) you are using.
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
    const secret = generateSecret();
    try {
      return await runChange(this.database, actor, async (tx) => {
        const [target] = await tx.select().from(identities).where(eq(identities.id, identityId));
        if (target === undefined) throw notFound(`Identity ${identityId} does not exist.`);
        if (target.status === 'DISABLED')
          throw conflict(`Identity "${target.name}" is disabled; it cannot get API keys.`);
        if (!self) {
          const { grants: live } = await loadLiveGrants(tx, [identityId]);
          const held = live.get(identityId) ?? [];
          const authority = await loadAuthority(tx, actor.identity);
          const beyond = authority.beyond(held);
          if (beyond.length > 0) {
            const names = [...new Set(beyond.map((g) => g.scope))].map((s) => `"${s}"`).join(', ');
            throw forbidden(
              `A key for "${target.name}" would let you act with ${names}, which you do not hold grantable.`,
              { required: { grantable: [...new Set(beyond.map((g) => g.scope))] } },
            );
          }
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
