import type { Page } from 'playwright-core';
import { png } from '../helpers/images.js';
import { api, go, ready, signedIn, startE2E, unreloaded, type E2E } from '../helpers/e2e.js';

/**
 * Groups in the browser: creating one and setting it up in English and French, members and their roles,
 * ownership, removals and bans, join requests and invitations (by short name and by email), the audit log,
 * deleting and restoring. alice owns; bruno reads in French; chloé is a third person.
 */
describe('groups: settings, members, roles and their log in the browser', () => {
  let e2e: E2E;
  let alice: Page;
  let bruno: Page;
  let chloe: Page;

  beforeAll(async () => {
    e2e = await startE2E();
    alice = (await signedIn(e2e, 'Alice')).page;
    bruno = (await signedIn(e2e, 'Bruno')).page;
    chloe = (await signedIn(e2e, 'Chloé')).page;
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('alice creates a group and sets it up in both languages; bruno sees it in French', async () => {
    await go(alice, '/');
    await alice.locator('details.start-group summary').click();
    const create = alice.locator('#start-group');
    await create.getByLabel('Name in English').fill('Data stewards');
    await create.getByLabel('Name in French').fill('Intendants des données');
    await create.getByLabel(/Short name/).fill('data-stewards');
    await create.getByLabel('Who sees it').selectOption('public');
    await create.getByLabel('Who may join').selectOption('request');
    await create.getByRole('button', { name: 'Create' }).click();
    await ready(alice, '/groups/data-stewards');
    await alice.getByRole('heading', { name: 'Data stewards', level: 1 }).waitFor();

    await alice.getByRole('link', { name: 'Settings' }).click();
    await ready(alice, '/groups/data-stewards/settings');
    const settings = alice.locator('#group-settings');
    await alice.locator('#description-en').fill('People who look after **data** quality.');
    await alice.locator('#description-fr').fill('Les personnes qui veillent à la **qualité** des données.');
    await settings.getByLabel('Who may join').selectOption('open');
    await alice.locator('#welcome-message').fill('Welcome! Read the *charter* first.');
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.getByText('Saved.').waitFor();

    for (const [kind, label] of [
      ['avatar', 'Avatar (PNG, JPEG, WebP or GIF, 2 MB at most)'],
      ['banner', 'Banner (PNG, JPEG, WebP or GIF, 5 MB at most)'],
    ] as const) {
      const form = alice.locator(`#${kind}-form`);
      await form
        .getByLabel(label)
        .setInputFiles({ name: `${kind}.png`, mimeType: 'image/png', buffer: png() });
      await form.getByRole('button', { name: 'Upload' }).click();
      await alice.getByText('Image saved.').waitFor();
      await alice.locator(`img[src="/api/v1/groups/data-stewards/${kind}"]`).waitFor();
    }

    await go(bruno, '/groups/data-stewards');
    await bruno.getByRole('heading', { name: 'Intendants des données', level: 1 }).waitFor();
    await bruno.locator('.description strong', { hasText: 'qualité' }).waitFor();
    // Open now: bruno joins at once and is welcomed.
    await bruno.getByRole('button', { name: 'Joindre' }).click();
    await bruno.locator('details.welcome summary', { hasText: 'Bienvenue' }).click();
    await bruno.locator('details.welcome em', { hasText: 'charter' }).waitFor();
    expect(e2e.problems).toEqual([]);
  });

  it('roles change, ownership moves, a member is removed and another banned; open pages follow', async () => {
    await api(chloe, 'POST', '/groups/data-stewards/join');
    await go(alice, '/groups/data-stewards/members');
    await go(bruno, '/groups/data-stewards');
    const row = (page: Page, handle: string) => page.locator(`#members li[data-handle="${handle}"]`);

    // alice makes bruno a moderator: his open page gains the moderator's sections.
    await row(alice, 'bruno').getByLabel('Role of Bruno Côté').selectOption('moderator');
    await alice.getByText('Bruno Côté is now moderator.').waitFor();
    await bruno.getByRole('link', { name: 'Signalements' }).waitFor();
    expect(await unreloaded(bruno)).toBe(true);

    // The owner makes him admin, then hands him the group.
    await row(alice, 'bruno').getByLabel('Role of Bruno Côté').selectOption('admin');
    await row(alice, 'bruno').locator('.badge.role', { hasText: 'Administrator' }).waitFor();
    const transfer = alice.locator('#transfer');
    await transfer.getByLabel('New owner (a member)').selectOption('bruno');
    await transfer.getByRole('button', { name: 'Transfer ownership' }).click();
    await alice.locator('dialog.confirm').getByRole('button', { name: 'Transfer ownership' }).click();
    await row(alice, 'bruno').locator('.badge.role', { hasText: 'Owner' }).waitFor();
    await row(alice, 'alice').locator('.badge.role', { hasText: 'Administrator' }).waitFor();
    // alice is no longer the owner: the transfer is bruno's to offer now.
    expect(await alice.locator('#transfer').count()).toBe(0);

    // alice (admin) removes chloé, whose open page shows her out at once.
    await go(chloe, '/groups/data-stewards');
    // chloé reads Ensemble in French too.
    await chloe.getByRole('button', { name: 'Quitter le groupe' }).waitFor();
    await row(alice, 'chloe').getByRole('button', { name: 'Remove' }).click();
    await alice.locator('dialog.confirm').getByRole('button', { name: 'Remove' }).click();
    await row(alice, 'chloe').waitFor({ state: 'detached' });
    await chloe.getByRole('button', { name: 'Joindre' }).waitFor();
    await chloe.getByRole('button', { name: 'Joindre' }).click();
    await row(alice, 'chloe').waitFor();

    // Then bans her, with a reason: she cannot come back.
    const ban = row(alice, 'chloe').locator('details.ban');
    await ban.locator('summary').click();
    await ban.getByLabel('Reason for the ban').fill('Spam');
    await ban.getByRole('button', { name: 'Ban' }).click();
    await alice.locator('dialog.confirm').getByRole('button', { name: 'Ban' }).click();
    await alice.locator('#bans li[data-handle="chloe"]').waitFor();
    await chloe.getByText('Vous ne pouvez pas participer à ce groupe.').waitFor();
    expect(await chloe.getByRole('button', { name: 'Joindre' }).count()).toBe(0);
    await alice
      .locator('#bans li[data-handle="chloe"]')
      .getByRole('button', { name: 'Lift the ban' })
      .click();
    await alice.locator('#bans', { hasText: 'No one is banned.' }).waitFor();
  });

  it('join requests are decided and invitations go by short name or by email', async () => {
    await api(alice, 'POST', '/groups', {
      handle: 'cabinet-notes',
      name: 'Cabinet notes',
      visibility: 'node',
      joinPolicy: 'request',
    });
    await go(alice, '/groups/cabinet-notes/members');
    await go(chloe, '/groups/cabinet-notes');
    await chloe.getByRole('button', { name: 'Demander à joindre' }).click();
    await chloe.getByText('Votre demande attend un modérateur.').waitFor();
    const request = alice.locator('#join-requests li[data-handle="chloe"]');
    await request.getByRole('button', { name: 'Deny' }).click();
    await alice.locator('#join-requests', { hasText: 'No one is waiting.' }).waitFor();
    await go(chloe, '/groups/cabinet-notes');
    await chloe.getByRole('button', { name: 'Demander à joindre' }).waitFor();

    const invite = alice.locator('#invite');
    await invite.getByLabel('Their short name on this node, or an email address').fill('bruno');
    await invite.getByRole('button', { name: 'Invite' }).click();
    await alice.getByText('@bruno is invited.').waitFor();
    await alice.locator('#invited', { hasText: '@bruno' }).waitFor();
    await invite
      .getByLabel('Their short name on this node, or an email address')
      .fill('newcomer@example.gc.ca');
    await invite.getByRole('button', { name: 'Invite' }).click();
    await alice.getByText('newcomer@example.gc.ca is invited.').waitFor();
    // The invitation mail left (the development node keeps it at /dev/mail).
    const mailed = () => alice.evaluate(async () => (await fetch('/dev/mail')).text());
    for (let i = 0; i < 50 && !(await mailed()).includes('newcomer@example.gc.ca'); i++)
      await alice.waitForTimeout(100);
    expect(await mailed()).toContain('to newcomer@example.gc.ca');
    // A bad address is refused with the reason, in the form.
    await invite.getByLabel('Their short name on this node, or an email address').fill('nobody-here');
    await invite.getByRole('button', { name: 'Invite' }).click();
    await invite
      .getByRole('alert')
      .filter({ hasText: /nobody-here/ })
      .waitFor();

    // bruno finds the invitation waiting on his home page and accepts it.
    await go(bruno, '/');
    await bruno.locator('#invitations').getByRole('link', { name: 'Cabinet notes' }).click();
    await ready(bruno, '/groups/cabinet-notes');
    await bruno.getByRole('button', { name: 'Accepter' }).click();
    await bruno.locator('#new-thread').waitFor();
    await alice.locator('#members li[data-handle="bruno"]').waitFor();
    expect(e2e.problems.filter((p) => !p.includes('/invitations'))).toEqual([]);
  });

  it('the audit log names who did what to whom', async () => {
    await go(bruno, '/groups/data-stewards/audit');
    const log = bruno.locator('#audit');
    await log.locator('tr[data-action="member.banned"]', { hasText: 'Alice Tremblay' }).waitFor();
    await log.locator('tr[data-action="member.banned"]', { hasText: 'Chloé Martin' }).waitFor();
    await log.locator('tr[data-action="member.banned"]', { hasText: 'Spam' }).waitFor();
    await log
      .locator('tr[data-action="group.ownership_transferred"]', { hasText: 'a transféré la propriété à' })
      .waitFor();
    await log.locator('tr[data-action="member.role"]').first().waitFor();
    await log.locator('tr[data-action="group.updated"]').waitFor();
  });

  it('the owner deletes the group; it is gone for members and restored from the home page', async () => {
    await go(bruno, '/groups/data-stewards/settings');
    await bruno.getByRole('button', { name: 'Supprimer ce groupe' }).click();
    await bruno.locator('dialog.confirm').getByRole('button', { name: 'Supprimer ce groupe' }).click();
    await ready(bruno, '/');
    const deleted = bruno.locator('#deleted-groups li[data-handle="data-stewards"]');
    await deleted.waitFor();
    // Gone for alice, a member: the address is a 404 page.
    const res = await alice.goto(`${e2e.node.url}/groups/data-stewards`);
    expect(res?.status()).toBe(404);
    await alice.getByRole('heading', { name: 'We couldn’t find that page' }).waitFor();

    await deleted.getByRole('button', { name: /Restaurer/ }).click();
    await ready(bruno, '/groups/data-stewards');
    await bruno.getByRole('heading', { name: 'Intendants des données', level: 1 }).waitFor();
    expect((await alice.goto(`${e2e.node.url}/groups/data-stewards`))?.status()).toBe(200);
    await alice.getByRole('heading', { name: 'Data stewards', level: 1 }).waitFor();
  });
});
