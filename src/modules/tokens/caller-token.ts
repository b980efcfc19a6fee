/** The verified identity-provider token a caller authenticated with (absent for API keys). */
export interface CallerToken {
  /** `iss`, one of the configured issuers. */
  readonly issuer: string;
  /** `sub` at that issuer. */
  readonly subject: string;
  /** `exp`: the token authenticates nothing from this instant (WebSocket streams end too). */
  readonly expiresAt: Date;
  /**
   * The verified claims conditions may read as `token.claims`: `amr`, `acr`, `groups` and the
   * issuer's `claimsForConditions`, those the token carries; no other claim.
   */
  readonly claims: Readonly<Record<string, unknown>>;
  /** `cnf.jkt` (RFC 9449): the token is DPoP-bound to that key thumbprint; `null` when unbound. */
  readonly jkt: string | null;
  /**
   * The values of the issuer's groups claim (`groupsClaimValues`; none when it has no
   * `groupsClaim`): the groups this token makes its caller a member of, on its own requests only
   * (see `TokenGroups`).
   */
  readonly groups: readonly string[];
}
