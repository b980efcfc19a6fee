import DataLoader from 'dataloader';
import {
  and,
  asc,
  count,
  getTableColumns,
  gt,
  inArray,
  isNotNull,
  isNull,
  lte,
  type SQL,
  sql,
} from 'drizzle-orm';
import { badUserInput } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { loaderByKey } from '../../db/loader-by-key.js';
import {
  type AccessReviewItemRow,
  type AccessReviewRow,
  accessReviewItems,
  accessReviews,
  type GrantRow,
  grants,
} from '../../db/tables.js';
import { type Page, pageSize, toPage } from '../shared/pagination.js';
import { isUuid } from '../shared/validate.js';

/** One page of a review's items (in item id order); build it with `itemsKey`. */
export interface ItemsKey {
  readonly reviewId: string;
  readonly size: number;
  /** Items after this item id; null from the first. */
  readonly after: string | null;
  /** true: decided only; false: undecided only; null: all. */
  readonly decided: boolean | null;
}

export interface AccessReviewCounts {
  readonly total: number;
  readonly pending: number;
  readonly kept: number;
  readonly revoked: number;
}

/** Per-request loaders: one statement per kind, however many reviews and items a query lists. */
export interface AccessReviewLoaders {
  readonly review: DataLoader<string, AccessReviewRow | null>;
  readonly items: DataLoader<ItemsKey, Page<AccessReviewItemRow>, string>;
  readonly counts: DataLoader<string, AccessReviewCounts>;
  /** Grant rows by id (an item's grant). */
  readonly grant: DataLoader<string, GrantRow | null>;
}

function encodeItemCursor(item: AccessReviewItemRow): string {
  return Buffer.from(`item:${item.id}`).toString('base64url');
}

function decodeItemCursor(after: string | null | undefined): string | null {
  if (after === null || after === undefined) return null;
  const match = /^item:(.+)$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
  if (match === null || !isUuid(match[1] as string)) {
    throw badUserInput('"after" is not a cursor this API returned.', { field: 'after' });
  }
  return match[1] as string;
}

/** Validates a page request (`first`, `after`); `BAD_USER_INPUT` when malformed. */
export function itemsKey(
  reviewId: string,
  args: { first?: number | null; after?: string | null; decided?: boolean | null },
): ItemsKey {
  return {
    reviewId,
    size: pageSize(args.first),
    after: decodeItemCursor(args.after),
    decided: args.decided ?? null,
  };
}

export function createAccessReviewLoaders(database: Database): AccessReviewLoaders {
  const { db } = database;
  const review = loaderByKey<AccessReviewRow>(
    (keys) => db.select().from(accessReviews).where(inArray(accessReviews.id, keys)),
    (row) => row.id,
  );

  const grant = loaderByKey<GrantRow>(
    (keys) => db.select().from(grants).where(inArray(grants.id, keys)),
    (row) => row.id,
  );

  const counts = new DataLoader<string, AccessReviewCounts>(async (ids) => {
    const rows = await db
      .select({
        reviewId: accessReviewItems.reviewId,
        decision: accessReviewItems.decision,
        n: count(),
      })
      .from(accessReviewItems)
      .where(inArray(accessReviewItems.reviewId, [...ids]))
      .groupBy(accessReviewItems.reviewId, accessReviewItems.decision);
    return ids.map((id) => {
      const own = rows.filter((r) => r.reviewId === id);
      const of = (decision: string | null) =>
        Number(own.find((r) => r.decision === decision)?.n ?? 0);
      const kept = of('KEEP');
      const revoked = of('REVOKE');
      const pending = of(null);
      return { total: kept + revoked + pending, pending, kept, revoked };
    });
  });

  // Keys asking for the same page shape share one statement: each review's first `size + 1`
  // items after the cursor, ranked by a window function when several reviews are asked for.
  const items = new DataLoader<ItemsKey, Page<AccessReviewItemRow>, string>(
    async (keys) => {
      const shapes = new Map<string, { shape: ItemsKey; indexes: number[] }>();
      const results: Page<AccessReviewItemRow>[] = [];
      for (const [index, key] of keys.entries()) {
        const name = `${key.size}:${key.after}:${key.decided}`;
        const group = shapes.get(name);
        if (group === undefined) shapes.set(name, { shape: key, indexes: [index] });
        else group.indexes.push(index);
      }
      for (const { shape, indexes } of shapes.values()) {
        const { size, after, decided } = shape;
        const ids = [...new Set(indexes.map((i) => (keys[i] as ItemsKey).reviewId))];
        const conditions: SQL[] = [inArray(accessReviewItems.reviewId, ids)];
        if (decided === true) conditions.push(isNotNull(accessReviewItems.decision));
        if (decided === false) conditions.push(isNull(accessReviewItems.decision));
        if (after !== null) conditions.push(gt(accessReviewItems.id, after));
        const ranked = db
          .select({
            ...getTableColumns(accessReviewItems),
            rank: sql<number>`row_number() over (partition by ${accessReviewItems.reviewId} order by ${accessReviewItems.id})`.as(
              'rank',
            ),
          })
          .from(accessReviewItems)
          .where(and(...conditions))
          .as('ranked');
        const rows =
          ids.length === 1
            ? await db
                .select()
                .from(accessReviewItems)
                .where(and(...conditions))
                .orderBy(asc(accessReviewItems.id))
                .limit(size + 1)
            : await db
                .select()
                .from(ranked)
                .where(lte(ranked.rank, size + 1))
                .orderBy(asc(ranked.id));
        for (const index of indexes) {
          const reviewId = (keys[index] as ItemsKey).reviewId;
          const own = (rows as AccessReviewItemRow[]).filter((r) => r.reviewId === reviewId);
          results[index] = toPage(
            own.map((r) => stripRank(r)),
            size,
            encodeItemCursor,
          );
        }
      }
      return results;
    },
    { cacheKeyFn: (k) => `${k.reviewId}|${k.size}|${k.after}|${k.decided}` },
  );
  return { review, items, counts, grant };
}

function stripRank(row: AccessReviewItemRow & { rank?: number }): AccessReviewItemRow {
  const { rank: _rank, ...item } = row;
  return item;
}
