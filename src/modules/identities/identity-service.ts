import { and, asc, eq, ilike, or, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { type IdentityRow, identities } from '../../db/tables.js';
import { badUserInput, conflict, notFound } from '../../errors.js';
import { recordChange } from '../audit/record-change.js';
import { keepRootHolders } from '../grants/root-holders.js';
import type { Caller } from '../keys/authenticate.js';
import { runChange } from '../revision/run-change.js';
import { sqlState, UNIQUE_VIOLATION } from '../shared/db-errors.js';
import {
  afterCursor,
  decodeCursor,
  encodeCursor,
  type Page,
  pageSize,
  toPage,
} from '../shared/pagination.js';
import { optionalText, parseId, requireText } from '../shared/validate.js';

export const IDENTITY_KINDS = ['USER', 'SERVICE', 'AGENT'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export interface CreateIdentityInput {
  readonly name: string;
  readonly kind: IdentityKind;
  readonly externalId?: string | null;
}

export interface IdentityFilter {
  readonly kind?: IdentityKind | null;
  readonly status?: 'ACTIVE' | 'DISABLED' | null;
  readonly nameContains?: string | null;
  readonly externalId?: string | null;
}

/** Identities: creation, disabling and listing. Authorization is the directive's job. */
export class IdentityService {
  constructor(private readonly database: Database) {}

  async create(actor: Caller, input: CreateIdentityInput): Promise<IdentityRow> {
    const name = requireText(input.name, 'Identity name', 200);
    const externalId = optionalText(input.externalId, 'externalId', 512);
    if (!IDENTITY_KINDS.includes(input.kind))
      throw badUserInput(`Identity kind "${input.kind}" is not known.`);
    try {
      return await runChange(this.database, actor, async (tx) => {
        const [row] = await tx
          .insert(identities)
          .values({ name, kind: input.kind, externalId, createdBy: actor.identity.id })
          .returning();
        if (row === undefined) throw new Error('Insert returned no identity row.');
        await recordChange(tx, actor, {
          action: 'identity.created',
          subjectId: row.id,
          details: { after: { name, kind: input.kind, externalId } },
        });
        return row;
      });
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION) {
        const existing = await this.database.db
          .select({ id: identities.id, name: identities.name })
          .from(identities)
          .where(
            externalId === null
              ? eq(identities.name, name)
              : or(eq(identities.name, name), eq(identities.externalId, externalId)),
          );
        const byName = existing.find((e) => e.name === name);
        throw byName
          ? conflict(`An identity named "${name}" already exists.`, { existingId: byName.id })
          : conflict(`An identity with externalId "${externalId}" already exists.`, {
              existingId: existing[0]?.id,
            });
      }
      throw error;
    }
  }

  async disable(actor: Caller, rawId: string): Promise<IdentityRow> {
    const id = parseId(rawId, 'identity');
    if (id === actor.identity.id) {
      throw badUserInput('You cannot disable your own identity; ask another administrator.');
    }
    return runChange(this.database, actor, async (tx) => {
      const [current] = await tx
        .select()
        .from(identities)
        .where(eq(identities.id, id))
        .for('update');
      if (current === undefined) throw notFound(`Identity ${id} does not exist.`);
      if (current.status === 'DISABLED') return current;
      await keepRootHolders(tx, { identityId: id }, `Disabling "${current.name}"`);
      const [row] = await tx
        .update(identities)
        .set({ status: 'DISABLED', disabledAt: new Date(), disabledBy: actor.identity.id })
        .where(eq(identities.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no identity row.');
      await recordChange(tx, actor, {
        action: 'identity.disabled',
        subjectId: id,
        details: { before: { status: current.status }, after: { status: 'DISABLED' } },
      });
      return row;
    });
  }

  async list(
    first: number | null | undefined,
    after: string | null | undefined,
    filter: IdentityFilter | null | undefined,
  ): Promise<Page<IdentityRow>> {
    const size = pageSize(first);
    const cursor = decodeCursor(after);
    const conditions: SQL[] = [];
    if (filter?.kind) conditions.push(eq(identities.kind, filter.kind));
    if (filter?.status) conditions.push(eq(identities.status, filter.status));
    if (filter?.externalId) conditions.push(eq(identities.externalId, filter.externalId));
    if (filter?.nameContains) {
      const escaped = filter.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`);
      conditions.push(ilike(identities.name, `%${escaped}%`));
    }
    if (cursor) conditions.push(afterCursor(identities.createdAt, identities.id, cursor));
    const rows = await this.database.db
      .select()
      .from(identities)
      .where(and(...conditions))
      .orderBy(asc(identities.createdAt), asc(identities.id))
      .limit(size + 1);
    return toPage(rows, size, encodeCursor);
  }
}
