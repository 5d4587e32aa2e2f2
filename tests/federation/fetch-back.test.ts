import type { ApexStore } from '../../server/federation/apex.store.js';
import {
  createPublicGroup,
  FakeServer,
  getSigned,
  postSigned,
  waitUntil,
  type FakeActor,
} from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';

interface Fetched {
  /** The type of the activity received, and the id fetched back from it (itself, or what it embeds). */
  received: string;
  id: string;
  unsigned: number;
  signed: number;
}

/** The node's own documents in what a receiver got: the activity, and the activities and posts it embeds. */
function ownIds(doc: unknown, base: string, into: string[] = []): string[] {
  if (!doc || typeof doc !== 'object') return into;
  const o = doc as Record<string, unknown>;
  if (typeof o.id === 'string' && o.id.startsWith(base) && !o.id.startsWith(`${base}/ap/a/`)) into.push(o.id);
  ownIds(o.object, base, into);
  return into;
}

/**
 * Every activity the node sends can be fetched back by the time a receiver has it (issue 16; ADR 0031): the
 * node queues deliveries while it keeps an activity's JSON-LD form, and serves it back from the queue
 * meanwhile. A receiver here fetches back everything of the node's in what it receives, at once, before it
 * even answers the POST: unsigned, and signed as its member. The node keeps activities slowly here (each
 * 300 ms, a Create 600 ms), so a delivery that went out before what it carries could be served is fetched back
 * as a 404.
 */
