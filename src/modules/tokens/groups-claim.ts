import { unauthenticated } from 'keyholder-directive/errors.js';
import type { OidcIssuer } from './oidc-issuers.js';

/** The most values a groups claim may carry; a token with more is refused. */
export const MAX_GROUPS_CLAIM_VALUES = 1000;
/** The longest value looked up (a group's `externalId` is at most 200 characters). */
const MAX_VALUE_LENGTH = 200;

/**
 * The distinct, sorted group ids of `issuer`'s groups claim in `payload`: none when the issuer has
 * no `groupsClaim` or the token does not carry it. A value longer than any `externalId` is
 * ignored (it names no group). `UNAUTHENTICATED` (reason `GROUPS_CLAIM_INVALID`) when the claim is
 * neither a string nor a list of strings, or lists more than `MAX_GROUPS_CLAIM_VALUES` values: the token is refused rather than some of its groups silently dropped.
 */
export function groupsClaimValues(
  issuer: Pick<OidcIssuer, 'issuer' | 'groupsClaim'>,
  payload: Readonly<Record<string, unknown>>,
): string[] {
  if (issuer.groupsClaim === null) return [];
  const raw = payload[issuer.groupsClaim];
  if (raw === undefined || raw === null) return [];
  const list: unknown[] | null = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : null;
  if (list !== null && list.length > MAX_GROUPS_CLAIM_VALUES) {
    throw unauthenticated(
      `The token's "${issuer.groupsClaim}" claim lists ${list.length} groups, more than ${MAX_GROUPS_CLAIM_VALUES}; issuer "${issuer.issuer}" must send fewer (filter the claim to the groups Keyholder uses).`,
      { reason: 'GROUPS_CLAIM_INVALID' },
    );
  }
  if (list === null || !list.every((value) => typeof value === 'string')) {
    throw unauthenticated(
      `The token's "${issuer.groupsClaim}" claim must be a list of group ids (strings).`,
      { reason: 'GROUPS_CLAIM_INVALID' },
    );
  }
  const values = new Set<string>();
  for (const value of list as string[]) {
    if (value !== '' && value.length <= MAX_VALUE_LENGTH) values.add(value);
  }
  return [...values].sort();
}
