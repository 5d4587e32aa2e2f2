import type { DemoPerson } from '../../server/auth/dev-idp.js';
import { freePort } from '../../server/core/net.js';
import { startTestNode, type RunningNode } from '../helpers/app.js';
import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

const cast: DemoPerson[] = ['owen', 'mia', 'max', 'olga'].map((sub) => ({
  sub,
  name: sub[0]!.toUpperCase() + sub.slice(1),
  email: `${sub}@dept.example`,
  locale: 'en',
  organization: '',
}));

describe('discussion threads over the REST API', () => {
  let idp: TestIdp;
  let node: RunningNode;
  const as: Record<string, ApiClient> = {};
  let anonymous: ApiClient;
  let threadId: string;

  const searchIds = async (who: ApiClient, q: string) =>
    (await who.call('GET', `/search?q=${encodeURIComponent(q)}`)).body.items.map(
      (i: { kind: string; thread?: { id: string }; reply?: { id: string } }) =>
        i.kind === 'thread' ? i.thread!.id : i.reply!.id,
    );

  beforeAll(async () => {
    const port = await freePort();
    idp = await startTestIdp({ id: 'dept', nodeUrl: `http://127.0.0.1:${port}`, people: cast });
    node = await startTestNode({ port, issuers: [idp.issuer] });
    for (const who of ['owen', 'mia', 'max', 'olga']) {
      const browser = new Browser();
      await signIn(browser, node.url, 'dept', who);
      as[who] = new ApiClient(browser, node.url);
    }
    anonymous = new ApiClient(new Browser(), node.url);
    // owen owns a public open group (mia joins, max moderates) and a members-only one.
    expect(
      (
        await as.owen!.call('POST', '/groups', {
          handle: 'policy',
          name: 'Policy lab',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await as.owen!.call('POST', '/groups', {
          handle: 'cabinet',
          name: 'Cabinet prep',
          visibility: 'members',
          joinPolicy: 'invite',
        })
      ).status,
    ).toBe(201);
    for (const who of ['mia', 'max'])
      expect((await as[who]!.call('POST', '/groups/policy/join')).status).toBe(200);
    expect(
      (await as.owen!.call('PUT', '/groups/policy/members/max/role', { role: 'moderator' })).status,
    ).toBe(204);
  });
  afterAll(async () => {
    await node.close();
    await idp.close();
  });

  it('members start threads; markdown is sanitised and @mentions link to profiles', async () => {
    const res = await as.mia!.call('POST', '/groups/policy/threads', {
      title: 'Consultation on données ouvertes',
      body: 'Thoughts, @max? Write to mia@dept.example. @nobody <img src=x onerror=alert(1)>',
    });
    expect(res.status).toBe(201);
    threadId = res.body.id;
    expect(res.body.body.html).toContain('<a href="/people/max" rel="nofollow noopener noreferrer">@max</a>');
    expect(res.body.body.html).toContain('@nobody');
    expect(res.body.body.html).not.toContain('/people/nobody');
    expect(res.body.body.html).not.toMatch(/onerror|<img/);
    expect(res.body.author).toEqual({ handle: 'mia', displayName: 'Mia' });
  });

  it('previews a body as it would be written, without writing anything', async () => {
    const before = await node.database.db.collection('threads').countDocuments();
    const res = await as.mia!.call('POST', '/posts/preview', {
      body: '**Hello** @max <script>alert(1)</script>',
    });
    expect(res.status).toBe(200);
    expect(res.body.html).toContain('<strong>Hello</strong>');
    expect(res.body.html).toContain('<a href="/people/max" rel="nofollow noopener noreferrer">@max</a>');
    expect(res.body.html).not.toMatch(/script|alert/);
    expect(await node.database.db.collection('threads').countDocuments()).toBe(before);
    expect((await anonymous.call('POST', '/posts/preview', { body: 'x' })).status).toBe(401);
    const bad = await as.mia!.call('POST', '/posts/preview', { body: 42 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.body');
  });

  it('non-members cannot post; anonymous visitors read a public group; members-only threads do not exist for outsiders', async () => {
    expect(
      (await as.olga!.call('POST', '/groups/policy/threads', { title: 'Hello there', body: 'x' })).status,
    ).toBe(403);
    expect((await anonymous.call('GET', `/threads/${threadId}`)).status).toBe(200);
    expect((await anonymous.call('GET', '/groups/policy/threads')).body.items).toHaveLength(1);
    const secret = await as.owen!.call('POST', '/groups/cabinet/threads', {
      title: 'Budget leak plan',
      body: 'confidential text',
    });
    expect((await as.olga!.call('GET', `/threads/${secret.body.id}`)).status).toBe(404);
    expect((await as.olga!.call('GET', `/threads/${secret.body.id}/replies`)).status).toBe(404);
    expect((await as.olga!.call('POST', `/threads/${secret.body.id}/replies`, { body: 'hi' })).status).toBe(
      404,
    );
    expect((await as.olga!.call('GET', '/groups/cabinet/threads')).status).toBe(404);
    expect((await anonymous.call('GET', `/threads/${secret.body.id}`)).status).toBe(404);
    // One reply, as clients refresh it after a live edit: the same rule.
    const inner = await as.owen!.call('POST', `/threads/${secret.body.id}/replies`, { body: 'inner circle' });
    expect((await as.owen!.call('GET', `/replies/${inner.body.id}`)).body).toMatchObject({
      id: inner.body.id,
      seq: 1,
      body: { html: '<p>inner circle</p>\n' },
    });
    expect((await as.olga!.call('GET', `/replies/${inner.body.id}`)).status).toBe(404);
    expect((await anonymous.call('GET', `/replies/${inner.body.id}`)).status).toBe(404);
    // Every door to a hidden reply answers as for a reply that does not exist: its thread is never named.
    const missing = '0123456789abcdef01234567';
    for (const [method, path, body] of [
      ['GET', '/replies/:id', undefined],
      ['PATCH', '/replies/:id', { body: 'edited' }],
      ['DELETE', '/replies/:id', undefined],
      ['PUT', '/replies/:id/like', undefined],
      ['POST', '/replies/:id/reports', { reason: 'spam spam spam' }],
    ] as const) {
      const hidden = await as.olga!.call(method, path.replace(':id', inner.body.id), body);
      const absent = await as.olga!.call(method, path.replace(':id', missing), body);
      expect({ path, status: hidden.status }).toEqual({ path, status: 404 });
      expect(JSON.stringify(hidden.body)).not.toContain(secret.body.id);
      expect(hidden.body.detail).toBe(absent.body.detail.replace(missing, inner.body.id));
    }
    const bad = await anonymous.call('GET', '/replies/..%2F..%2Fetc');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'params.id' })]);
  });

  it('replies nest under replies, oldest first, and bump the thread', async () => {
    const first = await as.max!.call('POST', `/threads/${threadId}/replies`, { body: 'First answer' });
    expect(first.status).toBe(201);
    const nested = await as.owen!.call('POST', `/threads/${threadId}/replies`, {
      body: 'Answer to the answer',
      parentId: first.body.id,
    });
    expect(nested.body).toMatchObject({ parentId: first.body.id, depth: 2 });
    const page = await anonymous.call('GET', `/threads/${threadId}/replies`);
    expect(page.body.items.map((r: { id: string }) => r.id)).toEqual([first.body.id, nested.body.id]);
    const thread = await anonymous.call('GET', `/threads/${threadId}`);
    expect(thread.body.replyCount).toBe(2);
    expect(thread.body.lastActivityAt >= nested.body.createdAt).toBe(true);

    const other = await as.mia!.call('POST', '/groups/policy/threads', {
      title: 'Another thread',
      body: 'b',
    });
    const wrongParent = await as.mia!.call('POST', `/threads/${other.body.id}/replies`, {
      body: 'x',
      parentId: first.body.id,
    });
    expect(wrongParent.status).toBe(400);
    expect(wrongParent.body.errors[0].field).toBe('body.parentId');
  });

  it('authors edit their own posts only', async () => {
    expect((await as.max!.call('PATCH', `/threads/${threadId}`, { title: 'Hijacked' })).status).toBe(403);
    expect(
      (await as.mia!.call('PATCH', `/threads/${threadId}`, { title: 'Consultation on open data' })).status,
    ).toBe(204);
    const thread = await as.mia!.call('GET', `/threads/${threadId}`);
    expect(thread.body.title).toBe('Consultation on open data');
    expect(thread.body.editedAt).not.toBeNull();
    expect(thread.body.body.markdown).toContain('@max'); // the author sees the source
    expect((await as.max!.call('GET', `/threads/${threadId}`)).body.body.markdown).toBeUndefined();
  });

  it('likes once per person, and takes likes back', async () => {
    expect((await as.max!.call('PUT', `/threads/${threadId}/like`)).body.likeCount).toBe(1);
    expect((await as.max!.call('PUT', `/threads/${threadId}/like`)).body.likeCount).toBe(1);
    expect((await as.owen!.call('PUT', `/threads/${threadId}/like`)).body.likeCount).toBe(2);
    expect((await as.max!.call('GET', `/threads/${threadId}`)).body.likedByMe).toBe(true);
    expect((await as.max!.call('DELETE', `/threads/${threadId}/like`)).body.likeCount).toBe(1);
    expect((await as.olga!.call('PUT', `/threads/${threadId}/like`)).status).toBe(403);
  });

  it('moderators pin and lock; a locked thread takes replies from moderators only', async () => {
    expect((await as.mia!.call('PUT', `/threads/${threadId}/pin`)).status).toBe(403);
    expect((await as.max!.call('PUT', `/threads/${threadId}/pin`)).status).toBe(204);
    const list = await anonymous.call('GET', '/groups/policy/threads');
    expect(list.body.pinned.map((t: { id: string }) => t.id)).toEqual([threadId]);
    expect(list.body.items.map((t: { id: string }) => t.id)).not.toContain(threadId);
    expect((await as.max!.call('PUT', `/threads/${threadId}/lock`)).status).toBe(204);
    expect((await as.mia!.call('POST', `/threads/${threadId}/replies`, { body: 'late' })).status).toBe(403);
    expect(
      (await as.max!.call('POST', `/threads/${threadId}/replies`, { body: 'Closing note' })).status,
    ).toBe(201);
    expect((await as.max!.call('DELETE', `/threads/${threadId}/lock`)).status).toBe(204);
  });

  it('deleting leaves a tombstone; moderators must give a reason', async () => {
    const reply = await as.mia!.call('POST', `/threads/${threadId}/replies`, { body: 'Off-topic rant' });
    const own = await as.mia!.call('POST', `/threads/${threadId}/replies`, { body: 'Oops, wrong thread' });
    expect((await as.mia!.call('DELETE', `/replies/${own.body.id}`)).status).toBe(204);
    expect((await as.olga!.call('DELETE', `/replies/${reply.body.id}`, { reason: 'x' })).status).toBe(403);
    const noReason = await as.max!.call('DELETE', `/replies/${reply.body.id}`);
    expect(noReason.status).toBe(400);
    expect(noReason.body.errors[0].field).toBe('body.reason');
    expect((await as.max!.call('DELETE', `/replies/${reply.body.id}`, { reason: 'Off topic' })).status).toBe(
      204,
    );
    const items = (await anonymous.call('GET', `/threads/${threadId}/replies?limit=100`)).body.items;
    const removed = items.find((r: { id: string }) => r.id === reply.body.id);
    expect(removed).toMatchObject({
      body: null,
      author: null,
      deleted: { byModerator: true, reason: 'Off topic' },
    });
    expect(items.find((r: { id: string }) => r.id === own.body.id)).toMatchObject({
      body: null,
      deleted: { byModerator: false, reason: null },
    });
    expect(JSON.stringify(items)).not.toContain('rant');
  });

  it('pages threads by cursor without duplicates or gaps while new threads arrive', async () => {
    const created: string[] = [];
    for (let i = 0; i < 12; i++) {
      created.push(
        (await as.mia!.call('POST', '/groups/policy/threads', { title: `Paged thread ${i}`, body: 'x' })).body
          .id,
      );
    }
    const seen: string[] = [];
    let page = await anonymous.call('GET', '/groups/policy/threads?limit=5');
    seen.push(...page.body.items.map((t: { id: string }) => t.id));
    for (let i = 0; i < 3; i++)
      await as.mia!.call('POST', '/groups/policy/threads', { title: `Newcomer ${i}`, body: 'x' });
    while (page.body.nextCursor) {
      page = await anonymous.call(
        'GET',
        `/groups/policy/threads?limit=5&cursor=${encodeURIComponent(page.body.nextCursor)}`,
      );
      seen.push(...page.body.items.map((t: { id: string }) => t.id));
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of created) expect(seen).toContain(id);
    expect((await anonymous.call('GET', '/groups/policy/threads?cursor=garbage')).status).toBe(400);
  });

  it('the home feed shows recent posts from my groups only', async () => {
    const feed = await as.max!.call('GET', '/feed?limit=5');
    expect(feed.status).toBe(200);
    expect(feed.body.items).toHaveLength(5);
    expect(feed.body.items[0].thread.title).toBe('Newcomer 2');
    const owenFeed = JSON.stringify((await as.owen!.call('GET', '/feed?limit=100')).body);
    expect(owenFeed).toContain('Budget leak plan');
    expect(JSON.stringify((await as.max!.call('GET', '/feed?limit=100')).body)).not.toContain(
      'Budget leak plan',
    );
    expect((await anonymous.call('GET', '/feed')).status).toBe(401);
  });

  it('search finds what the searcher may read, whatever the accents, and nothing else', async () => {
    expect(await searchIds(anonymous, 'DONNEES')).toEqual([]); // the title was edited away from it
    expect(await searchIds(anonymous, 'open data')).toEqual([threadId]);
    expect(await searchIds(as.olga!, 'budget')).toEqual([]);
    expect(await searchIds(anonymous, 'confidential')).toEqual([]);
    expect(await searchIds(as.owen!, 'confidential')).toHaveLength(1);
    // Narrowing the group's visibility narrows search at once; deleting hides everything.
    expect((await as.owen!.call('PATCH', '/groups/policy', { visibility: 'node' })).status).toBe(200);
    expect(await searchIds(anonymous, 'open data')).toEqual([]);
    expect(await searchIds(as.olga!, 'open data')).toEqual([threadId]);
    expect((await as.owen!.call('DELETE', '/groups/policy')).status).toBe(204);
    expect(await searchIds(as.mia!, 'open data')).toEqual([]);
    expect((await as.owen!.call('POST', '/groups/policy/restore')).status).toBe(200);
    expect(await searchIds(as.olga!, 'open data')).toEqual([threadId]);
    expect((await as.owen!.call('PATCH', '/groups/policy', { visibility: 'public' })).status).toBe(200);
  });

  it('reports reach the moderators, who dismiss them or remove the post', async () => {
    const post = await as.mia!.call('POST', `/threads/${threadId}/replies`, { body: 'Buy cheap watches' });
    const report = await as.olga!.call('POST', `/replies/${post.body.id}/reports`, { reason: 'spam' });
    expect(report.status).toBe(201);
    expect((await as.mia!.call('GET', '/groups/policy/reports')).status).toBe(403);
    const queue = await as.max!.call('GET', '/groups/policy/reports');
    expect(queue.body).toEqual([
      expect.objectContaining({ id: report.body.id, kind: 'reply', reason: 'spam', state: 'open' }),
    ]);
    expect(
      (
        await as.max!.call('POST', `/groups/policy/reports/${report.body.id}/resolve`, {
          decision: 'remove',
          note: 'spam',
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await as.max!.call('POST', `/groups/policy/reports/${report.body.id}/resolve`, {
          decision: 'dismiss',
        })
      ).status,
    ).toBe(409);
    const items = (await anonymous.call('GET', `/threads/${threadId}/replies?limit=100`)).body.items;
    expect(items.find((r: { id: string }) => r.id === post.body.id).deleted).toMatchObject({
      byModerator: true,
      reason: 'spam',
    });
    const audit = (await as.owen!.call('GET', '/groups/policy/audit')).body.map(
      (e: { action: string }) => e.action,
    );
    expect(audit).toEqual(
      expect.arrayContaining(['post.removed', 'report.removed', 'thread.pinned', 'thread.locked']),
    );
  });

  it('a reply moves its thread to the top; pinned threads show apart, on the first page only', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const made = await as.mia!.call('POST', '/groups/policy/threads', { title: `Order ${i}`, body: 'x' });
      ids.push(made.body.id);
    }
    await as.max!.call('POST', `/threads/${ids[1]}/replies`, { body: 'bump' });
    await as.max!.call('POST', `/threads/${ids[0]}/replies`, { body: 'bump' });
    expect((await as.max!.call('PUT', `/threads/${ids[2]}/pin`)).status).toBe(204);
    const first = await anonymous.call('GET', '/groups/policy/threads?limit=3');
    expect(first.body.pinned.map((t: { id: string }) => t.id)).toContain(ids[2]);
    expect(first.body.items.map((t: { id: string }) => t.id)).toEqual([ids[0], ids[1], ids[3]]);
    const second = await anonymous.call(
      'GET',
      `/groups/policy/threads?limit=3&cursor=${encodeURIComponent(first.body.nextCursor)}`,
    );
    expect(second.body.pinned).toEqual([]);
    expect(second.body.items.map((t: { id: string }) => t.id)).not.toContain(ids[2]);
    expect((await as.max!.call('DELETE', `/threads/${ids[2]}/pin`)).status).toBe(204);
    const after = await anonymous.call('GET', '/groups/policy/threads?limit=5');
    expect(after.body.pinned.map((t: { id: string }) => t.id)).not.toContain(ids[2]);
    expect(after.body.items.map((t: { id: string }) => t.id).slice(0, 4)).toEqual([
      ids[0],
      ids[1],
      ids[3],
      ids[2],
    ]);
  });

  it('pages replies in order without duplicates or gaps while new replies arrive', async () => {
    const thread = await as.mia!.call('POST', '/groups/policy/threads', { title: 'Long one', body: 'x' });
    const posted: string[] = [];
    const post = async (i: number) =>
      posted.push(
        (await as.mia!.call('POST', `/threads/${thread.body.id}/replies`, { body: `reply ${i}` })).body.id,
      );
    for (let i = 0; i < 7; i++) await post(i);
    const seen: string[] = [];
    let page = await anonymous.call('GET', `/threads/${thread.body.id}/replies?limit=3`);
    seen.push(...page.body.items.map((r: { id: string }) => r.id));
    for (let i = 7; i < 10; i++) await post(i);
    while (page.body.nextCursor) {
      page = await anonymous.call(
        'GET',
        `/threads/${thread.body.id}/replies?limit=3&cursor=${encodeURIComponent(page.body.nextCursor)}`,
      );
      seen.push(...page.body.items.map((r: { id: string }) => r.id));
    }
    expect(seen).toEqual(posted);
    expect((await anonymous.call('GET', `/threads/${thread.body.id}`)).body.replyCount).toBe(10);
    expect((await anonymous.call('GET', `/threads/${thread.body.id}/replies?cursor=-1`)).status).toBe(400);
  });

  it('purges a deleted group with everything in it once the retention period has passed', async () => {
    expect((await as.owen!.call('DELETE', '/groups/cabinet')).status).toBe(204);
    const { db } = node.database;
    const group = await db.collection('groups').findOne({ handle: 'cabinet' });
    expect(await node.node.purge.sweep()).toEqual([]); // still within the retention period
    const later = new Date(Date.now() + 31 * 86_400_000);
    expect(await node.node.purge.sweep(later)).toEqual(['cabinet']);
    for (const name of ['groups', 'memberships', 'threads', 'replies', 'group_audit', 'thread_timeline']) {
      const filter = name === 'groups' ? { _id: group!._id } : { groupId: group!._id };
      expect(await db.collection(name).countDocuments(filter)).toBe(0);
    }
    expect((await as.owen!.call('POST', '/groups/cabinet/restore')).status).toBe(404);
    // Other groups are untouched.
    expect((await anonymous.call('GET', '/groups/policy')).status).toBe(200);
  });
});
