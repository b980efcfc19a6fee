import type { Authentication } from './authentication.js';
import { invalidDpopProof, type VerifiedProof, verifyDpopProof } from './dpop-proof.js';
import type { DpopReplayCache } from './dpop-replay-cache.js';

/**
 * How a request presented its credential, for proof of possession (RFC 9449):
 * - `bearer`: `Authorization: Bearer` (or no statement at all): a bound credential is refused;
 * - `proof`: `Authorization: DPoP`, with the request's `DPoP` header (`null` when absent) and the
 *   method and URL (without query) the proof must name;
 * - `proven`: possession of `jkt` was proven earlier for this same request or connection (a
 *   re-read within one request, a WebSocket's operations after `connection_init`); never from
 *   client input.
 */
export type Possession =
  | { readonly kind: 'bearer' }
  | {
      readonly kind: 'proof';
      readonly proof: string | null;
      readonly method: string;
      readonly url: string;
    }
  | { readonly kind: 'proven'; readonly jkt: string | null };

export const BEARER: Possession = { kind: 'bearer' };

/** What an authentication already proved: for re-reading within the same request or connection. */
export function provenBy(auth: Authentication): Possession {
  return { kind: 'proven', jkt: auth.caller.keyJkt };
}

/**
 * Holds an authentication to its credential's binding. `authenticate` runs only once a presented
 * proof verified (no I/O before: a bad proof costs no statement):
 * - a bound credential (`keyJkt`) needs a proof, or proven possession, of exactly that key;
 * - a `DPoP` request needs a proof, whether its credential is bound or not;
 * - a verified proof is then remembered in `replay`: one already used is refused, on every
 *   instance sharing the database.
 * Every refusal is `UNAUTHENTICATED` with reason `INVALID_DPOP_PROOF`.
 */
export async function authenticateWithPossession(
  credential: string,
  possession: Possession,
  replay: DpopReplayCache,
  authenticate: () => Promise<Authentication>,
): Promise<Authentication> {
  let verified: VerifiedProof | null = null;
  if (possession.kind === 'proof') {
    if (possession.proof === null) {
      throw invalidDpopProof(
        'A request with "Authorization: DPoP" must carry a DPoP proof in the "DPoP" header.',
      );
    }
    verified = await verifyDpopProof(possession.proof, {
      method: possession.method,
      url: possession.url,
      credential,
    });
  }
  const auth = await authenticate();
  const bound = auth.caller.keyJkt;
  const proven = verified?.jkt ?? (possession.kind === 'proven' ? possession.jkt : null);
  if (bound !== null && proven === null) {
    const what = auth.caller.token === undefined ? 'API key' : 'token';
    throw invalidDpopProof(
      `This ${what} is bound to a DPoP key: send it as "Authorization: DPoP <${what}>" with a DPoP proof signed by that key.`,
    );
  }
  if (bound !== null && proven !== bound) {
    throw invalidDpopProof(
      'The DPoP proof is signed by a key other than the one this credential is bound to.',
    );
  }
  if (verified !== null && !(await replay.remember(verified))) {
    throw invalidDpopProof(
      'This DPoP proof was already used; each proof authenticates one request.',
    );
  }
  return auth;
}