describe('what the node sends can be fetched back at once', () => {
  let world: World;
  let peer: FakeServer;
  let mona: FakeActor;
  const fetched: Fetched[] = [];
  const pending: Promise<void>[] = [];

  /** What the receiver fetched back from here on. */
  const reset = () => {
    fetched.length = 0;
    pending.length = 0;
  };
  /** Until `count` fetches have started, and they have all been answered. */
  const settled = async (count: number, what: string) => {
    await waitUntil(() => pending.length >= count, 20_000, what);
    await Promise.all(pending);
  };
  /** mona follows a group, and her server fetches back its Accept. */
  const follow = async (group: string, id: string) => {
    const activity = {
      '@context': AS,
      id: `${peer.url}/activities/${id}`,
      type: 'Follow',
      actor: mona.id,
      object: group,
    };
    expect((await postSigned(`${group}/inbox`, activity, mona)).status).toBe(202);
    await settled(1, 'the Accept');
  };

  beforeAll(async () => {
    peer = await new FakeServer().start();
    mona = peer.actor('mona');
    world = await startWorld(['alice'], { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' });
    const base = world.node.url;
    const store = world.node.node.federation!.apex.store as unknown as ApexStore;
    const save = store.saveActivity.bind(store);
    store.saveActivity = async (activity) => {
      // A Create, embedded in its group's Announce, stored slower than the Announce.
      if (String(activity.id).startsWith(base))
        await new Promise((r) => setTimeout(r, activity.type === 'Create' ? 600 : 300));
      return save(activity);
    };
    peer.status = (_req, body) => {
      const activity = JSON.parse(body.toString()) as { type: string };
      for (const id of ownIds(activity, base))
        pending.push(
          (async () => {
            const [unsigned, signed] = await Promise.all([getSigned(id), getSigned(id, mona)]);
            // What is served is the document asked for.
            if (signed.status === 200) expect((JSON.parse(signed.body) as { id: string }).id).toBe(id);
            fetched.push({ received: activity.type, id, unsigned: unsigned.status, signed: signed.status });
          })(),
        );
      return 202;
    };
  });
  afterAll(async () => {
    await world?.close();
    await peer?.close();
  });

  it('a public group: the Accept of a Follow (to its follower only), a new thread’s Announces and the Create they embed', async () => {
    const group = await createPublicGroup(world.as.alice!, 'open-lab');
    await follow(group, 'f1');
    // Addressed to the follower alone: fetched back by its server, nobody else.
    expect(fetched).toEqual([expect.objectContaining({ received: 'Accept', signed: 200, unsigned: 404 })]);
    reset();

    const res = await world.as.alice!.call('POST', '/groups/open-lab/threads', {
      title: 'Tide',
      body: 'Text.',
    });
    expect(res.status).toBe(201);
    // Announce{Create{Page}} (the Announce, the author's Create, the Page) and Announce{Page}.
    await settled(5, 'the Announces');
    expect(fetched.map((f) => f.received).sort()).toEqual(Array(5).fill('Announce'));
    expect(new Set(fetched.map((f) => f.id)).size).toBe(4);
    for (const f of fetched) expect(f).toMatchObject({ unsigned: 200, signed: 200 });
  });

  it('a members-only group: fetched back by its member’s server at once, by nobody else', async () => {
    reset();
    const group = await createPublicGroup(world.as.alice!, 'closed-lab');
    await follow(group, 'f2');
    expect(
      (await world.as.alice!.call('PATCH', '/groups/closed-lab', { visibility: 'members' })).status,
    ).toBe(200);
    await settled(2, 'the Update of the group');
    // The group's Update to its members' nodes: fetched back by them only.
    expect(fetched).toEqual([
      expect.objectContaining({ received: 'Accept', signed: 200, unsigned: 404 }),
      expect.objectContaining({ received: 'Update', signed: 200, unsigned: 404 }),
    ]);
    reset();

    const res = await world.as.alice!.call('POST', '/groups/closed-lab/threads', {
      title: 'Reef',
      body: 'Text.',
    });
    expect(res.status).toBe(201);
    // Announce{Create{Page}}: the Announce, the author's Create, the Page (no Announce of the Page alone).
    await settled(3, 'the Announce');
    expect(fetched.map((f) => f.received)).toEqual(Array(3).fill('Announce'));
    for (const f of fetched) expect(f).toMatchObject({ signed: 200, unsigned: 404 });
  });

  it('a group elsewhere answers at once, before the node has kept what it sent: its Accept makes alice a member, its Announce confirms her thread', async () => {
    reset();
    const base = world.node.url;
    const alice = world.as.alice!;
    const hub = peer.actor('hub', { type: 'Group' });
    // The group's server answers a Follow and announces a Create the moment they arrive: before the node has
    // kept them (300 ms, a Create 600 ms).
    const answers: Promise<{ type: string; status: number }>[] = [];
    const status = peer.status;
    peer.status = (req, body) => {
      const activity = JSON.parse(body.toString()) as { id: string; type: string };
      const answer =
        activity.type === 'Follow'
          ? { type: 'Accept', to: `${base}/ap/a/u.alice/inbox`, object: activity.id }
          : activity.type === 'Create'
            ? { type: 'Announce', to: `${base}/ap/inbox`, object: activity }
            : null;
      if (answer) {
        const sent = {
          '@context': AS,
          id: `${peer.url}/activities/${answers.length + 1}`,
          type: answer.type,
          actor: hub.id,
          to: [`${AS}#Public`],
          cc: [`${hub.id}/followers`],
          object: answer.object,
        };
        answers.push(postSigned(answer.to, sent, hub).then((r) => ({ type: answer.type, status: r.status })));
      }
      return status(req, body);
    };
    try {
      const found = await alice.call('GET', `/lookup?q=${encodeURIComponent(hub.id)}`);
      expect(found.status).toBe(200);
      const handle = found.body.group.handle as string;
      const path = `/groups/${encodeURIComponent(handle)}`;
      expect((await alice.call('POST', `${path}/join`)).body).toMatchObject({ pending: true });
      await waitUntil(() => answers.length === 1, 15_000, 'the Follow at the group’s server');
      expect(await answers[0]).toEqual({ type: 'Accept', status: 202 });
      const mine = await alice.call('GET', '/groups?scope=mine');
      expect((mine.body.items as { handle: string }[]).map((g) => g.handle)).toContain(handle);

      const created = await alice.call('POST', `${path}/threads`, { title: 'Harbour', body: 'Text.' });
      expect(created.body).toMatchObject({ title: 'Harbour', pending: true });
      await waitUntil(() => answers.length === 2, 15_000, 'the Create at the group’s server');
      expect(await answers[1]).toEqual({ type: 'Announce', status: 202 });
      expect((await alice.call('GET', `/threads/${created.body.id as string}`)).body.pending).toBe(false);
    } finally {
      peer.status = status;
      // What the receiver fetched back meanwhile is answered before the node closes.
      await Promise.allSettled([...pending, ...answers]);
    }
  });
});
