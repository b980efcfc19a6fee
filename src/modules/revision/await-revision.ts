import { badUserInput, conflict } from 'keyholder-directive/errors.js';
import type { KeyholderContext } from '../../context/keyholder-context.js';
import type { Loaders } from '../../context/loaders.js';
import type { Prefetch } from '../keys/authentication.js';
import { compareRevisions, type Revision } from './revision.js';

/** Pauses between re-reads while waiting for a revision: about 0.3 s in all. */
const RETRY_DELAYS_MS = [0, 10, 20, 40, 80, 150] as const;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fresh loaders whose state reflects at least `atLeast`, for a decision asked to (the request's
 * own snapshot is older). With one shared database a revision a client was given is always
 * visible to requests it starts afterwards, so this runs only for revisions from the future:
 * - above the newest revision ever issued: `BAD_USER_INPUT`, at once;
 * - issued but not yet visible (a change still committing, or one rolled back, took that number):
 *   re-read up to six times over about 0.3 s, then `CONFLICT` naming both revisions.
 */
export async function awaitRevision(
  ctx: KeyholderContext,
  atLeast: Revision,
  prefetch: Prefetch,
): Promise<{ revision: Revision; loaders: Loaders }> {
  const issued = await ctx.services.revisions.newestIssued();
  if (compareRevisions(atLeast, issued) > 0) {
    throw badUserInput(
      `Revision ${atLeast} has not been issued yet: the newest revision is ${issued}.`,
      { atLeastRevision: atLeast, newestRevision: issued },
    );
  }
  for (const delay of RETRY_DELAYS_MS) {
    if (delay > 0) await pause(delay);
    const fresh = await ctx.reread(prefetch);
    ctx.revisions.saw(fresh.revision);
    if (compareRevisions(fresh.revision, atLeast) >= 0) return fresh;
  }
  const seen = ctx.revisions.seen;
  throw conflict(
    `This instance sees revision ${seen}, older than revision ${atLeast} asked for by atLeastRevision; that revision has been issued but is not visible yet. Try again shortly.`,
    { revision: seen, atLeastRevision: atLeast },
  );
}
