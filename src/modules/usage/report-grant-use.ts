import { and, inArray } from 'drizzle-orm';
import { badUserInput } from 'keyholder-directive/errors.js';
import type { Database } from '../../db/client.js';
import { grants } from '../../db/tables.js';
import { liveGrant } from '../grants/live-grants.js';
import { parseId } from '../shared/validate.js';
import type { GrantUsageRecorder } from './grant-usage-recorder.js';

/** The most grant ids one report may carry. */
export const MAX_REPORTED_GRANTS = 1_000;

/**
 * Counts one use of each live grant among `rawIds`, reported by an enforcement point outside
 * Keyholder (a `remoteGrants` service): written like any other use, off the request path. Ids of
 * grants that are not live are ignored (one statement reads which are); a malformed id or more
 * than `MAX_REPORTED_GRANTS` is `BAD_USER_INPUT`. Returns how many uses were counted.
 */
export async function reportGrantUse(
  database: Database,
  recorder: GrantUsageRecorder,
  rawIds: readonly string[],
): Promise<number> {
  if (rawIds.length > MAX_REPORTED_GRANTS) {
    throw badUserInput(`grantIds may hold at most ${MAX_REPORTED_GRANTS} ids.`, {
      field: 'grantIds',
    });
  }
  const ids = [...new Set(rawIds.map((id) => parseId(id, 'grant')))];
  if (ids.length === 0) return 0;
  const live = await database.db
    .select({ id: grants.id })
    .from(grants)
    .where(and(inArray(grants.id, ids), liveGrant()));
  recorder.record(live.map((row) => row.id));
  return live.length;
}
