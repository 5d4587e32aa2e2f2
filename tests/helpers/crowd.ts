import { ObjectId, type Db } from 'mongodb';
import { collections } from '../../server/db/collections.js';
import { DenseSequence } from '../../server/db/sequence.js';
import { followerListId, type FollowerSlot } from '../../server/notifications/notification.repository.js';
import { membershipId } from '../../server/groups/group.repository.js';
import { remotePersonRecord, type UserDoc } from '../../server/people/person.repository.js';

/**
 * The record of a person of another node (`name@host`, their inboxes at `https://host/…`) as federation
 * keeps it when it first reads their actor (server/federation/remote.directory.ts): for
 * `PersonRepository.insertRemote`.
 */
export function remotePerson(name: string, host: string): UserDoc {
  const now = new Date();
  return remotePersonRecord({
    _id: new ObjectId(),
    handle: `${name}@${host}`,
    name,
    at: now,
    origin: {
      iri: `https://${host}/u/${name}`,
      host,
      inbox: `https://${host}/u/${name}/inbox`,
      sharedInbox: `https://${host}/inbox`,
      url: null,
      icon: null,
      organization: null,
      fetchedAt: now,
    },
  });
}

/**
 * `count` active people, members of a group who follow it (level `all`), written straight to the database
 * in batches (with the group's follower list): a large group for fan-out tests and benchmarks, without
 * signing in thousands of people.
 */
export async function insertFollowers(db: Db, groupId: ObjectId, count: number, prefix = 'crowd') {
  const now = new Date();
  const people = Array.from({ length: count }, (_, i) => ({ _id: new ObjectId(), handle: `${prefix}${i}` }));
  for (let i = 0; i < count; i += 5000) {
    const slice = people.slice(i, i + 5000);
    await db.collection('users').insertMany(
      slice.map((p) => ({
        ...p,
        status: 'active',
        email: null,
        emailVerified: false,
        locale: 'en',
        claimsName: p.handle,
        profile: {},
        visibility: {},
        isAdmin: false,
        organizationId: null,
        avatar: null,
        searchTokens: [],
        createdAt: now,
        updatedAt: now,
        lastSignInAt: null,
      })),
    );
    await db.collection<{ _id: string }>('memberships').insertMany(
      slice.map((p) => ({
        _id: membershipId(groupId, p._id),
        groupId,
        userId: p._id,
        role: 'member',
        state: 'active',
        invitedBy: null,
        createdAt: now,
        updatedAt: now,
      })),
    );
    await db.collection<{ _id: string }>('subscriptions').insertMany(
      slice.map((p) => ({
        _id: `${p._id.toHexString()}:group:${groupId.toHexString()}`,
        userId: p._id,
        kind: 'group',
        targetId: groupId,
        level: 'all',
        updatedAt: now,
      })),
    );
    // The group's follower list, as NotificationRepository.list writes it (entries first, then marks),
    // after whoever follows it already.
    const list = followerListId('group', groupId);
    const slots = db.collection<FollowerSlot>(collections.followerSlots);
    const head = await new DenseSequence(slots).head(list);
    await slots.insertMany(
      slice.map((p, k) => ({ _id: `${list}:${head + k + 1}`, n: head + k + 1, userId: p._id })),
    );
    await db
      .collection<{ _id: string }>(collections.followerMarks)
      .insertMany(slice.map((p) => ({ _id: `${list}:${p._id.toHexString()}` })));
  }
  return people;
}
