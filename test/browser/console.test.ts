/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  browserMissing,
  launchBrowser,
  screenshot,
  seriousAxeViolations,
  signIn,
  type TestBrowser,
} from '../fixtures/browser.js';
import { expectError } from '../fixtures/expect-error.js';
import { dataOf, gql } from '../fixtures/gql.js';
import { createIdentity, defineScope, identityWithGrants, unique } from '../fixtures/seed.js';
import { startTestServer, type TestServer } from '../fixtures/test-server.js';

const missing = browserMissing();

// The console only talks GraphQL to the server, which the integration specs already run on both
// engines: the browser specs use the embedded database (PGlite) alone.
describe.skipIf(missing !== null)(
  `the console in Chromium, on PGlite${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let server: TestServer;
    let browser: TestBrowser;
    const pages: Page[] = [];
    const cspViolations: string[] = [];

    const open = async (viewport?: { width: number; height: number }) => {
      const page = await browser.newPage(viewport);
      // Under the test's own 30 s, so a wait that fails names its locator.
      page.setDefaultTimeout(20_000);
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
          cspViolations.push(message.text());
        }
      });
      pages.push(page);
      return page;
    };

    beforeAll(async () => {
      [server, browser] = await Promise.all([startTestServer('pglite'), launchBrowser()]);
    });

    afterEach(async () => {
      for (const page of pages.splice(0)) await page.close();
      expect(cspViolations.splice(0)).toEqual([]);
    });

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    });

    it('should sign in with an API key kept in sessionStorage only, show me, and sign out', async () => {
      const page = await open();
      await signIn(page, server.url, server.adminKey);
      const { name } = dataOf(await gql(server.url, server.adminKey, '{ me { name } }')).me;
      await page.getByRole('heading', { level: 1 }).getByText(name).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('keyholder.apiKey'))).toBe(
        server.adminKey,
      );
      expect(await browser.context.cookies()).toEqual([]);
      expect(page.url()).not.toContain(server.adminKey);
      await screenshot(page, 'home');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API key').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('keyholder.apiKey'))).toBeNull();
    });

    it("should refuse a wrong key with Keyholder's reason", async () => {
      const page = await open();
      await page.goto(`${server.url}/console`);
      await page.getByLabel('API key').fill('kh_not_a_key_at_all_but_long_enough_000000');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').getByText('UNAUTHENTICATED').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('keyholder.apiKey'))).toBeNull();
      await screenshot(page, 'sign-in-refused');
    });

    it('should show a grant made through the API in the open live feed', async () => {
      const page = await open();
      await signIn(page, server.url, server.adminKey, '/console/audit?action=grant.');
      await page.getByRole('status').getByText('Live').waitFor();
      const scope = await defineScope(server);
      const holder = await createIdentity(server);
      const reason = unique('watched-live');
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($input: GrantInput!) { grant(input: $input) { id } }',
          { input: { identityId: holder.id, scope, reason } },
        ),
      );
      const feed = page.getByRole('list', { name: 'Live audit events' });
      const event = feed.locator('li[data-action="grant.created"]').filter({ hasText: holder.id });
      await event.waitFor();
      await event.locator('summary').click();
      await event.locator('pre').getByText(reason).waitFor();
      await screenshot(page, 'audit');
    });

    it('should hold events while paused and show them on resume; search the past and verify the chain', async () => {
      const page = await open();
      await signIn(page, server.url, server.adminKey, '/console/audit?action=identity.created');
      await page.getByRole('status').getByText('Live').waitFor();
      await page.getByRole('button', { name: 'Pause' }).click();
      const held = await createIdentity(server);
      await page.getByRole('status').getByText('Paused: 1 new while paused').waitFor();
      const feed = page.getByRole('list', { name: 'Live audit events' });
      expect(await feed.getByText(held.id).count()).toBe(0);
      await page.getByRole('button', { name: 'Resume' }).click();
      await feed.getByText(held.id).waitFor();

      await page.getByRole('button', { name: 'Search with these filters' }).click();
      await page.getByRole('list', { name: 'Past audit events' }).getByText(held.id).waitFor();
      await page.getByRole('button', { name: 'Verify the audit log' }).click();
      await page
        .getByRole('status')
        .getByText(/The chain is intact: \d+ events verified/)
        .waitFor();
    });

    it('should keep the audit filters in the address', async () => {
      const page = await open();
      await signIn(page, server.url, server.adminKey, '/console/audit');
      await page.getByLabel('Scope').fill('grants:read');
      await page.getByLabel('Decision').selectOption('DENIED');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/\/console\/audit\?scope=grants%3Aread&decision=DENIED$/);
      await page.reload();
      expect(await page.getByLabel('Scope').inputValue()).toBe('grants:read');
      expect(await page.getByLabel('Decision').inputValue()).toBe('DENIED');
    });

    it("should approve an access request by clicking, after which the requester's check is allowed", async () => {
      const scope = await defineScope(server);
      const requester = await identityWithGrants(server, []);
      const made = dataOf(
        await gql(
          server.url,
          requester.key,
          'mutation($input: RequestAccessInput!) { requestAccess(input: $input) { id status } }',
          { input: { scope, ttlSeconds: 3600, reason: 'On call this week.' } },
        ),
      ).requestAccess;
      expect(made.status).toBe('PENDING');
      const check = async () =>
        dataOf(
          await gql(
            server.url,
            requester.key,
            'query($id: ID!, $scope: String!) { check(identityId: $id, scope: $scope) { allowed } }',
            { id: requester.id, scope },
          ),
        ).check.allowed;
      expect(await check()).toBe(false);

      const page = await open();
      await signIn(page, server.url, server.adminKey, '/console/approvals');
      const card = page.getByRole('listitem', { name: new RegExp(`Request for ${scope}`) });
      await card.getByText('On call this week.').waitFor();
      await screenshot(page, 'approvals');
      await card.getByRole('button', { name: 'Approve' }).click();
      await card.getByLabel('Note (optional)').fill('Approved for the rota.');
      await card.getByRole('button', { name: 'Confirm: approve' }).click();
      await card.waitFor({ state: 'detached' });

      expect(await check()).toBe(true);
    });

    it('should show a request made while the approvals page is open, live', async () => {
      const page = await open();
      await signIn(page, server.url, server.adminKey, '/console/approvals');
      await page.getByRole('status').getByText(/^Live/).waitFor();
      const scope = await defineScope(server);
      const requester = await identityWithGrants(server, []);
      dataOf(
        await gql(
          server.url,
          requester.key,
          'mutation($input: RequestAccessInput!) { requestAccess(input: $input) { id } }',
          { input: { scope, ttlSeconds: 600, reason: 'Arrived live.' } },
        ),
      );
      await page
        .getByRole('listitem', { name: new RegExp(`Request for ${scope}`) })
        .getByText('Arrived live.')
        .waitFor();
    });

    it("should revoke a grant from an identity's page, after which the identity's key is FORBIDDEN", async () => {
      const holder = await identityWithGrants(server, ['identities:read']);
      const list = '{ identities(first: 1) { nodes { id } } }';
      dataOf(await gql(server.url, holder.key, list));

      const page = await open();
      await signIn(page, server.url, server.adminKey, `/console/identities/${holder.id}`);
      const row = page.locator(`tr[data-grant="${holder.grants[0]?.id}"]`);
      await row.waitFor();
      await screenshot(page, 'identity');
      await row.getByRole('button', { name: 'Revoke identities:read' }).click();
      await row.getByLabel('Reason').fill('No longer needs the directory.');
      await row.getByRole('button', { name: 'Confirm: revoke identities:read' }).click();
      await row.waitFor({ state: 'detached' });

      expectError(
        await gql(server.url, holder.key, list),
        'FORBIDDEN',
        'Access to "Query.identities" requires scope "identities:read".',
      );
    });

    it('should disable an identity after a confirmation, after which its key no longer authenticates', async () => {
      const target = await identityWithGrants(server, []);
      dataOf(await gql(server.url, target.key, '{ me { id } }'));
      const page = await open();
      await signIn(page, server.url, server.adminKey, `/console/identities/${target.id}`);
      await page.getByRole('button', { name: 'Disable identity' }).click();
      await page.getByRole('button', { name: 'Confirm: disable identity' }).click();
      await page.getByRole('heading', { level: 1 }).getByText('(user, disabled)').waitFor();
      expectError(await gql(server.url, target.key, '{ me { id } }'), 'UNAUTHENTICATED');
    });

    it('should create a key on an identity page and forget its secret once dismissed', async () => {
      const target = await createIdentity(server);
      const page = await open();
      await signIn(page, server.url, server.adminKey, `/console/identities/${target.id}`);
      const form = page.getByRole('form', { name: 'Create an API key' });
      await form.getByLabel('Key name').fill('deploy');
      await form.getByRole('button', { name: 'Create key' }).click();
      const secret = page.locator('.secret code');
      const shown = (await secret.textContent()) ?? '';
      expect(shown).toMatch(/^kh_/);
      expect(dataOf(await gql(server.url, shown, '{ me { id } }')).me.id).toBe(target.id);
      await page.getByRole('button', { name: 'I have stored it: forget it' }).click();
      await secret.waitFor({ state: 'detached' });
      expect(await page.content()).not.toContain(shown);
      expect(
        await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage })),
      ).not.toContain(shown);
    });

    it("should show what the person may not do disabled, with Keyholder's reason and a way to ask", async () => {
      const reader = await identityWithGrants(server, ['identities:read', 'grants:read']);
      const other = await createIdentity(server);
      const page = await open();
      await signIn(page, server.url, reader.key, `/console/identities/${other.id}`);
      const grant = page.getByRole('button', { name: 'Grant', exact: true });
      await grant.waitFor();
      expect(await grant.isDisabled()).toBe(true);
      await page
        .getByText(/grants:write/)
        .first()
        .waitFor();
      await screenshot(page, 'identity-read-only');

      // The way in: a request for the missing scope, with a reason.
      await page.getByRole('button', { name: 'Request access to grants:write' }).click();
      await page.getByLabel(/Why do you need grants:write/).fill('Covering for the on-call admin.');
      await page.getByRole('button', { name: 'Send request' }).click();
      await page
        .getByRole('status')
        .getByText(/^Request \S+ is pending\.$/)
        .waitFor();
      const mine = dataOf(
        await gql(server.url, reader.key, '{ myAccessRequests { status reason scope { name } } }'),
      ).myAccessRequests;
      expect(mine).toEqual([
        {
          status: 'PENDING',
          reason: 'Covering for the on-call admin.',
          scope: { name: 'grants:write' },
        },
      ]);
    });

    it('should explain a check, and list who can use a scope and how', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const page = await open();
      await signIn(page, server.url, server.adminKey, '/console/check');
      await page.getByLabel('Identity id').fill(holder.id);
      await page.getByLabel('Scope').fill(scope);
      await page.getByRole('button', { name: 'Check', exact: true }).click();
      await page.locator('.decision.allowed').getByText('Allowed').waitFor();

      await page.getByLabel('Scope').fill('identities:write');
      await page.getByRole('button', { name: 'Check', exact: true }).click();
      await page.locator('.decision.denied').getByText('Denied').waitFor();
      await screenshot(page, 'check');

      await page.goto(`${server.url}/console/who-can?scope=${encodeURIComponent(scope)}`);
      const holders = page.getByRole('region', { name: 'Holders' });
      await holders.getByRole('link', { name: holder.name }).waitFor();
      await holders.getByText('directly').first().waitFor();
      await screenshot(page, 'who-can');
    });

    it('should show an open review with its progress, and keep an item by clicking', async () => {
      const scope = await defineScope(server);
      const holder = await identityWithGrants(server, [scope]);
      const name = unique('review');
      dataOf(
        await gql(
          server.url,
          server.adminKey,
          'mutation($input: StartAccessReviewInput!) { startAccessReview(input: $input) { id } }',
          {
            input: {
              name,
              filter: { scope, identityId: holder.id },
              dueAt: new Date(Date.now() + 3_600_000).toISOString(),
            },
          },
        ),
      );
      const page = await open();
      await signIn(page, server.url, server.adminKey, '/console/reviews');
      const review = page.getByRole('article').filter({ hasText: name });
      await review.getByText('0 of 1 decided').waitFor();
      const items = review.getByRole('list', { name: `Items of ${name} to decide` });
      await items.getByText(holder.name, { exact: true }).waitFor();
      await screenshot(page, 'reviews');
      await items.getByRole('button', { name: `Keep ${scope} of ${holder.name}` }).click();
      await items.getByLabel('Note').fill('Still on the team.');
      await items.getByRole('button', { name: `Confirm: keep ${scope} of ${holder.name}` }).click();
      await review.getByText('1 of 1 decided (1 kept, 0 revoked)').waitFor();
    });

    it('should work from the keyboard: a link reached with Tab opens its page, focus on its heading', async () => {
      const page = await open();
      await signIn(page, server.url, server.adminKey);
      const approvals = page.getByRole('link', { name: 'Approvals' });
      for (
        let i = 0;
        i < 20 && !(await approvals.evaluate((a) => a === document.activeElement));
        i += 1
      ) {
        await page.keyboard.press('Tab');
      }
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/console\/approvals$/);
      await page.locator('h1:focus').getByText('Approvals').waitFor();
    });

    it("should open GraphiQL at /graphql with the session's Authorization and run a query", async () => {
      const page = await open();
      await signIn(page, server.url, server.adminKey);
      await page.goto(`${server.url}/graphql`);
      await page.getByText('Signed in as').waitFor();
      // GraphiQL runs nothing until its query editor holds the query.
      await page.locator('.graphiql-query-editor .CodeMirror-code').getByText('name').waitFor();
      await page.getByRole('button', { name: /Execute query/ }).click();
      await page.locator('.graphiql-response').getByText(server.adminId).waitFor();
      await screenshot(page, 'graphiql');
    });

    const PAGES = [
      '/console',
      '/console/audit',
      '/console/approvals',
      '/console/identities',
      `/console/identities/ADMIN`,
      '/console/check?identity=ADMIN&scope=grants:read',
      '/console/who-can?scope=grants:read',
      '/console/reviews',
      '/console/scopes',
      '/console/graphiql',
      '/console/no-such-page',
    ];

    it('should have no serious or critical axe violations on any page, nor break at 390×844', async () => {
      const signedOut = await open();
      await signedOut.goto(`${server.url}/console`);
      await signedOut.getByLabel('API key').waitFor();
      expect(await seriousAxeViolations(signedOut)).toEqual([]);
      await screenshot(signedOut, 'sign-in');

      for (const viewport of [
        { width: 1280, height: 800 },
        { width: 390, height: 844 },
      ]) {
        const page = await open(viewport);
        await signIn(page, server.url, server.adminKey);
        for (const path of PAGES) {
          const url = path.replaceAll('ADMIN', server.adminId);
          await page.goto(`${server.url}${url}`);
          await page.getByText('Signed in as').waitFor();
          await page
            .getByRole('heading', { level: 1 })
            .or(page.locator('.graphiql-container'))
            .first()
            .waitFor();
          await page
            .getByText(/^Loading /)
            .first()
            .waitFor({ state: 'detached' });
          expect({ url, violations: await seriousAxeViolations(page) }).toEqual({
            url,
            violations: [],
          });
          const overflow = await page.evaluate(
            () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
          );
          expect({ url, viewport, overflow }).toEqual({ url, viewport, overflow: 0 });
          if (viewport.width === 390) {
            await screenshot(page, `narrow-${path.split('?')[0]?.slice(1).replaceAll('/', '-')}`);
          }
        }
      }
    });
  },
);
