import type { Caller } from '../modules/keys/authenticate.js';
import type { Loaders } from './loaders.js';
import type { Services } from './services.js';

/** Everything one operation's resolvers see. Built per request; nothing request-scoped is global. */
export interface KeyholderContext {
  readonly caller: Caller;
  readonly loaders: Loaders;
  readonly services: Services;
  readonly requestId: string;
}
