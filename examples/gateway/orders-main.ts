import { startOrdersService } from './orders-service.js';
import { runService } from './run-service.js';

// node dist/examples/gateway/orders-main.js  (KEYHOLDER_URL, PORT, HOST)
await runService('Orders service', ['KEYHOLDER_URL'], (env) =>
  startOrdersService({
    keyholderUrl: env.KEYHOLDER_URL,
    port: Number(process.env.PORT ?? 4001),
    host: process.env.HOST ?? '127.0.0.1',
    remote: {
      onError: (error) =>
        console.error(`Orders service: Keyholder ${error.reason}: ${error.message}`),
    },
  }),
);
