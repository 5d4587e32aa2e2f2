import type { ApiClient } from '../helpers/browser.js';
import { FakeServer, getSigned, postSigned, waitUntil, type FakeActor } from '../helpers/fediverse.js';
import { filesForm } from '../helpers/files.js';
import { startDepartments, type Departments } from '../helpers/nodes.js';

interface Post {
  id: string;
  title?: string;
  body: { html: string } | null;
}

const AS = 'https://www.w3.org/ns/activitystreams';

/**
 * Backfill of a members-only group (docs/federation.md, "Members-only groups across nodes"): a node whose
 * first member joins late reads what was posted before, through signed fetches that the group's node answers
 * only for nodes holding an active member. Three real nodes (server/ops/launcher.ts); stand-ins for a server
 * holding a member and one holding none, whose requests we sign ourselves.
 */
describe('a members-only group read late from another node (backfill)', () => {
  let d: Departments;
  let hostA: string;
  let alice: ApiClient;
  let bruno: ApiClient;
  let dev: ApiClient;
  let emma: ApiClient;
  /** A server holding a member of the group, and one holding none. */
  let peer: FakeServer;
  let elsewhere: FakeServer;
  let observer: FakeActor;
  let outsider: FakeActor;
  let threadIri: string;
  let fileId: string;

  const handle = () => `enclave@${hostA}`;
  const groupIri = () => `${d.node('a').url}/ap/a/g.enclave`;
  const path = () => `/groups/${encodeURIComponent(handle())}`;
  const lookup = (client: ApiClient, q: string) => client.call('GET', `/lookup?q=${encodeURIComponent(q)}`);
  const threadsOf = async (client: ApiClient): Promise<Post[]> =>
    ((await client.call('GET', `${path()}/threads`)).body.items ?? []) as Post[];
  const repliesOf = async (client: ApiClient, id: string): Promise<string[]> =>
    (((await client.call('GET', `/threads/${id}/replies`)).body.items ?? []) as Post[]).map(
      (r) => r.body?.html ?? '',
    );

  beforeAll(async () => {
    d = await startDepartments([
      { name: 'a', department: 'digital-services' },
      { name: 'b', department: 'natural-resources' },
      { name: 'c', department: 'environment' },
    ]);
    hostA = new URL(d.node('a').url).host;
    [alice, bruno, dev, emma] = await Promise.all([
      d.as('a', 'alice'),
      d.as('b', 'bruno'),
      d.as('b', 'dev'),
      d.as('c', 'emma'),
    ]);
    peer = await new FakeServer().start();
    observer = peer.actor('observer');
    elsewhere = await new FakeServer().start();
    outsider = elsewhere.actor('outsider');
    peer.webfinger('observer', observer);

    // A members-only group on A, with threads, replies and a file, all before anyone of B is a member.
    expect(
      (
        await alice.call('POST', '/groups', {
          handle: 'enclave',
          name: 'Enclave',
          visibility: 'members',
          joinPolicy: 'invite',
        })
      ).status,
    ).toBe(201);
    const uploaded = await alice.call(
      'POST',
      '/groups/enclave/attachments',
      filesForm([{ bytes: Buffer.from('Quiet numbers.\n'), name: 'numbers.txt' }]),
    );
    fileId = (uploaded.body as { id: string }[])[0]!.id;
    const first = await alice.call('POST', '/groups/enclave/threads', {
      title: 'Hushed plan',
      body: 'Step one.',
      attachments: [fileId],
    });
    expect(first.status).toBe(201);
    threadIri = `${d.node('a').url}/ap/threads/${first.body.id}`;
    for (const body of ['Hushed step two.', 'Hushed step three.'])
      expect((await alice.call('POST', `/threads/${first.body.id}/replies`, { body })).status).toBe(201);
    const second = await alice.call('POST', '/groups/enclave/threads', { title: 'Hushed budget', body: '.' });
    expect(
      (await alice.call('POST', `/threads/${second.body.id}/replies`, { body: 'Hushed sum.' })).status,
    ).toBe(201);

    // The stand-in server's person is invited and follows: a server holding an active member.
    expect(
      (await alice.call('POST', '/groups/enclave/invitations', { person: `observer@${peer.host}` })).status,
    ).toBe(204);
    const follow = { id: `${peer.url}/follows/1`, type: 'Follow', actor: observer.id, object: groupIri() };
    expect((await postSigned(`${groupIri()}/inbox`, { '@context': AS, ...follow }, observer)).status).toBe(
      202,
    );
    await waitUntil(async () => (await getSigned(threadIri, observer)).status === 200, 15_000, 'observer in');
  }, 180_000);
  afterAll(async () => {
    await peer?.close();
    await elsewhere?.close();
    await d?.close();
  }, 60_000);

  it('a member node’s signed fetches list what the group announced, marked private; nobody else’s do', async () => {
    const outbox = `${groupIri()}/outbox?page=true`;
    const member = await getSigned(outbox, observer);
    expect(member.status).toBe(200);
    expect(member.body).toContain('Hushed plan');
    expect(member.body).toContain('Hushed sum');
    // Nothing addressed to one person (the observer's Accept, invitations) is listed.
    const items = (JSON.parse(member.body) as { orderedItems: { type: string }[] }).orderedItems;
    expect(new Set(items.map((i) => i.type))).toEqual(new Set(['Announce']));

    const context = `${threadIri}/context`;
    const announce = (JSON.parse(member.body) as { orderedItems: { id: string }[] }).orderedItems[0]!.id;
    // Members-only documents served to a member node: no shared cache may keep them.
    for (const url of [
      groupIri(),
      outbox,
      `${groupIri()}/outbox`,
      threadIri,
      context,
      `${context}?page=0`,
      announce,
    ]) {
      const res = await getSigned(url, observer);
      const cache = res.headers.get('cache-control');
      expect([url, res.status, cache]).toEqual([url, 200, expect.stringMatching(/\bprivate\b/)]);
    }
    const file = await getSigned(`${d.node('a').url}/ap/files/${fileId}`, observer);
    expect([file.status, file.headers.get('cache-control')]).toEqual([
      200,
      expect.stringMatching(/\bprivate\b/),
    ]);

    // Unsigned, signed by a server holding no member, or naming the member server's key but signed with
    // another: nothing of it.
    const forged = { ...outsider, keyId: observer.keyId };
    for (const url of [
      outbox,
      context,
      `${context}?page=0`,
      announce,
      `${d.node('a').url}/ap/files/${fileId}`,
    ])
      for (const as of [undefined, outsider, forged]) {
        const res = await getSigned(url, as);
        expect([url, res.status]).toEqual([url, 404]);
        expect(res.body).not.toMatch(/Hushed|Enclave/);
      }
    // A real node holding no member (C): its own signed fetches find nothing either.
    expect((await lookup(emma, threadIri)).status).toBe(404);
    expect((await lookup(emma, `@${handle()}`)).status).toBe(404);
  });

  it('B’s first member, in after the threads were posted, reads them and their replies on B; nobody else on B does', async () => {
    expect(
      (
        await alice.call('POST', '/groups/enclave/invitations', {
          person: `bruno@${new URL(d.node('b').url).host}`,
        })
      ).status,
    ).toBe(204);
    await waitUntil(
      async () => (await bruno.call('GET', path())).body.viewer?.state === 'invited',
      15_000,
      'the invitation on B',
    );
    expect((await bruno.call('POST', `${path()}/invitation/accept`)).status).toBe(204);
    await waitUntil(
      async () => (await threadsOf(bruno)).filter((t) => t.title?.startsWith('Hushed')).length === 2,
      20_000,
      'the earlier threads on B',
    );
    const onB = await threadsOf(bruno);
    const plan = onB.find((t) => t.title === 'Hushed plan')!;
    const budget = onB.find((t) => t.title === 'Hushed budget')!;
    await waitUntil(async () => (await repliesOf(bruno, plan.id)).length === 2, 15_000, 'the replies on B');
    expect((await repliesOf(bruno, plan.id)).sort()).toEqual([
      expect.stringContaining('Hushed step three'),
      expect.stringContaining('Hushed step two'),
    ]);
    expect((await repliesOf(bruno, budget.id)).join()).toContain('Hushed sum');

    // Nobody else on B: not a person who is no member, not an anonymous reader; no door names it.
    expect((await dev.call('GET', path())).status).toBe(404);
    for (const id of [plan.id, budget.id]) {
      const res = await dev.call('GET', `/threads/${id}`);
      expect(res.status).toBe(404);
      expect(JSON.stringify(res.body)).not.toMatch(/Hushed|enclave/i);
      expect((await fetch(`${d.node('b').url}/api/v1/threads/${id}`)).status).toBe(404);
      expect((await dev.call('GET', `/threads/${id}/replies`)).status).toBe(404);
    }
    const search = async (client: ApiClient | null) => {
      const url = `/search?q=hushed`;
      return JSON.stringify(
        client
          ? (await client.call('GET', url)).body
          : await (await fetch(`${d.node('b').url}/api/v1${url}`)).json(),
      );
    };
    expect(await search(bruno)).toContain('Hushed plan');
    for (const client of [dev, null]) expect(await search(client)).not.toMatch(/Hushed/);
    expect(JSON.stringify((await dev.call('GET', '/feed')).body)).not.toMatch(/Hushed/);

    // Someone of B invited, not yet in: the group's profile in a lookup, none of its threads (B's node may
    // read them now, for its member).
    expect(
      (
        await alice.call('POST', '/groups/enclave/invitations', {
          person: `dev@${new URL(d.node('b').url).host}`,
        })
      ).status,
    ).toBe(204);
    await waitUntil(
      async () => (await dev.call('GET', path())).body.viewer?.state === 'invited',
      15_000,
      'the invitation on B',
    );
    for (const q of [groupIri(), threadIri]) {
      const found = await lookup(dev, q);
      expect([q, found.status]).toEqual([q, 200]);
      expect(found.body.group.name).toBe('Enclave');
      expect(JSON.stringify(found.body)).not.toMatch(/Hushed/);
    }
  });

  it('once B’s last member leaves, B’s signed fetches are refused', async () => {
    expect((await lookup(bruno, threadIri)).status).toBe(200);
    expect((await bruno.call('POST', `${path()}/leave`)).status).toBe(204);
    await waitUntil(
      async () => {
        const members = (await alice.call('GET', '/groups/enclave/members')).body.items as {
          handle: string;
        }[];
        return !members.some((m) => m.handle.startsWith('bruno@'));
      },
      15_000,
      'the leave on A',
    );
    const res = await lookup(bruno, threadIri);
    expect(res.status).toBe(404);
    expect(String(res.body.detail).replace(threadIri, '')).not.toMatch(/Hushed|enclave/i);
    // The stand-in member node, removed: refused from then on too.
    expect(
      (await alice.call('DELETE', `/groups/enclave/members/${encodeURIComponent(`observer@${peer.host}`)}`))
        .status,
    ).toBe(204);
    for (const url of [`${groupIri()}/outbox?page=true`, `${threadIri}/context?page=0`])
      expect((await getSigned(url, observer)).status).toBe(404);
    // Invited again, not yet in: its node reads the group, not what the group announced.
    expect(
      (await alice.call('POST', '/groups/enclave/invitations', { person: `observer@${peer.host}` })).status,
    ).toBe(204);
    const invited = await getSigned(`${groupIri()}/outbox?page=true`, observer);
    expect(invited.status).toBe(200);
    expect(invited.body).not.toMatch(/Hushed/);
    expect((await getSigned(`${threadIri}/context?page=0`, observer)).status).toBe(404);
  });

  it('a Like or Create naming its post, or its inbox, from a server holding no member answers as for an unknown one', async () => {
    const a = d.node('a').url;
    const unknownThread = `${a}/ap/threads/${'0'.repeat(24)}`;
    const unknownGroup = `${a}/ap/a/g.nowhere`;
    let n = 0;
    const send = async (inbox: string, activity: Record<string, unknown>) => {
      const res = await postSigned(
        inbox,
        { '@context': AS, id: `${elsewhere.url}/probe/${++n}`, actor: outsider.id, ...activity },
        outsider,
      );
      // What tells one answer from the other, beyond the IRIs the sender named itself.
      return [
        res.status,
        res.type,
        res.body.replaceAll(threadIri, '<post>').replaceAll(unknownThread, '<post>'),
      ];
    };
    const note = (object: string, group: string) => ({
      id: `${elsewhere.url}/notes/${++n}`,
      type: 'Note',
      attributedTo: outsider.id,
      content: 'Knock.',
      inReplyTo: object,
      to: [group],
    });
    expect(await send(`${a}/ap/inbox`, { type: 'Like', object: threadIri })).toEqual(
      await send(`${a}/ap/inbox`, { type: 'Like', object: unknownThread }),
    );
    expect(await send(`${a}/ap/inbox`, { type: 'Create', object: note(threadIri, groupIri()) })).toEqual(
      await send(`${a}/ap/inbox`, { type: 'Create', object: note(unknownThread, unknownGroup) }),
    );
    expect(await send(`${a}/ap/inbox`, { type: 'Lock', object: threadIri })).toEqual(
      await send(`${a}/ap/inbox`, { type: 'Lock', object: unknownThread }),
    );
    // The group's own inbox, as a group that does not exist.
    expect(await send(`${groupIri()}/inbox`, { type: 'Like', object: threadIri })).toEqual(
      (await send(`${unknownGroup}/inbox`, { type: 'Like', object: unknownThread })).map((v) =>
        typeof v === 'string' ? v.replace('g.nowhere', 'g.enclave') : v,
      ),
    );
    expect((await repliesOf(alice, threadIri.split('/').pop()!)).join()).not.toContain('Knock');
  });

  it('a Create refused leaves no claim on its IRI: the same post, sent again when allowed, is taken', async () => {
    const a = d.node('a').url;
    expect(
      (
        await alice.call('POST', '/groups', {
          handle: 'plaza',
          name: 'Plaza',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    const square = await alice.call('POST', '/groups/plaza/threads', { title: 'Square', body: '.' });
    const plaza = `${a}/ap/a/g.plaza`;
    const stranger = elsewhere.actor('stranger');
    const noteId = `${elsewhere.url}/notes/reclaimed`;
    const create = (n: number, object: Record<string, unknown>) =>
      postSigned(
        `${a}/ap/inbox`,
        {
          '@context': AS,
          id: `${elsewhere.url}/creates/reclaimed-${n}`,
          type: 'Create',
          actor: stranger.id,
          object,
        },
        stranger,
      );
    const base = { id: noteId, type: 'Note', attributedTo: stranger.id, to: [plaza], audience: plaza };
    // Not a member yet: a reply to the thread is refused.
    const refused = await create(1, {
      ...base,
      content: 'Early word.',
      inReplyTo: `${a}/ap/threads/${square.body.id}`,
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    // A member now: the same post, as a thread of its own, is taken.
    expect(
      (
        await postSigned(
          `${plaza}/inbox`,
          {
            '@context': AS,
            id: `${elsewhere.url}/follows/plaza`,
            type: 'Follow',
            actor: stranger.id,
            object: plaza,
          },
          stranger,
        )
      ).status,
    ).toBe(202);
    await waitUntil(
      async () =>
        ((await alice.call('GET', '/groups/plaza/members')).body.items as { handle: string }[]).some((m) =>
          m.handle.startsWith('stranger@'),
        ),
      15_000,
      'the stranger a member',
    );
    const taken = await create(2, { ...base, type: 'Page', name: 'Late word', content: 'Late word.' });
    expect([taken.status, taken.body]).toEqual([202, '']);
    const titles = ((await alice.call('GET', '/groups/plaza/threads')).body.items as Post[]).map(
      (t) => t.title,
    );
    expect(titles).toContain('Late word');
  });

  it('a new thread refused leaves no claim on its IRI either: sent again by a member as a reply, it is taken', async () => {
    const a = d.node('a').url;
    const plaza = `${a}/ap/a/g.plaza`;
    const drifter = elsewhere.actor('drifter');
    const base = {
      id: `${elsewhere.url}/notes/reclaimed-thread`,
      attributedTo: drifter.id,
      to: [plaza],
      audience: plaza,
    };
    const create = (n: number, object: Record<string, unknown>) =>
      postSigned(
        `${a}/ap/inbox`,
        {
          '@context': AS,
          id: `${elsewhere.url}/creates/reclaimed-thread-${n}`,
          type: 'Create',
          actor: drifter.id,
          object,
        },
        drifter,
      );
    // Not a member: a new thread is refused (its IRI was claimed while the group was checked, then forgotten).
    const refused = await create(1, { ...base, type: 'Page', name: 'First try', content: 'First try.' });
    expect(refused.status).toBe(403);
    const follow = {
      '@context': AS,
      id: `${elsewhere.url}/follows/drifter`,
      type: 'Follow',
      actor: drifter.id,
      object: plaza,
    };
    expect((await postSigned(`${plaza}/inbox`, follow, drifter)).status).toBe(202);
    await waitUntil(
      async () =>
        ((await alice.call('GET', '/groups/plaza/members')).body.items as { handle: string }[]).some((m) =>
          m.handle.startsWith('drifter@'),
        ),
      15_000,
      'the drifter a member',
    );
    // A member now: the same post, as a reply, is taken (a claim left behind would name it a thread).
    const square = ((await alice.call('GET', '/groups/plaza/threads')).body.items as Post[]).find(
      (t) => t.title === 'Square',
    )!;
    const taken = await create(2, {
      ...base,
      type: 'Note',
      content: 'Second try.',
      inReplyTo: `${a}/ap/threads/${square.id}`,
    });
    expect([taken.status, taken.body]).toEqual([202, '']);
    const replies = (await alice.call('GET', `/threads/${square.id}/replies`)).body.items as {
      body: string;
    }[];
    expect(JSON.stringify(replies)).toContain('Second try.');
  });
});
