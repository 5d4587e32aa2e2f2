import { ApiClient, Browser, signIn } from '../helpers/browser.js';
import {
  createPublicGroup,
  FakeServer,
  getSigned,
  postSigned,
  waitUntil,
  type FakeActor,
} from '../helpers/fediverse.js';
import { startDepartments, type Departments } from '../helpers/nodes.js';
import { download, filesForm } from '../helpers/files.js';
import { connectSocket } from '../helpers/sockets.js';

interface Post {
  id: string;
  title?: string;
  body: { html: string } | null;
  author: { handle: string } | null;
  pending: boolean;
  pinned?: boolean;
  locked?: boolean;
  likeCount: number;
  parentId?: string | null;
  deleted: { byModerator: boolean; reason: string | null } | null;
}

/**
 * Three departments, each its own Ensemble node: a separate process with its own database and identity
 * provider, on its own loopback address (server/ops/launcher.ts). Everything between them is real HTTP
 * with real signatures: WebFinger, actor fetches, signed deliveries through each node's queue.
 */
describe('groups across nodes (three departments, three nodes)', () => {
  let d: Departments;
  let hostA: string;
  let hostB: string;
  let alice: ApiClient;
  let bruno: ApiClient;
  let dev: ApiClient;
  let emma: ApiClient;

  const groupsOf = async (client: ApiClient) =>
    ((await client.call('GET', '/groups?scope=mine')).body.items as { handle: string }[]).map(
      (g) => g.handle,
    );
  const path = (handle: string) => `/groups/${encodeURIComponent(handle)}`;
  const lookup = (client: ApiClient, q: string) => client.call('GET', `/lookup?q=${encodeURIComponent(q)}`);
  /** The threads of a group as a person sees them on their node (pinned first). */
  const threadsOf = async (client: ApiClient, handle: string): Promise<Post[]> => {
    const page = (await client.call('GET', `${path(handle)}/threads`)).body as {
      pinned: Post[];
      items: Post[];
    };
    return [...(page.pinned ?? []), ...(page.items ?? [])];
  };
  /** Wait until a thread of this title is on the person's node; its view there. */
  const threadOn = async (client: ApiClient, handle: string, title: string): Promise<Post> => {
    let found: Post | undefined;
    await waitUntil(
      async () => Boolean((found = (await threadsOf(client, handle)).find((t) => t.title === title))),
      15_000,
      `thread “${title}” on ${client.nodeUrl}`,
    );
    return found!;
  };
  const repliesOf = async (client: ApiClient, threadId: string): Promise<Post[]> =>
    (await client.call('GET', `/threads/${threadId}/replies`)).body.items as Post[];
  /** Wait until a reply whose text contains `text` is in the thread on the person's node. */
  const replyOn = async (client: ApiClient, threadId: string, text: string): Promise<Post> => {
    let found: Post | undefined;
    await waitUntil(
      async () =>
        Boolean((found = (await repliesOf(client, threadId)).find((r) => r.body?.html.includes(text)))),
      15_000,
      `reply “${text}” on ${client.nodeUrl}`,
    );
    return found!;
  };
  const thread = async (client: ApiClient, id: string): Promise<Post> =>
    (await client.call('GET', `/threads/${id}`)).body as Post;

  /** A person finds a group of another node and asks to join it; resolves once their node records it. */
  const joinRemote = async (client: ApiClient, handle: string, how: 'join' | 'requests' = 'join') => {
    expect((await lookup(client, `@${handle}`)).status).toBe(200);
    return client.call('POST', `${path(handle)}/${how}`);
  };

  beforeAll(async () => {
    d = await startDepartments([
      { name: 'a', department: 'digital-services' },
      { name: 'b', department: 'natural-resources' },
      // C copies files of other nodes up to its own upload limit (docs/adr/0029-attachments-across-nodes.md).
      { name: 'c', department: 'environment', env: { FILE_MAX_SIZE: '100kb' } },
    ]);
    hostA = new URL(d.node('a').url).host;
    hostB = new URL(d.node('b').url).host;
    [alice, bruno, dev, emma] = await Promise.all([
      d.as('a', 'alice'),
      d.as('b', 'bruno'),
      d.as('b', 'dev'),
      d.as('c', 'emma'),
    ]);
  }, 180_000);
  afterAll(() => d?.close(), 60_000);

  it('each department is its own host with its own people', () => {
    expect(new Set(d.nodes.map((n) => new URL(n.url).hostname))).toEqual(
      new Set(['127.0.0.2', '127.0.0.3', '127.0.0.4']),
    );
  });

  it('a person on B finds @group@A, sees its public profile, and joins the open group at once', async () => {
    await createPublicGroup(alice, 'policy-lab', { name: 'Policy lab' });
    const handle = `policy-lab@${hostA}`;
    const found = await lookup(bruno, `@${handle}`);
    expect(found.status).toBe(200);
    expect(found.body.group).toMatchObject({
      handle,
      name: 'Policy lab',
      memberCount: 1,
      visibility: 'public',
      joinPolicy: 'open',
      node: { host: hostA },
    });
    expect(found.body.group.moderators.map((m: { handle: string }) => m.handle)).toEqual([`alice@${hostA}`]);
    // The group's URL finds the same group.
    const byUrl = await lookup(bruno, `${d.node('a').url}/groups/policy-lab`);
    expect(byUrl.body.group.id).toBe(found.body.group.id);

    const join = await bruno.call('POST', `${path(handle)}/join`);
    expect(join.status).toBe(200);
    expect(join.body).toEqual({ welcomeMessage: null, pending: true });
    await waitUntil(async () => (await groupsOf(bruno)).includes(handle), 15_000, 'the join on B');
    // On A: a member from node B, with his name and organization.
    const members = await alice.call('GET', '/groups/policy-lab/members');
    expect(members.body.items).toContainEqual(
      expect.objectContaining({
        handle: `bruno@${hostB}`,
        displayName: 'Bruno Côté',
        node: hostB,
        organization: 'Department of Natural Resources',
        role: 'member',
      }),
    );
    expect((await alice.call('GET', '/groups/policy-lab')).body.memberCount).toBe(2);
    // C joins too (the discussion below has three nodes).
    await joinRemote(emma, handle);
    await waitUntil(async () => (await groupsOf(emma)).includes(handle), 15_000, 'the join on C');
  });

  it('a request to join from B waits in A’s request queue beside local ones; approval and denial reach B', async () => {
    await createPublicGroup(alice, 'intake', { joinPolicy: 'request' });
    const handle = `intake@${hostA}`;
    expect((await joinRemote(bruno, handle, 'requests')).status).toBe(202);
    expect((await joinRemote(dev, handle, 'requests')).status).toBe(202);
    const queue = async () =>
      ((await alice.call('GET', '/groups/intake/members?state=requested')).body.items ?? []) as {
        handle: string;
        node: string | null;
        organization: string | null;
        displayName: string;
      }[];
    await waitUntil(async () => (await queue()).length === 2, 15_000, 'the requests on A');
    expect(await queue()).toContainEqual(
      expect.objectContaining({
        handle: `bruno@${hostB}`,
        displayName: 'Bruno Côté',
        node: hostB,
        organization: 'Department of Natural Resources',
      }),
    );
    // Not a member on B until A answers.
    expect(await groupsOf(bruno)).not.toContain(handle);
    expect(
      (await alice.call('POST', `/groups/intake/requests/${encodeURIComponent(`bruno@${hostB}`)}/approve`))
        .status,
    ).toBe(204);
    expect(
      (await alice.call('POST', `/groups/intake/requests/${encodeURIComponent(`dev@${hostB}`)}/deny`)).status,
    ).toBe(204);
    await waitUntil(async () => (await groupsOf(bruno)).includes(handle), 15_000, 'the approval on B');
    await waitUntil(
      async () => (await dev.call('GET', path(handle))).body.viewer?.state === null,
      15_000,
      'the denial on B',
    );
    expect(await groupsOf(dev)).not.toContain(handle);
  });

  it('an A admin invites @person@B to an invitation-only group; accepted from B, they are a member', async () => {
    await createPublicGroup(alice, 'cabinet-prep', { joinPolicy: 'invite' });
    const handle = `cabinet-prep@${hostA}`;
    expect(
      (await alice.call('POST', '/groups/cabinet-prep/invitations', { person: `bruno@${hostB}` })).status,
    ).toBe(204);
    // On B: the invitation waits for bruno, with a notification.
    await waitUntil(
      async () => (await bruno.call('GET', path(handle))).body.viewer?.state === 'invited',
      15_000,
      'the invitation on B',
    );
    await waitUntil(
      async () =>
        ((await bruno.call('GET', '/notifications')).body.items as { kind: string; group: string }[]).some(
          (n) => n.kind === 'invitation' && n.group === handle,
        ),
      15_000,
      'the invitation notification on B',
    );
    expect((await bruno.call('POST', `${path(handle)}/invitation/accept`)).status).toBe(204);
    await waitUntil(async () => (await groupsOf(bruno)).includes(handle), 15_000, 'the membership on B');
    const members = await alice.call('GET', '/groups/cabinet-prep/members');
    expect(members.body.items.map((m: { handle: string }) => m.handle)).toContain(`bruno@${hostB}`);
    // Someone not invited is refused by A: their request is rejected and never becomes a membership.
    expect((await joinRemote(dev, handle, 'requests')).status).toBe(202);
    await waitUntil(
      async () => (await dev.call('GET', path(handle))).body.viewer?.state === null,
      15_000,
      'the refusal on B',
    );
  });

  it('leaving from B ends the membership on A (Undo of the Follow, matched by actor and object)', async () => {
    const handle = `policy-lab@${hostA}`;
    await joinRemote(dev, handle);
    await waitUntil(async () => (await groupsOf(dev)).includes(handle), 15_000, 'the join on B');
    expect((await alice.call('GET', '/groups/policy-lab')).body.memberCount).toBe(4);
    expect((await dev.call('POST', `${path(handle)}/leave`)).status).toBe(204);
    expect(await groupsOf(dev)).not.toContain(handle);
    await waitUntil(
      async () => (await alice.call('GET', '/groups/policy-lab')).body.memberCount === 3,
      15_000,
      'the departure on A',
    );
    const members = await alice.call('GET', '/groups/policy-lab/members');
    expect(members.body.items.map((m: { handle: string }) => m.handle)).not.toContain(`dev@${hostB}`);
  });

  it('a group’s new name reaches the nodes of its members', async () => {
    expect((await alice.call('PATCH', '/groups/policy-lab', { name: 'Policy lab (federal)' })).status).toBe(
      200,
    );
    await waitUntil(
      async () => (await emma.call('GET', path(`policy-lab@${hostA}`))).body.name === 'Policy lab (federal)',
      15_000,
      'the new name on C',
    );
  });

  describe('discussion in policy-lab@A, members on A, B and C', () => {
    const handle = () => `policy-lab@${hostA}`;
    /** The same thread on A, B and C (ids are each node's own). */
    const ids = {} as Record<'permits' | 'open', Record<'a' | 'b' | 'c', string>>;

    it('a thread and a reply from B appear at once on B (pending), then on A and C; the Announce confirms them on B', async () => {
      // B's own page on the group hears of it at once, and of its confirmation later.
      const socket = await connectSocket(d.node('b').url, bruno);
      expect((await socket.subscribe({ kind: 'group', group: handle() })).ok).toBe(true);
      try {
        const created = await bruno.call('POST', `${path(handle())}/threads`, {
          title: 'Permits backlog',
          body: 'How do **you** triage?',
        });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({
          title: 'Permits backlog',
          pending: true,
          author: { handle: 'bruno' },
        });
        const onA = await threadOn(alice, 'policy-lab', 'Permits backlog');
        expect(onA).toMatchObject({ pending: false, author: { handle: `bruno@${hostB}` } });
        expect(onA.body!.html).toContain('<strong>you</strong>');
        const onC = await threadOn(emma, handle(), 'Permits backlog');
        expect(onC.author!.handle).toBe(`bruno@${hostB}`);
        await waitUntil(
          async () => !(await thread(bruno, created.body.id)).pending,
          15_000,
          'the confirmation on B',
        );
        await waitUntil(() => socket.of('post.confirmed').length > 0, 5000, 'post.confirmed on B’s socket');
        expect(socket.of('thread.created')[0]).toMatchObject({ threadId: created.body.id });
        expect(socket.of('post.confirmed')[0]).toMatchObject({ kind: 'threads', id: created.body.id });
        ids.permits = { a: onA.id, b: created.body.id, c: onC.id };
      } finally {
        socket.close();
      }

      // A reply from C to B's thread, seen on A and B under the right thread.
      const reply = await emma.call('POST', `/threads/${ids.permits.c}/replies`, {
        body: 'By deadline, then age.',
      });
      expect(reply.status).toBe(201);
      expect(reply.body.pending).toBe(true);
      await replyOn(alice, ids.permits.a, 'By deadline');
      await replyOn(bruno, ids.permits.b, 'By deadline');
      await waitUntil(
        async () => !(await repliesOf(emma, ids.permits.c)).find((r) => r.id === reply.body.id)?.pending,
        15_000,
        'the reply’s confirmation on C',
      );
    });

    it('a thread started on A reaches B and C; a reply from B to a reply from C keeps its parent everywhere', async () => {
      const created = await alice.call('POST', '/groups/policy-lab/threads', {
        title: 'Open data',
        body: 'Which sets?',
      });
      expect(created.status).toBe(201);
      const onB = await threadOn(bruno, handle(), 'Open data');
      const onC = await threadOn(emma, handle(), 'Open data');
      ids.open = { a: created.body.id, b: onB.id, c: onC.id };
      const first = await emma.call('POST', `/threads/${ids.open.c}/replies`, { body: 'Air quality.' });
      expect(first.status).toBe(201);
      const firstOnB = await replyOn(bruno, ids.open.b, 'Air quality');
      const second = await bruno.call('POST', `/threads/${ids.open.b}/replies`, {
        body: 'Forest inventory.',
        parentId: firstOnB.id,
      });
      expect(second.status).toBe(201);
      const firstOnA = await replyOn(alice, ids.open.a, 'Air quality');
      expect((await replyOn(alice, ids.open.a, 'Forest inventory')).parentId).toBe(firstOnA.id);
      expect((await replyOn(emma, ids.open.c, 'Forest inventory')).parentId).toBe(first.body.id);
    });

    it('a browser socket on C receives a reply posted from B into A’s group', async () => {
      const socket = await connectSocket(d.node('c').url, emma);
      try {
        expect((await socket.subscribe({ kind: 'thread', id: ids.permits.c })).ok).toBe(true);
        const posted = await bruno.call('POST', `/threads/${ids.permits.b}/replies`, {
          body: 'Live from B.',
        });
        expect(posted.status).toBe(201);
        await waitUntil(() => socket.of('reply.created').length > 0, 15_000, 'reply.created on C’s socket');
        const [event] = socket.of('reply.created');
        expect(event).toMatchObject({ threadId: ids.permits.c });
        const live = (await repliesOf(emma, ids.permits.c)).find((r) => r.id === event!.replyId);
        expect(live?.body?.html).toContain('Live from B.');
      } finally {
        socket.close();
      }
    });

    it('a reply to a C person’s post notifies them on C, under their own settings', async () => {
      const mine = await emma.call('POST', `/threads/${ids.open.c}/replies`, { body: 'Water levels too.' });
      const onB = await replyOn(bruno, ids.open.b, 'Water levels');
      await bruno.call('POST', `/threads/${ids.open.b}/replies`, { body: 'Good one.', parentId: onB.id });
      await waitUntil(
        async () =>
          (
            (await emma.call('GET', '/notifications')).body.items as { kind: string; threadId: string }[]
          ).some((n) => n.kind === 'reply' && n.threadId === ids.open.c),
        15_000,
        'the reply notification on C',
      );
      expect(mine.status).toBe(201);
    });

    it('edits and the author’s own deletions from B reach A and C', async () => {
      expect(
        (
          await bruno.call('PATCH', `/threads/${ids.permits.b}`, {
            title: 'Permits backlog (2026)',
            body: 'Edited.',
          })
        ).status,
      ).toBe(204);
      for (const [client, id] of [
        [alice, ids.permits.a],
        [emma, ids.permits.c],
      ] as const)
        await waitUntil(
          async () => (await thread(client, id)).title === 'Permits backlog (2026)',
          15_000,
          `the edit on ${client.nodeUrl}`,
        );
      expect((await thread(alice, ids.permits.a)).body!.html).toContain('Edited.');
      const liveOnB = (await repliesOf(bruno, ids.permits.b)).find((r) =>
        r.body?.html.includes('Live from B.'),
      )!;
      expect((await bruno.call('DELETE', `/replies/${liveOnB.id}`)).status).toBe(204);
      for (const [client, id] of [
        [alice, ids.permits.a],
        [emma, ids.permits.c],
      ] as const)
        await waitUntil(
          async () => !(await repliesOf(client, id)).some((r) => r.body?.html.includes('Live from B.')),
          15_000,
          `the deletion on ${client.nodeUrl}`,
        );
    });

    it('a moderator on A removes a post from C: removed on B and C too, with the reason', async () => {
      const target = await replyOn(alice, ids.open.a, 'Air quality');
      // Found on C first: the removal may reach C before the next read (its text is gone then).
      const onC = (await repliesOf(emma, ids.open.c)).find((r) => r.body?.html.includes('Air quality'))!;
      expect((await alice.call('DELETE', `/replies/${target.id}`, { reason: 'Off topic' })).status).toBe(204);
      await waitUntil(
        async () => (await repliesOf(emma, ids.open.c)).find((r) => r.id === onC.id)?.deleted !== null,
        15_000,
        'the removal on C',
      );
      expect((await repliesOf(emma, ids.open.c)).find((r) => r.id === onC.id)!.deleted).toMatchObject({
        byModerator: true,
        reason: 'Off topic',
      });
      await waitUntil(
        async () => !(await repliesOf(bruno, ids.open.b)).some((r) => r.body?.html.includes('Air quality')),
        15_000,
        'the removal on B',
      );
    });

    it('likes from C count on A and B, and taking one back uncounts it', async () => {
      expect((await emma.call('PUT', `/threads/${ids.open.c}/like`)).status).toBe(200);
      for (const [client, id] of [
        [alice, ids.open.a],
        [bruno, ids.open.b],
      ] as const)
        await waitUntil(
          async () => (await thread(client, id)).likeCount === 1,
          15_000,
          `the like on ${client.nodeUrl}`,
        );
      expect((await emma.call('DELETE', `/threads/${ids.open.c}/like`)).status).toBe(200);
      for (const [client, id] of [
        [alice, ids.open.a],
        [bruno, ids.open.b],
      ] as const)
        await waitUntil(
          async () => (await thread(client, id)).likeCount === 0,
          15_000,
          `the unlike on ${client.nodeUrl}`,
        );
    });

    it('pin and lock by an A moderator hold on B and C (locked: B cannot reply); featured lists the pin', async () => {
      expect((await alice.call('PUT', `/threads/${ids.open.a}/pin`)).status).toBe(204);
      expect((await alice.call('PUT', `/threads/${ids.open.a}/lock`)).status).toBe(204);
      for (const [client, id] of [
        [bruno, ids.open.b],
        [emma, ids.open.c],
      ] as const)
        await waitUntil(
          async () => {
            const t = await thread(client, id);
            return t.pinned === true && t.locked === true;
          },
          15_000,
          `pin and lock on ${client.nodeUrl}`,
        );
      const refused = await bruno.call('POST', `/threads/${ids.open.b}/replies`, { body: 'Too late?' });
      expect(refused.status).toBe(403);
      const featured = await fetch(`${d.node('a').url}/ap/a/g.policy-lab/featured`, {
        headers: { accept: 'application/activity+json' },
      });
      expect(((await featured.json()) as { orderedItems: string[] }).orderedItems).toEqual([
        `${d.node('a').url}/ap/threads/${ids.open.a}`,
      ]);
      expect((await alice.call('DELETE', `/threads/${ids.open.a}/lock`)).status).toBe(204);
      expect((await alice.call('DELETE', `/threads/${ids.open.a}/pin`)).status).toBe(204);
      for (const [client, id] of [
        [bruno, ids.open.b],
        [emma, ids.open.c],
      ] as const)
        await waitUntil(
          async () => {
            const t = await thread(client, id);
            return t.pinned === false && t.locked === false;
          },
          15_000,
          `unpin and unlock on ${client.nodeUrl}`,
        );
      expect(
        (await bruno.call('POST', `/threads/${ids.open.b}/replies`, { body: 'Open again.' })).status,
      ).toBe(201);
    });

    it('files attached on B travel to A and C (copies served under each node’s rules), and back from A; too big for C: shown as not available there', async () => {
      const notes = Buffer.from('Field notes from natural resources.\n');
      const big = Buffer.from('x,'.repeat(75_000));
      const uploaded = await bruno.call(
        'POST',
        `${path(handle())}/attachments`,
        filesForm([
          { bytes: notes, name: 'notes.txt' },
          { bytes: big, name: 'survey.csv' },
        ]),
      );
      expect(uploaded.status).toBe(201);
      const created = await bruno.call('POST', `${path(handle())}/threads`, {
        title: 'Field data',
        body: 'Attached.',
        attachments: (uploaded.body as { id: string }[]).map((f) => f.id),
      });
      expect(created.status).toBe(201);
      // Its ActivityPub object names each file: type, name, size and where B serves it.
      const object = JSON.parse(
        (await getSigned(`${d.node('b').url}/ap/threads/${created.body.id}`)).body,
      ) as { attachment: { type: string; mediaType: string; name: string; url: string; size: number }[] };
      expect(object.attachment).toEqual([
        expect.objectContaining({
          type: 'Document',
          mediaType: 'text/plain',
          name: 'notes.txt',
          size: notes.length,
        }),
        expect.objectContaining({ type: 'Document', name: 'survey.csv', size: big.length }),
      ]);
      const originUrl = object.attachment[0]!.url;
      expect(originUrl.startsWith(`${d.node('b').url}/ap/files/`)).toBe(true);
      expect((await fetch(originUrl)).status).toBe(200);

      const onA = await threadOn(alice, 'policy-lab', 'Field data');
      const onC = await threadOn(emma, handle(), 'Field data');
      type Attached = {
        id: string;
        name: string;
        size: number;
        contentType: string;
        unavailable: string | null;
      };
      const filesOf = (post: Post) => (post as unknown as { attachments: Attached[] }).attachments;
      expect(filesOf(onA)).toEqual([
        expect.objectContaining({
          name: 'notes.txt',
          size: notes.length,
          contentType: 'text/plain',
          unavailable: null,
        }),
        expect.objectContaining({ name: 'survey.csv', size: big.length, unavailable: null }),
      ]);
      expect((await download(alice, `/files/${filesOf(onA)[0]!.id}/content`)).bytes).toEqual(notes);
      expect((await download(alice, `/files/${filesOf(onA)[1]!.id}/content`)).bytes).toEqual(big);
      // C keeps what its own limit allows; the file over it is there, named, and says why it cannot be had.
      expect((await download(emma, `/files/${filesOf(onC)[0]!.id}/content`)).bytes).toEqual(notes);
      expect(filesOf(onC)[1]).toMatchObject({
        name: 'survey.csv',
        unavailable: expect.stringMatching(/limit/),
      });
      const refused = await download(emma, `/files/${filesOf(onC)[1]!.id}/content`);
      expect(refused.status).toBe(404);
      // Emma reads French: told so in French (docs/api/problems.md, "Language").
      expect(refused.bytes.toString()).toContain('n’est pas disponible sur ce nœud');

      // From A back to B and C: a reply with a file.
      const pdf = Buffer.from('%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n');
      const fromA = await alice.call(
        'POST',
        '/groups/policy-lab/attachments',
        filesForm([{ bytes: pdf, name: 'brief.pdf' }]),
      );
      expect(
        (
          await alice.call('POST', `/threads/${onA.id}/replies`, {
            body: 'Our brief.',
            attachments: [(fromA.body as { id: string }[])[0]!.id],
          })
        ).status,
      ).toBe(201);
      for (const [client, id] of [
        [bruno, created.body.id],
        [emma, onC.id],
      ] as const) {
        const reply = await replyOn(client, id, 'Our brief');
        const [file] = filesOf(reply);
        expect(file).toMatchObject({ name: 'brief.pdf', contentType: 'application/pdf', size: pdf.length });
        expect((await download(client, `/files/${file!.id}/content`)).bytes).toEqual(pdf);
      }

      // An edit keeps the files everywhere; the author's deletion takes them away everywhere.
      expect(
        (await bruno.call('PATCH', `/threads/${created.body.id}`, { body: 'Attached (v2).' })).status,
      ).toBe(204);
      await waitUntil(
        async () => (await thread(emma, onC.id)).body?.html.includes('v2') === true,
        15_000,
        'the edit on C',
      );
      expect(filesOf(await thread(emma, onC.id)).map((f) => f.name)).toEqual(['notes.txt', 'survey.csv']);
      expect((await download(emma, `/files/${filesOf(onC)[0]!.id}/content`)).status).toBe(200);
      expect((await bruno.call('DELETE', `/threads/${created.body.id}`)).status).toBe(204);
      for (const [client, id] of [
        [alice, filesOf(onA)[0]!.id],
        [emma, filesOf(onC)[0]!.id],
      ] as const)
        await waitUntil(
          async () => (await download(client, `/files/${id}/content`)).status === 404,
          15_000,
          `the deletion of the file on ${client.nodeUrl}`,
        );
      expect((await fetch(originUrl)).status).toBe(404);
    });

    it('a group’s library stays on its node: adding to it from B is refused clearly', async () => {
      // Sent in one write (the node answers before reading a refused upload, and closes the connection).
      const multipart = new Response(filesForm([{ bytes: Buffer.from('minutes'), name: 'minutes.txt' }]));
      const res = await bruno.browser.request(`${bruno.nodeUrl}/api/v1${path(handle())}/files`, {
        method: 'POST',
        headers: {
          'content-type': multipart.headers.get('content-type')!,
          'x-csrf-token': await bruno.token(),
        },
        body: Buffer.from(await multipart.arrayBuffer()),
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(((await res.json()) as { detail: string }).detail).toContain(hostA);
    });

    it('a thread’s URL finds its group from another node, with the group’s recent threads', async () => {
      const found = await lookup(emma, `${d.node('a').url}/groups/policy-lab/threads/${ids.open.a}`);
      expect(found.status).toBe(200);
      expect(found.body.group.handle).toBe(handle());
      expect(found.body.thread).toMatchObject({ id: ids.open.c, title: 'Open data' });
      expect(found.body.group.recentThreads.map((t: { title: string }) => t.title)).toEqual(
        expect.arrayContaining(['Open data', 'Permits backlog (2026)']),
      );
      // Not a group, not a URL: a clear answer.
      expect((await lookup(emma, 'policy-lab')).status).toBe(400);
      expect((await lookup(emma, `@nothing-here@${hostA}`)).status).toBe(404);
    });

    it('every activity a node sends can be fetched back by its id', async () => {
      const outbox = await fetch(`${d.node('a').url}/ap/a/g.policy-lab/outbox?page=true`, {
        headers: { accept: 'application/activity+json' },
      });
      const items = ((await outbox.json()) as { orderedItems: { id: string; type: string }[] }).orderedItems;
      expect(items.length).toBeGreaterThan(5);
      for (const item of items.slice(0, 5)) {
        const res = await fetch(item.id, { headers: { accept: 'application/activity+json' } });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { id: string; type: string }).type).toBe(item.type);
      }
    });
    it('a report from B about a post in A’s group reaches A’s report queue', async () => {
      const reported = await bruno.call('POST', `/threads/${ids.open.b}/reports`, {
        reason: 'Personal data in the first post',
      });
      expect(reported.status).toBe(201);
      const queue = async () =>
        ((await alice.call('GET', '/groups/policy-lab/reports?state=open')).body ?? []) as {
          kind: string;
          targetId: string;
          reason: string;
        }[];
      await waitUntil(async () => (await queue()).length > 0, 15_000, 'the report on A');
      expect(await queue()).toEqual([
        expect.objectContaining({
          kind: 'thread',
          targetId: ids.open.a,
          reason: 'Personal data in the first post',
        }),
      ]);
    });

    it('A bans a person of B and removes a person of C: on their nodes they are members no more and cannot post; every member node counts it', async () => {
      const hostC = new URL(d.node('c').url).host;
      const countOf = async (client: ApiClient, h: string) =>
        (await client.call('GET', path(h))).body.memberCount;
      await joinRemote(dev, handle());
      await waitUntil(async () => (await groupsOf(dev)).includes(handle()), 15_000, 'dev’s join on B');

      expect(
        (
          await alice.call('PUT', `/groups/policy-lab/bans/${encodeURIComponent(`dev@${hostB}`)}`, {
            reason: 'Spam',
          })
        ).status,
      ).toBe(204);
      await waitUntil(async () => !(await groupsOf(dev)).includes(handle()), 15_000, 'the ban on B');
      expect(
        (await dev.call('POST', `${path(handle())}/threads`, { title: 'Again', body: 'Hi' })).status,
      ).toBe(403);
      const afterBan = await countOf(alice, 'policy-lab');
      await waitUntil(async () => (await countOf(emma, handle())) === afterBan, 15_000, 'the count on C');

      expect(
        (await alice.call('DELETE', `/groups/policy-lab/members/${encodeURIComponent(`emma@${hostC}`)}`))
          .status,
      ).toBe(204);
      await waitUntil(async () => !(await groupsOf(emma)).includes(handle()), 15_000, 'the removal on C');
      expect(
        (await emma.call('POST', `/threads/${ids.open.c}/replies`, { body: 'Still here?' })).status,
      ).toBe(403);
      const afterRemoval = await countOf(alice, 'policy-lab');
      expect(afterRemoval).toBe(afterBan - 1);
      await waitUntil(
        async () => (await countOf(bruno, handle())) === afterRemoval,
        15_000,
        'the count on B',
      );
      // A keeps the ban: dev's node cannot bring him back.
      const members = await alice.call('GET', '/groups/policy-lab/members');
      expect(members.body.items.map((m: { handle: string }) => m.handle)).not.toContain(`dev@${hostB}`);
    });
  });
  describe('backfill (FEP-7888 context, FEP-f228)', () => {
    it('a thread started before B joined reads in full on B; the outbox pages real activities; threads list their replies', async () => {
      await createPublicGroup(alice, 'archive', { name: 'Archive' });
      const handle = `archive@${hostA}`;
      await joinRemote(emma, handle);
      await waitUntil(async () => (await groupsOf(emma)).includes(handle), 15_000, 'the join on C');
      const created = await alice.call('POST', '/groups/archive/threads', {
        title: 'Old news',
        body: 'Before B.',
      });
      expect(created.status).toBe(201);
      const onC = await threadOn(emma, handle, 'Old news');
      expect(
        (await emma.call('POST', `/threads/${onC.id}/replies`, { body: 'From C before B.' })).status,
      ).toBe(201);
      await replyOn(alice, created.body.id, 'From C before B');
      expect(
        (await alice.call('POST', `/threads/${created.body.id}/replies`, { body: 'From A before B.' }))
          .status,
      ).toBe(201);

      const as = { headers: { accept: 'application/activity+json' } };
      const threadIri = `${d.node('a').url}/ap/threads/${created.body.id}`;
      const page = (await (await fetch(threadIri, as)).json()) as { context: string; replies: string };
      expect(page).toMatchObject({ context: `${threadIri}/context`, replies: `${threadIri}/replies` });
      const context = (await (await fetch(page.context, as)).json()) as {
        totalItems: number;
        first: { orderedItems: { id: string; type: string }[] };
      };
      expect(context.totalItems).toBe(3);
      expect(context.first.orderedItems.map((i) => i.type)).toEqual(['Page', 'Note', 'Note']);
      expect(context.first.orderedItems[0]!.id).toBe(threadIri);
      // The reply written on C is listed by its own IRI, on C.
      expect(new URL(context.first.orderedItems[1]!.id).host).toBe(new URL(d.node('c').url).host);
      const replies = (await (await fetch(page.replies, as)).json()) as {
        first: { orderedItems: unknown[] };
      };
      expect(replies.first.orderedItems).toHaveLength(2);
      const outbox = (await (
        await fetch(`${d.node('a').url}/ap/a/g.archive/outbox?page=true`, as)
      ).json()) as {
        orderedItems: { type: string; object: { type: string } }[];
      };
      expect(outbox.orderedItems.map((a) => `${a.type}(${a.object.type})`)).toEqual(
        expect.arrayContaining(['Announce(Page)', 'Announce(Create)']),
      );

      // B joins late: the earlier thread is there in full, the reply from C with its author.
      await joinRemote(bruno, handle);
      await waitUntil(async () => (await groupsOf(bruno)).includes(handle), 15_000, 'the join on B');
      const onB = await threadOn(bruno, handle, 'Old news');
      expect((await replyOn(bruno, onB.id, 'From C before B')).author!.handle).toBe(
        `emma@${new URL(d.node('c').url).host}`,
      );
      await replyOn(bruno, onB.id, 'From A before B');
      expect(await repliesOf(bruno, onB.id)).toHaveLength(2);
    });
    it('a node down while the group is active catches up when it returns (retries and backfill): nothing lost, nothing twice', async () => {
      const handle = `archive@${hostA}`;
      const old = (await threadsOf(alice, 'archive')).find((t) => t.title === 'Old news')!;
      const oldOnB = (await threadsOf(bruno, handle)).find((t) => t.title === 'Old news')!;
      await d.node('c').stop();
      // While C is down: a thread on A, replies from B to it and to the old thread.
      const fresh = await alice.call('POST', '/groups/archive/threads', {
        title: 'While C was down',
        body: 'News.',
      });
      expect(fresh.status).toBe(201);
      const freshOnB = await threadOn(bruno, handle, 'While C was down');
      expect(
        (await bruno.call('POST', `/threads/${freshOnB.id}/replies`, { body: 'B on the new one.' })).status,
      ).toBe(201);
      expect(
        (await bruno.call('POST', `/threads/${oldOnB.id}/replies`, { body: 'B on the old one.' })).status,
      ).toBe(201);
      await replyOn(alice, fresh.body.id, 'B on the new one');
      await replyOn(alice, old.id, 'B on the old one');

      await d.node('c').restart();
      const browser = new Browser();
      await signIn(browser, d.node('c').url, 'dev', 'emma');
      const emmaAgain = new ApiClient(browser, d.node('c').url);
      const freshOnC = await threadOn(emmaAgain, handle, 'While C was down');
      await replyOn(emmaAgain, freshOnC.id, 'B on the new one');
      const oldOnC = (await threadsOf(emmaAgain, handle)).find((t) => t.title === 'Old news')!;
      await replyOn(emmaAgain, oldOnC.id, 'B on the old one');
      // Once A's queue has delivered what it held for C (its retries), C holds the same as A, once each.
      await waitUntil(
        async () => (await alice.call('GET', '/admin/federation/deliveries')).body.queued === 0,
        30_000,
        'A’s deliveries to C',
      );
      const texts = async (client: ApiClient, id: string) =>
        (await repliesOf(client, id)).map((r) => r.body?.html ?? '').sort();
      const titles = async (client: ApiClient, h: string) =>
        (await threadsOf(client, h)).map((t) => t.title).sort();
      expect(await titles(emmaAgain, handle)).toEqual(await titles(alice, 'archive'));
      expect(await texts(emmaAgain, freshOnC.id)).toEqual(await texts(alice, fresh.body.id));
      expect(await texts(emmaAgain, oldOnC.id)).toEqual(await texts(alice, old.id));
      expect(await texts(emmaAgain, oldOnC.id)).toHaveLength(3);
    });
  });

  describe('a members-only group across nodes', () => {
    const handle = () => `council@${hostA}`;
    const groupIri = () => `${d.node('a').url}/ap/a/g.council`;
    let firstThread: string;
    /** Another server that will hold a member (a stand-in we can read), and one holding none. */
    let peer: FakeServer;
    let elsewhere: FakeServer;
    let observer: FakeActor;
    let outsider: FakeActor;
    const announced = () =>
      peer.received
        .map((r) => JSON.parse(r.body) as { type: string; to?: string[]; cc?: string[]; object?: unknown })
        .filter((a) => a.type === 'Announce');

    beforeAll(async () => {
      peer = await new FakeServer().start();
      observer = peer.actor('observer');
      elsewhere = await new FakeServer().start();
      outsider = elsewhere.actor('outsider');
      // Its WebFinger, so an A admin can invite observer@<peer>.
      peer.webfinger('observer', observer);
    });
    afterAll(async () => {
      await peer?.close();
      await elsewhere?.close();
    });

    it('is served to nobody before it has a member elsewhere: unsigned, or signed by a node without one', async () => {
      const created = await alice.call('POST', '/groups', {
        handle: 'council',
        name: 'Council',
        visibility: 'members',
        joinPolicy: 'invite',
      });
      expect(created.status).toBe(201);
      const thread = await alice.call('POST', '/groups/council/threads', {
        title: 'Agenda',
        body: 'Budget first.',
      });
      expect(thread.status).toBe(201);
      firstThread = `${d.node('a').url}/ap/threads/${thread.body.id}`;
      for (const url of [
        groupIri(),
        firstThread,
        `${groupIri()}/outbox?page=true`,
        `${groupIri()}/moderators`,
      ]) {
        expect((await getSigned(url)).status).toBe(404);
        expect((await getSigned(url, outsider)).status).toBe(404);
      }
      // B's and C's own signed fetches (a lookup makes the node fetch): refused like anything unknown.
      expect((await lookup(bruno, groupIri())).status).toBe(404);
      expect((await lookup(emma, firstThread)).status).toBe(404);
      expect(
        (await fetch(`${d.node('a').url}/.well-known/webfinger?resource=acct:council@${hostA}`)).status,
      ).toBe(404);
    });

    it('people of B and of another server invited and joined: threads and replies go both ways, never addressed to Public, members-only on B', async () => {
      expect(
        (await alice.call('POST', '/groups/council/invitations', { person: `bruno@${hostB}` })).status,
      ).toBe(204);
      expect(
        (await alice.call('POST', '/groups/council/invitations', { person: `observer@${peer.host}` })).status,
      ).toBe(204);
      await waitUntil(
        async () => (await bruno.call('GET', path(handle()))).body.viewer?.state === 'invited',
        15_000,
        'the invitation on B',
      );
      expect((await bruno.call('POST', `${path(handle())}/invitation/accept`)).status).toBe(204);
      await waitUntil(async () => (await groupsOf(bruno)).includes(handle()), 15_000, 'the membership on B');
      expect((await bruno.call('GET', path(handle()))).body.visibility).toBe('members');
      // Another person of B who is no member sees nothing of it.
      expect((await dev.call('GET', path(handle()))).status).toBe(404);
      // The other server's person accepts with a Follow.
      const follow = { id: `${peer.url}/follows/1`, type: 'Follow', actor: observer.id, object: groupIri() };
      expect(
        (
          await postSigned(
            `${groupIri()}/inbox`,
            { '@context': 'https://www.w3.org/ns/activitystreams', ...follow },
            observer,
          )
        ).status,
      ).toBe(202);
      expect((await getSigned(firstThread, observer)).status).toBe(200);
      expect((await getSigned(firstThread, outsider)).status).toBe(404);

      const created = await alice.call('POST', '/groups/council/threads', {
        title: 'Minutes',
        body: 'Draft.',
      });
      const onB = await threadOn(bruno, handle(), 'Minutes');
      expect((await dev.call('GET', `/threads/${onB.id}`)).status).toBe(404);
      const reply = await bruno.call('POST', `/threads/${onB.id}/replies`, { body: 'Approved by B.' });
      expect(reply.status).toBe(201);
      await replyOn(alice, created.body.id, 'Approved by B');
      await waitUntil(
        async () => !(await repliesOf(bruno, onB.id)).find((r) => r.id === reply.body.id)?.pending,
        15_000,
        'the reply’s confirmation on B',
      );
      // What the group sent to its members' servers is addressed to its followers, never to Public.
      await waitUntil(() => announced().length >= 2, 15_000, 'the Announces on the other server');
      const PUBLIC = 'https://www.w3.org/ns/activitystreams#Public';
      for (const a of announced()) {
        expect([...(a.to ?? []), ...(a.cc ?? [])]).not.toContain(PUBLIC);
        expect(JSON.stringify(a.object)).not.toContain(PUBLIC);
      }
      // B's node, holding a member, may fetch the group's posts (signed); C's may not.
      expect((await lookup(bruno, firstThread)).status).toBe(200);
      expect((await lookup(emma, firstThread)).status).toBe(404);
    });

    it('files of its posts travel to member nodes only: C reads B’s file through A’s copy; other servers’ signed fetches are refused; a disguised executable is shown as not available', async () => {
      type Attached = { id: string; name: string; unavailable: string | null };
      const filesOf = (post: unknown) => (post as { attachments: Attached[] }).attachments;
      // C joins too: it will read B's file through A, as B serves it to the group's node only.
      expect(
        (
          await alice.call('POST', '/groups/council/invitations', {
            person: `emma@${new URL(d.node('c').url).host}`,
          })
        ).status,
      ).toBe(204);
      await waitUntil(
        async () => (await emma.call('GET', path(handle()))).body.viewer?.state === 'invited',
        15_000,
        'the invitation on C',
      );
      expect((await emma.call('POST', `${path(handle())}/invitation/accept`)).status).toBe(204);
      await waitUntil(async () => (await groupsOf(emma)).includes(handle()), 15_000, 'the membership on C');

      const minutes = await threadOn(bruno, handle(), 'Minutes');
      const bytes = Buffer.from('Budget line items, confidential.\n');
      const uploaded = await bruno.call(
        'POST',
        `${path(handle())}/attachments`,
        filesForm([{ bytes, name: 'budget.txt' }]),
      );
      const reply = await bruno.call('POST', `/threads/${minutes.id}/replies`, {
        body: 'Budget attached.',
        attachments: [(uploaded.body as { id: string }[])[0]!.id],
      });
      expect(reply.status).toBe(201);
      const onA = (await threadsOf(alice, 'council')).find((t) => t.title === 'Minutes')!;
      const replyOnA = await replyOn(alice, onA.id, 'Budget attached');
      expect((await download(alice, `/files/${filesOf(replyOnA)[0]!.id}/content`)).bytes).toEqual(bytes);
      const minutesOnC = await threadOn(emma, handle(), 'Minutes');
      const replyOnC = await replyOn(emma, minutesOnC.id, 'Budget attached');
      expect(filesOf(replyOnC)[0]).toMatchObject({ name: 'budget.txt', unavailable: null });
      expect((await download(emma, `/files/${filesOf(replyOnC)[0]!.id}/content`)).bytes).toEqual(bytes);
      // A person of C who is no member cannot download it there.
      const farid = await d.as('c', 'farid');
      expect((await download(farid, `/files/${filesOf(replyOnC)[0]!.id}/content`)).status).toBe(404);

      // B serves its file to the group's node only; A serves its copy to its member nodes' signed fetches.
      const onB = `${d.node('b').url}/ap/files/${(uploaded.body as { id: string }[])[0]!.id}`;
      expect((await getSigned(onB)).status).toBe(404);
      expect((await getSigned(onB, observer)).status).toBe(404);
      const copy = `${d.node('a').url}/ap/files?url=${encodeURIComponent(onB)}`;
      expect((await getSigned(copy)).status).toBe(404);
      expect((await getSigned(copy, outsider)).status).toBe(404);
      const served = await getSigned(copy, observer);
      expect(served.status).toBe(200);
      expect(served.body).toBe(bytes.toString());

      // The other server's member posts a reply whose "image" is a Windows executable, and a file on another
      // host: kept as a reply on A, its files shown as not available (the other host never asked).
      const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200, 0x90)]);
      exe.write('PE\0\0', 0x80, 'latin1');
      exe.writeUInt32LE(0x80, 0x3c);
      peer.documents.set('/media/cat.png', exe);
      const note = {
        id: `${peer.url}/notes/exe`,
        type: 'Note',
        attributedTo: observer.id,
        content: '<p>A cat picture.</p>',
        inReplyTo: `${d.node('a').url}/ap/threads/${onA.id}`,
        to: [groupIri(), `${groupIri()}/followers`],
        audience: groupIri(),
        attachment: [
          { type: 'Image', mediaType: 'image/png', name: 'cat.png', url: `${peer.url}/media/cat.png` },
          // On another host than the post's: never fetched.
          { type: 'Document', name: 'other.txt', url: `${elsewhere.url}/media/other.txt` },
        ],
      };
      expect(
        (
          await postSigned(
            `${groupIri()}/inbox`,
            {
              '@context': 'https://www.w3.org/ns/activitystreams',
              id: `${peer.url}/creates/exe`,
              type: 'Create',
              actor: observer.id,
              to: note.to,
              object: note,
            },
            observer,
          )
        ).status,
      ).toBe(202);
      const cat = await replyOn(alice, onA.id, 'A cat picture');
      expect(filesOf(cat)[0]).toMatchObject({
        name: 'cat.png',
        unavailable: expect.stringMatching(/not accepted/),
      });
      expect((await download(alice, `/files/${filesOf(cat)[0]!.id}/content`)).status).toBe(404);
      expect(filesOf(cat)[1]).toMatchObject({
        name: 'other.txt',
        unavailable: expect.stringMatching(/not on the post's own node/),
      });
      expect(elsewhere.gets).not.toContain('/media/other.txt');
    });

    it('a server whose last member is removed receives nothing more, and its signed fetches are refused', async () => {
      expect(
        (await alice.call('DELETE', `/groups/council/members/${encodeURIComponent(`observer@${peer.host}`)}`))
          .status,
      ).toBe(204);
      const received = peer.received.length;
      await alice.call('POST', '/groups/council/threads', { title: 'After the observer', body: 'Private.' });
      // B, still a member node, has it; the other server got nothing of it.
      await threadOn(bruno, handle(), 'After the observer');
      expect(
        peer.received
          .slice(received)
          .map((r) => r.body)
          .join(),
      ).not.toContain('After the observer');
      expect((await getSigned(firstThread, observer)).status).toBe(404);

      expect(
        (await alice.call('DELETE', `/groups/council/members/${encodeURIComponent(`bruno@${hostB}`)}`))
          .status,
      ).toBe(204);
      await waitUntil(async () => !(await groupsOf(bruno)).includes(handle()), 15_000, 'the removal on B');
      expect((await lookup(bruno, firstThread)).status).toBe(404);
      // No longer a member there: refused on B too.
      expect((await bruno.call('GET', `${path(handle())}/threads`)).status).toBe(403);
    });
  });
});
