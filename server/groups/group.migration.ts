import type { Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';
import { membershipId, type GroupRepository } from './group.repository.js';

/**
 * Schema 2 (ADR 0006), groups: a handle document for every group, and memberships keyed
 * `<group>:<person>`.
 */
export async function migrateGroupsToKeys(repo: GroupRepository): Promise<void> {
  for (const group of await repo.groups.find({}).toArray()) {
    await repo.handles.updateOne(
      { _id: group.handle },
      { $setOnInsert: { groupId: group._id } },
      { upsert: true },
    );
  }
  for (const m of await repo.memberships.find({}).toArray()) {
    const key = membershipId(m.groupId, m.userId);
    if (m._id === key) continue;
    // The old document goes first: the (group, person) unique index would refuse the new one.
    await repo.memberships.deleteOne({ _id: m._id });
    await repo.memberships.insertOne({ ...m, _id: key });
  }
}

/**
 * Schema 8: the memberships of other nodes' people are marked `remote` (MembershipDoc), so a group's outbound
 * federation reads them alone. People of other nodes are found through the index `status_handle`, their
 * memberships through `user_state`, a batch of people at a time.
 */
export async function markRemoteMemberships(repo: GroupRepository, db: Db): Promise<void> {
  const remote = await db
    .collection<{ _id: ObjectId; status: string }>(collections.users)
    .find({ status: 'remote' }, { projection: { _id: 1 } })
    .toArray();
  for (let i = 0; i < remote.length; i += 500) {
    const ids = remote.slice(i, i + 500).map((p) => p._id);
    await repo.memberships.updateMany({ userId: { $in: ids } }, { $set: { remote: true } });
  }
}
