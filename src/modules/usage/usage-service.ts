import type { Database } from '../../db/client.js';
import type { ScopeRow } from '../../db/tables.js';
import type { Caller } from '../keys/authentication.js';
import type { Page } from '../shared/pagination.js';
import type { GrantUsageRecorder } from './grant-usage-recorder.js';
import { reportGrantUse } from './report-grant-use.js';
import { setScopeReaping } from './scope-reaping.js';
import { type GrantWithUsage, unusedGrants } from './unused-grants.js';

/** Grant usage queries and reaping policies (see `unusedGrants`, `setScopeReaping`). */
export class UsageService {
  constructor(private readonly database: Database) {}

  unusedGrants(
    olderThanSeconds: number,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<Page<GrantWithUsage>> {
    return unusedGrants(this.database, olderThanSeconds, first, after);
  }

  /** Counts reported uses of live grants (see `reportGrantUse`). */
  reportUses(recorder: GrantUsageRecorder, grantIds: readonly string[]): Promise<number> {
    return reportGrantUse(this.database, recorder, grantIds);
  }

  setScopeReaping(
    actor: Caller,
    scope: string,
    unusedForSeconds: number | null | undefined,
  ): Promise<ScopeRow> {
    return setScopeReaping(this.database, actor, scope, unusedForSeconds);
  }
}
