/** Where a condition that was evaluated comes from. */
export type ConditionSource = 'GRANT' | 'OWNER_GRANT' | 'SCOPE_POLICY';

/** One condition evaluated for one decision: what it said and, unless it held, what it saw. */
export interface ConditionOutcome {
  readonly grantId: string;
  readonly scope: string;
  readonly source: ConditionSource;
  readonly expression: string;
  readonly result: 'TRUE' | 'FALSE' | 'ERROR';
  /** Why it errored (it then denied); `null` otherwise. */
  readonly error: string | null;
  /**
   * The values it read, by the expression's text for them (`request.ip`, `token.claims.amr`);
   * empty when it held. The context holds no secret: no credential header can be allow-listed.
   */
  readonly values: Readonly<Record<string, unknown>>;
}

const SOURCE_TEXT: Record<ConditionSource, string> = {
  GRANT: 'the condition of grant',
  OWNER_GRANT: "the owner's condition capping grant",
  SCOPE_POLICY: 'the policy condition of scope',
};

/**
 * One outcome as a clause: `the condition of grant 7c… \`request.hour < 17\` was false
 * (request.hour = 18)`, or `… errored (no such key: amr; token.claims.amr = null)`.
 */
export function describeOutcome(outcome: ConditionOutcome): string {
  const whose = outcome.source === 'SCOPE_POLICY' ? `"${outcome.scope}"` : outcome.grantId;
  const seen = Object.entries(outcome.values)
    .map(([label, value]) => `${label} = ${JSON.stringify(value)}`)
    .join(', ');
  const verdict =
    outcome.result === 'ERROR'
      ? `errored and so denied (${outcome.error ?? 'unknown error'}${seen === '' ? '' : `; ${seen}`})`
      : `was ${outcome.result === 'TRUE' ? 'true' : 'false'}${seen === '' ? '' : ` (${seen})`}`;
  return `${SOURCE_TEXT[outcome.source]} ${whose} \`${outcome.expression}\` ${verdict}`;
}
