import type { GrantGate, GrantLike } from '../authz/grant-set.js';
import type { RequiresCompatOptions } from './compat-options.js';
import type { DecisionRecorder } from './decision-recorder.js';

/** Options of `requiresDirective`. `TContext` is your server's per-operation context. */
export interface RequiresDirectiveOptions<
  TContext = unknown,
  TGrant extends GrantLike = GrantLike,
> {
  /**
   * The caller's active grants, `{ scope, resource? }` (plus optional `id` and `expiresAt`).
   * - Called once per operation, before the first field runs, and once per subscription event.
   * - May return a promise. If it throws or rejects, every guarded field of the operation is
   *   denied (fail closed); unguarded fields still resolve.
   * - Return fresh data: the directive caches nothing across operations.
   */
  grants(context: TContext): readonly TGrant[] | Promise<readonly TGrant[]>;
  /**
   * The caller's identity id, or `null` when nobody is authenticated.
   * - Needed by `@authenticated` and by `orSelf` clauses; a schema using either without this
   *   option is refused when transformed.
   * - Called once per operation, with `grants` (and once per subscription event).
   * - May return a promise (a remote source such as `remoteGrants` learns the id with the
   *   grants). If it throws or rejects, every guarded field is denied, as when `grants` fails.
   */
  principal?(context: TContext): string | null | undefined | Promise<string | null | undefined>;
  /**
   * Subscriptions are re-checked before every event; with this set, also whenever this many
   * milliseconds pass without one, so a subscriber that loses access is cut off within it even on
   * a quiet stream. Each re-check calls `grants` once. @default 0 (only before events)
   */
  subscriptionRecheckMs?: number;
  /**
   * Where the operation's decisions are reported (access logging), or `undefined` for nowhere.
   * Called once per operation, with `grants`. @default no recording
   */
  decisions?(context: TContext): DecisionRecorder<TGrant> | undefined;
  /**
   * Conditions on grants: the gate a live covering grant must also pass to authorize (see
   * `GrantGate`). Called once per operation (and per subscription event), just before `grants`;
   * `undefined` for none. If it throws, every guarded field is denied. A gate whose `explain` answers adds the reason to `FORBIDDEN` errors
   * (`extensions.conditions`). @default no conditions
   */
  gate?(context: TContext): GrantGate<TGrant> | undefined;
  /** The clock used for grant expiry, in epoch milliseconds. @default Date.now */
  now?(): number;
  /** Directive names, to avoid clashes with directives your schema already has. @default { requires: 'requires', authenticated: 'authenticated', requiresScopes: 'requiresScopes' } */
  names?: { requires?: string; authenticated?: string; requiresScopes?: string };
  /** Apollo Router's directive spellings in `typeDefs`. @default {} */
  compat?: RequiresCompatOptions;
}
