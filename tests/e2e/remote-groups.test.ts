import type { Browser, Page } from 'playwright-core';
import type { ApiClient } from '../helpers/browser.js';
import { launchChromium } from '../helpers/chromium.js';
import { axe, go, ready, signedIn } from '../helpers/e2e.js';
import { createPublicGroup } from '../helpers/fediverse.js';
import { startDepartments, type Departments } from '../helpers/nodes.js';

/**
 * A group of another node in the browser: two real nodes started by the launcher (server/ops/launcher.ts),
 * each with its own database and identity provider. bruno signs in on B, finds alice's group on A by its
 * address, joins it and takes part; alice's page on A shows it live. Requests and invitations cross too.
 */
describe('groups of other nodes in the browser (two nodes)', () => {
  let d: Departments;
  let browser: Browser;
  const problems: string[] = [];
  let hostA: string;
  let alice: Page;
  let bruno: Page;
  let aliceApi: ApiClient;

  /** Search on B as bruno would (he reads Ensemble in French): the search form, then the answer's page. */
  const search = async (page: Page, q: string) => {
    await go(page, '/search');
    await page.locator('#search-form').getByLabel('Rechercher', { exact: true }).fill(q);
    await page.keyboard.press('Enter');
    await ready(page, `/search?q=${encodeURIComponent(q)}`);
  };
  /** Record whether a pending mark was ever drawn (it may last only as long as two deliveries). */
  const watchPending = (page: Page) =>
    page.evaluate(`
      window.sawPending = false;
      new MutationObserver(() => {
        if (document.querySelector('.tag.pending')) window.sawPending = true;
      }).observe(document, { subtree: true, childList: true });
    `);
  const sawPending = (page: Page) =>
    page.evaluate(() => (globalThis as unknown as { sawPending: boolean }).sawPending);

  beforeAll(async () => {
    [d, browser] = await Promise.all([
      startDepartments([
        { name: 'a', department: 'digital-services' },
        { name: 'b', department: 'natural-resources' },
      ]),
      launchChromium(),
    ]);
    hostA = new URL(d.node('a').url).host;
    aliceApi = await d.as('a', 'alice');
    [alice, bruno] = await Promise.all([
      signedIn({ browser, problems, node: d.node('a') }, 'Alice').then((s) => s.page),
      signedIn({ browser, problems, node: d.node('b') }, 'Bruno').then((s) => s.page),
    ]);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await d?.close();
  }, 60_000);

  it('bruno on B finds @policy-lab@A, joins, starts a discussion and replies; alice sees it live on A', async () => {
    await createPublicGroup(aliceApi, 'policy-lab', { name: 'Policy lab' });
    await aliceApi.call('POST', '/groups/policy-lab/threads', { title: 'Kickoff', body: 'Agenda.' });
    await go(alice, '/groups/policy-lab');

    // The group's public profile, read from A.
    const handle = `policy-lab@${hostA}`;
    await search(bruno, `@${handle}`);
    const card = bruno.locator('#remote-group');
    await card.getByRole('heading', { name: 'Policy lab' }).waitFor();
    await card.getByText(`De ${hostA}`).waitFor();
    await card.locator('#remote-member-count', { hasText: '1 membre' }).waitFor();
    await card.locator('#remote-moderators li', { hasText: 'Alice' }).waitFor();
    await card.locator('#remote-threads li', { hasText: 'Kickoff' }).waitFor();
    expect(await axe(bruno)).toEqual([]);

    // Joined from the keyboard.
    await card.getByRole('button', { name: 'Joindre' }).focus();
    await bruno.keyboard.press('Enter');
    await ready(bruno, `/groups/${encodeURIComponent(handle)}`);
    // Once A accepts, B's page lets him in (member.joined), and A's open page counts him.
    await bruno.getByRole('button', { name: 'Quitter le groupe' }).waitFor();
    await bruno.locator('#group-origin', { hasText: hostA }).waitFor();
    await alice.locator('#activity li', { hasText: 'Bruno Côté joined' }).waitFor();
    await alice.locator('#member-count', { hasText: '2 members' }).waitFor();
    expect(await axe(bruno)).toEqual([]);

    // The group's library is kept on A: its Files tab here says so and links there (attachments travel).
    await go(bruno, `/groups/${encodeURIComponent(handle)}/files`);
    const library = bruno.locator('#remote-library', { hasText: `conservée par ${hostA}` });
    await library.waitFor();
    await library.getByRole('link', { name: `Ouvrir la bibliothèque sur ${hostA}` }).waitFor();
    expect(await bruno.locator('#upload').count()).toBe(0);
    expect(await axe(bruno)).toEqual([]);
    await go(bruno, `/groups/${encodeURIComponent(handle)}`);

    // A discussion from B: shown at once, pending until A announces it, then live on A.
    await watchPending(bruno);
    const form = bruno.locator('#new-thread');
    await form.getByLabel('Titre').fill('From natural resources');
    await bruno.locator('#new-thread-body').fill('Our field data, for the **lab**.');
    // A file attached from B travels with the thread: A keeps a copy and serves it to alice.
    const survey = 'site,count\nlake,12\n';
    await bruno
      .locator('#new-thread-files')
      .setInputFiles([{ name: 'survey.csv', mimeType: 'text/csv', buffer: Buffer.from(survey) }]);
    await form.getByRole('button', { name: 'Publier' }).click();
    const mine = bruno.locator('#threads li.thread', { hasText: 'From natural resources' });
    await mine.waitFor();
    await alice.locator('#threads li.thread', { hasText: 'From natural resources' }).waitFor();
    await mine.locator('.tag.pending').waitFor({ state: 'detached' });

    // The discussion on both nodes; bruno's reply is pending (drawn from his own post's answer), then
    // confirmed by A, and live in alice's open thread; her answer reaches his, with her node's link.
    await mine.getByRole('link').click();
    await bruno.locator('#thread h1', { hasText: 'From natural resources' }).waitFor();
    await alice.locator('#threads li.thread a', { hasText: 'From natural resources' }).click();
    await alice.locator('#thread h1', { hasText: 'From natural resources' }).waitFor();
    const fetched = (page: Page, href: string) =>
      page.evaluate(async (url) => {
        const res = await fetch(url);
        return {
          status: res.status,
          disposition: res.headers.get('content-disposition'),
          text: await res.text(),
        };
      }, href);
    for (const [page, name] of [
      [bruno, /Télécharger survey\.csv \(19 octets\)/],
      [alice, /Download survey\.csv \(19 bytes\)/],
    ] as const) {
      const link = page.locator('#thread .attachments').getByRole('link', { name });
      await link.waitFor();
      const got = await fetched(page, (await link.getAttribute('href'))!);
      expect(got).toMatchObject({ status: 200, text: survey });
      expect(got.disposition).toMatch(/attachment; filename="survey.csv"/);
    }
    await watchPending(bruno);
    await bruno.locator('#reply-body').fill('First results attached next week.');
    await bruno.locator('#reply-form').getByRole('button', { name: 'Publier' }).click();
    const brunoReply = bruno.locator('#replies li', { hasText: 'First results' });
    await brunoReply.waitFor();
    expect(await sawPending(bruno)).toBe(true);
    await brunoReply.locator('.tag.pending').waitFor({ state: 'detached' });
    const onA = alice.locator('#replies li', { hasText: 'First results' });
    await onA.waitFor();
    await onA.getByText(`@bruno@${new URL(d.node('b').url).host}`).waitFor();

    await alice.locator('#reply-body').fill('Thanks, looking forward to it.');
    await alice.locator('#reply-form').getByRole('button', { name: 'Post' }).click();
    const aliceReply = bruno.locator('#replies li', { hasText: 'looking forward' });
    await aliceReply.getByRole('link', { name: `le voir sur ${hostA}` }).waitFor();
    // Likes and edits from B reach A live.
    await aliceReply.getByRole('button', { name: /^J’aime/ }).click();
    await alice.locator('#replies li', { hasText: 'looking forward' }).getByText('1 like').waitFor();
    await brunoReply.getByRole('button', { name: 'Modifier' }).click();
    await bruno.locator('#edit-body').fill('First results attached on Monday.');
    await bruno.locator('#replies .edit-form').getByRole('button', { name: 'Enregistrer' }).click();
    await alice.locator('#replies li', { hasText: 'attached on Monday' }).waitFor();
    expect(await axe(bruno)).toEqual([]);
    // The thread's address on B is a page of its own (loaded afresh, not only reached in place).
    await bruno.reload();
    await ready(bruno, new URL(bruno.url()).pathname);
    await bruno.locator('#replies li', { hasText: 'attached on Monday' }).waitFor();

    // Leaving from B ends the membership on A.
    await go(bruno, `/groups/${encodeURIComponent(handle)}`);
    await bruno.getByRole('button', { name: 'Quitter le groupe' }).click();
    await bruno.getByRole('button', { name: 'Joindre' }).waitFor();
    await go(alice, '/groups/policy-lab');
    await alice.locator('#member-count', { hasText: '1 member' }).waitFor();
    expect(problems).toEqual([]);
  });

  it('a request from B is denied on A: bruno’s open page says so at once; an invitation from A is accepted on B', async () => {
    await createPublicGroup(aliceApi, 'intake', { name: 'Intake', joinPolicy: 'request' });
    await search(bruno, `${d.node('a').url}/groups/intake`);
    await bruno.locator('#remote-group').getByRole('button', { name: 'Demander à joindre' }).click();
    const handle = `intake@${hostA}`;
    await ready(bruno, `/groups/${encodeURIComponent(handle)}`);
    await bruno.getByText('Votre demande attend un modérateur.').waitFor();
    // A's moderator sees the request from B in the queue, and denies it.
    await go(alice, '/groups/intake/members');
    const request = alice.locator('#join-requests li', { hasText: 'Bruno Côté' });
    await request.waitFor();
    await request.getByRole('button', { name: 'Deny' }).click();
    await bruno
      .locator('#membership-state', { hasText: 'Votre demande d’adhésion a été refusée.' })
      .waitFor();
    await bruno.getByRole('button', { name: 'Demander à joindre' }).waitFor();

    await createPublicGroup(aliceApi, 'cabinet-prep', { name: 'Cabinet prep', joinPolicy: 'invite' });
    const hostB = new URL(d.node('b').url).host;
    expect(
      (await aliceApi.call('POST', '/groups/cabinet-prep/invitations', { person: `bruno@${hostB}` })).status,
    ).toBe(204);
    await go(bruno, '/');
    await bruno.locator('#invitations li', { hasText: 'Cabinet prep' }).getByRole('link').click();
    await bruno.getByRole('button', { name: 'Accepter' }).click();
    await bruno.getByRole('button', { name: 'Quitter le groupe' }).waitFor();
    await go(alice, '/groups/cabinet-prep/members');
    await alice.locator('#members li', { hasText: 'Bruno Côté' }).waitFor();
    expect(problems).toEqual([]);
  });
});
