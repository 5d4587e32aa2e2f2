import { MongoClient, ObjectId, type Document } from 'mongodb';
import { ensureCollections } from '../../server/db/collections.js';
import {
  NotificationRepository,
  subscriptionId,
} from '../../server/notifications/notification.repository.js';
import { migrateFollowerLists } from '../../server/notifications/notification.migration.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * Who hears of every new thread in a group (or every reply in a thread): the follower list the fan-out
 * walks. It must answer the current choices and must read only by `_id`, which FerretDB serves from its
 * index whatever the number of subscriptions on the node (any other filter scans them all).
 */
describe('follower lists', () => {
  let t: TestDatabase;
  let client: MongoClient;
  let repo: NotificationRepository;
  const filters: { collection: string; filter: Document }[] = [];
  const people = Array.from({ length: 4 }, () => new ObjectId());
  const group = new ObjectId();
  const choose = (userId: ObjectId, kind: 'group' | 'thread', targetId: ObjectId, level: string) =>
    repo.subscriptions.updateOne(
      { _id: subscriptionId(userId, kind, targetId) },
      { $set: { userId, kind, targetId, level: level as 'all', updatedAt: new Date() } },
      { upsert: true },
    );

  beforeAll(async () => {
    t = await openTestDatabase('followers');
    await ensureCollections(t.db);
    client = new MongoClient(t.uri, { monitorCommands: true });
    await client.connect();
    client.on('commandStarted', (e) => {
      if (e.commandName === 'find') filters.push({ collection: e.command.find, filter: e.command.filter });
    });
    repo = new NotificationRepository(client.db(t.name));
  });
  afterAll(async () => {
    await client.close();
    await t.cleanup();
  });

  it('lists each person once, and answers only those whose choice is `all` now', async () => {
    for (const p of people) {
      await choose(p, 'group', group, 'all');
      await repo.list(p, 'group', group);
    }
    await repo.list(people[0]!, 'group', group); // listed again: no second entry
    await choose(people[1]!, 'group', group, 'default');
    await choose(people[2]!, 'group', group, 'mute');
    expect((await repo.followers('group', group)).map(String)).toEqual([people[0], people[3]].map(String));
    // Back to `all`: heard again, still once.
    await choose(people[1]!, 'group', group, 'all');
    await repo.list(people[1]!, 'group', group);
    expect((await repo.followers('group', group)).map(String).sort()).toEqual(
      [people[0], people[1], people[3]].map(String).sort(),
    );
    expect(await repo.followerSlots.head(`group:${group.toHexString()}`)).toBe(4);
  });

  it('reads by _id alone, and a thread followed by replying is on its list', async () => {
    const thread = new ObjectId();
    await repo.follow(people[3]!, thread);
    filters.length = 0;
    expect((await repo.followers('thread', thread)).map(String)).toEqual([String(people[3])]);
    expect(filters.length).toBeGreaterThan(0);
    for (const { filter } of filters) expect(Object.keys(filter)).toEqual(['_id']);
    expect(new Set(filters.map((f) => f.collection))).toEqual(new Set(['follower_slots', 'subscriptions']));
  });

  it('the schema 5 migration lists the choices made before lists existed', async () => {
    const old = new ObjectId();
    await choose(people[0]!, 'group', old, 'all');
    await choose(people[1]!, 'group', old, 'default');
    expect(await repo.followers('group', old)).toEqual([]);
    await migrateFollowerLists(repo);
    await migrateFollowerLists(repo); // run again (a boot cut short): nothing doubles
    expect((await repo.followers('group', old)).map(String)).toEqual([String(people[0])]);
    expect(await repo.followerSlots.head(`group:${old.toHexString()}`)).toBe(1);
  });
});
