import type { CommandStartedEvent, ObjectId } from 'mongodb';
import { bridgeRecords } from '../../server/cache/record.bridge.js';
import { RecordCache } from '../../server/cache/record.cache.js';
import type { Caller } from '../../server/core/caller.js';
import { collections } from '../../server/db/collections.js';
import { GroupAudience } from '../../server/federation/group.audience.js';
import { markRemoteMemberships } from '../../server/groups/group.migration.js';
import { GroupRepository, membershipId } from '../../server/groups/group.repository.js';
import { PersonRepository } from '../../server/people/person.repository.js';
import { remotePerson } from '../helpers/crowd.js';
import { startWorld, type World } from '../helpers/world.js';

/**
 * Who a group hosted here sends its posts to: the nodes of its members on other nodes. Asked on every post,
 * reply and like, it reads those members alone, never the records of the group's people of this node
 * (docs/adr/0013-index-served-filters.md, MembershipDoc.remote).
 */

/** How federation calls a service for a person of another node. */
const remoteCaller = (person: ReturnType<typeof remotePerson>): Caller => ({
  kind: 'remote',
  personId: person._id.toHexString(),
  handle: person.handle,
  actorIri: person.origin!.iri,
});
describe("a group's members on other nodes", () => {
  let w: World;
  afterAll(() => w?.close());

  it('are found from their memberships alone, also those recorded before they were marked', async () => {
    w = await startWorld(['olga', 'max', 'mia'], {}, {}, { monitorCommands: true });
    const { db } = w.node.database;
    expect(
      (
        await w.as.olga!.call('POST', '/groups', {
          handle: 'audience',
          name: 'Audience',
          visibility: 'public',
          joinPolicy: 'open',
        })
      ).status,
    ).toBe(201);
    for (const who of ['max', 'mia'])
      expect((await w.as[who]!.call('POST', '/groups/audience/join')).status).toBe(200);
    const people = new PersonRepository(db);
    const groups = new GroupRepository(db);
    const group = (await groups.byHandle('audience'))!;
    // Two people of another node join as federation makes them join (a remote caller).
    const [ada, bob] = [remotePerson('ada', 'a.example'), remotePerson('bob', 'a.example')];
    for (const person of [ada, bob]) {
      await people.insertRemote(person);
      await w.node.node.services.memberships.join(remoteCaller(person), 'audience');
    }
    const audience = new GroupAudience({ groups, people, renderer: {} as never, outbox: {} as never });
    // Marked as they joined.
    expect(await audience.inboxes(group._id)).toEqual(['https://a.example/inbox']);
    // One of a third node, whose membership was written before memberships were marked (schema 8).
    const cyd = remotePerson('cyd', 'c.example');
    await people.insertRemote(cyd);
    const now = new Date();
    await groups.memberships.insertOne({
      _id: membershipId(group._id, cyd._id),
      groupId: group._id,
      userId: cyd._id,
      role: 'member',
      state: 'active',
      invitedBy: null,
      createdAt: now,
      updatedAt: now,
    });
    await markRemoteMemberships(groups, db);

    const readPeople: ObjectId[][] = [];
    const watch = (e: CommandStartedEvent) => {
      if (e.commandName === 'find' && e.command.find === collections.users)
        readPeople.push([e.command.filter?._id?.$in ?? e.command.filter?._id ?? []].flat());
    };
    w.node.database.client.on('commandStarted', watch);
    const inboxes = await audience.inboxes(group._id);
    const origins = await audience.memberOrigins(group._id);
    w.node.database.client.off('commandStarted', watch);

    expect(inboxes.sort()).toEqual(['https://a.example/inbox', 'https://c.example/inbox']);
    expect([...origins].sort()).toEqual(['https://a.example', 'https://c.example']);
    // No record of a person of this node was read: only the three of other nodes.
    const remote = new Set([ada, bob, cyd].map((p) => p._id.toHexString()));
    const read = readPeople.flat().map((id) => String(id));
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((id) => !remote.has(id))).toEqual([]);
  });

  it('of a public group are kept until a membership of the group changes (ADR 0042)', async () => {
    const { db } = w.node.database;
    const people = new PersonRepository(db);
    // The records this process keeps, dropped by the node's domain events as the node's own are.
    const records = new RecordCache({ enabled: true, maxBytes: 1 << 20 });
    bridgeRecords(w.node.node.events, records, {
      toPeers: () => undefined,
      onPeers: () => undefined,
      onPeersHeard: () => undefined,
    });
    const groups = new GroupRepository(db, records);
    const group = (await groups.byHandle('audience'))!;
    const audience = new GroupAudience({ groups, people, renderer: {} as never, outbox: {} as never });
    let membershipReads = 0;
    const watch = (e: CommandStartedEvent) => {
      if (e.commandName === 'find' && e.command.find === collections.memberships) membershipReads++;
    };
    w.node.database.client.on('commandStarted', watch);
    const inboxes = async () => (await audience.inboxes(group._id, { public: true })).sort();
    try {
      expect(await inboxes()).toEqual(['https://a.example/inbox', 'https://c.example/inbox']);
      expect(await inboxes()).toEqual(['https://a.example/inbox', 'https://c.example/inbox']);
      expect(membershipReads).toBe(1);
      // Someone of a fourth node joins: the next post reaches their node.
      const dee = remotePerson('dee', 'd.example');
      await people.insertRemote(dee);
      await w.node.node.services.memberships.join(remoteCaller(dee), 'audience');
      expect(await inboxes()).toEqual([
        'https://a.example/inbox',
        'https://c.example/inbox',
        'https://d.example/inbox',
      ]);
      // They leave: their node receives nothing more. A members-only read is never kept.
      await w.node.node.services.memberships.leave(remoteCaller(dee), 'audience');
      expect(await inboxes()).toEqual(['https://a.example/inbox', 'https://c.example/inbox']);
      const reads = membershipReads;
      await audience.inboxes(group._id);
      expect(membershipReads).toBe(reads + 1);
    } finally {
      w.node.database.client.off('commandStarted', watch);
    }
  });
  it('of a public group, and the thread, are not read again for each reply it announces (ADR 0042)', async () => {
    const olga = w.as.olga!;
    const thread = (await olga.call('POST', '/groups/audience/threads', { title: 'Talk', body: 'x' })).body
      .id as string;
    expect((await olga.call('POST', `/threads/${thread}/replies`, { body: 'first' })).status).toBe(201);
    const reads: string[] = [];
    const watch = (e: CommandStartedEvent) => {
      if (e.commandName === 'find') reads.push(String(e.command.find));
    };
    // What the node reads while it announces the next reply, here and to the group's member nodes.
    const quiet = async () => {
      for (let seen = -1; seen !== reads.length;) {
        seen = reads.length;
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    await quiet();
    w.node.database.client.on('commandStarted', watch);
    try {
      expect((await olga.call('POST', `/threads/${thread}/replies`, { body: 'second' })).status).toBe(201);
      await quiet();
    } finally {
      w.node.database.client.off('commandStarted', watch);
    }
    expect(reads).not.toContain(collections.memberships);
    expect(reads).not.toContain(collections.threads);
  });
});
