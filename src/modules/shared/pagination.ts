import { type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { badUserInput } from 'keyholder-directive/errors.js';
import { isUuid } from './validate.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** Position after which a page starts: the last row's creation time and id. */
export interface Cursor {
  readonly createdAt: Date;
  readonly id: string;
}

export interface Page<T> {
  readonly nodes: readonly T[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badUserInput(`first must be a whole number from 1 to ${MAX_PAGE_SIZE}; got ${first}.`, {
      field: 'first',
    });
  }
  return first;
}

export function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString('base64url');
}

export function decodeCursor(after: string | null | undefined): Cursor | null {
  if (after === null || after === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      isUuid(value[1])
    ) {
      const createdAt = new Date(value[0]);
      if (!Number.isNaN(createdAt.getTime())) return { createdAt, id: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw badUserInput(`"after" is not a cursor this API returned.`, { field: 'after' });
}

/** Builds a page from `size + 1` fetched rows; `cursorOf` encodes the last row's position. */
export function toPage<T>(rows: readonly T[], size: number, cursorOf: (row: T) => string): Page<T> {
  const nodes = rows.slice(0, size);
  const last = nodes.at(-1);
  return {
    nodes,
    pageInfo: {
      hasNextPage: rows.length > size,
      endCursor: last === undefined ? null : cursorOf(last),
    },
  };
}

/**
 * Rows strictly after `cursor` in (createdAt, id) order: the keyset condition for a page, written
 * as a row comparison so that PostgreSQL uses it as the bound of a `(created_at, id)` index scan
 * (the `a > t or (a = t and b > x)` spelling reads every row before the page).
 */
export function afterCursor(createdAt: PgColumn, id: PgColumn, cursor: Cursor): SQL {
  return sql`(${createdAt}, ${id}) > (${cursor.createdAt.toISOString()}::timestamptz, ${cursor.id}::uuid)`;
}
