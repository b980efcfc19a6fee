/**
 * The baselines of the `check` benchmark: a plain Apollo Server answering `check` either with one
 * indexed PostgreSQL lookup per request (`BASELINE=postgres`, the floor cost of strict revocation)
 * or from memory (`BASELINE=memory`), served by Apollo's express 5 integration with a JSON body
 * limit (`BASELINE_HTTP=express`, the default) or by Apollo's own `startStandaloneServer`
 * (`BASELINE_HTTP=standalone`). Prints `ready <url>` once listening.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import postgres from 'postgres';

const mode = process.env.BASELINE === 'postgres' ? 'postgres' : 'memory';
const sql = mode === 'postgres' ? postgres(process.env.DATABASE_URL as string, { max: 10 }) : null;

const typeDefs = `
  type Decision { allowed: Boolean! reason: String! }
  type Query { check(identityId: ID!, scope: String!, resource: String): Decision! }
`;

const resolvers = {
  Query: {
    check: async (_: unknown, args: { identityId: string; scope: string }) => {
      if (sql === null) return { allowed: true, reason: 'memory' };
      const rows = await sql.unsafe(
        `select id from grants where identity_id = $1 and scope = $2 and revoked_at is null
           and (expires_at is null or expires_at > now()) limit 1`,
        [args.identityId, args.scope],
        { prepare: true },
      );
      return { allowed: rows.length > 0, reason: 'baseline' };
    },
  },
};

const apollo = new ApolloServer({ typeDefs, resolvers });
if (process.env.BASELINE_HTTP === 'standalone') {
  const { url } = await startStandaloneServer(apollo, { listen: { port: 0, host: '127.0.0.1' } });
  console.log(`ready ${url.replace(/\/$/, '')}/graphql`);
} else {
  const app = express();
  const server = createServer(app);
  await apollo.start();
  app.use('/graphql', express.json({ limit: 100 * 1024 }), expressMiddleware(apollo));
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    console.log(`ready http://127.0.0.1:${port}/graphql`);
  });
}
process.on('SIGTERM', () => {
  void apollo
    .stop()
    .then(() => sql?.end())
    .then(() => process.exit(0));
});
