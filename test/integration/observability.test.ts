import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { identityWithGrants, type SeededPrincipal } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

/** The metric names a scrape shows once one GraphQL request has been served. */
const METRIC_NAMES = [
  'keyholder_http_requests_total',
  'keyholder_http_request_duration_seconds_bucket',
  'keyholder_decisions_total',
  'keyholder_authentication_cache_hits_total',
  'keyholder_authentication_cache_misses_total',
  'keyholder_authentication_cache_shared_total',
  'keyholder_access_log_pending',
  'keyholder_access_log_failing',
  'keyholder_expiry_sweeper_lag_seconds',
  'keyholder_webhook_deliveries_in_flight',
  'keyholder_webhook_attempt_failures_total',
  'process_cpu_seconds_total',
  'nodejs_heap_size_used_bytes',
];

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** The `extensions.code` of a JSON error answer. */
async function codeOf(response: Response): Promise<unknown> {
  const body = (await response.json()) as { errors: { extensions: { code: unknown } }[] };
  return body.errors[0]?.extensions.code;
}

/** The value of one sample line (`name{labels} value`) of a Prometheus text scrape. */
function sample(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  if (found === undefined) throw new Error(`No sample "${line}" in the scrape.`);
  return Number(found.slice(line.length + 1));
}

describe.each(engines())('health and metrics on %s', (engine) => {
  let server: TestServer;
  let operator: SeededPrincipal;
  let stranger: SeededPrincipal;

  beforeAll(async () => {
    // No private listener: every route here is the public one.
    server = await startTestServer(engine, { metricsPort: null });
    operator = await identityWithGrants(server, ['system:read']);
    stranger = await identityWithGrants(server, ['identities:read']);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe('/livez and /readyz', () => {
    it('should answer /livez with 200 and nothing else', async () => {
      const response = await fetch(`${server.url}/livez`);

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('should answer /readyz with 200 while the database answers', async () => {
      const response = await fetch(`${server.url}/readyz/`);

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });
  });

  describe('/healthz', () => {
    it('should show an anonymous caller only the status and the engine', async () => {
      const response = await fetch(`${server.url}/healthz`);

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok', database: engine });
    });

    it('should show a caller without system:read only the status and the engine', async () => {
      const response = await fetch(`${server.url}/healthz`, { headers: bearer(stranger.key) });

      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok', database: engine });
    });

    it('should show a caller holding system:read the detail', async () => {
      const response = await fetch(`${server.url}/healthz`, { headers: bearer(operator.key) });

      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        status: 'ok',
        database: engine,
        accessLog: null,
        expirySweeper: { failingSince: null },
        authenticationCache: { hits: expect.any(Number), misses: expect.any(Number) },
      });
    });

    it('should refuse an unknown credential with a JSON 401', async () => {
      const response = await fetch(`${server.url}/healthz`, {
        headers: bearer('kh_00000000_not-a-key'),
      });

      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      expect(await codeOf(response)).toBe('UNAUTHENTICATED');
    });
  });

  describe('/metrics', () => {
    it('should refuse a caller without a credential with 401', async () => {
      const response = await fetch(`${server.url}/metrics`);

      expect(response.status).toBe(401);
      expect(await codeOf(response)).toBe('UNAUTHENTICATED');
    });

    it('should refuse an unknown credential with 401', async () => {
      const response = await fetch(`${server.url}/metrics`, {
        headers: bearer('kh_00000000_not-a-key'),
      });

      expect(response.status).toBe(401);
    });

    it('should refuse a caller without system:read with 403 naming the scope', async () => {
      const response = await fetch(`${server.url}/metrics`, { headers: bearer(stranger.key) });

      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({
        errors: [
          {
            message: 'Reading /metrics requires the scope "system:read".',
            extensions: { code: 'FORBIDDEN', required: { allOf: ['system:read'] } },
          },
        ],
      });
    });

    it('should serve Prometheus text with every metric once a GraphQL request was served', async () => {
      dataOf(
        await gql(server.url, stranger.key, '{ me { id } identities(first: 1) { nodes { id } } }'),
      );

      const response = await fetch(`${server.url}/metrics`, { headers: bearer(operator.key) });
      const text = await response.text();

      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      for (const name of METRIC_NAMES) expect(text).toMatch(new RegExp(`^${name}[ {]`, 'm'));
      expect(
        sample(text, 'keyholder_http_requests_total{route="/graphql",status="200"}'),
      ).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'keyholder_decisions_total{outcome="allowed"}')).toBeGreaterThanOrEqual(
        1,
      );
    });

    it('should count a denied decision as denied', async () => {
      const scrape = async () =>
        (await fetch(`${server.url}/metrics`, { headers: bearer(operator.key) })).text();
      const before = sample(await scrape(), 'keyholder_decisions_total{outcome="denied"}');

      const response = await gql(server.url, stranger.key, '{ grants(first: 1) { nodes { id } } }');

      expect(response.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(sample(await scrape(), 'keyholder_decisions_total{outcome="denied"}')).toBe(
        before + 1,
      );
    });

    it('should label requests by route only, never by the raw path or a caller', async () => {
      await fetch(`${server.url}/no/such/${operator.id}`);

      const text = await (
        await fetch(`${server.url}/metrics`, { headers: bearer(operator.key) })
      ).text();

      expect(text).toMatch(/keyholder_http_requests_total\{route="other",status="404"\}/);
      expect(text).not.toContain(operator.id);
      expect(text).not.toContain(stranger.id);
    });
  });
});

describe.each(engines())('the METRICS_PORT listener on %s', (engine) => {
  let server: TestServer;
  let metricsUrl: string;

  beforeAll(async () => {
    server = await startTestServer(engine, { metricsPort: 0 });
    if (server.metricsUrl === null) throw new Error('The server opened no METRICS_PORT listener.');
    metricsUrl = server.metricsUrl;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should listen on the same host at a port of its own', () => {
    expect(new URL(metricsUrl).hostname).toBe(new URL(server.url).hostname);
    expect(new URL(metricsUrl).port).not.toBe(new URL(server.url).port);
  });

  it('should serve /metrics without a credential', async () => {
    const response = await fetch(`${metricsUrl}/metrics`);

    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^keyholder_decisions_total\{outcome="allowed"\}/m);
  });

  it('should serve detailed /healthz without a credential', async () => {
    const response = await fetch(`${metricsUrl}/healthz`);

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      database: engine,
      authenticationCache: { hits: expect.any(Number) },
    });
  });

  it('should not serve GraphQL', async () => {
    const response = await fetch(`${metricsUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });

    expect(response.status).toBe(404);
  });

  it('should stop listening when the server stops', async () => {
    const other = await startTestServer(engine, { metricsPort: 0 });
    const url = other.metricsUrl;
    await other.stop();

    await expect(fetch(`${url}/livez`)).rejects.toThrow();
  });
});
