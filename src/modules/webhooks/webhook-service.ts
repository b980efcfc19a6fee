import { and, asc, eq, inArray } from 'drizzle-orm';
import { badUserInput, conflict, forbidden, notFound } from 'keyholder-directive/errors.js';
import type { Database, Tx } from '../../db/client.js';
import {
  identities,
  scopes,
  type WebhookRow,
  webhookDeliveries,
  webhooks,
} from '../../db/tables.js';
import { recordChange } from '../audit/record-change.js';
import type { Caller } from '../keys/authentication.js';
import { runChange } from '../revision/run-change.js';
import { optionalText, parseId, requireScopeName } from '../shared/validate.js';
import { describeWebhookActions, parseWebhookActions } from './webhook-action-filter.js';
import { WEBHOOK_SCOPES, webhookOwnerRights } from './webhook-owner-rights.js';
import { generateWebhookSecret } from './webhook-signature.js';
import { WebhookTargets } from './webhook-target.js';
import { parseWebhookUrl } from './webhook-url.js';

export interface CreateWebhookInput {
  readonly url: string;
  readonly actions: readonly string[];
  readonly scopes?: readonly string[] | null;
  /** Only events about sensitive scopes (`details.sensitive`). @default false */
  readonly sensitiveOnly?: boolean | null;
  readonly description?: string | null;
  /** Whose rights the deliveries need: the caller (default) or a SERVICE identity it owns. */
  readonly ownerId?: string | null;
}

const MAX_SCOPES = 50;

/** What a delivery left pending says once its webhook is disabled. */
export const DISABLED_BEFORE_DELIVERY = 'The webhook was disabled before this event was delivered.';

function parseScopes(names: readonly string[] | null | undefined): string[] | null {
  if (names === null || names === undefined) return null;
  if (names.length === 0) {
    throw badUserInput('scopes must name at least one scope; omit it for events of any scope.', {
      field: 'scopes',
    });
  }
  if (names.length > MAX_SCOPES) {
    throw badUserInput(`scopes may have at most ${MAX_SCOPES} entries.`, { field: 'scopes' });
  }
  return [...new Set(names.map((name) => requireScopeName(name, 'scopes').name))];
}

/** The audit record of a webhook: never its secret. */
function described(row: WebhookRow): Record<string, unknown> {
  return {
    url: row.url,
    actions: describeWebhookActions(row),
    scopes: row.scopes,
    sensitiveOnly: row.sensitiveOnly,
    description: row.description,
    ownerId: row.ownerId ?? row.createdBy,
  };
}

/**
 * Webhooks: where audit events are sent. Creating one returns its signing secret once; disabling
 * one stops every call to its URL, abandoning what was still pending (marked FAILED).
 */
export class WebhookService {
  constructor(
    private readonly database: Database,
    private readonly targets: WebhookTargets = new WebhookTargets(),
  ) {}

  async create(
    actor: Caller,
    input: CreateWebhookInput,
  ): Promise<{ secret: string; webhook: WebhookRow }> {
    const url = parseWebhookUrl(input.url);
    this.targets.assertAllowedUrl(url);
    const filter = parseWebhookActions(input.actions);
    const scopeNames = parseScopes(input.scopes);
    const description = optionalText(input.description, 'description', 1000);
    const secret = generateWebhookSecret();
    const ownerId =
      input.ownerId === null || input.ownerId === undefined
        ? actor.identity.id
        : parseId(input.ownerId, 'identity');
    return runChange(this.database, actor, async (tx) => {
      if (ownerId !== actor.identity.id) await assertMayOwnWebhooks(tx, actor, ownerId);
      if (scopeNames !== null) {
        const defined = new Set(
          (
            await tx
              .select({ name: scopes.name })
              .from(scopes)
              .where(inArray(scopes.name, scopeNames))
          ).map((r) => r.name),
        );
        const missing = scopeNames.find((name) => !defined.has(name));
        if (missing !== undefined) throw notFound(`Scope "${missing}" is not defined.`);
      }
      const [row] = await tx
        .insert(webhooks)
        .values({
          url,
          actions: filter.actions,
          actionPrefixes: filter.actionPrefixes,
          scopes: scopeNames,
          sensitiveOnly: input.sensitiveOnly ?? false,
          description,
          secret,
          createdBy: actor.identity.id,
          ownerId,
        })
        .returning();
      if (row === undefined) throw new Error('Insert returned no webhook row.');
      await recordChange(tx, actor, {
        action: 'webhook.created',
        subjectId: row.id,
        details: { after: described(row) },
      });
      return { secret, webhook: row };
    });
  }

  async disable(actor: Caller, rawId: string): Promise<WebhookRow> {
    const id = parseId(rawId, 'webhook');
    return runChange(this.database, actor, async (tx) => {
      const [current] = await tx.select().from(webhooks).where(eq(webhooks.id, id)).for('update');
      if (current === undefined) throw notFound(`Webhook ${id} does not exist.`);
      if (!current.active) {
        throw conflict(
          `Webhook ${id} was already disabled at ${current.disabledAt?.toISOString() ?? 'an unknown time'}.`,
        );
      }
      const [row] = await tx
        .update(webhooks)
        .set({ active: false, disabledAt: new Date(), disabledBy: actor.identity.id })
        .where(eq(webhooks.id, id))
        .returning();
      if (row === undefined) throw new Error('Update returned no webhook row.');
      const abandoned = await tx
        .update(webhookDeliveries)
        .set({ status: 'FAILED', nextAttemptAt: null, lastError: DISABLED_BEFORE_DELIVERY })
        .where(and(eq(webhookDeliveries.webhookId, id), eq(webhookDeliveries.status, 'PENDING')))
        .returning({ id: webhookDeliveries.id });
      await recordChange(tx, actor, {
        action: 'webhook.disabled',
        subjectId: id,
        details: { before: described(current), abandonedDeliveries: abandoned.length },
      });
      return row;
    });
  }

  async list(): Promise<WebhookRow[]> {
    return this.database.db
      .select()
      .from(webhooks)
      .orderBy(asc(webhooks.createdAt), asc(webhooks.id));
  }
}

/**
 * A webhook owned by `ownerId` (not the caller) is an organisation's: only a SERVICE identity the
 * caller owns may own it (`FORBIDDEN` otherwise, `NOT_FOUND` when unknown), and it must hold what
 * its deliveries need now (`BAD_USER_INPUT`: it would be paused at once). Its own grants are then
 * what keeps the webhook delivering, reviewed like any other.
 */
async function assertMayOwnWebhooks(tx: Tx, actor: Caller, ownerId: string): Promise<void> {
  const [owner] = await tx.select().from(identities).where(eq(identities.id, ownerId));
  if (owner === undefined) throw notFound(`Identity ${ownerId} does not exist.`);
  if (owner.kind !== 'SERVICE' || owner.ownerId !== actor.identity.id) {
    throw forbidden(
      `A webhook is owned by its creator or by a SERVICE identity the creator owns, and "${owner.name}" is not one you own.`,
      { field: 'ownerId' },
    );
  }
  const right = (await webhookOwnerRights(tx, [ownerId])).get(ownerId);
  if (right?.ok !== true) {
    throw badUserInput(
      `The webhook would be paused at once: ${right?.why ?? `"${owner.name}" holds nothing`} (${WEBHOOK_SCOPES.join(', ')} are needed).`,
      { field: 'ownerId' },
    );
  }
}
