import { ObjectId } from 'mongodb';
import { collections, ensureCollections } from '../../server/db/collections.js';
import { pino } from 'pino';
import { ThreadRepository, type ReplyDoc } from '../../server/threads/thread.repository.js';
import type { DenseSequence } from '../../server/db/sequence.js';
import { TakenIdError } from '../../server/db/sequence.appender.js';
import { FileRepository } from '../../server/files/file.repository.js';
import { NotificationRepository } from '../../server/notifications/notification.repository.js';
import { runMigrations } from '../../server/db/migrations.js';
import { GroupRepository } from '../../server/groups/group.repository.js';
import { schemaMigrations } from '../../server/schema.migrations.js';
import { JobQueue } from '../../server/jobs/job.queue.js';
import { RecordCache } from '../../server/cache/record.cache.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';

/** A group's timeline and a thread's reply positions, on the real database server (ADR 0006). */
describe('id-addressed thread pages', () => {
  let t: TestDatabase;
  let repo: ThreadRepository;
  beforeAll(async () => {
    t = await openTestDatabase('timeline');
    await ensureCollections(t.db);
    repo = new ThreadRepository(t.db);
  });
  afterAll(() => t.cleanup());

  /** Every live thread of a group, newest first, through the reader, in pages of `want`. */
  async function order(groupId: ObjectId, want = 5) {
    const ids: string[] = [];
    for await (const slots of repo.timeline.scan(groupId, null, want)) {
      ids.push(...slots.map((s) => s.threadId.toHexString()));
    }
    return ids;
  }

  it('keeps threads in order of their last activity, each once, whatever the bumps', async () => {
    const groupId = new ObjectId();
    const threads = Array.from({ length: 12 }, () => new ObjectId());
    const position = new Map<string, number>();
    const model: string[] = []; // newest first
    // A seeded walk: one hot thread takes most of the activity, the others now and then.
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let step = 0; step < 300; step++) {
      const thread = random() < 0.6 ? threads[0]! : threads[Math.floor(random() * threads.length)]!;
      const hex = thread.toHexString();
      position.set(hex, await repo.timeline.bump(groupId, thread, position.get(hex) ?? null));
      model.splice(model.indexOf(hex) >>> 0, model.includes(hex) ? 1 : 0);
      model.unshift(hex);
    }
    expect(await order(groupId)).toEqual(model);
    expect(await order(groupId, 1)).toEqual(model);
    expect(await repo.timeline.head(groupId)).toBe(300);
  });

  it('jumps a busy thread’s dead positions in one read once a reader has crossed them', async () => {
    const groupId = new ObjectId();
    const [quiet, busy] = [new ObjectId(), new ObjectId()];
    await repo.timeline.bump(groupId, quiet, null);
    let at: number | null = null;
    for (let i = 0; i < 60; i++) at = await repo.timeline.bump(groupId, busy, at);
    expect(await order(groupId)).toEqual([busy.toHexString(), quiet.toHexString()]);
    // The run of 59 dead positions (2..60) is recorded on its top: one read reaches the quiet thread.
    await repo.repairs.idle();
    const top = await repo.timeline.slots.get(groupId.toHexString(), 60);
    expect(top).toMatchObject({ dead: true, skip: 2 });
  });

  it('takes every position once when writers race, and loses no thread', async () => {
    const groupId = new ObjectId();
    const threads = Array.from({ length: 20 }, () => new ObjectId());
    const positions = await Promise.all(threads.map((id) => repo.timeline.bump(groupId, id, null)));
    expect([...positions].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const listed = await order(groupId);
    expect(new Set(listed)).toEqual(new Set(threads.map((id) => id.toHexString())));
    // Newest position first.
    const byPosition = threads
      .map((id, i) => ({ id: id.toHexString(), n: positions[i]! }))
      .sort((a, b) => b.n - a.n)
      .map((x) => x.id);
    expect(listed).toEqual(byPosition);
  });

  it('takes the positions of a process’s writers together (a group commit), and still once each across processes', async () => {
    const groupId = new ObjectId();
    // Two processes' repositories on one database: within each, writers take positions together; between
    // them they race.
    const other = new ThreadRepository(t.db);
    const inserts = { here: 0, there: 0 };
    // Inserts of one position or of several (insertOne, insertMany) alike.
    const count = (r: ThreadRepository, key: keyof typeof inserts) => {
      const collection = r.timeline.slots.collection;
      const insertMany = collection.insertMany.bind(collection);
      const insertOne = collection.insertOne.bind(collection);
      collection.insertMany = ((...args: Parameters<typeof insertMany>) => {
        inserts[key]++;
        return insertMany(...args);
      }) as typeof collection.insertMany;
      collection.insertOne = ((...args: Parameters<typeof insertOne>) => {
        inserts[key]++;
        return insertOne(...args);
      }) as typeof collection.insertOne;
    };
    count(repo, 'here');
    count(other, 'there');
    const mine = Array.from({ length: 15 }, () => new ObjectId());
    const n = await Promise.all(mine.map((id) => repo.timeline.place(groupId, id)));
    expect([...n].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    // 15 writers at once in one process: the first goes alone, the 14 that arrive meanwhile in one insert, no
    // collision (before ADR 0033: one insert each; before that, each collision cost more inserts and reads).
    expect(inserts.here).toBe(2);

    const theirs = Array.from({ length: 10 }, () => new ObjectId());
    const more = Array.from({ length: 10 }, () => new ObjectId());
    const raced = await Promise.all([
      ...theirs.map((id) => other.timeline.place(groupId, id)),
      ...more.map((id) => repo.timeline.place(groupId, id)),
    ]);
    expect([...raced].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 16));
    expect(new Set(await order(groupId))).toEqual(
      new Set([...mine, ...theirs, ...more].map((id) => id.toHexString())),
    );
    // Replies to one thread arriving together share its one new place at the head (the first goes alone).
    const busy = new ObjectId();
    const shared = await Promise.all(Array.from({ length: 6 }, () => repo.timeline.place(groupId, busy)));
    expect(shared).toEqual([36, 37, 37, 37, 37, 37]);
  });

  it('leaves the thread that holds its group’s newest place there, and moves any other up (ADR 0045)', async () => {
    const groupId = new ObjectId();
    // Two processes' repositories, each keeping records, their drops told to each other (as through Redis).
    const [hereCache, thereCache] = [0, 1].map(() => new RecordCache({ enabled: true, maxBytes: 1_000_000 }));
    hereCache!.connect({ toPeers: (_event, keys) => thereCache!.invalidate(keys as string[]) });
    thereCache!.connect({ toPeers: (_event, keys) => hereCache!.invalidate(keys as string[]) });
    const here = new ThreadRepository(t.db, hereCache);
    const there = new ThreadRepository(t.db, thereCache);
    const places = () => t.db.collection(collections.threadTimeline).countDocuments({ groupId });
    const [talk, news, late] = [new ObjectId(), new ObjectId(), new ObjectId()];
    const position = new Map<ObjectId, number>();
    const bump = async (r: ThreadRepository, thread: ObjectId) => {
      const n = await r.timeline.bump(groupId, thread, position.get(thread) ?? null);
      position.set(thread, n);
      return n;
    };

    expect(await bump(here, talk)).toBe(1);
    // The conversation under way: its replies move nothing, so no place is written for them.
    expect(await Promise.all([1, 2, 3].map(() => bump(here, talk)))).toEqual([1, 1, 1]);
    expect(await places()).toBe(1);
    // Another process puts a thread at the head: every process forgets who held it, and the next reply to
    // the conversation moves it up again.
    expect(await bump(there, news)).toBe(2);
    expect(await bump(here, talk)).toBe(3);
    expect(await bump(here, talk)).toBe(3);
    expect(await places()).toBe(3);
    // Writers of several threads at once: the last place taken is the one kept.
    expect(await Promise.all([bump(here, news), bump(here, late)])).toEqual([4, 5]);
    expect(await bump(here, late)).toBe(5);
    expect(await bump(here, news)).toBe(6);
    // A newest place retired (its thread had been written already: a post received twice at once) holds
    // nobody: the next writer takes a new one.
    await here.timeline.retire(groupId, 6);
    expect(await bump(here, news)).toBe(7);
    expect(await places()).toBe(7);
    expect(await order(groupId)).toEqual([news, late, talk].map(String));
  });

  it('does not hold writers up behind one the database holds up', async () => {
    const groupId = new ObjectId();
    const other = new ThreadRepository(t.db);
    const collection = other.timeline.slots.collection;
    const insertOne = collection.insertOne.bind(collection);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let first = true;
    // The first writer goes alone (insertOne); the database holds it up.
    collection.insertOne = (async (...args: Parameters<typeof insertOne>) => {
      if (first) {
        first = false;
        await held;
      }
      return insertOne(...args);
    }) as typeof collection.insertOne;
    const stuck = other.timeline.place(groupId, new ObjectId());
    // The next writers go on without it (they would wait forever behind it otherwise).
    const others = await Promise.all(
      Array.from({ length: 4 }, () => other.timeline.place(groupId, new ObjectId())),
    );
    release();
    const all = [...others, await stuck].sort((a, b) => a - b);
    expect(all).toEqual([1, 2, 3, 4, 5]);
  });

  it('lists a thread once when replies race, and settles a position record that fell behind', async () => {
    const groupId = new ObjectId();
    const ids = Array.from({ length: 4 }, () => new ObjectId());
    for (const [i, _id] of ids.entries()) {
      const at = new Date(1_000 + i);
      await repo.threads.insertOne({
        _id,
        groupId,
        title: `t${i}`,
        pinned: false,
        lastActivityAt: at,
        replyCount: 0,
        timelineSlot: 0,
      } as never);
      await repo.bump({ _id, groupId, timelineSlot: 0 }, at);
    }
    // Eight replies to the same thread at once, each starting from the same record of its position.
    const busy = (await repo.threads.findOne({ _id: ids[1] }))!;
    await Promise.all(Array.from({ length: 8 }, () => repo.bump(busy, new Date())));
    // And a record that fell behind, as when two record updates cross.
    const lagging = (await repo.threads.findOne({ _id: ids[2] }))!;
    const moved = await repo.timeline.bump(groupId, ids[2]!, null);
    expect(moved).toBeGreaterThan(lagging.timelineSlot);

    const walk = async () => {
      const listed: string[] = [];
      let from: number | null = null;
      for (;;) {
        const page = await repo.activityPage(groupId, from, 1);
        if (!page.length) return listed;
        listed.push(page[0]!.thread._id.toHexString());
        from = page[0]!.position - 1;
      }
    };
    const expected = [ids[2], ids[1], ids[3], ids[0]].map((id) => id!.toHexString());
    // The first reader to meet the disagreements answers at once and leaves the settling to repairs.
    expect((await repo.activityPage(groupId, null, 10)).map((f) => f.thread._id.toHexString())).toEqual(
      expected,
    );
    await repo.repairs.idle();
    expect(await walk()).toEqual(expected);
    expect(await walk()).toEqual(expected);
    // Settled: the record now names the live position, and the old one is dead.
    expect((await repo.threads.findOne({ _id: ids[2] }))!.timelineSlot).toBe(moved);
    const old = await repo.timeline.slots.get(groupId.toHexString(), lagging.timelineSlot);
    expect(old?.dead).toBe(true);
  });

  it('answers a page while a writer holds a thread’s lock, and settles the thread after', async () => {
    const groupId = new ObjectId();
    const _id = new ObjectId();
    const at = new Date();
    await repo.threads.insertOne({
      _id,
      groupId,
      title: 'held',
      pinned: false,
      lastActivityAt: at,
      replyCount: 0,
      timelineSlot: 0,
    } as never);
    // A writer took a position and holds the thread's lock before recording it (a reply at work).
    const position = await repo.timeline.place(groupId, _id);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const taken = new Promise<void>((r) => (holding = r));
    const writer = repo.locks.run(repo.locks.keyOf(repo.threads, _id), async () => {
      holding();
      await held;
    });
    await taken;
    const page = await repo.activityPage(groupId, null, 5);
    const stillHeld = await Promise.race([writer.then(() => false), Promise.resolve(true)]);
    expect(stillHeld).toBe(true);
    expect(page.map((f) => [f.thread._id.toHexString(), f.position])).toEqual([
      [_id.toHexString(), position],
    ]);
    release();
    await writer;
    await repo.repairs.idle();
    expect((await repo.threads.findOne({ _id }))!.timelineSlot).toBe(position);
  });

  it('finds the head of a sequence from a stale or wrong hint', async () => {
    // Keyed by `_id` (a timeline) and by another unique field (a thread's replies, ADR 0044).
    const prefix = new ObjectId().toHexString();
    for (const sequence of [repo.timeline.slots, repo.replySequence] as DenseSequence<object>[]) {
      for (let i = 0; i < 37; i++) {
        await sequence.append(prefix, 0, (n, key) =>
          sequence.field === '_id'
            ? { _id: key, n, groupId: new ObjectId(), threadId: new ObjectId(), dead: false, skip: null }
            : { _id: new ObjectId(), pos: key, seq: n, threadId: new ObjectId(prefix) },
        );
      }
      for (const hint of [0, 1, 20, 36, 37, 38, 500]) expect(await sequence.head(prefix, hint)).toBe(37);
      expect(await sequence.head(new ObjectId().toHexString(), 9)).toBe(0);
    }
  });

  it('brings data written before schemas 2–10 up to date: positions, keys, own documents, storage use, activity lookups, job leases', async () => {
    const m = await openTestDatabase('migrate');
    try {
      await ensureCollections(m.db);
      const legacy = new ThreadRepository(m.db);
      const groupId = new ObjectId();
      const [older, newer] = [new ObjectId(), new ObjectId()];
      const base = { groupId, authorId: new ObjectId(), pinned: false, deleted: null };
      await m.db.collection('threads').insertMany([
        { ...base, _id: older, title: 'older', lastActivityAt: new Date(2_000), replyCount: 2 },
        { ...base, _id: newer, title: 'newer', lastActivityAt: new Date(1_000), replyCount: 0 },
      ]);
      const replies = [new ObjectId(), new ObjectId()];
      await m.db.collection('replies').insertMany([
        { _id: replies[1], groupId, threadId: older, createdAt: new Date(1_500) },
        { _id: replies[0], groupId, threadId: older, createdAt: new Date(1_200) },
      ]);
      const userId = new ObjectId();
      await m.db.collection('likes').insertOne({ _id: new ObjectId(), targetId: older, userId });
      await m.db.collection('groups').insertOne({ _id: groupId, handle: 'legacy' });
      await m.db
        .collection('memberships')
        .insertOne({ _id: new ObjectId(), groupId, userId, role: 'owner', state: 'active' });
      // Schema 4: a storage use that lost additions to concurrent uploads, and one of a group emptied since.
      await m.db.collection('file_versions').insertMany([
        { _id: 'f1:1' as never, groupId, size: 700 },
        { _id: 'f1:2' as never, groupId, size: 300 },
      ]);
      const emptied = new ObjectId();
      await m.db.collection('group_storage').insertMany([
        { _id: groupId, bytes: 300 },
        { _id: emptied, bytes: 50 },
      ]);
      // Schema 3: a notification state written when the system and the person shared one document.
      const notifications = new NotificationRepository(m.db);
      await m.db.collection('notification_state').insertOne({
        _id: userId,
        email: 'weekly',
        readUpTo: 4,
        mailedUpTo: 6,
        head: 9,
        digested: 'w:2026-11-23',
      });

      // An activity stored before schema 7: looked up by a dotted path its index could not serve.
      await m.db.collection(collections.apStreams).insertOne({
        _id: 'https://b.example/ap/activities/1',
        _ts: new ObjectId(),
        type: ['Announce'],
        actor: ['https://b.example/ap/a/g'],
        object: [{ id: 'https://b.example/ap/o/1', type: ['Note'] }, 'https://b.example/ap/o/2'],
        _meta: { collection: ['https://b.example/ap/a/g/outbox'] },
      } as never);

      // A job queued before schema 9: nobody held it, written as a null lease.
      await m.db.collection(collections.jobs).insertOne({
        _id: new ObjectId(),
        queue: 'legacy',
        payload: { n: 1 },
        runAt: new Date(1_000),
        claims: 0,
        leaseUntil: null,
        failures: 0,
        lastError: null,
        state: 'pending',
        createdAt: new Date(1_000),
      });

      let reindexed = 0;
      await runMigrations(
        m.db,
        schemaMigrations({
          db: m.db,
          groups: new GroupRepository(m.db),
          threads: legacy,
          notifications,
          files: new FileRepository(m.db),
          profiles: { reindexAll: async () => void reindexed++ },
        }),
        pino({ level: 'silent' }),
      );

      expect(
        await m.db
          .collection(collections.apStreams)
          .findOne({ _collections: 'https://b.example/ap/a/g/outbox' }),
      ).toMatchObject({ _objects: ['https://b.example/ap/o/1', 'https://b.example/ap/o/2'] });

      const ids: string[] = [];
      for await (const slots of legacy.timeline.scan(groupId, null, 5))
        ids.push(...slots.map((s) => s.threadId.toHexString()));
      expect(ids).toEqual([older.toHexString(), newer.toHexString()]); // latest activity first
      const positions = await legacy.replySequence.getMany(older.toHexString(), [1, 2, 3]);
      expect(positions.map((r) => r?._id.toHexString() ?? null)).toEqual([
        replies[0]!.toHexString(),
        replies[1]!.toHexString(),
        null,
      ]);
      expect(await m.db.collection('likes').find().toArray()).toEqual([
        expect.objectContaining({ _id: `${older.toHexString()}:${userId.toHexString()}` }),
      ]);
      expect(await new GroupRepository(m.db).byHandle('legacy')).toMatchObject({ _id: groupId });
      expect(await new GroupRepository(m.db).membership(groupId, userId)).toMatchObject({ role: 'owner' });
      expect(await m.db.collection('memberships').countDocuments()).toBe(1);
      expect(await notifications.stateOf(userId)).toEqual({ _id: userId, email: 'weekly', readUpTo: 4 });
      expect(await notifications.progressOf(userId)).toEqual({
        _id: userId,
        mailedUpTo: 6,
        digested: 'w:2026-11-23',
      });
      expect(await notifications.headHint(userId.toHexString())).toBe(9);
      expect(await m.db.collection('group_storage').find().sort({ bytes: -1 }).toArray()).toEqual([
        { _id: groupId, bytes: 1000 },
        { _id: emptied, bytes: 0 },
      ]);
      expect(reindexed).toBe(1); // schema 6: people's search tokens built again
      // Schema 9: the job queued before it is found and run.
      const ran: unknown[] = [];
      const jobs = new JobQueue(m.db, pino({ level: 'silent' }));
      jobs.register('legacy', async (payload) => void ran.push(payload));
      await jobs.drain();
      expect(ran).toEqual([{ n: 1 }]);
      expect((await m.db.collection('meta').findOne({ _id: 'node' as never }))?.schemaVersion).toBe(10);
    } finally {
      await m.cleanup();
    }
  });

  it('schema 10: replies take the positions they had; one never written is lost; positions are unique', async () => {
    const m = await openTestDatabase('migrate10');
    try {
      // A database at schema 9: replies point at their positions from `reply_slots`.
      await m.db.collection('meta').insertOne({ _id: 'node' as never, schemaVersion: 9 });
      await ensureCollections(m.db);
      expect((await m.db.collection('replies').indexes()).map((i) => i.name)).not.toContain('position');
      const groupId = new ObjectId();
      const threadId = new ObjectId();
      const prefix = threadId.toHexString();
      await m.db.collection('threads').insertOne({
        _id: threadId,
        groupId,
        title: 't',
        replyCount: 3,
        timelineSlot: 1,
        lastActivityAt: new Date(),
      });
      const [first, third] = [new ObjectId(), new ObjectId()];
      await m.db.collection('replies').insertMany([
        { _id: first, groupId, threadId, seq: 1, createdAt: new Date(1_000) },
        { _id: third, groupId, threadId, seq: 3, createdAt: new Date(3_000) },
      ]);
      await m.db.collection('reply_slots').insertMany(
        [first, new ObjectId(), third].map((replyId, i) => ({
          _id: `${prefix}:${i + 1}` as never,
          n: i + 1,
          groupId,
          threadId,
          replyId,
          at: new Date(),
        })),
      );
      const threads = new ThreadRepository(m.db);
      await runMigrations(
        m.db,
        schemaMigrations({
          db: m.db,
          groups: new GroupRepository(m.db),
          threads,
          notifications: new NotificationRepository(m.db),
          files: new FileRepository(m.db),
          profiles: { reindexAll: async () => undefined },
        }),
        pino({ level: 'silent' }),
      );
      expect(
        (await threads.replySequence.getMany(prefix, [1, 2, 3])).map((r) => r?._id.toHexString() ?? null),
      ).toEqual([first.toHexString(), null, third.toHexString()]);
      expect(await threads.threads.findOne({ _id: threadId })).toMatchObject({ lostReplies: [2] });
      expect((await m.db.listCollections({ name: 'reply_slots' }).toArray()).length).toBe(0);
      // The next reply takes position 4; a second document at a taken position is refused.
      const next = { _id: new ObjectId(), groupId, threadId, seq: 0, pos: '' } as unknown as ReplyDoc;
      await threads.insertReply(next, 3);
      expect(next.seq).toBe(4);
      await expect(
        m.db.collection('replies').insertOne({ _id: new ObjectId(), threadId, pos: `${prefix}:4` }),
      ).rejects.toMatchObject({ code: 11000 });
      // A reply whose `_id` is there already (another delivery of a received reply) is refused as such,
      // not moved on from position to position.
      await expect(threads.insertReply({ ...next, seq: 0, pos: '' }, 4)).rejects.toBeInstanceOf(TakenIdError);
      expect(await m.db.collection('replies').countDocuments({ threadId })).toBe(3);
    } finally {
      await m.cleanup();
    }
  });
});
