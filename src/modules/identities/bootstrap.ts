import { count, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiKeys, grants, identities, scopes } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { grantCreated } from '../grants/grant-events.js';
import { generateSecret, hashSecret, prefixOf } from '../keys/api-key-secret.js';
import { runChange } from '../revision/run-change.js';
import { BUILTIN_SCOPES } from '../scopes/builtin-scopes.js';
import { grantUpgradedBuiltins, type UpgradeGrant } from './grant-upgraded-builtins.js';

const BOOTSTRAP_LOCK = 7_291_005;

export interface BootstrapResult {
  /** Present only on the start that created the admin; `generated` when Keyholder chose the key. */
  readonly admin?: { readonly id: string; readonly secret: string; readonly generated: boolean };
  /** Built-in scopes added by an upgrade that this start granted to the root admins. */
  readonly upgradeGrants: readonly UpgradeGrant[];
}

/**
 * Seeds the built-in scopes (every start) and, on an empty database, the root admin: an identity
 * holding every built-in scope grantable, with `BOOTSTRAP_ADMIN_KEY` or a generated key. On an
 * existing database, built-in scopes added by an upgrade go to the root admins.
 * Serialised by an advisory lock so concurrent first starts create one admin.
 */
export async function bootstrap(
  database: Database,
  adminKey: string | undefined,
): Promise<BootstrapResult> {
  return runChange(database, null, async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`);
    for (const scope of BUILTIN_SCOPES) {
      const [resource, action] = scope.name.split(':') as [string, string];
      const created = await tx
        .insert(scopes)
        .values({
          name: scope.name,
          resource,
          action,
          description: scope.description,
          builtin: true,
        })
        .onConflictDoNothing()
        .returning({ name: scopes.name });
      if (created.length > 0) {
        await recordChange(tx, null, {
          action: 'scope.defined',
          subjectId: scope.name,
          scopes: [scope.name],
          details: { after: { name: scope.name, description: scope.description, builtin: true } },
        });
      }
    }
    const [existing] = await tx.select({ n: count() }).from(identities);
    if ((existing?.n ?? 0) > 0) return { upgradeGrants: await grantUpgradedBuiltins(tx) };

    const [admin] = await tx
      .insert(identities)
      .values({ name: 'bootstrap-admin', kind: 'USER' })
      .returning({ id: identities.id });
    if (admin === undefined) throw new Error('Insert returned no admin row.');
    const secret = adminKey ?? generateSecret().secret;
    await recordChange(tx, null, {
      action: 'identity.created',
      subjectId: admin.id,
      details: {
        after: { name: 'bootstrap-admin', kind: 'USER' },
        reason: 'bootstrap',
      },
    });
    const [key] = await tx
      .insert(apiKeys)
      .values({
        identityId: admin.id,
        name: 'bootstrap',
        prefix: prefixOf(secret),
        secretHash: hashSecret(secret),
      })
      .returning({ id: apiKeys.id, prefix: apiKeys.prefix });
    if (key === undefined) throw new Error('Insert returned no API key row.');
    await recordChange(tx, null, {
      action: 'apikey.created',
      subjectId: key.id,
      details: { after: { identityId: admin.id, name: 'bootstrap', prefix: key.prefix } },
    });
    const reason = 'Bootstrap: the root admin is the root of every delegation chain.';
    const rootGrants = await tx
      .insert(grants)
      .values(
        BUILTIN_SCOPES.map((s) => ({
          identityId: admin.id,
          scope: s.name,
          reason,
          grantable: true,
        })),
      )
      .returning();
    for (const grant of rootGrants) {
      await recordChange(tx, null, grantCreated(grant, reason));
    }
    return {
      admin: { id: admin.id, secret, generated: adminKey === undefined },
      upgradeGrants: [],
    };
  });
}
