import { badUserInput } from 'keyholder-directive/errors.js';
import { AUDIT_ACTIONS, actionsWithPrefix } from '../audit/audit-actions.js';
import { requireText, truncate } from '../shared/validate.js';

/** Which actions a webhook receives, in the form the outbox trigger matches. */
export interface WebhookActionFilter {
  /** Exact actions: `grant.created`. */
  readonly actions: string[];
  /** Prefixes: `grant.` (from `grant.` or `grant.*`), `gr` (from `gr*`), `` (from `*`). */
  readonly actionPrefixes: string[];
}

const MAX_ENTRIES = 50;
const CATALOGUED: readonly string[] = AUDIT_ACTIONS;

/**
 * Parses a webhook's `actions`, with the audit filter's syntax: an exact action, or a prefix ending
 * in `.` or `*`. Each entry must name at least one catalogued action (a typo would otherwise
 * silence an alert); the list must not be empty. Prefixes also match actions added later.
 */
export function parseWebhookActions(entries: readonly string[]): WebhookActionFilter {
  if (entries.length === 0) {
    throw badUserInput('actions must name at least one action or prefix, such as "grant.".', {
      field: 'actions',
    });
  }
  if (entries.length > MAX_ENTRIES) {
    throw badUserInput(`actions may have at most ${MAX_ENTRIES} entries.`, { field: 'actions' });
  }
  const actions = new Set<string>();
  const actionPrefixes = new Set<string>();
  for (const entry of entries) {
    const text = requireText(entry, 'actions', 200);
    const prefix = text.endsWith('*') ? text.slice(0, -1) : text.endsWith('.') ? text : null;
    const named =
      prefix === null ? CATALOGUED.filter((a) => a === text) : actionsWithPrefix(prefix);
    if (named.length === 0) {
      throw badUserInput(
        `Action "${truncate(text)}" matches no audited action; use one of ${AUDIT_ACTIONS.join(', ')}, or a prefix ending in "." or "*".`,
        { field: 'actions' },
      );
    }
    if (prefix === null) actions.add(text);
    else actionPrefixes.add(prefix);
  }
  return { actions: [...actions], actionPrefixes: [...actionPrefixes] };
}

/** A stored filter as clients see it: exact actions, then prefixes (`grant.`, `gr*`, `*`). */
export function describeWebhookActions(filter: WebhookActionFilter): string[] {
  return [...filter.actions, ...filter.actionPrefixes.map((p) => (p.endsWith('.') ? p : `${p}*`))];
}
