import type { Db } from 'mongodb';
import { collections } from '../../server/db/collections.js';
import type { ApexStore } from '../../server/federation/apex.store.js';
import {
  collectionSize,
  createPublicGroup,
  getSigned,
  waitUntil,
  FakeServer,
  postSigned,
  type FakeActor,
} from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;

/** Forgeries a security review found, each sent for real: none may change what the node believes. */
describe('inbox forgeries: embedded copies, redefined terms, redirects, floods', () => {
  let world: World;
  let evil: FakeServer;
  let victim: FakeServer;
  let mallory: FakeActor;
  let bob: FakeActor;
  let group: string;
  let inbox: string;
  let db: Db;
  let n = 0;
  const next = () => `${evil.url}/activities/${++n}`;
  const create = (object: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    '@context': AS,
    id: next(),
    type: 'Create',
    actor: mallory.id,
    to: [PUBLIC],
    cc: [group],
    audience: group,
    object: {
      id: `${evil.url}/notes/${n}`,
      type: 'Note',
      attributedTo: mallory.id,
      to: [PUBLIC],
      cc: [group],
      content: 'hi',
      ...object,
    },
    ...extra,
  });
  const cachedBob = () => db.collection(collections.apObjects).findOne({ _id: bob.id as never });

  beforeAll(async () => {
    evil = await new FakeServer().start();
    victim = await new FakeServer().start();
    mallory = evil.actor('mallory');
    bob = victim.actor('bob');
    world = await startWorld(['alice'], {
      FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
      FEDERATION_INBOX_RATE_LIMIT: '20',
    });
    db = world.node.database.db;
    await createPublicGroup(world.as.alice!, 'lab');
    group = `${world.node.url}/ap/a/g.lab`;
    inbox = `${group}/inbox`;
    // Posts come from members: mallory and bob join the open group (a Follow, FEP-1b12).
    for (const actor of [mallory, bob]) {
      const follow = {
        '@context': AS,
        id: `${actor.id}/follows/lab`,
        type: 'Follow',
        actor: actor.id,
        object: group,
      };
      expect((await postSigned(inbox, follow, actor)).status).toBe(202);
    }
  });
  afterAll(async () => {
    await world.close();
    await evil.close();
    await victim.close();
  });

  it('an embedded copy of another server’s actor never enters the cache (a tag carrying a forged inbox)', async () => {
    const forged = {
      id: bob.id,
      type: 'Person',
      preferredUsername: 'bob',
      inbox: `${evil.url}/stolen-inbox`,
    };
    const activity = create({ tag: [forged] });
    expect((await postSigned(inbox, activity, mallory)).status).toBe(202);
    expect(JSON.stringify((await cachedBob()) ?? {})).not.toContain('stolen-inbox');
    // What was kept names bob by his IRI only.
    const stored = await db.collection(collections.apStreams).findOne({ _id: activity.id as never });
    expect(JSON.stringify(stored)).not.toContain('stolen-inbox');
    expect((stored!.object as { tag: unknown[] }[])[0]!.tag).toEqual([bob.id]);
  });

  it('a @context that renames terms is refused: apex must act on what the guard checked', async () => {
    const activity = {
      ...create({}),
      '@context': [
        AS,
        { object: 'https://evil.example/ns#o', realObject: { '@id': 'as:object', '@type': '@id' } },
      ],
      realObject: { id: `${world.node.url}/ap/a/u.alice`, type: 'Person', name: 'Owned' },
    };
    const res = await postSigned(inbox, activity, mallory);
    // Read as apex reads it, the activity creates alice: refused.
    expect(res.status).toBe(403);
    expect(await db.collection(collections.apStreams).findOne({ _id: activity.id as never })).toBeNull();
    // A context that moves `type` away is refused too.
    const retyped = {
      ...create({}),
      '@context': [AS, { type: 'https://evil.example/ns#t', kind: '@type' }],
      kind: 'Update',
    };
    expect((await postSigned(inbox, retyped, mallory)).status).toBe(400);
  });

  it('an Accept embedding a forged Follow under a local IRI is not stored', async () => {
    const forgedId = `${world.node.url}/ap/s/0123456789abcdef01234567`;
    const accept = {
      '@context': AS,
      id: next(),
      type: 'Accept',
      actor: mallory.id,
      to: [`${world.node.url}/ap/a/u.alice`],
      object: { id: forgedId, type: 'Follow', actor: `${world.node.url}/ap/a/u.alice`, object: mallory.id },
    };
    const res = await postSigned(inbox.replace('g.lab', 'u.alice'), accept, mallory);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await db.collection(collections.apStreams).findOne({ _id: forgedId as never })).toBeNull();
    expect(
      await db
        .collection(collections.apStreams)
        .countDocuments({ '_meta.collection': `${world.node.url}/ap/a/u.alice/following` }),
    ).toBe(0);
  });

  /** A group on the evil server that this node has a record of (as when one of its people joined it). */
  const evilGroup = async () => {
    const club = evil.actor('club');
    (evil.documents.get('/users/club') as { type: string }).type = 'Group';
    await world.node.node.federation!.remote.group(club.id);
    return club;
  };

  it('apex’s store writes an activity with a local id only when the node built it, never a copy', async () => {
    const store = world.node.node.federation!.apex.store as unknown as ApexStore;
    const id = `${world.node.url}/ap/o/forged-${Date.now()}`;
    const activity = () => ({ id, type: 'Create', actor: [`${world.node.url}/ap/a/lab`], to: [PUBLIC] });
    const stored = () => db.collection(collections.apStreams).countDocuments({ _id: id as never });
    await expect(store.saveActivity(activity())).rejects.toThrow('is local');
    // A copy of one the node built is another object: refused too.
    await expect(store.saveActivity(structuredClone(store.own(activity())))).rejects.toThrow('is local');
    await expect(store.updateActivity(activity(), true)).rejects.toThrow('is local');
    expect(await stored()).toBe(0);
    expect(await store.saveActivity(store.own(activity()))).toBe(true);
    expect(await stored()).toBe(1);
  });

  it('an Announce of another origin’s activity is fetched from that origin, never taken from the copy', async () => {
    const foreign = {
      id: `${victim.url}/activities/1`,
      type: 'Create',
      actor: bob.id,
      object: { id: `${victim.url}/notes/1`, type: 'Note', attributedTo: bob.id, content: 'forged words' },
    };
    const announce = (actor: FakeActor) => ({
      '@context': AS,
      id: next(),
      type: 'Announce',
      actor: actor.id,
      to: [group],
      object: [foreign],
    });
    // A person's boost is not group content: nothing is fetched or kept.
    expect((await postSigned(inbox, announce(mallory), mallory)).status).toBe(202);
    expect(victim.gets).not.toContain('/activities/1');
    // A group this node follows announces it: the activity is read from its own server, which does not
    // have it (404): the Announce cannot be used.
    const club = await evilGroup();
    const res = await postSigned(`${world.node.url}/ap/inbox`, announce(club), club);
    expect(res.status).toBe(400);
    expect(await db.collection(collections.apStreams).findOne({ _id: foreign.id as never })).toBeNull();
    expect(
      await db.collection(collections.apObjects).findOne({ _id: foreign.object.id as never }),
    ).toBeNull();
    expect(victim.gets).toContain('/activities/1');
    expect(JSON.stringify((await world.anonymous.call('GET', '/search?q=forged')).body)).not.toContain(
      'forged words',
    );
  });

  it('a keyId that redirects to another origin does not make a key for the first', async () => {
    // An open redirect on the victim's server leads to the attacker's document, which claims to be carol.
    victim.redirects.set('/go', `${evil.url}/users/mallory`);
    const carol = `${victim.url}/users/carol`;
    const activity = {
      '@context': AS,
      id: `${victim.url}/activities/forged`,
      type: 'Create',
      actor: carol,
      to: [group],
      object: { id: `${victim.url}/notes/forged`, type: 'Note', attributedTo: carol, content: 'not carol' },
    };
    const res = await postSigned(inbox, activity, {
      keyId: `${victim.url}/go#main-key`,
      privateKeyPem: mallory.privateKeyPem,
    });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).detail).toMatch(/another origin/);
    expect(victim.gets).toContain('/go');
    // A key on another origin than the actor's is refused before anything is fetched.
    const elsewhere = await postSigned(inbox, create({}), {
      keyId: `${victim.url}/keys/other#k`,
      privateKeyPem: mallory.privateKeyPem,
    });
    expect(elsewhere.status).toBe(401);
    expect(victim.gets).not.toContain('/keys/other');
    expect(
      await db
        .collection(collections.fedRemoteKeys)
        .countDocuments({ _id: `${victim.url}/go#main-key` as never }),
    ).toBe(0);
  });

  it('a post naming thousands of tags makes the node fetch none of them', async () => {
    const third = await new FakeServer().start();
    try {
      const tags = Array.from({ length: 2000 }, (_, i) => ({
        type: 'Mention',
        href: `${third.url}/users/u${i}`,
      }));
      expect((await postSigned(inbox, create({ tag: tags }, { tag: tags }), mallory)).status).toBe(202);
      expect(third.gets).toHaveLength(0);
    } finally {
      await third.close();
    }
  });

  it('bad values get 4xx, never 500: a keyId that is no URL, a type list, a key that is not RSA', async () => {
    const notUrl = await postSigned(inbox, create({}), {
      keyId: 'not-a-url',
      privateKeyPem: mallory.privateKeyPem,
    });
    expect(notUrl.status).toBe(401);
    expect((await postSigned(inbox, { ...create({}), type: ['Like', 'Update'] }, mallory)).status).toBe(400);
    evil.documents.set('/keys/broken', {
      id: `${evil.url}/keys/broken`,
      owner: mallory.id,
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----',
    });
    const doc = evil.documents.get('/users/mallory') as { publicKey: unknown[] | unknown };
    const before = doc.publicKey;
    doc.publicKey = [
      before,
      {
        id: `${evil.url}/keys/broken`,
        owner: mallory.id,
        publicKeyPem: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----',
      },
    ];
    const broken = await postSigned(inbox, create({}), {
      keyId: `${evil.url}/keys/broken`,
      privateKeyPem: mallory.privateKeyPem,
    });
    doc.publicKey = before;
    expect(broken.status).toBe(401);
    const like = {
      '@context': AS,
      id: next(),
      type: 'Like',
      actor: mallory.id,
      to: [group],
      object: `${victim.url}/notes/missing`,
    };
    expect((await postSigned(inbox, like, mallory)).status).toBe(400);
  });

  it('junk naming another server’s key does not spend that server’s budget', async () => {
    // More unverifiable posts claiming to be bob, with bob's key id, than bob's host may send a minute...
    for (let i = 0; i < 20; i++) {
      const forged = {
        '@context': AS,
        id: `${victim.url}/activities/junk-${i}`,
        type: 'Create',
        actor: bob.id,
        to: [group],
        object: { id: `${victim.url}/notes/junk-${i}`, type: 'Note', attributedTo: bob.id },
      };
      expect(
        (await postSigned(inbox, forged, { keyId: bob.keyId, privateKeyPem: mallory.privateKeyPem })).status,
      ).toBe(401);
    }
    // ...and bob's own server is still heard.
    const fromBob = {
      '@context': AS,
      id: `${victim.url}/activities/ok`,
      type: 'Create',
      actor: bob.id,
      to: [group],
      object: { id: `${victim.url}/notes/ok`, type: 'Note', attributedTo: bob.id, content: 'hello' },
    };
    expect((await postSigned(inbox, fromBob, bob)).status).toBe(202);
  });

  it('a fetched document cannot rename its id with a @context (another server’s actor stays unforged)', async () => {
    evil.documents.set('/docs/renamer', {
      '@context': [AS, { id: null, realid: '@id' }],
      id: `${evil.url}/docs/renamer`,
      realid: bob.id,
      type: 'Person',
      inbox: `${evil.url}/stolen-by-context`,
    });
    // A reply to it in a group here answers nothing of the group: refused without fetching it.
    const reply = await postSigned(inbox, create({ inReplyTo: `${evil.url}/docs/renamer` }), mallory);
    expect(reply.status).toBe(400);
    expect(evil.gets).not.toContain('/docs/renamer');
    // Announced by a group this node follows, it is fetched, and read as it is, not as its @context says.
    const club = await evilGroup();
    const announce = {
      '@context': AS,
      id: `${evil.url}/activities/renamer-announce`,
      type: 'Announce',
      actor: club.id,
      object: `${evil.url}/docs/renamer`,
    };
    const res = await postSigned(`${world.node.url}/ap/inbox`, announce, club);
    expect(res.status).toBe(400);
    expect(evil.gets).toContain('/docs/renamer');
    expect(JSON.stringify((await cachedBob()) ?? {})).not.toContain('stolen-by-context');
  });

  it('apex’s private _meta cannot be sent: a Follow of a request-only group does not become a follower', async () => {
    const closed = await createPublicGroup(world.as.alice!, 'closed-lab', { joinPolicy: 'request' });
    const follow = {
      '@context': AS,
      id: next(),
      type: 'Follow',
      actor: mallory.id,
      object: closed,
      _meta: { collection: [`${closed}/followers`] },
    };
    expect((await postSigned(`${closed}/inbox`, follow, mallory)).status).toBe(202);
    // Its members (FEP-1b12): the owner only. mallory's Follow is a join request, waiting in the queue.
    expect(await collectionSize(`${closed}/followers`)).toBe(1);
    const requests = await world.as.alice!.call('GET', '/groups/closed-lab/members?state=requested');
    expect(requests.body.items.map((m: { handle: string }) => m.handle)).toEqual([`mallory@${evil.host}`]);
  });

  it('NUL characters and malformed percent-escapes get 400, not 500', async () => {
    const nul = await postSigned(inbox, create({ content: 'x', 'x\u0000y': 1 }), mallory);
    expect(nul.status).toBe(400);
    for (const path of ['/ap/a/%E0%A4%A', '/ap/a/%E0%A4%A/outbox']) {
      const res = await fetch(`${world.node.url}${path}`, {
        headers: { accept: 'application/activity+json' },
      });
      expect(res.status).toBe(400);
    }
  });

  it('only the followed actor accepts a Follow, and a follower counts once', async () => {
    const open = await createPublicGroup(world.as.alice!, 'open-club');
    const closed = await createPublicGroup(world.as.alice!, 'closed-club', { joinPolicy: 'request' });
    const count = (group: string) => collectionSize(`${group}/followers`);
    // A Follow of the closed group, sent to the open group's inbox and to alice through the shared inbox.
    // (bob's; the genuine follows below are mallory's, so a misdirected acceptance would count twice).
    const misdirected = {
      '@context': AS,
      id: `${victim.url}/activities/misdirected`,
      type: 'Follow',
      actor: bob.id,
      object: closed,
    };
    expect((await postSigned(`${open}/inbox`, misdirected, bob)).status).toBe(202);
    const shared = {
      ...misdirected,
      id: `${victim.url}/activities/misdirected-2`,
      to: [`${world.node.url}/ap/a/u.alice`, open],
    };
    expect((await postSigned(`${world.node.url}/ap/inbox`, shared, bob)).status).toBe(202);
    expect(await collectionSize(`${world.node.url}/ap/a/u.alice/followers`)).toBe(0);

    // The same actor following the open group three times is one follower.
    for (let i = 0; i < 3; i++)
      expect(
        (
          await postSigned(
            `${open}/inbox`,
            { '@context': AS, id: next(), type: 'Follow', actor: mallory.id, object: open },
            mallory,
          )
        ).status,
      ).toBe(202);
    // A group's followers are its members (the owner, then mallory once); bob's Follow of the closed
    // group, wherever it was sent, is a request there.
    await waitUntil(async () => (await count(open)) === 2, 5000, 'the follower');
    await new Promise((r) => setTimeout(r, 300));
    expect([await count(open), await count(closed)]).toEqual([2, 1]);
  });

  it('only the followed actor may Accept or Reject a local Follow', async () => {
    const fed = world.node.node.federation!;
    const alice = fed.directory.personIri('alice');
    const follow = await fed.publish(alice, 'Follow', [mallory.id], { object: mallory.id });
    // The Follow can be fetched back by its id, by the server it was sent to only (signed).
    expect((await getSigned(follow.id)).status).toBe(404);
    expect((await getSigned(follow.id, bob)).status).toBe(404);
    const fetched = await getSigned(follow.id, mallory);
    expect(fetched.status).toBe(200);
    expect(JSON.parse(fetched.body)).toMatchObject({ id: follow.id, type: 'Follow', object: mallory.id });
    const reject = (id: string) => ({
      '@context': AS,
      id,
      type: 'Reject',
      actor: bob.id,
      to: [alice],
      object: follow.id,
    });
    const forged = await postSigned(
      inbox.replace('g.lab', 'u.alice'),
      reject(`${victim.url}/activities/reject`),
      bob,
    );
    expect(forged.status).toBe(403);
    const accept = {
      '@context': AS,
      id: next(),
      type: 'Accept',
      actor: mallory.id,
      to: [alice],
      object: follow.id,
    };
    expect((await postSigned(inbox.replace('g.lab', 'u.alice'), accept, mallory)).status).toBe(202);
    expect(await collectionSize(`${alice}/following`)).toBe(1);
  });
});
