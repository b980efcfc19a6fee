/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOidcIssuers } from '../../src/modules/tokens/oidc-issuers.js';
import {
  browserMissing,
  launchBrowser,
  screenshot,
  type TestBrowser,
} from '../fixtures/browser.js';
import { dataOf, gql } from '../fixtures/gql.js';
import {
  type AuthorizationServer,
  signingKey,
  startAuthorizationServer,
} from '../fixtures/identity-provider.js';
import { createIdentity } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const missing = browserMissing();

// PGlite only, as the other browser specs: the console speaks GraphQL, tested on both engines.
describe.skipIf(missing !== null)(
  `signing in to the console with an identity provider, on PGlite${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let provider: AuthorizationServer;
    let server: TestServer;
    let browser: TestBrowser;

    beforeAll(async () => {
      provider = await startAuthorizationServer(await signingKey('console-key'), {
        clientId: 'keyholder-console',
        audience: 'keyholder',
        sub: 'alice',
      });
      const oidcIssuers = parseOidcIssuers(
        JSON.stringify([
          {
            issuer: provider.issuer,
            audience: 'keyholder',
            jwksUrl: provider.jwksUrl,
            console: {
              clientId: 'keyholder-console',
              authorizationEndpoint: provider.authorizationEndpoint,
              tokenEndpoint: provider.tokenEndpoint,
            },
          },
        ]),
      );
      [server, browser] = await Promise.all([
        startTestServer('pglite', { oidcIssuers }),
        launchBrowser(),
      ]);
    });

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      await provider?.stop();
    });

    it('should sign in through the provider with PKCE and come back to the page asked for', async () => {
      const alice = await createIdentity(server, {
        name: 'alice',
        kind: 'USER',
        externalId: `${provider.issuer}|alice`,
      });
      const page = await browser.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${server.url}/console/approvals`);
      await page
        .getByRole('button', { name: `Sign in with ${new URL(provider.issuer).host}` })
        .click();
      await page.getByText('Signed in as').waitFor();
      await page.getByRole('link', { name: 'alice' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/console/approvals');
      expect(page.url()).not.toContain('code=');
      expect(provider.exchanges()).toBe(1);

      const token = (await page.evaluate(() => sessionStorage.getItem('keyholder.apiKey'))) ?? '';
      expect(token.split('.')).toHaveLength(3);
      expect(dataOf(await gql(server.url, token, '{ me { id } }')).me.id).toBe(alice.id);
      expect(await page.evaluate(() => sessionStorage.getItem('keyholder.oidc'))).toBeNull();
      await screenshot(page, 'oidc-signed-in');
      await page.close();
    });

    it('should refuse an answer to a sign-in this tab did not start', async () => {
      const page = await browser.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${server.url}/console`);
      await page.evaluate(() =>
        sessionStorage.setItem(
          'keyholder.oidc',
          JSON.stringify({
            provider: { tokenEndpoint: 'http://127.0.0.1:1/token', token: 'access_token' },
            verifier: 'v',
            state: 'expected',
            redirectUri: 'x',
            returnTo: '/console',
          }),
        ),
      );
      await page.goto(`${server.url}/console/?code=stolen&state=forged`);
      await page
        .getByRole('alert')
        .getByText(/did not start \(state\)/)
        .waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('keyholder.apiKey'))).toBeNull();
      expect(provider.exchanges()).toBe(1);
      await page.close();
    });
  },
);
