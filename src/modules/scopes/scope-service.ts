import { asc, eq } from 'drizzle-orm';
import { badUserInput, conflict } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { type GrantRow, grants, type ScopeRow, scopes } from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import { grantCreated, sensitiveFlag } from '../grants/grant-events.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { sqlState, UNIQUE_VIOLATION } from '../shared/db-errors.js';
import { requireScopeName } from '../shared/validate.js';
import { RESERVED_RESOURCES } from './builtin-scopes.js';
import { replaceAliases, requireAliases } from './scope-aliases.js';
import {
  applyPolicyInput,
  NO_POLICY,
  policyColumns,
  type ScopePolicyInput,
} from './scope-policy.js';
import { announceSensitivityChange } from './sensitive-scopes.js';
import { setScopeAliases } from './set-scope-aliases.js';
import { grantsOutlivingPolicy, setScopePolicy } from './set-scope-policy.js';

export interface DefineScopeInput {
  readonly name: string;
  readonly description?: string | null;
  /** Optional policy from the start (see `setScopePolicy`). */
  readonly policy?: ScopePolicyInput | null;
  /** Other names for it, as AuthZEN callers ask (see `setScopeAliases`). */
  readonly aliases?: readonly string[] | null;
}

/** Scope definitions. Defining a scope makes the definer the root of its delegation chain. */
export class ScopeService {
  constructor(private readonly database: Database) {}

  async define(actor: Caller, input: DefineScopeInput): Promise<ScopeRow> {
    const parsed = requireScopeName(input.name, 'name');
    const reservedRoot = parsed.resource.split(/[./]/)[0] as string;
    if (RESERVED_RESOURCES.includes(reservedRoot)) {
      throw badUserInput(
        `Resource "${reservedRoot}" is reserved for Keyholder's built-in scopes; choose another name.`,
        {
          field: 'name',
        },
      );
    }
    const policy = applyPolicyInput(NO_POLICY, input.policy ?? {}, actor.identity.id);
    const aliases = requireAliases(input.aliases, 'aliases');
    const description = (input.description ?? '').trim();
    if (description.length > 1000)
      throw badUserInput('description must be at most 1000 characters.', { field: 'description' });

    try {
      return await runChange(this.database, actor, async (tx) => {
        const [row] = await tx
          .insert(scopes)
          .values({
            name: parsed.name,
            resource: parsed.resource,
            action: parsed.action,
            description,
            createdBy: actor.identity.id,
            ...policyColumns(policy),
          })
          .returning();
        if (row === undefined) throw new Error('Insert returned no scope row.');
        const [grant] = await tx
          .insert(grants)
          .values({
            identityId: actor.identity.id,
            scope: parsed.name,
            reason: `Defined scope "${parsed.name}".`,
            grantedBy: actor.identity.id,
            grantable: true,
          })
          .returning();
        if (grant === undefined) throw new Error('Insert returned no grant row.');
        if (aliases.length > 0) await replaceAliases(tx, parsed.name, aliases);
        if (row.sensitive) await announceSensitivityChange(tx, row.name);
        await recordChange(tx, actor, {
          action: 'scope.defined',
          subjectId: parsed.name,
          scopes: [parsed.name],
          details: { after: { name: parsed.name, description, policy, aliases } },
        });
        await recordChange(
          tx,
          actor,
          grantCreated(grant, 'The definer of a scope holds it grantable.', sensitiveFlag(row)),
        );
        return row;
      });
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION)
        throw conflict(`Scope "${parsed.name}" is already defined.`);
      throw error;
    }
  }

  /** Changes a scope's policy (see `setScopePolicy`). */
  setPolicy(actor: Caller, name: string, input: ScopePolicyInput): Promise<ScopeRow> {
    return setScopePolicy(this.database, actor, name, input);
  }

  /** Replaces a scope's aliases (see `setScopeAliases`). */
  setAliases(
    actor: Caller,
    name: string,
    aliases: readonly string[],
    reason: string,
  ): Promise<ScopeRow> {
    return setScopeAliases(this.database, actor, name, aliases, reason);
  }

  /** Active grants a scope's `maxTtlSeconds` does not cover (see `grantsOutlivingPolicy`). */
  outliving(scope: ScopeRow): Promise<GrantRow[]> {
    return grantsOutlivingPolicy(this.database.db, scope.name, scope.maxTtlSeconds);
  }

  async list(): Promise<ScopeRow[]> {
    return this.database.db.select().from(scopes).orderBy(asc(scopes.name));
  }

  async get(name: string): Promise<ScopeRow | null> {
    const [row] = await this.database.db.select().from(scopes).where(eq(scopes.name, name));
    return row ?? null;
  }
}
