import { startGateway } from './gateway.js';
import { runService } from './run-service.js';

// node dist/examples/gateway/gateway-main.js  (KEYHOLDER_URL, ORDERS_URL, GATEWAY_KEY, PORT, HOST)
await runService('Gateway', ['KEYHOLDER_URL', 'ORDERS_URL', 'GATEWAY_KEY'], (env) =>
  startGateway({
    keyholderUrl: env.KEYHOLDER_URL,
    ordersUrl: env.ORDERS_URL,
    introspectionKey: env.GATEWAY_KEY,
    port: Number(process.env.PORT ?? 4002),
    host: process.env.HOST ?? '127.0.0.1',
  }),
);
