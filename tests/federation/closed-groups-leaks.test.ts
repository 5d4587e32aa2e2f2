import type { ApiClient } from '../helpers/browser.js';
import { FakeServer, getSigned, postSigned, waitUntil, type FakeActor } from '../helpers/fediverse.js';
import { startDepartments, type Departments } from '../helpers/nodes.js';
import { connectSocket } from '../helpers/sockets.js';

interface Item {
  kind: 'thread' | 'reply';
  thread?: { title: string };
}

/**
 * Closed-group content through the doors of a member node (security review, session 3): what a group of
 * another node stops being public, and what a lookup says, never leak to people of B who are no members.
 * Two real nodes (server/ops/launcher.ts), real HTTP and signatures between them.
 */
describe('closed groups of another node on a member node', () => {
  let d: Departments;
  let hostA: string;
  let alice: ApiClient;
  let bruno: ApiClient;
  let dev: ApiClient;
  let chloe: ApiClient;
  const sockets: { close(): void }[] = [];

  const path = (handle: string) => `/groups/${encodeURIComponent(handle)}`;
  const lookup = (client: ApiClient, q: string) => client.call('GET', `/lookup?q=${encodeURIComponent(q)}`);
  const titlesFound = async (client: ApiClient | null, q: string): Promise<string[]> => {
    const url = `/search?q=${encodeURIComponent(q)}`;
    const body = client
      ? (await client.call('GET', url)).body
      : ((await (await fetch(`${d.node('b').url}/api/v1${url}`)).json()) as { items: Item[] });
    return ((body.items ?? []) as Item[]).flatMap((i) => (i.thread ? [i.thread.title] : []));
  };
  const threadTitlesOn = async (client: ApiClient, handle: string): Promise<string[]> => {
    const page = (await client.call('GET', `${path(handle)}/threads`)).body as {
      pinned?: { title: string }[];
      items?: { title: string }[];
    };
    return [...(page.pinned ?? []), ...(page.items ?? [])].map((t) => t.title);
  };

  beforeAll(async () => {
    d = await startDepartments([
      { name: 'a', department: 'digital-services' },
      { name: 'b', department: 'natural-resources' },
    ]);
    hostA = new URL(d.node('a').url).host;
    [alice, bruno, dev] = await Promise.all([d.as('a', 'alice'), d.as('b', 'bruno'), d.as('b', 'dev')]);
    chloe = await d.as('a', 'chloe');
  }, 180_000);
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await d?.close();
  }, 60_000);

  /** A public group on A that Bruno on B has joined, with one thread of Alice's that B already shows. */
  async function publicGroupWithAThreadOnB(local: string, name: string, title: string): Promise<void> {
    const handle = `${local}@${hostA}`;
    const created = await alice.call('POST', '/groups', {
      handle: local,
      name,
      visibility: 'public',
      joinPolicy: 'open',
    });
    expect(created.status).toBe(201);
    expect((await lookup(bruno, `@${handle}`)).status).toBe(200);
    expect((await bruno.call('POST', `${path(handle)}/join`)).status).toBe(200);
    await waitUntil(
      async () => (await bruno.call('GET', path(handle))).body.viewer?.state === 'active',
      15_000,
      'the membership on B',
    );
    expect((await alice.call('POST', `/groups/${local}/threads`, { title, body: 'Text.' })).status).toBe(201);
    await waitUntil(
      async () => (await threadTitlesOn(bruno, handle)).includes(title),
      15_000,
      'the thread on B',
    );
  }

  it('a public group that turns members-only on its node: its threads leave B’s search and sockets for everyone but B’s members', async () => {
    const handle = `turning@${hostA}`;
    await publicGroupWithAThreadOnB('turning', 'Turning', 'Zephyr budget');
    // Public for now: anyone on B finds it, and follows it live.
    expect(await titlesFound(null, 'zephyr')).toContain('Zephyr budget');
    const socket = await connectSocket(d.node('b').url, dev);
    sockets.push(socket);
    expect((await socket.subscribe({ kind: 'group', group: handle })).ok).toBe(true);

    expect((await alice.call('PATCH', '/groups/turning', { visibility: 'members' })).status).toBe(200);
    await waitUntil(
      async () => (await bruno.call('GET', path(handle))).body.visibility === 'members',
      15_000,
      'the group members-only on B',
    );
    // Its member on B still finds it; nobody else on B does (signed in or not).
    expect(await titlesFound(bruno, 'zephyr')).toContain('Zephyr budget');
    expect(await titlesFound(dev, 'zephyr')).not.toContain('Zephyr budget');
    expect(await titlesFound(null, 'zephyr')).not.toContain('Zephyr budget');
    // What the group says from now on reaches its member's socket on B, not the one of who is no member.
    const watching = await connectSocket(d.node('b').url, bruno);
    sockets.push(watching);
    expect((await watching.subscribe({ kind: 'group', group: handle })).ok).toBe(true);
    expect(
      (await alice.call('POST', '/groups/turning/threads', { title: 'Zephyr staffing', body: 'Names.' }))
        .status,
    ).toBe(201);
    await waitUntil(() => watching.of('thread.created').length > 0, 15_000, 'thread.created for the member');
    expect(socket.of('thread.created')).toEqual([]);
    expect((await socket.subscribe({ kind: 'group', group: handle })).ok).toBe(false);
  });

  it('a public group that its node keeps to its own people from now on (node-only): B shows it to its members only', async () => {
    const handle = `circle@${hostA}`;
    await publicGroupWithAThreadOnB('circle', 'Circle', 'Yarrow notes');
    expect(await titlesFound(null, 'yarrow')).toContain('Yarrow notes');

    expect((await alice.call('PATCH', '/groups/circle', { visibility: 'node' })).status).toBe(200);
    await waitUntil(
      async () => (await titlesFound(null, 'yarrow')).length === 0,
      15_000,
      'the thread out of B’s search',
    );
    expect(await titlesFound(dev, 'yarrow')).toEqual([]);
    expect((await dev.call('GET', path(handle))).status).toBe(404);
    // Its member on B keeps what they had.
    expect(await threadTitlesOn(bruno, handle)).toContain('Yarrow notes');
  });

  describe('a members-only group of A with a member on B', () => {
    let threadIri: string;
    let replyIri: string;
    let publicThreadIri: string;
    const handle = () => `vault@${hostA}`;
    /** A server of the fediverse holding no member. */
    let elsewhere: FakeServer;
    let outsider: FakeActor;

    afterAll(() => elsewhere?.close());

    beforeAll(async () => {
      elsewhere = await new FakeServer().start();
      outsider = elsewhere.actor('outsider');
      expect(
        (
          await alice.call('POST', '/groups', {
            handle: 'vault',
            name: 'Vault',
            visibility: 'members',
            joinPolicy: 'invite',
          })
        ).status,
      ).toBe(201);
      const thread = await alice.call('POST', '/groups/vault/threads', {
        title: 'Sealed tender',
        body: 'Not for outsiders.',
      });
      expect(thread.status).toBe(201);
      threadIri = `${d.node('a').url}/ap/threads/${thread.body.id}`;
      const reply = await alice.call('POST', `/threads/${thread.body.id}/replies`, {
        body: 'Sealed bids only.',
      });
      expect(reply.status).toBe(201);
      replyIri = `${d.node('a').url}/ap/replies/${reply.body.id}`;
      expect(
        (
          await alice.call('POST', '/groups', {
            handle: 'agora',
            name: 'Agora',
            visibility: 'public',
            joinPolicy: 'open',
          })
        ).status,
      ).toBe(201);
      const open = await alice.call('POST', '/groups/agora/threads', { title: 'Open floor', body: 'Hello.' });
      publicThreadIri = `${d.node('a').url}/ap/threads/${open.body.id}`;
      expect(
        (
          await alice.call('POST', '/groups/vault/invitations', {
            person: `bruno@${new URL(d.node('b').url).host}`,
          })
        ).status,
      ).toBe(204);
      await waitUntil(
        async () => (await bruno.call('GET', path(handle()))).body.viewer?.state === 'invited',
        15_000,
        'the invitation on B',
      );
      expect((await bruno.call('POST', `${path(handle())}/invitation/accept`)).status).toBe(204);
      await waitUntil(
        async () => (await bruno.call('GET', path(handle()))).body.viewer?.state === 'active',
        15_000,
        'the membership on B',
      );
      // (A thread started before B's member joined reaches B by backfill: tests/federation/
      // members-only-backfill.test.ts. This one is started after.)
      const minutes = await alice.call('POST', '/groups/vault/threads', {
        title: 'Sealed minutes',
        body: '.',
      });
      expect(minutes.status).toBe(201);
    }, 60_000);

    it('no ActivityPub door of A serves it to a server without a member: unsigned, signed elsewhere, or with another server’s keyId', async () => {
      const a = d.node('a').url;
      const group = `${a}/ap/a/g.vault`;
      const threadId = threadIri.split('/').pop()!;
      const instance = JSON.parse((await getSigned(`${d.node('b').url}/ap/a/instance`)).body) as {
        publicKey: { id: string };
      };
      // B's keyId, signed with another key: the signature does not verify.
      const forged = { keyId: instance.publicKey.id, privateKeyPem: outsider.privateKeyPem };
      const urls = [
        group,
        ...['followers', 'following', 'featured', 'moderators', 'outbox', 'outbox?page=true'].map(
          (c) => `${group}/${c}`,
        ),
        threadIri,
        replyIri,
        ...['context', 'context?page=0', 'replies', 'replies?page=0'].map((c) => `${threadIri}/${c}`),
        `${a}/groups/vault`,
        `${a}/groups/vault/threads/${threadId}`,
      ];
      const accepts = [
        'application/activity+json',
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        'application/ld+json',
      ];
      for (const url of urls) {
        for (const as of [undefined, outsider, forged]) {
          const res = await getSigned(url, as);
          expect([url, res.status]).toEqual([url, 404]);
          expect(res.body).not.toMatch(/Vault|Sealed/);
        }
        for (const accept of accepts) {
          const res = await fetch(url, { headers: { accept }, redirect: 'manual' });
          const body = await res.text();
          // A page address may send a server on to the document's address (which answers 404 itself).
          expect([url, accept, res.status === 303 ? 404 : res.status]).toEqual([url, accept, 404]);
          expect(body).not.toMatch(/Vault|Sealed/);
        }
      }
      const finger = await fetch(`${a}/.well-known/webfinger?resource=acct:vault@${hostA}`);
      expect(finger.status).toBe(404);

      // A reply written on B: B serves it to A only, and neither node's outboxes list it or the thread.
      let onBThread: string | undefined;
      await waitUntil(
        async () => {
          const page = (await bruno.call('GET', `${path(handle())}/threads`)).body as {
            items?: { id: string; title: string }[];
          };
          return Boolean((onBThread = page.items?.find((t) => t.title === 'Sealed minutes')?.id));
        },
        15_000,
        'the thread on B',
      );
      const onB = await bruno.call('POST', `/threads/${onBThread}/replies`, {
        body: 'Sealed counter-offer.',
      });
      expect(onB.status).toBe(201);
      const b = d.node('b').url;
      for (const as of [undefined, outsider, forged]) {
        const res = await getSigned(`${b}/ap/replies/${onB.body.id}`, as);
        expect([res.status, res.body]).toEqual([404, expect.not.stringMatching(/Sealed/)]);
      }
      for (const outbox of [`${a}/ap/a/u.alice/outbox?page=true`, `${b}/ap/a/u.bruno/outbox?page=true`]) {
        const res = await getSigned(outbox, outsider);
        expect(res.status).toBe(200);
        expect(res.body).not.toMatch(/Sealed/);
      }
    });

    it('a server without a member cannot post into it, and a report naming it among other posts stores nothing of it', async () => {
      const note = {
        id: `${elsewhere.url}/notes/1`,
        type: 'Note',
        attributedTo: outsider.id,
        content: 'Let me in.',
        inReplyTo: threadIri,
        to: [`${d.node('a').url}/ap/a/g.vault`],
      };
      const create = await postSigned(
        `${d.node('a').url}/ap/inbox`,
        {
          '@context': 'https://www.w3.org/ns/activitystreams',
          id: `${elsewhere.url}/activities/1`,
          type: 'Create',
          actor: outsider.id,
          object: note,
        },
        outsider,
      );
      // Answered as a post for a group that does not exist is (passed over): nothing tells it the group is.
      expect([create.status, create.body]).toEqual([202, '']);
      const replies = (await alice.call('GET', `/threads/${threadIri.split('/').pop()}/replies`)).body
        .items as {
        body: { html: string } | null;
      }[];
      expect(replies.map((r) => r.body?.html ?? '').join()).not.toContain('Let me in');

      // A report of a public post and of one it may not read: the first is taken, the other passed over,
      // and the answer is the same whatever the other is (nothing tells the sender it exists).
      for (const n of [1, 2]) {
        const flag = await postSigned(
          `${d.node('a').url}/ap/inbox`,
          {
            '@context': 'https://www.w3.org/ns/activitystreams',
            id: `${elsewhere.url}/flags/${n}`,
            type: 'Flag',
            actor: outsider.id,
            object: [publicThreadIri, threadIri],
            content: 'Spam',
          },
          outsider,
        );
        expect(flag.status).toBe(202);
      }
      expect((await alice.call('GET', '/groups/agora/reports')).body).toHaveLength(2);
      expect((await alice.call('GET', '/groups/vault/reports')).body).toEqual([]);
    });

    it('a Follow from a server without a member is answered as for a group that does not exist (no Reject)', async () => {
      const follow = (n: number, object: string) =>
        postSigned(
          `${d.node('a').url}/ap/inbox`,
          {
            '@context': 'https://www.w3.org/ns/activitystreams',
            id: `${elsewhere.url}/follows/${n}`,
            type: 'Follow',
            actor: outsider.id,
            object,
          },
          outsider,
        );
      const answers = () =>
        elsewhere.received
          .map((r) => JSON.parse(r.body) as { type: string; object?: { object?: string } })
          .filter((a) => a.type === 'Accept' || a.type === 'Reject');
      expect((await follow(1, `${d.node('a').url}/ap/a/g.vault`)).status).toBe(202);
      // Then a public group's, answered at once: the answer to the first, if any, was queued before it.
      expect((await follow(2, `${d.node('a').url}/ap/a/g.agora`)).status).toBe(202);
      await waitUntil(() => answers().some((a) => a.type === 'Accept'), 15_000, 'the Accept from agora');
      expect(answers().map((a) => [a.type, a.object?.object])).toEqual([
        ['Accept', `${d.node('a').url}/ap/a/g.agora`],
      ]);
    });

    it('malformed activities from a server get a 4xx problem or are passed over, never a 5xx', async () => {
      // Someone of that server who is a member of nothing.
      const stranger = elsewhere.actor('stranger');
      const a = d.node('a').url;
      const group = `${a}/ap/a/g.agora`;
      const base = `${elsewhere.url}/odd`;
      let n = 0;
      const shapes: Record<string, unknown>[] = [
        {
          type: 'Create',
          object: { id: `${base}/n1`, type: 'Note', content: ['x'], attributedTo: stranger.id, to: group },
        },
        {
          type: 'Create',
          object: {
            id: `${base}/n2`,
            type: 'Page',
            name: 7,
            content: {},
            attributedTo: [stranger.id],
            to: [group],
          },
        },
        {
          type: 'Create',
          object: {
            id: `${base}/n3`,
            type: 'Note',
            content: 'x',
            attributedTo: stranger.id,
            inReplyTo: { type: 'Note' },
            to: 5,
          },
        },
        {
          type: 'Create',
          object: {
            id: `${base}/n4`,
            type: 'Note',
            content: 'x',
            attributedTo: stranger.id,
            inReplyTo: publicThreadIri,
            published: 'yesterday',
          },
        },
        {
          type: 'Create',
          object: {
            id: `${base}/n5`,
            type: ['Note', 'Page'],
            content: 'x',
            attributedTo: stranger.id,
            audience: group,
          },
        },
        { type: 'Update', object: { id: `${base}/n1`, type: 'Note', content: null } },
        { type: 'Delete', object: [`${base}/n1`, `${base}/n2`] },
        { type: 'Like', object: [publicThreadIri, threadIri] },
        { type: 'Like', object: { type: 'Note' } },
        { type: 'Follow', object: 42 },
        { type: 'Follow', object: [group, `${a}/ap/a/g.vault`] },
        { type: 'Undo', object: [{ type: 'Like' }] },
        { type: 'Undo', object: `${a}/ap/s/000000000000000000000000` },
        { type: 'Accept', object: `${a}/ap/s/000000000000000000000000` },
        { type: 'Accept', object: { type: 'Follow', actor: stranger.id, object: group } },
        { type: 'Announce', object: publicThreadIri },
        { type: 'Flag', object: 5 },
        { type: 'Flag', object: [{ id: threadIri }, null] },
        { type: 'Invite', object: group, target: [`${a}/ap/a/u.alice`, 3] },
        { type: 'Block', object: `${a}/ap/a/u.alice`, target: group },
        { type: 'Remove', object: publicThreadIri, target: `${group}/featured` },
        { type: 'Add', object: { id: threadIri }, target: { id: `${a}/ap/a/g.vault/featured` } },
        { type: 'Lock', object: threadIri },
        { type: 'Leave', object: `${a}/ap/a/g.vault` },
      ];
      for (const shape of shapes) {
        const res = await postSigned(
          `${a}/ap/inbox`,
          {
            '@context': 'https://www.w3.org/ns/activitystreams',
            id: `${elsewhere.url}/odd-activities/${++n}`,
            actor: stranger.id,
            ...shape,
          },
          stranger,
        );
        expect([shape, res.status < 500]).toEqual([shape, true]);
        if (res.status >= 400)
          expect([shape, res.type]).toEqual([shape, expect.stringMatching(/problem\+json/)]);
      }
      // Nothing of it shows in the groups.
      const titles = [...(await threadTitlesOn(alice, 'agora')), ...(await threadTitlesOn(alice, 'vault'))];
      expect(titles.filter((t) => !/^(Open floor|Sealed)/.test(t))).toEqual([]);
      const replies = (await alice.call('GET', `/threads/${publicThreadIri.split('/').pop()}/replies`)).body
        .items as unknown[];
      expect(replies).toEqual([]);
    });

    it('on B, people who are no members find nothing of it: search, feed, the thread, sockets', async () => {
      let threadOnB: string | undefined;
      await waitUntil(
        async () => {
          const page = (await bruno.call('GET', `${path(handle())}/threads`)).body as {
            items?: { id: string; title: string }[];
          };
          return Boolean((threadOnB = page.items?.find((t) => t.title === 'Sealed minutes')?.id));
        },
        15_000,
        'the thread on B',
      );
      expect(await titlesFound(bruno, 'sealed')).toContain('Sealed minutes');
      for (const client of [dev, null]) expect(await titlesFound(client, 'sealed')).toEqual([]);
      expect((await dev.call('GET', '/feed')).body.items ?? []).toEqual([]);
      const thread = await dev.call('GET', `/threads/${threadOnB}`);
      expect(thread.status).toBe(404);
      expect(JSON.stringify(thread.body)).not.toMatch(/vault|Sealed/i);
      const socket = await connectSocket(d.node('b').url, dev);
      sockets.push(socket);
      for (const room of [
        { kind: 'group', group: handle() },
        { kind: 'thread', id: threadOnB! },
      ] as const) {
        const answer = await socket.subscribe(room);
        expect(answer.ok).toBe(false);
        expect(JSON.stringify(answer.error)).not.toMatch(/Sealed/);
      }
    });

    it('a lookup of its thread’s URL by someone who is no member names neither the group nor the thread', async () => {
      // On B (whose node may fetch it, since it holds a member) and on A itself.
      for (const [client, url] of [
        [dev, threadIri],
        [chloe, threadIri],
        [chloe, `${d.node('a').url}/groups/vault/threads/${threadIri.split('/').pop()}`],
      ] as const) {
        const res = await lookup(client, url);
        expect(res.status).toBe(404);
        expect(res.type).toMatch(/application\/problem\+json/);
        // What the answer says beyond the query it repeats.
        expect(String(res.body.detail).replace(url, '')).not.toMatch(/vault|Sealed/i);
      }
    });

    it('someone invited but not yet a member sees the group’s profile in a lookup, not its threads', async () => {
      const me = (await chloe.call('GET', '/me')).body.profile as { handle: string };
      const invited = await alice.call('POST', '/groups/vault/invitations', { person: me.handle });
      expect([invited.status, invited.body]).toEqual([204, '']);
      const res = await lookup(chloe, threadIri);
      expect(res.status).toBe(200);
      expect(res.body.group.handle).toBe('vault');
      expect(res.body.thread).toBeNull();
      expect(JSON.stringify(res.body)).not.toContain('Sealed');
      // Its member on B finds the thread.
      const member = await lookup(bruno, threadIri);
      expect(member.status).toBe(200);
      expect(member.body.thread?.title).toBe('Sealed tender');
    });
  });
});
