import { join } from 'node:path';
import { packageRoot } from '../../src/package-root.js';
import { callGraphql } from './call-graphql.js';
import { type SpawnedService, spawnService } from './spawn-service.js';

/** Options of `startExample`. */
export interface ExampleOptions {
  /** The root admin's key (Keyholder's `BOOTSTRAP_ADMIN_KEY`, at least 32 characters). */
  readonly adminKey: string;
  /** Ports of Keyholder, the orders service and the gateway. @default 0 each (free ports) */
  readonly ports?: { keyholder?: number; orders?: number; gateway?: number };
  /** Keyholder's PGlite directory. @default 'memory://' (a throwaway database) */
  readonly dataDir?: string;
}

/** The three processes of the example, and what a client needs to talk to them. */
export interface RunningExample {
  readonly keyholderUrl: string;
  readonly ordersUrl: string;
  readonly gatewayUrl: string;
  readonly adminKey: string;
  /** Stops the gateway, the orders service and Keyholder, in that order. */
  stop(): Promise<void>;
}

/** The scopes the orders service's `@requires` name. */
export const ORDER_SCOPES = [
  { name: 'orders:read', description: 'Read orders.' },
  { name: 'orders:write', description: 'Place orders.' },
  { name: 'billing:read', description: 'Read order totals.' },
] as const;

/**
 * Starts the example from the built code (`npm run build`): Keyholder on embedded PGlite, the
 * orders service and the gateway, each a process of its own, on 127.0.0.1. Defines the orders
 * scopes and gives the gateway an identity of its own (holding nothing) to read Keyholder's
 * schema with.
 */
export async function startExample(options: ExampleOptions): Promise<RunningExample> {
  const dist = join(packageRoot(), 'dist');
  const started: SpawnedService[] = [];
  const stop = async () => {
    for (const service of [...started].reverse()) await service.stop();
  };
  let ordersStarting: Promise<SpawnedService> | undefined;
  try {
    const keyholder = await spawnService('keyholder', join(dist, 'src/main.js'), {
      PORT: String(options.ports?.keyholder ?? 0),
      HOST: '127.0.0.1',
      // The example runs on the embedded database, whatever DATABASE_URL this shell has.
      DATABASE_URL: '',
      DATA_DIR: options.dataDir ?? 'memory://',
      BOOTSTRAP_ADMIN_KEY: options.adminKey,
    });
    started.push(keyholder);
    // The orders service boots while Keyholder is set up for the gateway.
    ordersStarting = spawnService('orders', join(dist, 'examples/gateway/orders-main.js'), {
      PORT: String(options.ports?.orders ?? 0),
      KEYHOLDER_URL: keyholder.url,
    });
    ordersStarting.catch(() => {}); // awaited below; a failure surfaces there
    const asAdmin = (query: string, variables?: Record<string, unknown>) =>
      callGraphql(keyholder.url, options.adminKey, query, variables);
    for (const input of ORDER_SCOPES) {
      await asAdmin('mutation($input: DefineScopeInput!) { defineScope(input: $input) { name } }', {
        input,
      });
    }
    const { createIdentity } = await asAdmin(
      'mutation { createIdentity(input: { name: "gateway", kind: SERVICE }) { id } }',
    );
    const { createApiKey } = await asAdmin(
      'mutation($id: ID!) { createApiKey(input: { identityId: $id, name: "introspection" }) { secret } }',
      { id: createIdentity.id },
    );
    const orders = await ordersStarting;
    started.push(orders);

    const gateway = await spawnService('gateway', join(dist, 'examples/gateway/gateway-main.js'), {
      PORT: String(options.ports?.gateway ?? 0),
      KEYHOLDER_URL: keyholder.url,
      ORDERS_URL: orders.url,
      GATEWAY_KEY: createApiKey.secret,
    });
    started.push(gateway);
    return {
      keyholderUrl: keyholder.url,
      ordersUrl: orders.url,
      gatewayUrl: gateway.url,
      adminKey: options.adminKey,
      stop,
    };
  } catch (error) {
    await ordersStarting?.then(
      (orders) => orders.stop(),
      () => {},
    );
    await stop();
    throw error;
  }
}
