import type { Page } from 'playwright-core';
import { api, axe, go, ready, signedIn, startE2E, type E2E } from '../helpers/e2e.js';

/**
 * Moderation and administration in the browser: a group's report queue (remove the post, or dismiss),
 * and the node administrator's screens: people (deactivate, reactivate, merge), organizations, federation
 * health and the node's settings. alice moderates the demo group and administers the node.
 */
describe('moderation and administration in the browser', () => {
  let e2e: E2E;
  let alice: Page;
  let bruno: Page;

  beforeAll(async () => {
    e2e = await startE2E();
    alice = (await signedIn(e2e, 'Alice')).page;
    bruno = (await signedIn(e2e, 'Bruno')).page;
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('a moderator resolves reports: the reported post is removed with the note, another report dismissed', async () => {
    const thread = await api(alice, 'POST', '/groups/welcome/threads', {
      title: 'Budget leaks',
      body: 'Context.',
    });
    const spam = await api(bruno, 'POST', `/threads/${thread.body.id}/replies`, {
      body: 'Buy cheap watches here',
    });
    const fine = await api(bruno, 'POST', `/threads/${thread.body.id}/replies`, { body: 'A fair opinion' });
    // Reported by a member (here the moderator herself, through the API; the report button is tried in
    // discussions.test.ts).
    await api(alice, 'POST', `/replies/${spam.body.id}/reports`, { reason: 'Publicité' });
    await api(alice, 'POST', `/replies/${fine.body.id}/reports`, { reason: 'Je ne suis pas d’accord' });
    const threadPath = `/groups/welcome/threads/${thread.body.id}`;
    await go(bruno, threadPath);

    await go(alice, '/groups/welcome/reports');
    const spamReport = alice.locator('#reports li.report', { hasText: 'Buy cheap watches' });
    await spamReport.getByText('Reason given: Publicité').waitFor();
    await spamReport.getByLabel('Note (shown to the author when the post is removed)').fill('Advertising');
    await spamReport.getByRole('button', { name: 'Remove the post' }).click();
    await alice.getByText('Report resolved.').waitFor();
    await spamReport.waitFor({ state: 'detached' });
    // bruno's open thread shows his post removed by a moderator.
    await bruno.locator('#replies li', { hasText: 'Ce message a été retiré par un modérateur.' }).waitFor();
    expect(await bruno.locator('#replies li', { hasText: 'Buy cheap watches' }).count()).toBe(0);

    const other = alice.locator('#reports li.report', { hasText: 'A fair opinion' });
    await other.getByRole('button', { name: 'Dismiss' }).click();
    await alice.locator('#reports', { hasText: 'No reports.' }).waitFor();
    await alice.getByRole('button', { name: 'Dismissed' }).click();
    await alice.locator('#reports li.report', { hasText: 'A fair opinion' }).waitFor();
    await alice.getByRole('button', { name: 'Removed' }).click();
    await alice.locator('#reports li.report', { hasText: 'Advertising' }).waitFor();
    // The post stays for everyone; the queue is the moderators' only.
    await bruno.locator('#replies li', { hasText: 'A fair opinion' }).waitFor();
    expect((await api(bruno, 'GET', '/groups/welcome/reports')).status).toBe(403);
    expect(e2e.problems.filter((p) => !p.includes('/reports'))).toEqual([]);
  });

  it('an administrator deactivates a person, whose session ends at once, and reactivates them', async () => {
    await go(bruno, '/');
    await go(alice, '/admin/people');
    const find = alice.locator('#admin-find');
    await find.getByLabel('Find a person').fill('bruno');
    await find.getByRole('button', { name: 'Search' }).click();
    await ready(alice, '/admin/people?q=bruno');
    const row = alice.locator('#admin-people li[data-handle="bruno"]');
    await row.getByRole('button', { name: /Deactivate/ }).click();
    await alice
      .locator('dialog.confirm')
      .getByText(/Their sessions end at once/)
      .waitFor();
    await alice.locator('dialog.confirm').getByRole('button', { name: 'Deactivate' }).click();
    await alice.getByText('Bruno Côté is deactivated.').waitFor();
    // bruno is signed out everywhere: his live connection drops and the API no longer knows him.
    await bruno.locator('#live-status', { hasText: 'Reconnexion' }).waitFor();
    expect((await api(bruno, 'GET', '/me')).status).toBe(401);
    // His profile is gone for others, kept for administrators.
    expect((await api(alice, 'GET', '/people/bruno')).body.status).toBe('deactivated');

    await find.getByLabel('Status').selectOption('deactivated');
    await find.getByLabel('Find a person').fill('');
    await find.getByRole('button', { name: 'Search' }).click();
    await ready(alice, '/admin/people?status=deactivated');
    await alice
      .locator('#admin-people li[data-handle="bruno"]')
      .getByRole('button', { name: /Reactivate/ })
      .click();
    await alice.getByText('Bruno Côté is active again.').waitFor();
    await alice.locator('#admin-people li[data-handle="bruno"]').waitFor({ state: 'detached' });
    bruno = (await signedIn(e2e, 'Bruno')).page;
  });

  it('an administrator merges two accounts of one person', async () => {
    await signedIn(e2e, 'Dev');
    await signedIn(e2e, 'Chloé');
    await go(alice, '/admin/people');
    const merge = alice.locator('#merge');
    await merge.getByLabel('Account to merge (short name)').fill('dev');
    await merge.getByLabel('Account to keep (short name)').fill('chloe');
    await merge.getByRole('button', { name: 'Merge' }).click();
    await alice.locator('dialog.confirm').getByRole('button', { name: 'Merge' }).click();
    await merge.getByText('@dev is merged into @chloe.').waitFor();
    expect((await api(alice, 'GET', '/people/dev')).status).toBe(404);
    // A merge of an account into itself is refused, with the reason.
    await merge.getByLabel('Account to merge (short name)').fill('chloe');
    await merge.getByLabel('Account to keep (short name)').fill('chloe');
    await merge.getByRole('button', { name: 'Merge' }).click();
    await alice.locator('dialog.confirm').getByRole('button', { name: 'Merge' }).click();
    await merge
      .getByRole('alert')
      .filter({ hasText: /different accounts/ })
      .waitFor();
  });

  it('an administrator adds and changes organizations, in English and French', async () => {
    await go(alice, '/admin/organizations');
    const create = alice.locator('#org-new');
    await create.getByLabel('Short name').fill('statcan');
    await create.getByLabel('Name in English').fill('Statistics Canada');
    await create.getByLabel('Name in French').fill('Statistique Canada');
    await create.getByLabel('Acronym in English').fill('StatCan');
    await create.getByLabel('Acronym in French').fill('StatCan');
    await create.getByLabel('Email domains (separated by commas)').fill('statcan.example');
    await create.getByRole('button', { name: 'Add' }).click();
    await alice.getByText('Statistics Canada is saved.').waitFor();
    const item = alice.locator('#organizations li[data-slug="statcan"]');
    await item.locator('summary').click();
    await item.getByLabel('Name in English').fill('Statistics Canada (StatCan)');
    await item.getByRole('button', { name: 'Save' }).click();
    await item.locator('strong', { hasText: 'Statistics Canada (StatCan)' }).waitFor();
    // bruno sees it in French in the directory's filter.
    await go(bruno, '/people');
    await bruno.getByLabel('Organisation', { exact: true }).selectOption({ label: 'Statistique Canada' });
    // Only administrators reach these screens.
    await go(bruno, '/admin/organizations');
    await bruno.getByRole('heading', { name: 'Nous ne pouvons trouver cette page' }).waitFor();
  });

  it('federation health; the policy and the node’s settings change at run time, from the keyboard, audited', async () => {
    await go(alice, '/admin/federation');
    const metrics = alice.locator('#delivery-metrics');
    for (const metric of ['queued', 'inFlight', 'failed', 'delivered'])
      expect(await metrics.locator(`dd[data-metric="${metric}"]`).textContent()).toMatch(/^\d+$/);
    await alice.getByText('Every server answers.').waitFor();
    await alice.getByRole('button', { name: 'Refresh' }).click();
    await alice.locator('#policy-source', { hasText: 'From the node’s configuration' }).waitFor();

    // An allow list, chosen and typed with the keyboard alone.
    await alice.locator('#policy-open').focus();
    await alice.keyboard.press('ArrowDown');
    await alice.keyboard.press('ArrowDown');
    expect(await alice.locator('#policy-allowlist').isChecked()).toBe(true);
    await alice.keyboard.press('Tab');
    await alice.keyboard.type('dept.gc.ca\n*.gc.ca');
    await alice.keyboard.press('Tab');
    await alice.keyboard.press('Enter');
    await alice.getByText('The federation policy is saved; it is in force now.').waitFor();
    await alice.locator('#policy-source', { hasText: /^\s*Set here/ }).waitFor();
    expect((await api(alice, 'GET', '/admin/federation/policy')).body).toMatchObject({
      mode: 'allowlist',
      domains: ['dept.gc.ca', '*.gc.ca'],
      source: 'settings',
    });
    // A domain that is not one is refused with the reason; nothing changes.
    await alice.locator('#policy-domains').fill('dept.gc.ca\nnot a domain!');
    await alice.locator('#policy').getByRole('button', { name: 'Save' }).click();
    await alice
      .locator('#policy')
      .getByRole('alert')
      .filter({ hasText: /expected a domain/ })
      .waitFor();
    expect((await api(alice, 'GET', '/admin/federation/policy')).body.domains).toEqual([
      'dept.gc.ca',
      '*.gc.ca',
    ]);
    expect(await axe(alice)).toEqual([]);
    await alice.getByRole('button', { name: 'Back to the configuration' }).click();
    await alice.getByText('The policy follows the node’s configuration again.').waitFor();
    expect((await api(alice, 'GET', '/admin/federation/policy')).body.source).toBe('environment');
    // An allow list without a domain would cut the node off: asked first; cancelled, nothing is saved.
    await alice.locator('#policy-allowlist').check();
    await alice.locator('#policy-domains').fill('');
    await alice.locator('#policy').getByRole('button', { name: 'Save' }).click();
    await alice.locator('dialog.confirm[open]', { hasText: 'refuses every other node' }).waitFor();
    expect(await axe(alice)).toEqual([]);
    await alice.keyboard.press('Escape');
    await alice.locator('dialog.confirm').waitFor({ state: 'detached' });
    expect((await api(alice, 'GET', '/admin/federation/policy')).body.source).toBe('environment');

    // The sign-in page's notice, set here, is on a visitor's sign-in page at once.
    await go(alice, '/admin/settings');
    await alice.getByLabel('Sign-in notice in English').fill('Digital Services staff only.');
    await alice.getByLabel('Sign-in notice in French').fill('Personnel des Services numériques seulement.');
    await alice.locator('#node-settings').getByRole('button', { name: 'Save' }).click();
    await alice.getByText('The settings are saved; they are in force now.').waitFor();
    await alice.locator('#settings-history li', { hasText: 'signInNotice.en' }).first().waitFor();
    await alice.locator('#settings-history', { hasText: '@alice' }).waitFor();
    const visitor = await e2e.browser.newContext();
    const signin = await visitor.newPage();
    await signin.goto(`${e2e.node.url}/signin`);
    await signin.locator('#sign-in-notice', { hasText: 'Digital Services staff only.' }).waitFor();
    expect(await axe(alice)).toEqual([]);
    await alice
      .locator('#overridden')
      .getByRole('button', { name: /^Back to the configuration\W+Sign-in notice$/ })
      .click();
    await alice.getByText('Sign-in notice follows the configuration again.').waitFor();
    await signin.reload();
    await signin.locator('main[data-path="/signin"]').waitFor();
    expect(await signin.locator('#sign-in-notice').count()).toBe(0);
    await visitor.close();
    await alice.getByText('Development identity provider').waitFor();
  });
});
