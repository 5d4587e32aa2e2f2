import type { Db } from 'mongodb';
import { collections } from '../../server/db/collections.js';
import { FakeServer, postSigned, type FakeActor, createPublicGroup } from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;
const STORED = [collections.apStreams, collections.apObjects];

describe('the hardened inbox (each hostile request is refused and nothing is stored)', () => {
  let world: World;
  let peer: FakeServer;
  let blocked: FakeServer;
  let ada: FakeActor;
  let group: string;
  let inbox: string;
  let db: Db;
  let n = 0;

  // What peers sent (the node's own activities, kept in its outboxes, are written at their own pace).
  const counts = async () =>
    Object.fromEntries(
      await Promise.all(
        STORED.map(async (c) => [
          c,
          (
            await db
              .collection(c)
              .find({}, { projection: { _id: 1 } })
              .toArray()
          ).filter((d) => !String(d._id).startsWith(world.node.url)).length,
        ]),
      ),
    );
  const note = (overrides: Record<string, unknown> = {}) => {
    n++;
    return {
      '@context': AS,
      id: `${peer.url}/activities/${n}`,
      type: 'Create',
      actor: ada.id,
      to: [PUBLIC],
      cc: [group],
      audience: group,
      object: {
        id: `${peer.url}/notes/${n}`,
        type: 'Note',
        attributedTo: ada.id,
        content: `Note ${n}`,
        to: [PUBLIC],
        cc: [group],
        audience: group,
      },
      ...overrides,
    };
  };
  /** Send a hostile request: it must get `status` as problem+json and change nothing. */
  const refused = async (
    status: number,
    send: () => Promise<{ status: number; type: string; body: string }>,
  ) => {
    const before = await counts();
    const res = await send();
    expect({ status: res.status, body: res.body }).toMatchObject({ status });
    expect(res.type).toContain('application/problem+json');
    expect(await counts()).toEqual(before);
    return JSON.parse(res.body) as { detail: string };
  };

  beforeAll(async () => {
    peer = await new FakeServer().start();
    blocked = await new FakeServer().start();
    ada = peer.actor('ada');
    world = await startWorld(['alice'], {
      FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
      FEDERATION_MODE: 'blocklist',
      FEDERATION_DOMAINS: blocked.host,
      FEDERATION_INBOX_MAX_SIZE: '64kb',
    });
    db = world.node.database.db;
    await createPublicGroup(world.as.alice!, 'policy-lab');
    group = `${world.node.url}/ap/a/g.policy-lab`;
    inbox = `${group}/inbox`;
  });
  afterAll(async () => {
    await world.close();
    await peer.close();
    await blocked.close();
  });

  it('accepts a signed Create from a peer, stores it once, and ignores its replay', async () => {
    // A member's post: ada joins the open group first (a Follow, FEP-1b12).
    const follow = {
      '@context': AS,
      id: `${peer.url}/activities/join`,
      type: 'Follow',
      actor: ada.id,
      object: group,
    };
    expect((await postSigned(inbox, follow, ada)).status).toBe(202);
    const activity = note();
    expect((await postSigned(inbox, activity, ada)).status).toBe(202);
    expect(await db.collection(collections.apStreams).findOne({ _id: activity.id as never })).toBeTruthy();
    const threads = await world.anonymous.call('GET', '/groups/policy-lab/threads');
    expect(threads.body.items.map((t: { title: string }) => t.title)).toEqual([activity.object.content]);
    const before = await counts();
    expect((await postSigned(inbox, activity, ada)).status).toBe(202);
    expect((await postSigned(`${world.node.url}/ap/inbox`, activity, ada)).status).toBe(202);
    expect(await counts()).toEqual(before);
    expect((await world.anonymous.call('GET', '/groups/policy-lab/threads')).body.items).toHaveLength(1);
  });

  it('an Undo of a Follow is matched by actor and object, whatever Follow id it names; Join and Leave too', async () => {
    const members = async () =>
      (
        (await world.as.alice!.call('GET', '/groups/policy-lab/members')).body.items as { handle: string }[]
      ).map((m) => m.handle);
    const mona = peer.actor('mona');
    const handle = `mona@${peer.host}`;
    const send = (type: string, object: unknown) =>
      postSigned(
        inbox,
        { '@context': AS, id: `${peer.url}/activities/mona-${++n}`, type, actor: mona.id, object },
        mona,
      );
    expect((await send('Follow', group)).status).toBe(202);
    expect(await members()).toContain(handle);
    // The Undo names a Follow id this node never saw (a peer that made a new one): still her Follow.
    const undo = await send('Undo', {
      id: `${peer.url}/activities/another-follow`,
      type: 'Follow',
      actor: mona.id,
      object: group,
    });
    expect(undo.status).toBe(202);
    expect(await members()).not.toContain(handle);
    expect((await send('Join', group)).status).toBe(202);
    expect(await members()).toContain(handle);
    expect((await send('Leave', group)).status).toBe(202);
    expect(await members()).not.toContain(handle);
  });

  it('a post’s file is copied for a member; a refused post keeps no copy of its files (bytes included)', async () => {
    const bytes = Buffer.from('Minutes of the meeting.\n');
    peer.documents.set('/media/minutes.txt', bytes);
    const withFile = (actor: FakeActor) => {
      const activity = note({ actor: actor.id });
      const object = activity.object as Record<string, unknown>;
      object.attributedTo = actor.id;
      object.attachment = [{ type: 'Document', name: 'minutes.txt', url: `${peer.url}/media/minutes.txt` }];
      return activity;
    };
    const copies = () =>
      db.collection(collections.files).countDocuments({ 'origin.url': `${peer.url}/media/minutes.txt` });
    const blobs = () => db.collection('blobs.files').countDocuments();
    const before = await blobs();
    // nina is no member: her post is refused after its file was read, and nothing of it stays.
    const nina = peer.actor('nina');
    const refusedPost = await postSigned(inbox, withFile(nina), nina);
    expect(refusedPost.status).toBe(403);
    expect(peer.gets).toContain('/media/minutes.txt');
    expect(await copies()).toBe(0);
    expect(await blobs()).toBe(before);
    // ada is a member: her post is kept with a copy anyone may download from this node (a public group).
    const kept = withFile(ada);
    expect((await postSigned(inbox, kept, ada)).status).toBe(202);
    const threads = await world.anonymous.call('GET', '/groups/policy-lab/threads');
    const thread = (
      threads.body.items as { body: { html: string }; attachments: { id: string; name: string }[] }[]
    ).find((t) => t.body.html.includes((kept.object as { content: string }).content))!;
    expect(thread.attachments).toEqual([expect.objectContaining({ name: 'minutes.txt', unavailable: null })]);
    const res = await fetch(`${world.node.url}/api/v1/files/${thread.attachments[0]!.id}/content`);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    expect(await copies()).toBe(1);
  });

  it('accepts hs2019 for an RSA key, and the shared inbox advertised in every actor', async () => {
    expect((await postSigned(inbox, note(), ada, { algorithm: 'hs2019' })).status).toBe(202);
    const shared = (await (
      await fetch(group, { headers: { accept: 'application/activity+json' } })
    ).json()) as { endpoints: { sharedInbox: string } };
    const activity = note();
    expect((await postSigned(shared.endpoints.sharedInbox, activity, ada)).status).toBe(202);
    expect(await db.collection(collections.apStreams).findOne({ _id: activity.id as never })).toBeTruthy();
  });

  it('refuses unsigned posts (no development switch here)', async () => {
    const problem = await refused(401, () => postSigned(inbox, note(), ada, { unsigned: true }));
    expect(problem.detail).toMatch(/signature/);
  });

  it('refuses a signature that does not verify, and a key that is not the actor’s', async () => {
    const eve = peer.actor('eve');
    await refused(401, () =>
      postSigned(inbox, note(), { keyId: ada.keyId, privateKeyPem: eve.privateKeyPem }),
    );
    // eve signs with her own key, claiming to be ada.
    const problem = await refused(401, () => postSigned(inbox, note(), eve));
    expect(problem.detail).toMatch(/does not belong/);
    // A key document naming an owner on another server.
    peer.documents.set('/keys/stray', {
      id: `${peer.url}/keys/stray`,
      owner: `${blocked.url}/users/x`,
      publicKeyPem: eve.publicKeyPem,
    });
    await refused(401, () =>
      postSigned(inbox, note(), { keyId: `${peer.url}/keys/stray`, privateKeyPem: eve.privateKeyPem }),
    );
  });

  it('compares the Digest with the body and bounds the Date', async () => {
    const digest = await refused(401, () =>
      postSigned(inbox, note(), ada, { tamper: (b) => b.replace('Note', 'Edited note') }),
    );
    expect(digest.detail).toMatch(/Digest/);
    const stale = await refused(401, () =>
      postSigned(inbox, note(), ada, { date: new Date(Date.now() - 2 * 3600_000) }),
    );
    expect(stale.detail).toMatch(/Date/);
  });

  it('refuses objects from another origin and remote Create/Update/Delete of local objects and actors', async () => {
    await refused(403, () =>
      postSigned(
        inbox,
        note({ object: { id: `${blocked.url}/notes/1`, type: 'Note', attributedTo: ada.id, content: 'x' } }),
        ada,
      ),
    );
    await refused(403, () => postSigned(inbox, note({ id: `${blocked.url}/activities/x` }), ada));
    const before = await (await fetch(group, { headers: { accept: 'application/activity+json' } })).text();
    await refused(403, () =>
      postSigned(
        inbox,
        note({
          type: 'Update',
          object: { id: group, type: 'Group', inbox: `${peer.url}/stolen`, name: 'Taken over' },
        }),
        ada,
      ),
    );
    const thread = await world.as.alice!.call('POST', '/groups/policy-lab/threads', {
      title: 'Kept',
      body: 'Stays',
    });
    await refused(403, () =>
      postSigned(
        inbox,
        note({ type: 'Delete', object: `${world.node.url}/ap/threads/${thread.body.id}` }),
        ada,
      ),
    );
    expect(await (await fetch(group, { headers: { accept: 'application/activity+json' } })).text()).toBe(
      before,
    );
    expect((await world.as.alice!.call('GET', `/threads/${thread.body.id}`)).status).toBe(200);
  });

  it('refuses bodies over the limit, other media types, and what is not an activity', async () => {
    await refused(413, () => postSigned(inbox, note({ content: 'x'.repeat(70 * 1024) }), ada));
    await refused(415, () => postSigned(inbox, note(), ada, { contentType: 'text/plain' }));
    const problem = await refused(400, () => postSigned(inbox, { type: 'Create', actor: ada.id }, ada));
    expect(problem.detail).toMatch(/not an activity/);
    await refused(400, () => postSigned(inbox, '{not json', ada, { tamper: () => '{not json' }));
  });

  it('applies the federation policy to inbound requests and to every fetch', async () => {
    const outsider = blocked.actor('olga');
    await refused(403, () =>
      postSigned(
        inbox,
        {
          ...note(),
          id: `${blocked.url}/activities/1`,
          actor: outsider.id,
          object: { id: `${blocked.url}/notes/1`, type: 'Note', attributedTo: outsider.id },
        },
        outsider,
      ),
    );
    await expect(world.node.node.federation!.fetcher.getJson(`${blocked.url}/users/olga`)).rejects.toThrow(
      /federation policy/,
    ); // Nothing is delivered there either: the delivery is kept as failed, the server never hears of it.
    const fed = world.node.node.federation!;
    const actor = fed.directory.instanceIri;
    const id = `${world.node.url}/ap/s/policy-test`;
    await fed.deliveries.enqueue(
      actor,
      JSON.stringify({ '@context': AS, id, type: 'Create', actor, object: { id: `${id}/n`, type: 'Note' } }),
      [`${blocked.url}/inbox`],
    );
    await fed.worker.drain();
    expect(await db.collection(collections.fedDeliveries).findOne({ activityId: id })).toMatchObject({
      state: 'failed',
      lastError: expect.stringMatching(/federation policy/),
    });
    expect(blocked.received).toHaveLength(0);
  });

  it('never fetches private addresses the configuration does not allow (keyId, @context)', async () => {
    // An "actor" at the cloud metadata address: its key is never fetched.
    const metadataActor = 'http://169.254.169.254/latest/meta-data';
    const metadata = await refused(401, () =>
      postSigned(
        inbox,
        note({
          id: `${metadataActor}/a1`,
          actor: metadataActor,
          object: { id: `${metadataActor}/n1`, type: 'Note' },
        }),
        { keyId: `${metadataActor}#key`, privateKeyPem: ada.privateKeyPem },
      ),
    );
    expect(metadata.detail).toMatch(/could not be had/);
    await refused(400, () =>
      postSigned(inbox, note({ '@context': [AS, 'http://10.1.2.3/context.jsonld'] }), ada),
    );
  });

  it('limits each remote host’s inbox requests', async () => {
    const limited = await startWorld(['alice'], {
      FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8',
      FEDERATION_INBOX_RATE_LIMIT: '3',
    });
    try {
      const target = `${limited.node.url}/ap/inbox`;
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await postSigned(target, note(), ada)).status);
      expect(statuses).toEqual([202, 202, 202, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
