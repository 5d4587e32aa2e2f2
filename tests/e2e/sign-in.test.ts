import type { Browser } from 'playwright-core';
import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { launchChromium } from '../helpers/chromium.js';

describe('signing in and out in a real browser (development identity provider)', () => {
  let node: RunningNode;
  let browser: Browser;
  beforeAll(async () => {
    node = await startTestNode({ port: await freePort(), env: { NODE_ENV: 'development' } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await node?.close();
  });

  it('a newcomer signs in as alice from the home page and signs out of Ensemble and the provider', async () => {
    const page = await browser.newPage();
    const failures: string[] = [];
    page.on('requestfailed', (r) => failures.push(`${r.url()} ${r.failure()?.errorText}`));
    page.on('pageerror', (e) => failures.push(e.message));

    await page.goto(node.url);
    await page.getByRole('link', { name: /Sign in/ }).click();
    await page.waitForURL(/\/dev-idp\/interaction\//);
    await page.getByText('no password is needed').waitFor();
    await page.getByRole('button', { name: 'Alice Tremblay' }).click();

    await page.waitForURL(`${node.url}/`);
    await page.getByText('Signed in as Alice Tremblay (@alice)').waitFor();
    await page.getByText('Digital Services Agency').waitFor();
    await page.screenshot({ path: 'test-results/signed-in.png' });

    await page.getByRole('button', { name: /Sign out/ }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${node.url}/`);
    await page.getByRole('link', { name: /Sign in/ }).waitFor();
    const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
    expect(me).toBe(401);
    expect(failures).toEqual([]);
  });
});
