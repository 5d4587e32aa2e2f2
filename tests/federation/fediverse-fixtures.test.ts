import { readdirSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../server/core/paths.js';
import type { ApiClient } from '../helpers/browser.js';
import {
  createPublicGroup,
  FakeServer,
  postSigned,
  waitUntil,
  type FakeActor,
} from '../helpers/fediverse.js';
import { loadFixture } from '../helpers/fixtures.js';
import { startDepartments, type Departments } from '../helpers/nodes.js';

const FIXTURES = path.join(projectRoot, 'tests/fixtures/fediverse');
const FEDIFY = {
  alg: 'rsa-v1_5-sha256',
  components: ['@method', '@target-uri', '@authority', 'host', 'date', 'content-digest'],
};
type Scheme = 'draft-cavage' | 'rfc9421' | 'fedify';

interface Sent {
  path: string;
  id: string;
  type: string;
  actor: string;
  object: unknown;
}

interface Post {
  id: string;
  title?: string;
  body: { html: string } | null;
  author: { handle: string } | null;
  likeCount: number;
  locked?: boolean;
  pinned?: boolean;
  editedAt?: string | null;
  deleted: { byModerator: boolean; reason: string | null } | null;
}

/**
 * Real peers' payloads (tests/fixtures/fediverse, one file per server, version and flow), each signed as its
 * server signs, sent over HTTP by a stand-in for that server to a real Ensemble node (its own process and
 * database, started by the launcher): what each one does in the domain, seen through the node's API and in
 * what the node sends back to the peer.
 */
describe('fediverse payloads: Mastodon, Lemmy, NodeBB, Mobilizon, Fedify', () => {
  let d: Departments;
  let node: string;
  let alice: ApiClient;
  let group: string;
  /** A thread of `lab` written on the node (the fixtures' `{{thread}}`), and its id. */
  let thread: string;
  let threadId: string;
  const servers: Record<string, FakeServer> = {};
  const actors: Record<string, FakeActor> = {};
  const done = new Set<string>();

  const inboxOf = (to: 'group' | 'shared' | 'person') =>
    to === 'group' ? `${group}/inbox` : to === 'shared' ? `${node}/ap/inbox` : `${node}/ap/a/u.alice/inbox`;
  const sign = (signer: FakeActor, scheme: Scheme) =>
    scheme === 'draft-cavage' ? {} : { rfc9421: scheme === 'fedify' ? FEDIFY : {} };

  /** Send a fixture from its server, signed as its actor, as that server signs; the node's answer. */
  const send = async (
    name: string,
    options: {
      server: string;
      actor: string;
      to: 'group' | 'shared' | 'person';
      scheme: Scheme;
      values?: Record<string, string>;
    },
  ) => {
    done.add(name);
    const server = servers[options.server]!;
    const { activity } = loadFixture(name, { peer: server.url, node }, { thread, ...(options.values ?? {}) });
    const signer = actors[options.actor]!;
    const res = await postSigned(inboxOf(options.to), activity, signer, sign(signer, options.scheme));
    return { ...res, activity };
  };
  const accepted = (res: { status: number; body: string }) =>
    expect({ status: res.status, body: res.body }).toEqual({ status: 202, body: '' });
  const refused = (res: { status: number; type: string; body: string }, status: number, detail: RegExp) => {
    expect(res.status).toBe(status);
    expect(res.type).toContain('application/problem+json');
    expect(JSON.parse(res.body).detail).toMatch(detail);
  };
  let follows = 0;
  /** A plain Follow of the group by a peer's actor (its server's shape is in the fixtures already). */
  const follow = async (actor: string, scheme: Scheme = 'draft-cavage') => {
    const signer = actors[actor]!;
    const activity = {
      '@context': 'https://www.w3.org/ns/activitystreams',
      id: `${new URL(signer.id).origin}/follows/${++follows}`,
      type: 'Follow',
      actor: signer.id,
      object: group,
    };
    accepted(await postSigned(`${group}/inbox`, activity, signer, sign(signer, scheme)));
  };

  /** `name@host`: the handle the node gives a peer's actor (its preferredUsername). */
  const handleOf = (actor: string) => {
    const id = actors[actor]!.id;
    const doc = [...Object.values(servers)]
      .map((s) => s.documents.get(new URL(id).pathname) as { preferredUsername?: string } | undefined)
      .find(Boolean);
    return `${doc!.preferredUsername!}@${new URL(id).host}`;
  };
  const members = async (handle = 'lab') =>
    (
      (await alice.call('GET', `/groups/${encodeURIComponent(handle)}/members`)).body.items as {
        handle: string;
        displayName: string;
      }[]
    ).map((m) => m);
  const memberHandles = async () => (await members()).map((m) => m.handle);
  const groupsOfAlice = async () =>
    ((await alice.call('GET', '/groups?scope=mine')).body.items as { handle: string }[]).map((g) => g.handle);
  const threadsOf = async (handle: string): Promise<Post[]> => {
    const page = (await alice.call('GET', `/groups/${encodeURIComponent(handle)}/threads`)).body as {
      pinned?: Post[];
      items?: Post[];
    };
    return [...(page.pinned ?? []), ...(page.items ?? [])];
  };
  const threadView = async (id: string) => (await alice.call('GET', `/threads/${id}`)).body as Post;
  const repliesOf = async (id: string) =>
    ((await alice.call('GET', `/threads/${id}/replies`)).body.items ?? []) as Post[];
  /** What a peer's inboxes received from the node, parsed. */
  const received = (server: string): Sent[] =>
    servers[server]!.received.map((r) => ({ ...(JSON.parse(r.body) as Omit<Sent, 'path'>), path: r.path }));
  /** An activity's object, embedded or named. */
  const objectOf = (a: Sent) =>
    (typeof a.object === 'string' ? { id: a.object } : (a.object ?? {})) as {
      id?: string;
      type?: string;
    };
  const receivedWhen = async (server: string, match: (a: Sent) => boolean, what: string) => {
    await waitUntil(() => received(server).some(match), 15_000, what);
    return received(server).find(match)!;
  };
  /** A peer's group, found and joined by alice through the API; the Follow her node sent to it. */
  const aliceJoins = async (server: string, groupActor: string) => {
    const found = await alice.call('GET', `/lookup?q=${encodeURIComponent(actors[groupActor]!.id)}`);
    expect(found.status).toBe(200);
    const handle = found.body.group.handle as string;
    expect((await alice.call('POST', `/groups/${encodeURIComponent(handle)}/join`)).body).toMatchObject({
      pending: true,
    });
    const sent = await receivedWhen(
      server,
      (a) => a.type === 'Follow' && objectOf(a).id === actors[groupActor]!.id,
      `alice's Follow of ${handle}`,
    );
    expect(await groupsOfAlice()).not.toContain(handle);
    return { handle, follow: sent.id as string };
  };

  beforeAll(async () => {
    for (const kind of ['mastodon', 'lemmy', 'nodebb', 'mobilizon', 'hollo'])
      servers[kind] = await new FakeServer().start();
    actors.mastodon = servers.mastodon!.actor('alice');
    actors.lemmyAlpha = servers.lemmy!.actor('lemmy_alpha', { path: '/u/lemmy_alpha' });
    actors.lemmyBeta = servers.lemmy!.actor('lemmy_beta', { path: '/u/lemmy_beta' });
    actors.lemmyCommunity = servers.lemmy!.actor('main', { path: '/c/main', type: 'Group' });
    // A Lemmy community lists its moderators in `attributedTo`.
    const community = servers.lemmy!.documents.get('/c/main') as Record<string, unknown>;
    community.attributedTo = `${actors.lemmyCommunity.id}/moderators`;
    servers.lemmy!.documents.set('/c/main/moderators', {
      '@context': 'https://www.w3.org/ns/activitystreams',
      id: `${actors.lemmyCommunity.id}/moderators`,
      type: 'OrderedCollection',
      orderedItems: [actors.lemmyBeta.id],
    });
    actors.nodebb = servers.nodebb!.actor('julian', { path: '/uid/1' });
    actors.nodebbCategory = servers.nodebb!.actor('general', { path: '/category/2', type: 'Group' });
    actors.mobilizon = servers.mobilizon!.actor('bob', { path: '/@bob' });
    actors.mobilizonGroup = servers.mobilizon!.actor('planning', { path: '/@planning', type: 'Group' });
    actors.hollo = servers.hollo!.actor('carol', { path: '/@carol', ed25519: true });

    d = await startDepartments([{ name: 'a', department: 'digital-services' }]);
    node = d.node('a').url;
    alice = await d.as('a', 'alice');
    group = await createPublicGroup(alice, 'lab');
    const created = await alice.call('POST', '/groups/lab/threads', { title: 'Draft', body: 'Review' });
    threadId = (created.body as { id: string }).id;
    thread = `${node}/ap/threads/${threadId}`;
  }, 120_000);
  afterAll(async () => {
    await d?.close();
    for (const server of Object.values(servers)) await server.close();
  }, 60_000);

  describe('Mastodon 4.5 (RFC 9421 signatures)', () => {
    it('a Mastodon person follows the group: a member, answered with an Accept embedding the Follow', async () => {
      const res = await send('mastodon-4.5-follow-group', {
        server: 'mastodon',
        actor: 'mastodon',
        to: 'group',
        scheme: 'rfc9421',
      });
      accepted(res);
      expect(await memberHandles()).toContain(handleOf('mastodon'));
      expect((await alice.call('GET', '/groups/lab')).body.memberCount).toBe(2);
      const accept = await receivedWhen('mastodon', (a) => a.type === 'Accept', 'the Accept on Mastodon');
      expect(accept).toMatchObject({ actor: group, object: { id: res.activity.id, type: 'Follow' } });
    });

    it('a new thread reaches the Mastodon follower as a boost: Announce of the Page', async () => {
      const created = await alice.call('POST', '/groups/lab/threads', { title: 'Budget', body: 'Q3 lines.' });
      expect(created.status).toBe(201);
      const boost = await receivedWhen(
        'mastodon',
        (a) => a.type === 'Announce' && objectOf(a).type === 'Page',
        'the Announce(Page) on Mastodon',
      );
      expect(boost).toMatchObject({
        actor: group,
        object: { id: `${node}/ap/threads/${created.body.id}`, name: 'Budget', audience: group },
      });
      expect(boost.path).toBe('/inbox');
    });

    it('a Mastodon reply that mentions the group lands in the thread, by its author', async () => {
      accepted(
        await send('mastodon-4.5-create-note-reply-mention', {
          server: 'mastodon',
          actor: 'mastodon',
          to: 'shared',
          scheme: 'rfc9421',
        }),
      );
      const reply = (await repliesOf(threadId)).find((r) => r.body?.html.includes('second review'));
      expect(reply?.author?.handle).toBe(handleOf('mastodon'));
    });

    it('a Like counts; a boost by a person changes nothing', async () => {
      accepted(
        await send('mastodon-4.5-like-thread', {
          server: 'mastodon',
          actor: 'mastodon',
          to: 'group',
          scheme: 'rfc9421',
        }),
      );
      expect((await threadView(threadId)).likeCount).toBe(1);
      const gets = servers.mastodon!.gets.length;
      accepted(
        await send('mastodon-4.5-announce-thread', {
          server: 'mastodon',
          actor: 'mastodon',
          to: 'group',
          scheme: 'rfc9421',
        }),
      );
      expect((await threadView(threadId)).likeCount).toBe(1);
      expect((await repliesOf(threadId)).length).toBe(1);
      expect(servers.mastodon!.gets.length).toBe(gets);
    });

    it('Update of the person: their record is read again (the new name among the members)', async () => {
      const doc = servers.mastodon!.documents.get('/users/alice') as Record<string, unknown>;
      doc.name = 'Alice Martin';
      accepted(
        await send('mastodon-4.5-update-person', {
          server: 'mastodon',
          actor: 'mastodon',
          to: 'shared',
          scheme: 'rfc9421',
          values: { publicKeyPem: actors.mastodon!.publicKeyPem },
        }),
      );
      expect((await members()).find((m) => m.handle === handleOf('mastodon'))?.displayName).toBe(
        'Alice Martin',
      );
    });

    it('Undo(Follow) whose Follow has a fresh id: no longer a member; Delete of the actor ends a membership too', async () => {
      accepted(
        await send('mastodon-4.5-undo-follow-fresh-id', {
          server: 'mastodon',
          actor: 'mastodon',
          to: 'group',
          scheme: 'rfc9421',
        }),
      );
      expect(await memberHandles()).not.toContain(handleOf('mastodon'));
      await follow('mastodon', 'rfc9421');
      expect(await memberHandles()).toContain(handleOf('mastodon'));
      accepted(
        await send('mastodon-4.5-delete-actor', {
          server: 'mastodon',
          actor: 'mastodon',
          to: 'shared',
          scheme: 'rfc9421',
        }),
      );
      expect(await memberHandles()).not.toContain(handleOf('mastodon'));
    });
  });

  describe('Lemmy 0.19 and 1.0 (draft-cavage)', () => {
    let post: string;

    it('Lemmy people follow the group: members', async () => {
      accepted(
        await send('lemmy-0.19-follow-group', {
          server: 'lemmy',
          actor: 'lemmyAlpha',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      await follow('lemmyBeta');
      expect(await memberHandles()).toEqual(
        expect.arrayContaining([handleOf('lemmyAlpha'), handleOf('lemmyBeta')]),
      );
    });

    it('an Ensemble person joins a Lemmy community: the community’s Accept (embedding her Follow) makes her a member', async () => {
      const { handle, follow: followId } = await aliceJoins('lemmy', 'lemmyCommunity');
      accepted(
        await send('lemmy-0.19-accept-follow', {
          server: 'lemmy',
          actor: 'lemmyCommunity',
          to: 'person',
          scheme: 'draft-cavage',
          values: { follow: followId },
        }),
      );
      expect(await groupsOfAlice()).toContain(handle);
    });

    it('Create(Page) is a thread of the group; Create(Note) a reply in the thread it answers', async () => {
      const page = await send('lemmy-0.19-create-page', {
        server: 'lemmy',
        actor: 'lemmyAlpha',
        to: 'group',
        scheme: 'draft-cavage',
      });
      accepted(page);
      // Lemmy serves the post; later activities name it by IRI.
      servers.lemmy!.documents.set('/post/1', {
        '@context': 'https://www.w3.org/ns/activitystreams',
        ...(page.activity.object as object),
      });
      const made = (await threadsOf('lab')).find((t) => t.title === 'Shared procurement calendar');
      expect(made).toMatchObject({ author: { handle: handleOf('lemmyAlpha') } });
      expect(made!.body!.html).toContain('Could we publish the calendar here?');
      post = made!.id;
      accepted(
        await send('lemmy-0.19-create-note-comment', {
          server: 'lemmy',
          actor: 'lemmyAlpha',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect((await repliesOf(threadId)).find((r) => r.body?.html.includes('from next week'))).toMatchObject({
        author: { handle: handleOf('lemmyAlpha') },
      });
      // The group announced both to its members' servers, as received.
      await receivedWhen(
        'lemmy',
        (a) => a.type === 'Announce' && objectOf(a).id === page.activity.id,
        'the Announce of the Create on Lemmy',
      );
    });

    it('a Like counts, a Dislike does not', async () => {
      accepted(
        await send('lemmy-0.19-like-page', {
          server: 'lemmy',
          actor: 'lemmyBeta',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect((await threadView(post)).likeCount).toBe(1);
      accepted(
        await send('lemmy-0.19-dislike-page', {
          server: 'lemmy',
          actor: 'lemmyBeta',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect((await threadView(post)).likeCount).toBe(1);
    });

    it('the author’s Update (0.19, locked and featured flags) is an edit; the flags are the moderators’', async () => {
      accepted(
        await send('lemmy-0.19-update-page-locked-featured', {
          server: 'lemmy',
          actor: 'lemmyAlpha',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect(await threadView(post)).toMatchObject({
        editedAt: expect.any(String),
        locked: false,
        pinned: false,
      });
    });

    it('Lock (1.0) by a member is refused; once the group makes them a moderator, it locks', async () => {
      const lock = () =>
        send('lemmy-1.0-lock-page', {
          server: 'lemmy',
          actor: 'lemmyAlpha',
          to: 'group',
          scheme: 'draft-cavage',
        });
      refused(await lock(), 403, /moderat/i);
      expect((await threadView(post)).locked).toBe(false);
      const role = await alice.call(
        'PUT',
        `/groups/lab/members/${encodeURIComponent(handleOf('lemmyAlpha'))}/role`,
        { role: 'moderator' },
      );
      expect(role.status).toBe(204);
      accepted(await lock());
      expect((await threadView(post)).locked).toBe(true);
    });

    it('a moderator’s Delete of another’s comment removes it with the reason; a member’s is refused', async () => {
      const remove = () =>
        send('lemmy-0.19-remove-note-by-moderator', {
          server: 'lemmy',
          actor: 'lemmyBeta',
          to: 'group',
          scheme: 'draft-cavage',
        });
      const id = (await repliesOf(threadId)).find((x) => x.author?.handle === handleOf('lemmyAlpha'))!.id;
      const comment = async () => (await repliesOf(threadId)).find((x) => x.id === id);
      refused(await remove(), 403, /author or a moderator/);
      expect((await comment())?.deleted).toBeNull();
      await alice.call('PUT', `/groups/lab/members/${encodeURIComponent(handleOf('lemmyBeta'))}/role`, {
        role: 'moderator',
      });
      accepted(await remove());
      expect((await comment())?.deleted).toMatchObject({ byModerator: true, reason: 'bad comment' });
    });

    it('the author’s Delete of the post removes the thread', async () => {
      accepted(
        await send('lemmy-0.19-delete-page', {
          server: 'lemmy',
          actor: 'lemmyAlpha',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect((await threadsOf('lab')).map((t) => t.title)).not.toContain('Shared procurement calendar');
    });

    it('the community’s Announce of a Create(Page) is a thread of the community on the node', async () => {
      const handle = `main@${servers.lemmy!.host}`;
      accepted(
        await send('lemmy-0.19-announce-create-page', {
          server: 'lemmy',
          actor: 'lemmyCommunity',
          to: 'shared',
          scheme: 'draft-cavage',
        }),
      );
      expect((await threadsOf(handle)).find((t) => t.title === 'post 4')).toMatchObject({
        author: { handle: handleOf('lemmyBeta') },
      });
    });

    it('a community moderator’s Block of an Ensemble person ends her membership of the community', async () => {
      const handle = `main@${servers.lemmy!.host}`;
      expect(await groupsOfAlice()).toContain(handle);
      accepted(
        await send('lemmy-0.19-block-user', {
          server: 'lemmy',
          actor: 'lemmyBeta',
          to: 'shared',
          scheme: 'draft-cavage',
        }),
      );
      expect(await groupsOfAlice()).not.toContain(handle);
    });
  });

  describe('NodeBB 4.4 (draft-cavage)', () => {
    it('Create(Article) of a topic is a thread; Create(Note) with context and audience a reply', async () => {
      await follow('nodebb');
      accepted(
        await send('nodebb-4.4-create-article-topic', {
          server: 'nodebb',
          actor: 'nodebb',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect((await threadsOf('lab')).find((t) => t.title === 'Quarterly figures')).toMatchObject({
        author: { handle: handleOf('nodebb') },
      });
      accepted(
        await send('nodebb-4.4-create-note-reply', {
          server: 'nodebb',
          actor: 'nodebb',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect((await repliesOf(threadId)).some((r) => r.author?.handle === handleOf('nodebb'))).toBe(true);
    });

    it('an Announce by a category the node does not know: nothing done, nothing fetched', async () => {
      const before = { threads: (await threadsOf('lab')).length, gets: servers.nodebb!.gets.length };
      accepted(
        await send('nodebb-4.4-announce-category', {
          server: 'nodebb',
          actor: 'nodebbCategory',
          to: 'shared',
          scheme: 'draft-cavage',
        }),
      );
      expect((await threadsOf('lab')).length).toBe(before.threads);
      // Only the category's actor (its key) was read, not the post it announced.
      expect(servers.nodebb!.gets.slice(before.gets).filter((g) => g.startsWith('/post'))).toEqual([]);
    });
  });

  describe('Mobilizon 5.1 (draft-cavage; LitePub context)', () => {
    let planning: string;

    it('Join makes a member, Leave ends it', async () => {
      accepted(
        await send('mobilizon-5.1-join-group', {
          server: 'mobilizon',
          actor: 'mobilizon',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect(await memberHandles()).toContain(handleOf('mobilizon'));
      accepted(
        await send('mobilizon-5.1-leave-group', {
          server: 'mobilizon',
          actor: 'mobilizon',
          to: 'group',
          scheme: 'draft-cavage',
        }),
      );
      expect(await memberHandles()).not.toContain(handleOf('mobilizon'));
    });

    it('an Ensemble person joins a Mobilizon group: its Accept makes her a member', async () => {
      const joined = await aliceJoins('mobilizon', 'mobilizonGroup');
      planning = joined.handle;
      accepted(
        await send('mobilizon-5.1-accept-join', {
          server: 'mobilizon',
          actor: 'mobilizonGroup',
          to: 'person',
          scheme: 'draft-cavage',
          values: { join: joined.follow },
        }),
      );
      expect(await groupsOfAlice()).toContain(planning);
    });

    it('a discussion sent by the group’s server is a thread of that group; a resource (Document) is not', async () => {
      accepted(
        await send('mobilizon-5.1-create-note-discussion', {
          server: 'mobilizon',
          actor: 'mobilizon',
          to: 'person',
          scheme: 'draft-cavage',
        }),
      );
      const discussion = (await threadsOf(planning)).find((t) => t.title === 'Venue for the spring workshop');
      expect(discussion).toMatchObject({ author: { handle: handleOf('mobilizon') } });
      expect(discussion!.body!.html).toContain('Two rooms are free');
      accepted(
        await send('mobilizon-5.1-create-document-resource', {
          server: 'mobilizon',
          actor: 'mobilizon',
          to: 'person',
          scheme: 'draft-cavage',
        }),
      );
      expect((await threadsOf(planning)).map((t) => t.title)).toEqual(['Venue for the spring workshop']);
    });
  });

  it('Fedify (Hollo 0.6): follows with Fedify’s RFC 9421 signature, reads the thread, replies; the reply is re-announced', async () => {
    await follow('hollo', 'fedify');
    const read = await fetch(thread, { headers: { accept: 'application/activity+json' } });
    expect(((await read.json()) as { name: string }).name).toBe('Draft');
    const res = await send('hollo-0.6-create-note-fedify', {
      server: 'hollo',
      actor: 'hollo',
      to: 'group',
      scheme: 'fedify',
    });
    accepted(res);
    expect((await repliesOf(threadId)).find((r) => r.body?.html.includes('looks good to me'))).toMatchObject({
      author: { handle: handleOf('hollo') },
    });
    // Nothing but the actor was fetched from Hollo (no context, no proof key).
    expect(new Set(servers.hollo!.gets)).toEqual(new Set(['/@carol']));
    // The group announces it to its members' servers (Lemmy's members here), as received.
    await receivedWhen(
      'lemmy',
      (a) => a.type === 'Announce' && objectOf(a).id === res.activity.id,
      'the Announce of Hollo’s reply on Lemmy',
    );
  });

  it('refuses a fixture sent by another server’s actor (not on the activity’s origin), and unsigned', async () => {
    const { activity } = loadFixture('lemmy-0.19-follow-group', { peer: servers.lemmy!.url, node });
    refused(await postSigned(`${group}/inbox`, activity, actors.nodebb!), 401, /not on the actor’s origin/);
    refused(
      await postSigned(`${group}/inbox`, activity, actors.lemmyAlpha!, { unsigned: true }),
      401,
      /signature/,
    );
  });

  it('every fixture is exercised and names its source', () => {
    const names = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''));
    for (const name of names)
      expect(
        loadFixture(
          name,
          { peer: 'http://p', node: 'http://n' },
          { thread: 't', follow: 'f', join: 'j', publicKeyPem: 'k' },
        ).source,
      ).toMatch(/\S{10}/);
    expect(names.filter((n) => !done.has(n))).toEqual([]);
  });
});
