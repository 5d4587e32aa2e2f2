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
      count = await repo.replySlots.append(thread._id.toHexString(), count, (n, _id) => ({
        _id,
        n,
        groupId: reply.groupId,
        threadId: thread._id,
        replyId: reply._id,
      }));
      await repo.locks.update(repo.replies, reply._id, { $set: { seq: count } });
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
