import type { FederationRecords } from '../../server/federation/federation.records.js';
import {
  FakeServer,
  createPublicGroup,
  joinFakeGroup,
  postSigned,
  waitUntil,
  type FakeActor,
} from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';
const PUBLIC = `${AS}#Public`;

/**
 * What is done to a post a moment after it is posted (an edit, a like, a reply, a like taken back) reaches
 * other nodes after the post itself (docs/federation.md, "Order"), and a node that is still writing a post
 * when something about it arrives applies that once the post is written, instead of dropping it (an edit,
 * 202) or refusing it for good (a like or a reply, 400).
 */
describe('activities about a post, in the order they were made', () => {
  let world: World;
  let peer: FakeServer;
  let mona: FakeActor;
  let hub: FakeActor;
  let group: string;
  let inbox: string;
  let n = 0;

  beforeAll(async () => {
    peer = await new FakeServer().start();
    mona = peer.actor('mona');
    hub = peer.actor('hub', { type: 'Group' });
    world = await startWorld(['alice'], { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' });
    group = await createPublicGroup(world.as.alice!, 'policy-lab');
    inbox = `${group}/inbox`;
    const follow = {
      '@context': AS,
      id: `${peer.url}/activities/join`,
      type: 'Follow',
      actor: mona.id,
      object: group,
    };
    expect((await postSigned(inbox, follow, mona)).status).toBe(202);
  });
  afterAll(async () => {
    await world?.close();
    await peer?.close();
  });

  describe('a member of another node posts, then at once edits, likes or answers it', () => {
    /** Set when the node starts claiming a post's IRI, which it does slowly here (500 ms, a loaded database). */
    let claiming: string[] = [];
    const activity = (type: string, object: unknown) => ({
      '@context': AS,
      id: `${peer.url}/activities/${++n}`,
      type,
      actor: mona.id,
      to: [PUBLIC],
      cc: [group],
      audience: group,
      object,
    });
    const page = (name: string, title: string, content: string) => ({
      id: `${peer.url}/notes/${name}`,
      type: 'Page',
      attributedTo: mona.id,
      name: title,
      content,
      to: [PUBLIC],
      cc: [group],
      audience: group,
    });
    const threads = async () =>
      (
        (await world.as.alice!.call('GET', '/groups/policy-lab/threads')).body.items as {
          id: string;
          title: string;
          body: { html: string };
          likeCount: number;
          replyCount: number;
        }[]
      ).filter(Boolean);
    /** Post the Create, and once the node is writing it (its IRI being claimed), `then`. */
    const whileWriting = async (create: Record<string, unknown>, then: () => Promise<{ status: number }>) => {
      claiming = [];
      const created = postSigned(inbox, create, mona);
      await waitUntil(() => claiming.length > 0, 10_000, 'the node writing the post');
      const [answer, createAnswer] = await Promise.all([then(), created]);
      expect(createAnswer.status).toBe(202);
      return answer;
    };

    beforeAll(() => {
      const records = world.node.node.federation!.records as FederationRecords;
      const claim = records.claim.bind(records);
      records.claim = async (iri, kind) => {
        if (iri.startsWith(`${peer.url}/notes/`)) {
          claiming.push(iri);
          await new Promise((r) => setTimeout(r, 500));
        }
        return claim(iri, kind);
      };
    });

    it('an edit that arrives while the post is being written is applied once it is', async () => {
      const answer = await whileWriting(activity('Create', page('p1', 'Draft', 'Frist.')), () =>
        postSigned(inbox, activity('Update', page('p1', 'Draft', 'First, fixed.')), mona),
      );
      expect(answer.status).toBe(202);
      const thread = (await threads()).find((t) => t.title === 'Draft')!;
      expect(thread.body.html).toContain('First, fixed.');
    });

    it('a like that arrives while the post is being written counts', async () => {
      const answer = await whileWriting(activity('Create', page('p2', 'Liked', 'Like me.')), () =>
        postSigned(inbox, activity('Like', `${peer.url}/notes/p2`), mona),
      );
      expect(answer.status).toBe(202);
      expect((await threads()).find((t) => t.title === 'Liked')!.likeCount).toBe(1);
    });

    it('a post that answers itself is refused at once (it would wait for its own write)', async () => {
      const self = `${peer.url}/notes/self`;
      const note = {
        id: self,
        type: 'Note',
        attributedTo: mona.id,
        content: 'Me.',
        inReplyTo: self,
        to: [PUBLIC],
        cc: [group],
        audience: group,
      };
      const res = await postSigned(inbox, activity('Create', note), mona);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).detail).toBe('A post cannot answer itself.');
    });

    it('a reply that arrives while its thread is being written is placed in it', async () => {
      const reply = {
        id: `${peer.url}/notes/p3-reply`,
        type: 'Note',
        attributedTo: mona.id,
        content: 'A reply.',
        inReplyTo: `${peer.url}/notes/p3`,
        to: [PUBLIC],
        cc: [group],
        audience: group,
      };
      const answer = await whileWriting(activity('Create', page('p3', 'Parent', 'Parent post.')), () =>
        postSigned(inbox, activity('Create', reply), mona),
      );
      expect(answer.status).toBe(202);
      expect((await threads()).find((t) => t.title === 'Parent')!.replyCount).toBe(1);
    });
  });

  describe('a group hosted here: its member nodes get the Announce of an edit after the Announce of the post', () => {
    const announced: { inner: string; at: number }[] = [];

    beforeAll(() => {
      const status = peer.status;
      peer.status = (req, body) => {
        const a = JSON.parse(body.toString()) as { type: string; object: { type?: string } | string };
        if (a.type === 'Announce' && typeof a.object === 'object' && a.object.type)
          announced.push({ inner: a.object.type, at: Date.now() - peer.delayMs });
        return status(req, body);
      };
    });

    it('the edit’s Announce arrives once the Announce of the Create was answered', async () => {
      peer.delayMs = 300;
      try {
        const created = await world.as.alice!.call('POST', '/groups/policy-lab/threads', {
          title: 'Agenda',
          body: 'Frist.',
        });
        expect(created.status).toBe(201);
        const edited = await world.as.alice!.call('PATCH', `/threads/${created.body.id as string}`, {
          body: 'First.',
        });
        expect(edited.status).toBeLessThan(300);
        await waitUntil(
          () => announced.some((a) => a.inner === 'Update'),
          15_000,
          'the Announce of the edit',
        );
        const at = (inner: string) => announced.find((a) => a.inner === inner)!.at;
        expect(at('Update') - at('Create')).toBeGreaterThanOrEqual(280);
      } finally {
        peer.delayMs = 0;
      }
    });
  });

  describe('a person here posts into a group elsewhere, then at once edits, likes and answers it', () => {
    /** When each POST reached the group's server, and when it was answered (its server is slow: 300 ms). */
    const arrivals: { type: string; object: string; at: number }[] = [];
    let answeredAfterMs = 0;

    beforeAll(async () => {
      const alice = world.as.alice!;
      const handle = await joinFakeGroup(alice, peer, hub, `${world.node.url}/ap/a/u.alice/inbox`);
      const path = `/groups/${encodeURIComponent(handle)}`;
      answeredAfterMs = 300;
      peer.delayMs = answeredAfterMs;
      // The node is slow to note which Like a person sent (a loaded database): the unlike comes meanwhile.
      const records = world.node.node.federation!.records as FederationRecords;
      const setRef = records.setRef.bind(records);
      records.setRef = async (key, activity) => {
        if (key.startsWith('like:')) await new Promise((r) => setTimeout(r, 300));
        return setRef(key, activity);
      };
      const status = peer.status;
      peer.status = (req, body) => {
        const a = JSON.parse(body.toString()) as { type: string; object: unknown };
        const object = a.object as { id?: string; inReplyTo?: string; object?: string } | string;
        arrivals.push({
          type: typeof object === 'object' && object.inReplyTo ? 'Create (reply)' : a.type,
          object:
            typeof object === 'string' ? object : (object.inReplyTo ?? object.id ?? object.object ?? ''),
          // Recorded when the answer is sent: the POST arrived `delayMs` before.
          at: Date.now() - answeredAfterMs,
        });
        return status(req, body);
      };

      const created = await alice.call('POST', `${path}/threads`, { title: 'Harbour', body: 'Frist.' });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      // All at once, as a person does who fixes a typo, likes and changes their mind, and answers.
      for (const [method, path, body] of [
        ['PATCH', `/threads/${id}`, { body: 'First.' }],
        ['PUT', `/threads/${id}/like`],
        ['DELETE', `/threads/${id}/like`],
        ['POST', `/threads/${id}/replies`, { body: 'And more.' }],
      ] as const)
        expect((await alice.call(method, path, body)).status).toBeLessThan(300);
      await waitUntil(() => arrivals.length >= 5, 15_000, 'five activities at the group’s server');
    });
    afterAll(() => {
      peer.delayMs = 0;
    });

    it('the post arrives first, everything about it once it was answered, the unlike once the like was', () => {
      const at = (type: string) => arrivals.find((a) => a.type === type)!.at;
      expect(arrivals.map((a) => a.type).sort()).toEqual([
        'Create',
        'Create (reply)',
        'Like',
        'Undo',
        'Update',
      ]);
      expect(arrivals[0]!.type).toBe('Create');
      for (const type of ['Update', 'Like', 'Create (reply)'])
        expect(at(type) - at('Create')).toBeGreaterThanOrEqual(answeredAfterMs - 20);
      expect(at('Undo') - at('Like')).toBeGreaterThanOrEqual(answeredAfterMs - 20);
    });
  });
});
