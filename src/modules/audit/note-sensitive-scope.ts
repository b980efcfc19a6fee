import type { KeyholderContext } from '../../context/keyholder-context.js';

/**
 * Names `scope` in the operation's access event when it is sensitive, so the event is written
 * (even with ACCESS_LOG=off) and flagged; other scopes leave the event as the directive made it.
 */
export function noteSensitiveScope(ctx: KeyholderContext, scope: string): void {
  if (ctx.services.sensitiveScopes.has(scope)) ctx.access?.involve(scope);
}
