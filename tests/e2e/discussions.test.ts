import type { Page } from 'playwright-core';
import { png } from '../helpers/images.js';
import { api, go, ready, signedIn, startE2E, type E2E } from '../helpers/e2e.js';

/**
 * Discussions in the browser: the Markdown editor and its preview, @mention completion from the keyboard,
 * replies nested under what they answer, editing and deleting one's own posts, likes, attachments shown and
 * downloadable, and reporting a post. alice writes in English; bruno reads in French.
 */
describe('discussions in the browser', () => {
  let e2e: E2E;
  let alice: Page;
  let bruno: Page;
  let threadPath: string;

  beforeAll(async () => {
    e2e = await startE2E();
    alice = (await signedIn(e2e, 'Alice')).page;
    bruno = (await signedIn(e2e, 'Bruno')).page;
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('starts a discussion with a previewed Markdown body and a mention chosen from the keyboard', async () => {
    await go(alice, '/groups/welcome');
    const form = alice.locator('#new-thread');
    await form.getByLabel('Title').fill('Open data inventory');
    const body = alice.locator('#new-thread-body');
    await body.fill('We need **every** data set listed.\n\nCan you help, @br');
    await body.press('u');
    const options = alice.locator('#new-thread-body-suggestions [role=option]');
    await options.first().waitFor();
    // The list is announced and walked with the arrow keys; Enter takes the chosen one.
    expect(await body.getAttribute('aria-activedescendant')).toBe('new-thread-body-suggestions-0');
    await alice
      .getByRole('status')
      .filter({ hasText: /1 person found/ })
      .waitFor();
    await body.press('ArrowDown');
    await body.press('Enter');
    expect(await body.inputValue()).toBe('We need **every** data set listed.\n\nCan you help, @bruno ');
    await body.pressSequentially('?');

    await form.getByRole('button', { name: 'Preview' }).click();
    const preview = alice.locator('#new-thread-body-preview');
    await preview.locator('strong', { hasText: 'every' }).waitFor();
    await preview.locator('a[href="/people/bruno"]', { hasText: '@bruno' }).waitFor();
    await form.getByRole('button', { name: 'Write' }).click();
    await form.getByRole('button', { name: 'Post' }).click();
    const link = alice.locator('#threads').getByRole('link', { name: 'Open data inventory' });
    await link.click();
    await alice.locator('#thread h1', { hasText: 'Open data inventory' }).waitFor();
    threadPath = new URL(alice.url()).pathname;
    await alice.locator('#thread .body a[href="/people/bruno"]').waitFor();

    // bruno was mentioned: his notification leads him to the thread.
    await go(bruno, '/notifications');
    await bruno.locator('#notifications a', { hasText: '@alice vous a mentionné' }).click();
    await ready(bruno, threadPath);
    expect(e2e.problems).toEqual([]);
  });

  it('replies nest under the reply they answer, on both open pages, and can be liked', async () => {
    await go(alice, threadPath);
    await bruno.locator('#reply-body').fill('Je commence par les données géospatiales.');
    await bruno.locator('#reply-form').getByRole('button', { name: 'Publier' }).click();
    const bruno1 = alice.locator('#replies > li', { hasText: 'données géospatiales' });
    await bruno1.waitFor();

    await bruno1.getByRole('button', { name: 'Reply' }).click();
    await alice.locator('#reply-form .replying-to', { hasText: 'Replying to Bruno Côté' }).waitFor();
    // The editor has the focus: keyboard users type straight away.
    expect(
      await alice.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement
            .id,
      ),
    ).toBe('reply-body');
    await alice.keyboard.type('Thanks! Start with the *cadastral* maps.');
    await alice.locator('#reply-form').getByRole('button', { name: 'Post' }).click();
    // Nested: inside bruno's reply, on both pages.
    for (const page of [alice, bruno])
      await page
        .locator('#replies > li', { hasText: 'données géospatiales' })
        .locator('ol.nested > li', { hasText: 'cadastral' })
        .waitFor();
    await alice.locator('#replies .nested em', { hasText: 'cadastral' }).waitFor();

    const nested = bruno.locator('ol.nested > li', { hasText: 'cadastral' });
    await nested.getByRole('button', { name: /J’aime · 0 j’aime/ }).click();
    await alice.locator('ol.nested > li', { hasText: 'cadastral' }).getByText('1 like').waitFor();
  });

  it('authors edit and delete their own posts; the other page follows', async () => {
    const own = alice.locator('#thread');
    await own.getByRole('button', { name: 'Edit' }).first().click();
    await alice.locator('#thread .edit-form').getByLabel('Title').fill('Open data inventory (2027)');
    await alice.locator('#edit-body').fill('We need **every** data set listed, by March.');
    await alice.locator('#thread .edit-form').getByRole('button', { name: 'Save' }).click();
    await bruno.locator('#thread h1', { hasText: 'Open data inventory (2027)' }).waitFor();
    await bruno.locator('#thread .byline', { hasText: 'modifié' }).waitFor();
    await bruno.locator('#thread .body', { hasText: 'by March' }).waitFor();
    // Someone else's post offers no edit.
    expect(await bruno.locator('#thread').getByRole('button', { name: 'Modifier' }).count()).toBe(0);

    const reply = bruno.locator('#replies > li', { hasText: 'données géospatiales' }).locator('> article');
    await reply.getByRole('button', { name: 'Supprimer' }).click();
    await bruno.locator('dialog.confirm').getByRole('button', { name: 'Supprimer' }).click();
    await alice.locator('#replies > li > article', { hasText: 'This post was removed.' }).waitFor();
    // Its answer stays, still nested under it.
    await alice.locator('#replies > li ol.nested > li', { hasText: 'cadastral' }).waitFor();
  });

  it('attachments are shown (images previewed) and downloadable', async () => {
    await go(alice, threadPath);
    await alice.locator('#reply-body').fill('The inventory so far, and the map.');
    await alice.locator('#reply-files').setInputFiles([
      { name: 'inventory.csv', mimeType: 'text/csv', buffer: Buffer.from('set,owner\nroads,NRCan\n') },
      { name: 'map.png', mimeType: 'image/png', buffer: png() },
    ]);
    await alice.locator('#reply-form').getByRole('button', { name: 'Post' }).click();
    const reply = bruno.locator('#replies > li', { hasText: 'The inventory so far' });
    const csv = reply.getByRole('link', { name: /Télécharger inventory\.csv \(22 octets\)/ });
    await csv.waitFor();
    await reply.getByRole('link', { name: /Télécharger map\.png/ }).waitFor();
    const download = await bruno.evaluate(
      async (href) => {
        const res = await fetch(href);
        return {
          status: res.status,
          disposition: res.headers.get('content-disposition'),
          text: await res.text(),
        };
      },
      (await csv.getAttribute('href'))!,
    );
    expect(download).toMatchObject({ status: 200, text: 'set,owner\nroads,NRCan\n' });
    expect(download.disposition).toMatch(/attachment/);
    // The image's preview appears once its thumbnail is made (a page read after the job).
    const thumbnail = reply.locator('img.thumbnail[alt="Aperçu de map.png"]');
    const shown = () =>
      thumbnail.evaluate(
        (img) => (img as unknown as { naturalWidth: number; hidden: boolean }).naturalWidth > 0,
      );
    for (let i = 0; i < 30; i++) {
      await go(bruno, threadPath);
      await thumbnail.waitFor({ state: 'attached' });
      await bruno.waitForTimeout(300);
      if (await shown()) break;
    }
    expect(await shown()).toBe(true);
    await thumbnail.waitFor();
  });

  it('a post is reported to the group’s moderators, with a reason', async () => {
    const reply = bruno.locator('#replies > li', { hasText: 'The inventory so far' }).locator('> article');
    await reply.locator('details.report summary').click();
    await reply.getByLabel('Quel est le problème avec ce message?').fill('Personal data in the file');
    await reply.getByRole('button', { name: 'Signaler' }).click();
    await reply.getByText('Merci : les modérateurs du groupe vont l’examiner.').waitFor();
    const queue = await api(alice, 'GET', '/groups/welcome/reports');
    expect(queue.body).toEqual([
      expect.objectContaining({ kind: 'reply', reason: 'Personal data in the file' }),
    ]);
    // One's own post cannot be reported.
    expect(
      await alice
        .locator('#replies > li', { hasText: 'The inventory so far' })
        .locator('details.report')
        .count(),
    ).toBe(0);
  });
});
