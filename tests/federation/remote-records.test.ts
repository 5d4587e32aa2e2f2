import type { CommandStartedEvent } from 'mongodb';
import { collections } from '../../server/db/collections.js';
import { FakeServer, postSigned, createPublicGroup, type FakeActor } from '../helpers/fediverse.js';
import { startWorld, type World } from '../helpers/world.js';

const AS = 'https://www.w3.org/ns/activitystreams';

/**
 * A peer's people and groups are remembered by the process that reads them (remote.directory.ts): a busy
 * peer's member is not read from the database on every post, and what its node says of it anew (an
 * Update, a Delete of the actor) takes effect at once.
 */
describe('records of remote actors while their node is busy', () => {
  let world: World;
  let peer: FakeServer;
  let ada: FakeActor;
  let group: string;
  let n = 0;
  const reads: string[] = [];

  const create = () => {
    n++;
    return {
      '@context': AS,
      id: `${peer.url}/activities/${n}`,
      type: 'Create',
      actor: ada.id,
      to: [`${AS}#Public`],
      cc: [group],
      audience: group,
      object: {
        id: `${peer.url}/notes/${n}`,
        type: 'Note',
        attributedTo: ada.id,
        content: `Note ${n}`,
        cc: [group],
        audience: group,
      },
    };
  };

  beforeAll(async () => {
    peer = await new FakeServer().start();
    ada = peer.actor('ada');
    world = await startWorld(
      ['alice'],
      { FEDERATION_ALLOWED_CIDRS: '127.0.0.0/8' },
      {},
      { monitorCommands: true },
    );
    world.node.database.client.on('commandStarted', (e: CommandStartedEvent) => {
      if (e.commandName === 'find' && e.command.find === collections.fedIris)
        reads.push(String((e.command.filter as { _id?: unknown })._id));
    });
    await createPublicGroup(world.as.alice!, 'policy-lab');
    group = `${world.node.url}/ap/a/g.policy-lab`;
    const follow = {
      '@context': AS,
      id: `${peer.url}/activities/join`,
      type: 'Follow',
      actor: ada.id,
      object: group,
    };
    expect((await postSigned(`${group}/inbox`, follow, ada)).status).toBe(202);
  });
  afterAll(async () => {
    await world.close();
    await peer.close();
  });

  it('reads a busy member’s record once, not on every post', async () => {
    reads.length = 0;
    for (let i = 0; i < 3; i++) expect((await postSigned(`${group}/inbox`, create(), ada)).status).toBe(202);
    const threads = await world.anonymous.call('GET', '/groups/policy-lab/threads');
    expect(threads.body.items).toHaveLength(3);
    expect(reads.filter((id) => id === ada.id)).toEqual([]);
  });

  it('records a post sent twice under two activity ids once (a thread and a reply)', async () => {
    const first = create();
    expect((await postSigned(`${group}/inbox`, first, ada)).status).toBe(202);
    // The same note again, in a new activity (a server that re-sends, or relays, under a new id).
    const again = { ...first, id: `${first.id}/again` };
    expect((await postSigned(`${group}/inbox`, again, ada)).status).toBe(202);
    const reply = create();
    reply.object = { ...reply.object, inReplyTo: first.object.id } as typeof reply.object;
    expect((await postSigned(`${group}/inbox`, reply, ada)).status).toBe(202);
    expect((await postSigned(`${group}/inbox`, { ...reply, id: `${reply.id}/again` }, ada)).status).toBe(202);
    const record = await world.node.database.db
      .collection<{ _id: string; localId: { toHexString(): string } }>(collections.fedIris)
      .findOne({ _id: first.object.id });
    const threads = await world.anonymous.call('GET', '/groups/policy-lab/threads?limit=50');
    const titled = (threads.body.items as { id: string; replyCount: number }[]).filter(
      (t) => t.id === record!.localId.toHexString(),
    );
    expect(titled).toHaveLength(1);
    expect(titled[0]!.replyCount).toBe(1);
    const replies = await world.anonymous.call('GET', `/threads/${titled[0]!.id}/replies`);
    expect(replies.body.items).toHaveLength(1);
  });

  it('takes a new profile from an Update at once, and forgets an actor that deleted itself', async () => {
    const doc = peer.documents.get('/users/ada') as Record<string, unknown>;
    peer.documents.set('/users/ada', { ...doc, name: 'Ada Lovelace' });
    const update = {
      '@context': AS,
      id: `${peer.url}/activities/update-1`,
      type: 'Update',
      actor: ada.id,
      object: { ...doc, name: 'Ada Lovelace' },
    };
    expect((await postSigned(`${world.node.url}/ap/inbox`, update, ada)).status).toBe(202);
    const remote = world.node.node.federation!.remote;
    expect((await remote.person(ada.id)).profile.displayName).toBe('Ada Lovelace');

    reads.length = 0;
    const gone = {
      '@context': AS,
      id: `${peer.url}/activities/gone`,
      type: 'Delete',
      actor: ada.id,
      object: ada.id,
    };
    expect((await postSigned(`${world.node.url}/ap/inbox`, gone, ada)).status).toBe(202);
    await remote.known(ada.id);
    // Read from the database again (not remembered any more).
    expect(reads).toContain(ada.id);
  });
});
