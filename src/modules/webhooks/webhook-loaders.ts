import DataLoader from 'dataloader';
import { and, desc, eq, getTableColumns, inArray, lt, lte, type SQL, sql } from 'drizzle-orm';
import { badUserInput } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { loaderByKey } from '../../db/loader-by-key.js';
import {
  type WebhookDeliveryRow,
  type WebhookRow,
  webhookDeliveries,
  webhooks,
} from '../../db/tables.js';
import { type Page, pageSize, toPage } from '../shared/pagination.js';

export type DeliveryStatus = WebhookDeliveryRow['status'];

/** One page of a webhook's deliveries, newest event first; build it with `deliveriesKey`. */
export interface DeliveriesKey {
  readonly webhookId: string;
  readonly size: number;
  /** Deliveries of events before this audit event id; null from the newest. */
  readonly before: number | null;
  readonly status: DeliveryStatus | null;
}

/** Per-request loaders: one statement per kind, however many webhooks a query lists. */
export interface WebhookLoaders {
  readonly webhook: DataLoader<string, WebhookRow | null>;
  readonly deliveries: DataLoader<DeliveriesKey, Page<WebhookDeliveryRow>, string>;
}

function encodeEventCursor(eventId: number): string {
  return Buffer.from(`event:${eventId}`).toString('base64url');
}

function decodeEventCursor(after: string | null | undefined): number | null {
  if (after === null || after === undefined) return null;
  const match = /^event:(\d{1,18})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
  if (match === null)
    throw badUserInput('"after" is not a cursor this API returned.', { field: 'after' });
  return Number(match[1]);
}

/** Validates a page request (`first`, `after`); `BAD_USER_INPUT` when malformed. */
export function deliveriesKey(
  webhookId: string,
  args: { first?: number | null; after?: string | null; status?: DeliveryStatus | null },
): DeliveriesKey {
  return {
    webhookId,
    size: pageSize(args.first),
    before: decodeEventCursor(args.after),
    status: args.status ?? null,
  };
}

export function createWebhookLoaders(database: Database): WebhookLoaders {
  const { db } = database;
  const webhook = loaderByKey<WebhookRow>(
    (keys) => db.select().from(webhooks).where(inArray(webhooks.id, keys)),
    (row) => row.id,
  );

  // Keys asking for the same page shape share one statement: each webhook's newest rows are
  // ranked by a window function and the first `size + 1` kept.
  const deliveries = new DataLoader<DeliveriesKey, Page<WebhookDeliveryRow>, string>(
    async (keys) => {
      const shapes = new Map<string, { shape: DeliveriesKey; indexes: number[] }>();
      const results: Page<WebhookDeliveryRow>[] = [];
      for (const [index, key] of keys.entries()) {
        const name = `${key.size}:${key.before}:${key.status}`;
        const group = shapes.get(name);
        if (group === undefined) shapes.set(name, { shape: key, indexes: [index] });
        else group.indexes.push(index);
      }
      for (const { shape, indexes } of shapes.values()) {
        const { size, before, status } = shape;
        const ids = [...new Set(indexes.map((i) => (keys[i] as DeliveriesKey).webhookId))];
        const conditions: SQL[] = [inArray(webhookDeliveries.webhookId, ids)];
        if (status !== null) conditions.push(eq(webhookDeliveries.status, status));
        if (before !== null) conditions.push(lt(webhookDeliveries.eventId, before));
        if (ids.length === 1) {
          // One webhook (the usual `webhook(id)`): a plain index range scan.
          const rows = await db
            .select()
            .from(webhookDeliveries)
            .where(and(...conditions))
            .orderBy(desc(webhookDeliveries.eventId))
            .limit(size + 1);
          for (const index of indexes) {
            results[index] = toPage(rows, size, (r) => encodeEventCursor(r.eventId));
          }
          continue;
        }
        const ranked = db
          .select({
            ...getTableColumns(webhookDeliveries),
            rank: sql<number>`row_number() over (partition by ${webhookDeliveries.webhookId} order by ${webhookDeliveries.eventId} desc)`.as(
              'rank',
            ),
          })
          .from(webhookDeliveries)
          .where(and(...conditions))
          .as('ranked');
        const rows = await db
          .select()
          .from(ranked)
          .where(lte(ranked.rank, size + 1))
          .orderBy(desc(ranked.eventId));
        for (const index of indexes) {
          const webhookId = (keys[index] as DeliveriesKey).webhookId;
          const own = rows.filter((r) => r.webhookId === webhookId);
          results[index] = toPage(own, size, (r) => encodeEventCursor(r.eventId));
        }
      }
      return results;
    },
    {
      cacheKeyFn: (k) => `${k.webhookId}|${k.size}|${k.before}|${k.status}`,
    },
  );
  return { webhook, deliveries };
}
