import type { CommandStartedEvent } from 'mongodb';
import type { ApiClient } from '../helpers/browser.js';
import { startWorld, type World } from '../helpers/world.js';

interface Page {
  pinned: { id: string; title: string }[];
  items: {
    id: string;
    title: string;
    replyCount: number;
    likeCount: number;
    likedByMe: boolean;
    deleted: unknown;
    author: { displayName: string } | null;
  }[];
}

/** What pages are built from (background pollers of jobs and deliveries read other collections). */
const PAGE_DATA = [
  'groups',
  'group_handles',
  'memberships',
  'threads',
  'thread_timeline',
  'sequence_hints',
  'thread_pins',
  'users',
];

/**
 * A page that is built (the page cache is off: every read built, as the first read after a write) is built
 * from records kept in the process (docs/adr/0034-record-cache.md). Each write must show at the next read,
 * and a change of access must hold at once. Across processes: tests/integration/realtime-cluster.test.ts.
 */
describe('the records pages are built from', () => {
  let w: World;
  let commands: { at: number; event: CommandStartedEvent }[] = [];
  const raw = (path: string) =>
    fetch(`${w.node.url}/api/v1${path}`, { headers: { accept: 'application/json' } });
  const page = async (handle: string) => (await (await raw(`/groups/${handle}/threads`)).json()) as Page;
  const reads = () =>
    commands.filter(
      ({ event: c }) =>
        ['find', 'aggregate', 'count'].includes(c.commandName) &&
        PAGE_DATA.includes(String(c.command[c.commandName])),
    );
  /** Background work of the writes (notifications, bookkeeping) is over: no page data read for a while. */
  async function quiet() {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const last = reads().at(-1)?.at ?? 0;
      if (Date.now() - last > 400) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    w = await startWorld(['olga', 'max', 'mia'], { PAGE_CACHE: 'off' }, {}, { monitorCommands: true });
    w.node.database.client.on('commandStarted', (event) => commands.push({ at: Date.now(), event }));
    const { olga, max } = w.as as Record<string, ApiClient>;
    await olga!.call('POST', '/groups', {
      handle: 'open',
      name: 'Open',
      visibility: 'public',
      joinPolicy: 'open',
    });
    await max!.call('POST', '/groups/open/join');
  });
  afterAll(() => w?.close());

  it('builds a page again without the database, and shows every write at the next read', async () => {
    const { olga, max } = w.as as Record<string, ApiClient>;
    const first = (await olga!.call('POST', '/groups/open/threads', { title: 'Budget', body: 'Draft.' })).body
      .id as string;
    const second = (await max!.call('POST', '/groups/open/threads', { title: 'Roads', body: 'Potholes.' }))
      .body.id as string;
    expect((await page('open')).items.map((t) => t.title)).toEqual(['Roads', 'Budget']);
    await quiet();
    commands = [];
    expect((await page('open')).items.map((t) => t.title)).toEqual(['Roads', 'Budget']);
    expect(reads()).toEqual([]); // kept: group, the first page's threads, their authors
    const shown = async (id: string) => (await page('open')).items.find((t) => t.id === id);

    // An edit.
    expect((await olga!.call('PATCH', `/threads/${first}`, { title: 'Budget 2027' })).status).toBe(204);
    expect(await shown(first)).toMatchObject({ title: 'Budget 2027' });
    // A reply: the thread comes first, with its count.
    expect((await max!.call('POST', `/threads/${first}/replies`, { body: 'Agreed.' })).status).toBe(201);
    const replied = await page('open');
    expect(replied.items.map((t) => t.id)).toEqual([first, second]);
    expect(replied.items[0]).toMatchObject({ replyCount: 1 });
    // A like: counted for everyone, and shown as theirs to the one who likes it (and taken back).
    const mine = async () =>
      ((await olga!.call('GET', '/groups/open/threads')).body as Page).items.find((t) => t.id === second);
    expect(await mine()).toMatchObject({ likedByMe: false });
    expect((await olga!.call('PUT', `/threads/${second}/like`)).status).toBeLessThan(300);
    expect(await shown(second)).toMatchObject({ likeCount: 1 });
    expect(await mine()).toMatchObject({ likedByMe: true, likeCount: 1 });
    expect((await olga!.call('DELETE', `/threads/${second}/like`)).status).toBeLessThan(300);
    expect(await mine()).toMatchObject({ likedByMe: false, likeCount: 0 });
    expect((await olga!.call('PUT', `/threads/${second}/like`)).status).toBeLessThan(300);
    expect(await shown(second)).toMatchObject({ likeCount: 1 });
    // A pin, and the pin taken back.
    expect((await olga!.call('PUT', `/threads/${second}/pin`)).status).toBe(204);
    expect((await page('open')).pinned.map((t) => t.id)).toEqual([second]);
    expect((await olga!.call('DELETE', `/threads/${second}/pin`)).status).toBe(204);
    expect((await page('open')).pinned).toEqual([]);
    // A new thread, first.
    const third = (await max!.call('POST', '/groups/open/threads', { title: 'Parks', body: 'Trees.' })).body
      .id as string;
    expect((await page('open')).items[0]).toMatchObject({ id: third, title: 'Parks' });
    // A deletion: the thread shows as deleted.
    expect((await olga!.call('DELETE', `/threads/${first}`)).status).toBe(204);
    expect(await shown(first)).toMatchObject({ deleted: expect.anything(), title: '' });
    // A new name, on every thread its person wrote.
    expect((await max!.call('PATCH', '/me/profile', { displayName: 'Max Renamed' })).status).toBe(200);
    expect((await shown(third))?.author).toMatchObject({ displayName: 'Max Renamed' });
  });

  it('takes a members-only group away from a person removed from it at once, and from everyone when it closes', async () => {
    const { olga, mia, max } = w.as as Record<string, ApiClient>;
    await olga!.call('POST', '/groups', {
      handle: 'cabinet',
      name: 'Cabinet',
      visibility: 'members',
      joinPolicy: 'invite',
    });
    expect((await olga!.call('POST', '/groups/cabinet/invitations', { person: 'mia' })).status).toBe(204);
    expect((await mia!.call('POST', '/groups/cabinet/invitation/accept')).status).toBe(204);
    await olga!.call('POST', '/groups/cabinet/threads', { title: 'Secret', body: 'Only for us.' });
    for (let i = 0; i < 2; i++) expect((await mia!.call('GET', '/groups/cabinet/threads')).status).toBe(200);
    expect((await raw('/groups/cabinet/threads')).status).toBe(404);
    expect((await max!.call('GET', '/groups/cabinet/threads')).status).toBe(404);
    expect((await olga!.call('DELETE', '/groups/cabinet/members/mia')).status).toBe(204);
    const gone = await mia!.call('GET', '/groups/cabinet/threads');
    expect(gone.status).toBe(404);
    expect(JSON.stringify(gone.body)).not.toContain('Secret');

    // A public group closed to its members: no anonymous reader sees it any more; a member still does.
    expect((await raw('/groups/open/threads')).status).toBe(200);
    expect((await olga!.call('PATCH', '/groups/open', { visibility: 'members' })).status).toBe(200);
    expect((await raw('/groups/open/threads')).status).toBe(404);
    expect((await mia!.call('GET', '/groups/open/threads')).status).toBe(404);
    expect((await max!.call('GET', '/groups/open/threads')).status).toBe(200);
    // Max leaves: he no longer sees it; opened again, everyone does.
    expect((await max!.call('POST', '/groups/open/leave')).status).toBe(204);
    expect((await max!.call('GET', '/groups/open/threads')).status).toBe(404);
    expect((await olga!.call('PATCH', '/groups/open', { visibility: 'public' })).status).toBe(200);
    expect((await raw('/groups/open/threads')).status).toBe(200);
  });

  // docs/adr/0038-kept-sessions.md
  it('checks a reply on kept records, without reading them again, and every change of access holds at once', async () => {
    const { olga, mia } = w.as as Record<string, ApiClient>;
    await olga!.call('POST', '/groups', {
      handle: 'desk',
      name: 'Desk',
      visibility: 'members',
      joinPolicy: 'invite',
    });
    expect((await olga!.call('POST', '/groups/desk/invitations', { person: 'mia' })).status).toBe(204);
    expect((await mia!.call('POST', '/groups/desk/invitation/accept')).status).toBe(204);
    const id = (await olga!.call('POST', '/groups/desk/threads', { title: 'Desk', body: 'x' })).body
      .id as string;
    const reply = (body: string) => mia!.call('POST', `/threads/${id}/replies`, { body });
    expect((await reply('first')).status).toBe(201);
    await quiet();
    commands = [];
    expect((await reply('second')).status).toBe(201);
    // Before the reply is written: no read of its thread, group, membership or session.
    const written = commands.findIndex(
      ({ event: c }) => c.commandName === 'insert' && c.command.insert === 'replies',
    );
    expect(written).toBeGreaterThan(-1);
    const checks = commands
      .slice(0, written)
      .filter(({ event: c }) => c.commandName === 'find')
      .map(({ event: c }) => String(c.command.find))
      .filter((c) => ['threads', 'groups', 'memberships', 'sessions'].includes(c));
    expect(checks).toEqual([]);

    // Locked: refused at once; unlocked: taken again.
    expect((await olga!.call('PUT', `/threads/${id}/lock`)).status).toBe(204);
    expect((await reply('locked')).status).toBe(403);
    expect((await olga!.call('DELETE', `/threads/${id}/lock`)).status).toBe(204);
    expect((await reply('unlocked')).status).toBe(201);
    // Removed from the group: refused at once, as if the thread did not exist.
    expect((await olga!.call('DELETE', '/groups/desk/members/mia')).status).toBe(204);
    expect((await reply('removed')).status).toBe(404);
    // Deleted: refused at once.
    expect((await olga!.call('POST', `/threads/${id}/replies`, { body: 'still here' })).status).toBe(201);
    expect((await olga!.call('DELETE', `/threads/${id}`)).status).toBe(204);
    expect((await olga!.call('POST', `/threads/${id}/replies`, { body: 'gone' })).status).toBe(409);
  });
});
