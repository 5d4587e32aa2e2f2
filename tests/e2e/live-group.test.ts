import type { Page } from 'playwright-core';
import { api, go, signedIn, startE2E, unreloaded, type E2E } from '../helpers/e2e.js';

/**
 * The web client as two people use it in real Chromium against a real development node (its identity
 * provider, its demo group `welcome` with alice and bruno): what one does appears on the other's open
 * page without a reload, notifications arrive live, and a dropped connection loses nothing.
 */
describe('a group and a thread kept live in the browser', () => {
  let e2e: E2E;
  const post = (page: Page, path: string, body: unknown) => api(page, 'POST', path, body);

  /** alice starts a group through the API and opens its members page. */
  async function aliceStarts(group: {
    handle: string;
    name: string;
    visibility: string;
    joinPolicy: string;
  }) {
    expect((await post(alice, '/groups', group)).status).toBe(201);
    await go(alice, `/groups/${group.handle}/members`);
  }

  let alice: Page;
  let bruno: Page;
  let threadId: string;
  beforeAll(async () => {
    e2e = await startE2E();
    alice = (await signedIn(e2e, 'Alice')).page;
    bruno = (await signedIn(e2e, 'Bruno')).page;
  });
  afterAll(async () => {
    await e2e?.close();
  });
  const problems = () => e2e.problems;

  it('a new discussion appears on the other person’s open group page, and a reply in their open thread', async () => {
    await go(alice, '/groups/welcome');
    await go(bruno, '/groups/welcome');
    await alice.locator('#threads li.thread').first().waitFor();
    await bruno.locator('#threads li.thread').first().waitFor();

    // bruno reads Ensemble in French (his profile's locale), alice in English.
    await bruno.getByLabel('Titre').fill('Shared budget template');
    await bruno.getByLabel('Message').fill('Has anyone a template for the Q3 budget?');
    await bruno.getByRole('button', { name: 'Publier' }).click();
    const link = alice.locator('#threads').getByRole('link', { name: 'Shared budget template' });
    await link.waitFor();
    expect(await unreloaded(alice)).toBe(true);

    await link.click();
    await alice.locator('#thread h1', { hasText: 'Shared budget template' }).waitFor();
    expect(alice.url()).toMatch(/\/groups\/welcome\/threads\/[0-9a-f]{24}$/);
    threadId = alice.url().split('/').pop()!;
    await go(bruno, `/groups/welcome/threads/${threadId}`);
    await bruno.locator('#reply-form').waitFor();

    await alice.locator('#reply-body').fill('Yes, I will share ours.');
    await alice.locator('#reply-form').getByRole('button', { name: 'Post' }).click();
    await bruno.locator('#replies li', { hasText: 'Yes, I will share ours.' }).waitFor();
    // The author's own page shows it once, not again when its live event comes back.
    await alice.waitForTimeout(300);
    expect(await alice.locator('#replies li', { hasText: 'Yes, I will share ours.' }).count()).toBe(1);
    expect(await unreloaded(bruno)).toBe(true);
  });

  it('a like and an edit appear live, and the thread author is notified of the reply', async () => {
    // bruno started the thread: alice's reply is a reply to his post, announced in his header at once.
    await bruno.locator('#unread', { hasText: '1' }).waitFor();
    const reply = bruno.locator('#replies li', { hasText: 'Yes, I will share ours.' });
    await reply.getByRole('button', { name: /J’aime/ }).click();
    await alice.locator('#replies li', { hasText: 'Yes, I will share ours.' }).getByText('1 like').waitFor();
    // Taken back: both pages show it (bruno's button through the same live event).
    await reply.getByRole('button', { name: /Je n’aime plus/ }).click();
    await alice.locator('#replies li', { hasText: 'Yes, I will share ours.' }).getByText('0 likes').waitFor();
    await reply.getByRole('button', { name: /J’aime · 0/ }).waitFor();

    const replyId = await alice.locator('#replies li').last().getAttribute('data-id');
    const edited = await alice.evaluate(async (id) => {
      const { token } = (await (await fetch('/api/v1/auth/csrf')).json()) as { token: string };
      return (
        await fetch(`/api/v1/replies/${id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json', 'x-csrf-token': token },
          body: JSON.stringify({ body: 'Yes, I will share ours (attached Monday).' }),
        })
      ).status;
    }, replyId);
    expect(edited).toBe(204);
    await bruno.locator('#replies li', { hasText: 'attached Monday' }).waitFor();

    await bruno.locator('#bell').click();
    const item = bruno.locator('#notifications li.unread', { hasText: '@alice a répondu à votre message' });
    await item.waitFor();
    await bruno.getByRole('button', { name: 'Tout marquer comme lu' }).click();
    await bruno.locator('#notifications li.read', { hasText: '@alice a répondu à votre message' }).waitFor();
    await bruno.locator('#unread').waitFor({ state: 'hidden' });
    // The list is what the server keeps: it survives a reload.
    await bruno.reload();
    await bruno.locator('#notifications li.read', { hasText: '@alice a répondu à votre message' }).waitFor();
    expect(await bruno.locator('#notifications li.unread').count()).toBe(0);
  });

  it('after a long drop the page reads what it missed through the API, in order, once each', async () => {
    await go(alice, `/groups/welcome/threads/${threadId}`);
    await alice.locator('#replies li').first().waitFor();
    // A client-side disconnect ends the connection for good: there is nothing for Socket.IO to recover.
    await alice.evaluate(() => (globalThis as unknown as Ensemble).ensemble.live.socket.disconnect());
    await alice.locator('#live-status', { hasText: 'Reconnecting' }).waitFor();
    for (const n of [1, 2, 3]) {
      const res = await post(bruno, `/threads/${threadId}/replies`, { body: `While you were away ${n}` });
      expect(res.status).toBe(201);
    }
    await alice.waitForTimeout(300);
    expect(await alice.locator('#replies li', { hasText: 'While you were away' }).count()).toBe(0);
    await alice.evaluate(() => (globalThis as unknown as Ensemble).ensemble.live.socket.connect());
    await alice.locator('#live-status', { hasText: 'Live' }).waitFor();
    await alice.locator('#replies li', { hasText: 'While you were away 3' }).waitFor();
    const texts = await alice.locator('#replies li .body').allTextContents();
    const away = texts.filter((t) => t.includes('While you were away')).map((t) => t.trim());
    expect(away).toEqual(['While you were away 1', 'While you were away 2', 'While you were away 3']);
    // Live again: the next reply arrives by itself.
    await post(bruno, `/threads/${threadId}/replies`, { body: 'Back online' });
    await alice.locator('#replies li', { hasText: 'Back online' }).waitFor();
  });

  it('after a short network drop Socket.IO replays what was missed (connection state recovery)', async () => {
    await alice.evaluate(() => {
      const { socket } = (globalThis as unknown as Ensemble).ensemble.live;
      socket.io.reconnection(false);
      socket.io.engine.close(); // the transport drops, as on a network cut
    });
    await alice.locator('#live-status', { hasText: 'Reconnecting' }).waitFor();
    await post(bruno, `/threads/${threadId}/replies`, { body: 'Sent during the blip' });
    await alice.evaluate(() => {
      const { socket } = (globalThis as unknown as Ensemble).ensemble.live;
      socket.io.reconnection(true);
      socket.connect();
    });
    await alice.locator('#replies li', { hasText: 'Sent during the blip' }).waitFor();
    expect(
      await alice.evaluate(() => (globalThis as unknown as Ensemble).ensemble.live.socket.recovered),
    ).toBe(true);
    expect(await alice.locator('#replies li', { hasText: 'Sent during the blip' }).count()).toBe(1);
  });

  it('starts a group from the home page; a taken short name is refused in the form, with the reason', async () => {
    await go(alice, '/');
    await alice.locator('details.start-group summary').click();
    const form = alice.locator('#start-group');
    await form.getByLabel('Name in English').fill('Budget officers');
    await form.getByLabel(/Short name/).fill('welcome');
    await form.getByRole('button', { name: 'Create' }).click();
    await form
      .getByRole('alert')
      .filter({ hasText: /welcome/ })
      .waitFor();
    expect(await unreloaded(alice)).toBe(true);
    await form.getByLabel(/Short name/).fill('budget-officers');
    await form.getByRole('button', { name: 'Create' }).click();
    await alice.locator('#group-heading h1', { hasText: 'Budget officers' }).waitFor();
    expect(alice.url()).toMatch(/\/groups\/budget-officers$/);
  });

  it('a newcomer and a new file appear in the open group page’s activity by name', async () => {
    // alice is on the library of the group she just started; bruno finds it and joins.
    await go(alice, '/groups/budget-officers/files');
    await go(bruno, '/groups/budget-officers/files');
    await bruno.getByRole('button', { name: 'Joindre' }).click();
    await alice.locator('#activity li', { hasText: 'Bruno Côté joined' }).waitFor();
    await alice.locator('#member-count', { hasText: '2' }).waitFor();

    // Joined: bruno's own page redraws with what a member may do, the library's upload form among them.
    const upload = bruno.locator('#upload');
    await upload.locator('input[type=file]').setInputFiles({
      name: 'q3-budget.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('line,amount\nQ3,1200\n'),
    });
    await upload.getByRole('button', { name: 'Ajouter', exact: true }).click();
    await alice.locator('#activity li', { hasText: 'q3-budget.csv was added' }).waitFor();
    await alice.locator('#files').getByRole('button', { name: 'q3-budget.csv' }).waitFor();
    expect(await unreloaded(alice)).toBe(true);
  });

  it('a join request reaches the moderator’s open page; once approved, the person is in, live', async () => {
    await aliceStarts({
      handle: 'audit-network',
      name: 'Audit network',
      visibility: 'public',
      joinPolicy: 'request',
    });
    await alice.locator('#join-requests li', { hasText: 'No one is waiting.' }).waitFor();
    await go(bruno, '/groups/audit-network');
    await bruno.getByRole('button', { name: 'Demander à joindre' }).click();
    await bruno.getByText('Votre demande attend un modérateur.').waitFor();

    const request = alice.locator('#join-requests li', { hasText: '@bruno' });
    await request.waitFor();
    expect(await unreloaded(alice)).toBe(true);
    await request.getByRole('button', { name: 'Approve' }).click();
    await alice.locator('#join-requests li', { hasText: 'No one is waiting.' }).waitFor();
    await alice.locator('#members li', { hasText: '@bruno' }).waitFor();
    // bruno's open page lets him in without a reload: he may now start a discussion.
    await bruno.locator('#new-thread').waitFor();
    await bruno.getByRole('button', { name: 'Quitter le groupe' }).waitFor();
    expect(await unreloaded(bruno)).toBe(true);

    // A denied request: bruno's open page says so at once and lets him ask again.
    await bruno.getByRole('button', { name: 'Quitter le groupe' }).click();
    await bruno.getByRole('button', { name: 'Demander à joindre' }).click();
    await bruno.getByText('Votre demande attend un modérateur.').waitFor();
    await request.getByRole('button', { name: 'Deny' }).click();
    await bruno
      .locator('#membership-state', { hasText: 'Votre demande d’adhésion a été refusée.' })
      .waitFor();
    await bruno.getByRole('button', { name: 'Demander à joindre' }).waitFor();
    expect(await unreloaded(bruno)).toBe(true);
  });

  it('an invitation sent from the group page is answered from the person’s notification', async () => {
    await aliceStarts({
      handle: 'cabinet-prep',
      name: 'Cabinet preparation',
      visibility: 'members',
      joinPolicy: 'invite',
    });
    await alice.getByLabel('Their short name on this node, or an email address').fill('@bruno');
    await alice.locator('#invite').getByRole('button', { name: 'Invite' }).click();
    await alice.getByText('@bruno is invited.').waitFor();

    await go(bruno, '/');
    await bruno.locator('#unread').waitFor();
    await bruno.locator('#bell').click();
    await bruno.locator('#notifications a', { hasText: '@alice vous invite à joindre' }).click();
    await bruno.locator('#group-heading h1', { hasText: 'Cabinet preparation' }).waitFor();
    await bruno.getByRole('button', { name: 'Accepter' }).click();
    await bruno.locator('#new-thread').waitFor();
    await alice.locator('#members li', { hasText: '@bruno' }).waitFor();
    expect(await unreloaded(alice)).toBe(true);
    expect(problems().filter((p) => !p.includes('409'))).toEqual([]);
  });

  it('a moderator locks a discussion and removes a reply, an author deletes theirs: open pages follow', async () => {
    await go(alice, `/groups/welcome/threads/${threadId}`);
    await go(bruno, `/groups/welcome/threads/${threadId}`);
    await bruno.locator('#reply-form').waitFor();
    // alice owns the demo group: she moderates it.
    await alice.getByRole('button', { name: 'Lock', exact: true }).click();
    await bruno.locator('#thread h1 .tag', { hasText: 'Verrouillé' }).waitFor();
    await bruno.locator('#reply-form').waitFor({ state: 'hidden' });
    expect(await bruno.locator('#replies .reply-to:visible').count()).toBe(0);

    const offTopic = alice.locator('#replies li', { hasText: 'Back online' });
    await offTopic.locator('summary', { hasText: 'Remove' }).click();
    await offTopic.getByLabel('Reason (shown to the author)').fill('Off topic');
    await offTopic.locator('.remove-form button[type=submit]').click();
    await bruno.locator('#replies li', { hasText: 'Ce message a été retiré par un modérateur.' }).waitFor();
    expect(await bruno.locator('#replies li', { hasText: 'Back online' }).count()).toBe(0);

    // bruno takes back one of his own replies; alice's page shows it gone.
    const own = bruno.locator('#replies li', { hasText: 'While you were away 1' });
    // Asked first; a change of mind deletes nothing.
    await own.getByRole('button', { name: 'Supprimer' }).click();
    await bruno.locator('dialog.confirm').getByRole('button', { name: 'Annuler' }).click();
    await bruno.waitForTimeout(200);
    expect(await alice.locator('#replies li', { hasText: 'While you were away 1' }).count()).toBe(1);
    await own.getByRole('button', { name: 'Supprimer' }).click();
    await bruno.locator('dialog.confirm').getByRole('button', { name: 'Supprimer' }).click();
    await alice.locator('#replies li', { hasText: 'This post was removed.' }).waitFor();
    expect(await alice.locator('#replies li', { hasText: 'While you were away 1' }).count()).toBe(0);

    await alice.getByRole('button', { name: 'Unlock', exact: true }).click();
    await bruno.locator('#reply-form').waitFor();
    expect(await unreloaded(bruno)).toBe(true);
    expect(await unreloaded(alice)).toBe(true);
    expect(problems().filter((p) => !p.includes('409'))).toEqual([]);
  });

  it('an owner posts without notifying anyone; the next discussion notifies as usual', async () => {
    await go(bruno, '/groups/welcome');
    await bruno.getByLabel('M’avertir').selectOption('all');
    await bruno.getByText('Enregistré.').waitFor();
    const unreadCount = async () =>
      (await bruno.locator('#unread').count())
        ? Number(await bruno.locator('#unread').getAttribute('data-count'))
        : 0;
    const before = await unreadCount();

    await go(alice, '/groups/welcome');
    const form = alice.locator('#new-thread');
    await form.getByLabel('Title').fill('Quiet note');
    await form.getByLabel('Message').fill('Only for the record.');
    await form.getByLabel('Post without notifying anyone').check();
    await form.getByRole('button', { name: 'Post' }).click();
    await bruno.locator('#threads').getByRole('link', { name: 'Quiet note' }).waitFor();

    await form.getByLabel('Title').fill('Loud note');
    await form.getByLabel('Message').fill('Everyone should read this.');
    expect(await form.getByLabel('Post without notifying anyone').isChecked()).toBe(false);
    await form.getByRole('button', { name: 'Post' }).click();
    await bruno.locator(`#unread[data-count="${before + 1}"]`).waitFor();
    // The quiet one never arrives, not even late.
    await bruno.waitForTimeout(1000);
    expect(await unreadCount()).toBe(before + 1);
    await bruno.locator('#bell').click();
    const fresh = bruno.locator('#notifications li.unread');
    await fresh.first().waitFor();
    expect(await fresh.count()).toBe(before + 1);
  });
});

interface Ensemble {
  ensemble: {
    live: {
      socket: {
        disconnect(): void;
        connect(): void;
        recovered: boolean;
        io: { reconnection(on: boolean): void; engine: { close(): void } };
      };
    };
  };
}
