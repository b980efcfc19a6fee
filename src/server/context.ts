import type { ActiveGrant, Caller } from '../modules/keys/authenticate.js';
import type { Loaders } from './loaders.js';
import type { Services } from './services.js';

/** Everything one operation's resolvers see. Built per request; nothing request-scoped is global. */
export interface KeyholderContext {
  readonly caller: Caller;
  readonly loaders: Loaders;
  readonly services: Services;
  readonly requestId: string;
  /**
   * Long-lived operations (WebSocket subscriptions) re-authenticate and reload the caller's live
   * grants through this before every event; absent for HTTP, whose grants were loaded at its start.
   */
  readonly reloadGrants?: () => Promise<readonly ActiveGrant[]>;
}
