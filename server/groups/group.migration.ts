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
