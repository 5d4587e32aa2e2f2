import type { Db, ObjectId } from 'mongodb';
import { collections, createIndexesOf } from '../db/collections.js';
import { likeId, type ThreadRepository } from './thread.repository.js';

/**
 * Schema 2 (ADR 0006), threads: give threads written before `_id`-addressed pages their timeline positions
 * (oldest activity first), their replies positions (oldest first), pinned threads their pins document,
 * and likes their `<target>:<person>` ids.
 */
export async function migrateThreadsToPositions(repo: ThreadRepository): Promise<void> {
  for (const like of await repo.likes.find({}).toArray()) {
    if (typeof like._id === 'string') continue;
    // The old document goes first: the (target, person) unique index would refuse the new one.
    await repo.likes.deleteOne({ _id: like._id });
    await repo.likes.insertOne({ ...like, _id: likeId(like.targetId, like.userId) });
  }
  const pending = await repo.threads
    .find({ timelineSlot: { $exists: false } })
    .sort({ lastActivityAt: 1, _id: 1 })
    .toArray();
  for (const thread of pending) {
    const replies = await repo.replies
      .find({ threadId: thread._id, seq: { $exists: false } })
      .sort({ createdAt: 1, _id: 1 })
      .toArray();
    let count = 0;
    for (const reply of replies) {
      count++;
      await repo.locks.update(repo.replies, reply._id, {
        $set: { seq: count, pos: repo.replySequence.key(thread._id.toHexString(), count) },
      });
    }
    await repo.locks.update(repo.threads, thread._id, { $set: { replyCount: count, timelineSlot: 0 } });
    await repo.bump({ ...thread, timelineSlot: 0 }, thread.lastActivityAt, count);
    if (thread.pinned) {
      await repo.locks.update(
        repo.pins,
        thread.groupId,
        { $addToSet: { threadIds: thread._id } },
        { upsert: true },
      );
    }
  }
}

/**
 * Schema 10 (docs/adr/0044-a-reply-is-its-position.md): a reply holds its own position (`pos`), written in
 * the same insert. Each reply takes the key of its `reply_slots` position; a position whose reply was never
 * written is recorded lost on its thread (not counted); then the unique index on `pos`, and the positions
 * collection goes.
 */
export async function migrateRepliesToPositions(repo: ThreadRepository, db: Db): Promise<void> {
  const slots = db.collection<{ _id: string; n: number; threadId: ObjectId; replyId: ObjectId }>(
    collections.legacyReplySlots,
  );
  const lost = new Map<string, { threadId: ObjectId; positions: number[] }>();
  for await (const slot of slots.find({})) {
    const { matchedCount } = await repo.replies.updateOne(
      { _id: slot.replyId, pos: { $exists: false } },
      { $set: { pos: slot._id, seq: slot.n } },
    );
    if (matchedCount || (await repo.replies.countDocuments({ _id: slot.replyId }, { limit: 1 }))) continue;
    const key = slot.threadId.toHexString();
    const entry = lost.get(key) ?? { threadId: slot.threadId, positions: [] };
    entry.positions.push(slot.n);
    lost.set(key, entry);
  }
  for (const { threadId, positions } of lost.values()) {
    await repo.locks.update(repo.threads, threadId, { $addToSet: { lostReplies: { $each: positions } } });
  }
  await createIndexesOf(db, 10);
  await slots.drop().catch(() => undefined);
}
