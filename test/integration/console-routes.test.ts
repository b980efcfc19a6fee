import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/package-root.js';
import { engines } from '../fixtures/engines.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const consoleBuilt = existsSync(join(packageRoot(), 'dist', 'console', 'index.html'));

describe.each(engines())('the console routes on %s', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(engine);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should redirect a browser from / to /console and leave other clients a JSON 404', async () => {
    const browser = await fetch(`${server.url}/`, { headers: HTML, redirect: 'manual' });
    expect(browser.status).toBe(302);
    expect(browser.headers.get('location')).toBe('/console');
    const client = await fetch(`${server.url}/`, { headers: { accept: 'application/json' } });
    expect(client.status).toBe(404);
  });

  it.skipIf(!consoleBuilt)(
    'should serve index.html at /console and every deep link, never cached, with a self-only CSP (skipped when dist/console is not built: run npm run build)',
    async () => {
      for (const path of ['/console', '/console/', '/console/audit', '/console/identities/x?y=1']) {
        const response = await fetch(`${server.url}${path}`, { headers: HTML });
        expect(response.status, path).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(response.headers.get('cache-control')).toBe('no-cache');
        const csp = response.headers.get('content-security-policy') ?? '';
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("script-src 'self'");
        expect(csp).toContain(`connect-src 'self' ws://${new URL(server.url).host}`);
        expect(csp).toContain("frame-ancestors 'none'");
        const html = await response.text();
        expect(html).toContain('<div id="root"></div>');
        // GraphiQL is on outside production.
        expect(html).toContain('<meta name="keyholder-graphiql" content="on" />');
      }
    },
  );

  it.skipIf(!consoleBuilt)(
    'should serve hashed assets for a year and refuse unknown or escaping paths (skipped when dist/console is not built)',
    async () => {
      const html = await (await fetch(`${server.url}/console`)).text();
      const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${server.url}${script}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      for (const path of [
        '/console/assets/nothing-here.js',
        '/console/assets/..%2findex.html',
        '/console/assets/%E0%A4%A',
        '/console/assets/../../package.json',
      ]) {
        const refused = await fetch(`${server.url}${path}`);
        expect([404, 200], path).toContain(refused.status);
        if (refused.status === 200) {
          // A path the client normalised back into the console: index.html, never a file outside.
          expect(await refused.text()).toContain('<div id="root"></div>');
        } else {
          expect((await refused.json()).errors[0].extensions.code).toBe('NOT_FOUND');
        }
      }
    },
  );

  it.skipIf(!consoleBuilt)(
    'should open GraphiQL at GET /graphql for a browser, and leave GraphQL requests to Apollo (skipped when dist/console is not built)',
    async () => {
      const page = await fetch(`${server.url}/graphql`, { headers: HTML });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root"></div>');

      const query = await fetch(
        `${server.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`,
        {
          headers: {
            ...HTML,
            authorization: `Bearer ${server.adminKey}`,
            'apollo-require-preflight': '1',
          },
        },
      );
      expect(query.headers.get('content-type')).toContain('application/json');
      expect((await query.json()).data.me.id).toBe(server.adminId);

      expect(dataOf(await gql(server.url, server.adminKey, '{ me { id } }')).me.id).toBe(
        server.adminId,
      );
    },
  );
});

describe('the console switched off, and GraphiQL in production', () => {
  it('should serve nothing of the console with CONSOLE=off', async () => {
    const server = await startTestServer('pglite', { console: false });
    try {
      for (const path of ['/console', '/console/audit']) {
        expect((await fetch(`${server.url}${path}`, { headers: HTML })).status).toBe(404);
      }
      expect((await fetch(`${server.url}/`, { headers: HTML, redirect: 'manual' })).status).toBe(
        404,
      );
      const graphql = await fetch(`${server.url}/graphql`, { headers: HTML });
      expect(graphql.headers.get('content-type')).not.toContain('text/html');
    } finally {
      await server.stop();
    }
  });

  it.skipIf(!consoleBuilt)(
    'should keep GraphiQL off in production unless GRAPHIQL=on (skipped when dist/console is not built)',
    async () => {
      const production = await startTestServer('pglite', { production: true, graphiql: false });
      try {
        const graphql = await fetch(`${production.url}/graphql`, { headers: HTML });
        expect(graphql.headers.get('content-type')).not.toContain('text/html');
        const html = await (await fetch(`${production.url}/console`)).text();
        expect(html).toContain('<meta name="keyholder-graphiql" content="off" />');
      } finally {
        await production.stop();
      }
    },
  );
});
