import { ObjectId } from 'mongodb';
import type { Caller } from '../../server/core/caller.js';
import { collections } from '../../server/db/collections.js';
import { insertFollowers } from '../helpers/crowd.js';
import { waitUntil } from '../helpers/fediverse.js';
import { openGroupWithThread } from '../helpers/groups.js';
import { startWorld, type World } from '../helpers/world.js';

/**
 * Many people liking and taking back likes of one post at once, while another writer holds the post's lock
 * (a slow edit, or another process's write on a busy database): each like is answered, and the count the post
 * shows ends equal to its like records (docs/adr/0035-likes-under-load.md).
 */
describe('likes of one post by many people at once', () => {
  let w: World;
  let replyId: string;
  const PEOPLE = 40;
  const people: Caller[] = [];

  beforeAll(async () => {
    w = await startWorld(['alice']);
    const { groupId, threadId } = await openGroupWithThread(
      w.as.alice!,
      { handle: 'liked', name: 'Liked' },
      'Vote',
    );
    replyId = (await w.as.alice!.call('POST', `/threads/${threadId}/replies`, { body: 'Like me' })).body.id;
    // Members written straight to the database: callers of the service, as the routes build them.
    const db = w.node.database.db;
    await insertFollowers(db, new ObjectId(groupId), PEOPLE, 'liker');
    const found = await db
      .collection<{ _id: ObjectId; handle: string }>('users')
      .find({ handle: { $in: Array.from({ length: PEOPLE }, (_, i) => `liker${i}`) } })
      .toArray();
    for (const p of found)
      people.push({ kind: 'person', personId: p._id.toHexString(), handle: p.handle, isAdmin: false });
  });
  afterAll(() => w?.close());

  it('answers every like and unlike, and the count shown equals the like records', async () => {
    const db = w.node.database.db;
    const threads = w.node.node.services.threads;
    // Another writer holds the post's lock, as a write on a busy database does (ADR 0010).
    const lockId = `${collections.replies}:${replyId}`;
    await db
      .collection<{ _id: string; token: string; until: Date }>(collections.documentLocks)
      .insertOne({ _id: lockId, token: 'a slow writer', until: new Date(Date.now() + 60_000) });

    // Each person likes, takes it back, likes again or not: their clicks one after another, everyone at once.
    const plans = people.map((_, i) => [true, false, true].slice(0, 1 + (i % 3)));
    const failures: string[] = [];
    await Promise.all(
      people.map(async (caller, i) => {
        for (const liked of plans[i]!) {
          await threads.like(caller, 'replies', replyId, liked).then(
            (r) => expect(r.likeCount).toBeGreaterThanOrEqual(0),
            (err: Error) => failures.push(`${liked ? 'like' : 'unlike'}: ${err.message}`),
          );
        }
      }),
    );
    await db.collection<{ _id: string }>(collections.documentLocks).deleteOne({ _id: lockId });
    expect(failures).toEqual([]);

    const expected = plans.filter((p) => p[p.length - 1]).length;
    const records = await db.collection('likes').countDocuments({ targetId: new ObjectId(replyId) });
    expect(records).toBe(expected);
    // The count shown (the reply as its thread lists it) once the writes held up by the lock have landed.
    const shown = async () => (await w.as.alice!.call('GET', `/replies/${replyId}`)).body.likeCount as number;
    await waitUntil(async () => (await shown()) === expected, 15_000, `a like count of ${expected}`).catch(
      () => undefined,
    );
    expect(await shown()).toBe(expected);
  });
});
