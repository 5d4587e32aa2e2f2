import { collections } from '../../server/db/collections.js';
import { FakeServer, postSigned, waitUntil, type FakeActor } from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;

/**
 * A group hosted elsewhere announces its members' new threads to this node many at a time (FEP-1b12), as a
 * busy group does: the inbox records each Announce and writes each thread in group commits shared by the
 * requests in flight (ADR 0031, ADR 0039). Nothing may be lost or written twice: the same Announce delivered
 * twice at once, and the same post announced under two ids at once, are one thread each; a refused Announce
 * among them leaves nothing behind.
 */
describe('a burst of Announces from a group hosted elsewhere', () => {
  let world: World;
  let peer: FakeServer;
  let group: FakeActor;
  let author: FakeActor;
  let handle: string;

  const announce = (n: number, id = `${group.id}/announces/${n}`, note = `${peer.url}/notes/${n}`) => ({
    '@context': AS,
    id,
    type: 'Announce',
    actor: group.id,
    to: [PUBLIC],
    cc: [`${group.id}/followers`],
    audience: group.id,
    object: {
      id: `${peer.url}/activities/create-${n}`,
      type: 'Create',
      actor: author.id,
      to: [PUBLIC],
      cc: [group.id],
      audience: group.id,
      object: {
        id: note,
        type: 'Note',
        attributedTo: author.id,
        name: `Thread ${n}`,
        content: `<p>Thread ${n}</p>`,
        to: [PUBLIC],
        cc: [group.id],
        audience: group.id,
      },
    },
  });

  beforeAll(async () => {
    peer = await new FakeServer().start();
    author = peer.actor('ada');
    group = peer.actor('g', { path: '/groups/g', type: 'Group' });
    peer.documents.set('/groups/g/followers', {
      '@context': AS,
      id: `${group.id}/followers`,
      type: 'OrderedCollection',
      totalItems: 1,
    });
    world = await startWorld(['alice'], { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' });
    const alice = world.as.alice!;
    const found = await alice.call('GET', `/lookup?q=${encodeURIComponent(group.id)}`);
    expect(found.status).toBe(200);
    handle = (found.body.group as { handle: string }).handle;
    expect((await alice.call('POST', `/groups/${encodeURIComponent(handle)}/join`)).status).toBe(200);
    let follow: Record<string, unknown> | undefined;
    await waitUntil(
      () =>
        Boolean(
          (follow = peer.received
            .map((r) => JSON.parse(r.body) as Record<string, unknown>)
            .find((a) => a.type === 'Follow' && a.object === group.id)),
        ),
      10_000,
      'alice’s Follow of the group',
    );
    const accept = {
      '@context': AS,
      id: `${group.id}/accepts/1`,
      type: 'Accept',
      actor: group.id,
      object: follow,
      to: [follow!.actor],
    };
    expect((await postSigned(`${world.node.url}/ap/inbox`, accept, group)).status).toBe(202);
    await waitUntil(
      async () =>
        ((await alice.call('GET', '/groups?scope=mine')).body.items as { handle: string }[]).some(
          (g) => g.handle === handle,
        ),
      10_000,
      'alice’s membership',
    );
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await peer?.close();
  });

  it('makes one thread of each post, however often and however many at once it arrives', async () => {
    const inbox = `${world.node.url}/ap/inbox`;
    const posts = 24;
    const deliveries = [];
    for (let n = 1; n <= posts; n++) {
      // Each Announce twice (a retry that crosses the first delivery), and every third post again under a
      // second Announce id (a group that re-sends): all at once.
      deliveries.push(announce(n), announce(n));
      if (n % 3 === 0) deliveries.push(announce(n, `${group.id}/announces/${n}-again`));
    }
    // Among them, one the inbox refuses: a thread not addressed to the group.
    const refused = announce(99);
    refused.object.object.cc = [];
    refused.object.object.audience = `${peer.url}/groups/other`;
    refused.object.cc = [];
    const answers = await Promise.all(
      [...deliveries, refused].map(async (a) => ({
        id: a.id,
        status: (await postSigned(inbox, a, group)).status,
      })),
    );
    expect(answers.filter((a) => a.status !== 202)).toEqual([{ id: refused.id, status: 403 }]);

    const db = world.node.database.db;
    const notes = Array.from({ length: posts }, (_, i) => `${peer.url}/notes/${i + 1}`);
    // Every post is a thread, once; and the inbox answered once it was written.
    const threads = await db
      .collection<{ origin?: { iri: string } }>(collections.threads)
      .find({ 'origin.iri': { $in: [...notes, `${peer.url}/notes/99`] } })
      .toArray();
    expect(threads.map((t) => t.origin!.iri).sort()).toEqual([...notes].sort());
    const claims = await db
      .collection<{ _id: string; localId: unknown }>(collections.fedIris)
      .find({ _id: { $in: [...notes, `${peer.url}/notes/99`] } })
      .toArray();
    expect(claims.map((c) => c._id).sort()).toEqual([...notes].sort());
    expect(new Set(claims.map((c) => String(c.localId)))).toEqual(
      new Set(threads.map((t) => String((t as { _id: unknown })._id))),
    );
    // The group's page shows each once, at its own place in the timeline.
    const page = await world.as.alice!.call('GET', `/groups/${encodeURIComponent(handle)}/threads?limit=50`);
    const titles = (page.body.items as { title: string }[]).map((t) => t.title).sort();
    expect(titles).toEqual(Array.from({ length: posts }, (_, i) => `Thread ${i + 1}`).sort());
    // Each Announce is recorded once; the refused one is not recorded at all.
    const ids = [...new Set(deliveries.map((a) => a.id))];
    const recorded = await db
      .collection<{ _id: string }>(collections.apStreams)
      .find({ _id: { $in: [...ids, refused.id] } as never })
      .toArray();
    expect(recorded.map((r) => r._id).sort()).toEqual([...ids].sort());
  });
});
