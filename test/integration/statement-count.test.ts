import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { createIdentity, defineScope, grant, unique } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const IDENTITIES = 100;

/** Runs `work` on `items`, `limit` at a time. */
async function inBatches<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
) {
  for (let i = 0; i < items.length; i += limit) {
    await Promise.all(items.slice(i, i + limit).map(work));
  }
}

/**
 * Statements the server sent while answering one request as the admin. Measured three times and
 * the least kept, so a background statement (a flush of key or grant usage, every few seconds; a
 * reaper run, every minute) cannot count.
 */
async function countStatements(
  server: TestServer,
  query: string,
  variables: Record<string, unknown>,
) {
  const counts: number[] = [];
  let data: Record<string, unknown> = {};
  for (let i = 0; i < 3; i += 1) {
    const before = server.database.statements.count;
    data = dataOf(await gql(server.url, server.adminKey, query, variables));
    counts.push(server.database.statements.count - before);
  }
  return { count: Math.min(...counts), data };
}

describe.each(engines())('SQL statements per request on %s', (engine) => {
  let server: TestServer;
  let tag: string;
  let scopes: string[];

  const statementsFor = (query: string, variables: Record<string, unknown>) =>
    countStatements(server, query, variables);

  beforeAll(async () => {
    server = await startTestServer(engine);
    tag = unique('n1');
    scopes = [await defineScope(server), await defineScope(server)];
    const indexes = Array.from({ length: IDENTITIES }, (_, i) => i);
    await inBatches(indexes, 10, async (i) => {
      const identity = await createIdentity(server, {
        name: `${tag}-${String(i).padStart(3, '0')}`,
      });
      for (const scope of scopes) await grant(server, identity.id, { scope, resource: `r-${i}` });
    });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('should send as many statements for 100 identities with their grants as for 10', async () => {
    const query = `query($first: Int!, $filter: IdentityFilter) {
      identities(first: $first, filter: $filter) { nodes { id grants { id scope { name } } } }
    }`;

    const ten = await statementsFor(query, { first: 10, filter: { nameContains: tag } });
    const hundred = await statementsFor(query, { first: 100, filter: { nameContains: tag } });

    const nodes = (hundred.data.identities as { nodes: { grants: unknown[] }[] }).nodes;
    expect(nodes).toHaveLength(100);
    expect(nodes.every((n) => n.grants.length === 2)).toBe(true);
    expect(ten.count).toBeGreaterThan(0);
    expect(hundred.count).toBe(ten.count);
  });

  it('should send as many statements for a wide selection of 100 identities as for 10', async () => {
    const query = `query($first: Int!, $filter: IdentityFilter) {
      identities(first: $first, filter: $filter) { nodes {
        id createdBy { id name }
        apiKeys { id prefix }
        grants { id resource identity { id } grantedBy { id } scope { name action } }
      } }
    }`;

    const ten = await statementsFor(query, { first: 10, filter: { nameContains: tag } });
    const hundred = await statementsFor(query, { first: 100, filter: { nameContains: tag } });

    expect(hundred.count).toBe(ten.count);
  });

  it('should send as many statements for 200 grants with their identities as for 20', async () => {
    const query = `query($first: Int!) {
      grants(first: $first, filter: { active: true }) {
        nodes { id identity { id name grants { id } } scope { name } grantedBy { id } }
      }
    }`;

    // The oldest grants are the admin's own (the built-in scopes and the two defined above), whose
    // identity authentication already loaded: the smaller page must reach past them to compare.
    const ten = await statementsFor(query, { first: 20 });
    const all = await statementsFor(query, { first: 200 });

    expect((all.data.grants as { nodes: unknown[] }).nodes.length).toBeGreaterThanOrEqual(200);
    expect(all.count).toBe(ten.count);
  });

  it('should send as many statements for 200 grants with their last use as for 20', async () => {
    const query = `query($first: Int!) {
      grants(first: $first, filter: { active: true }) { nodes { id lastUsedAt useCount } }
    }`;

    const twenty = await statementsFor(query, { first: 20 });
    const all = await statementsFor(query, { first: 200 });

    expect((all.data.grants as { nodes: unknown[] }).nodes.length).toBeGreaterThanOrEqual(200);
    expect(all.count).toBe(twenty.count);
  });

  it('should list unused grants with their last use in as many statements for 200 as for 20', async () => {
    const query = `query($first: Int!) {
      unusedGrants(olderThanSeconds: 1, first: $first) {
        nodes { id lastUsedAt useCount identity { id } scope { name } }
      }
    }`;
    // Every grant counts as unused one second after its creation (or last use).
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const twenty = await statementsFor(query, { first: 20 });
    const all = await statementsFor(query, { first: 200 });

    expect((all.data.unusedGrants as { nodes: unknown[] }).nodes).toHaveLength(200);
    expect(all.count).toBe(twenty.count);
  });

  it('should send as many statements for 100 access review items with their grants as for 10', async () => {
    const started = dataOf(
      await gql(
        server.url,
        server.adminKey,
        `mutation($input: StartAccessReviewInput!) { startAccessReview(input: $input) { id } }`,
        {
          input: {
            name: unique('review'),
            filter: { scope: scopes[0] },
            dueAt: new Date(Date.now() + 24 * 3600 * 1000).toISOString(),
          },
        },
      ),
    ).startAccessReview as { id: string };
    const query = `query($id: ID!, $first: Int!) {
      accessReview(id: $id) {
        counts { total }
        items(first: $first) { nodes {
          id decision outcome decidedBy { id } review { id }
          grant { id resource identity { id name } scope { name } grantedBy { id } }
        } }
      }
    }`;

    const ten = await statementsFor(query, { id: started.id, first: 10 });
    const hundred = await statementsFor(query, { id: started.id, first: 100 });

    const review = hundred.data.accessReview as {
      counts: { total: number };
      items: { nodes: { grant: { identity: { name: string } } }[] };
    };
    // Every identity's grant of the scope, and the admin's own (it defined the scope).
    expect(review.counts.total).toBe(IDENTITIES + 1);
    expect(review.items.nodes).toHaveLength(100);
    expect(ten.count).toBeGreaterThan(0);
    expect(hundred.count).toBe(ten.count);
  });

  it('should answer a repeated check about another identity without a statement (its grants are cached with the caller)', async () => {
    const target = await createIdentity(server);
    const scope = await defineScope(server);
    await grant(server, target.id, { scope });
    const query = `query($id: ID!, $scope: String!) {
      check(identityId: $id, scope: $scope) { allowed reason }
    }`;

    const allowed = await statementsFor(query, { id: target.id, scope });

    expect(allowed.data.check).toMatchObject({ allowed: true });
    expect(allowed.count).toBe(0);
  });

  it('should answer me with its grants and their scopes in two statements: grant rows, scopes (the authentication is cached)', async () => {
    const me = await statementsFor('{ me { id name grants { id scope { name } } } }', {});

    expect((me.data.me as { grants: unknown[] }).grants.length).toBeGreaterThan(0);
    expect(me.count).toBe(2);
  });
});

describe.each(engines())(
  'SQL statements per _entities request on %s (FEDERATION=subgraph)',
  (engine) => {
    let server: TestServer;
    let ids: string[];

    beforeAll(async () => {
      server = await startTestServer(engine, { federation: 'subgraph' });
      const scope = await defineScope(server);
      ids = [];
      await inBatches(
        Array.from({ length: IDENTITIES }, (_, i) => i),
        10,
        async () => {
          const identity = await createIdentity(server);
          await grant(server, identity.id, { scope });
          ids.push(identity.id);
        },
      );
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
    });

    it('should send as many statements for 100 representations with their grants as for 10', async () => {
      const query = `query($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on Identity { id name createdBy { id } grants { id scope { name } } }
      }
    }`;
      const representations = (n: number) =>
        ids.slice(0, n).map((id) => ({ __typename: 'Identity', id }));

      const ten = await countStatements(server, query, { representations: representations(10) });
      const hundred = await countStatements(server, query, {
        representations: representations(100),
      });

      const resolved = hundred.data._entities as { grants: unknown[] }[];
      expect(resolved).toHaveLength(100);
      expect(resolved.every((identity) => identity.grants.length === 1)).toBe(true);
      expect(ten.count).toBeGreaterThan(0);
      expect(hundred.count).toBe(ten.count);
    });
  },
);
