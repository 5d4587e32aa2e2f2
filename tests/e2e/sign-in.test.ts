import { ready, startE2E, watch, type E2E } from '../helpers/e2e.js';

describe('signing in and out in a real browser (development identity provider)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('a newcomer chooses a department, signs in as alice, and signs out of Ensemble and the provider', async () => {
    const page = await (await e2e.browser.newContext()).newPage();
    watch(page, 'visitor', e2e.problems);
    await page.goto(e2e.node.url);
    await ready(page, '/');
    await page.locator('#sign-in').click();
    await ready(page, '/signin');
    // The providers the node trusts, one choice each.
    await page.getByRole('link', { name: 'Sign in with Development identity provider' }).click();
    await page.waitForURL(/\/dev-idp\/interaction\//);
    await page.getByText('no password is needed').waitFor();
    await page.getByRole('button', { name: 'Alice Tremblay' }).click();

    await page.waitForURL(`${e2e.node.url}/`);
    await page.getByText('Signed in as Alice Tremblay (@alice)').waitFor();
    await page.locator('#org', { hasText: 'Digital Services Agency' }).waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${e2e.node.url}/`);
    await page.locator('#sign-in').waitFor();
    const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
    expect(me).toBe(401);
    expect(e2e.problems).toEqual([]);
  });

  it('an address that names nothing is a 404 page, in the visitor’s language', async () => {
    const context = await e2e.browser.newContext({ locale: 'fr-CA' });
    const page = await context.newPage();
    const res = await page.goto(`${e2e.node.url}/groups/nowhere-to-be-found`);
    expect(res?.status()).toBe(404);
    expect(res?.headers()['vary']).toMatch(/Accept/);
    await ready(page, '/groups/nowhere-to-be-found');
    await page.getByRole('heading', { name: 'Nous ne pouvons trouver cette page' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('fr');
    const other = await page.goto(`${e2e.node.url}/no/such/page`);
    expect(other?.status()).toBe(404);
    await page.getByRole('heading', { name: 'Nous ne pouvons trouver cette page' }).waitFor();
    await context.close();
  });
});
