import { ObjectId, type Filter } from 'mongodb';
import { recordKeys } from '../cache/record.cache.js';
import { isDuplicateKey } from '../db/errors.js';
import type { MembershipState, Role } from './group.policy.js';
import {
  GroupReads,
  membershipId,
  type AuditDoc,
  type GroupDoc,
  type MembershipDoc,
  type MembershipKey,
} from './group.reads.js';

export {
  GroupReads,
  membershipId,
  type AuditDoc,
  type EmailInvitationDoc,
  type GroupDoc,
  type GroupOrigin,
  type HandleDoc,
  type MembershipDoc,
  type MembershipKey,
  type Rendered,
} from './group.reads.js';

const byKey = (key: MembershipKey): Filter<MembershipDoc> =>
  typeof key === 'string' ? { _id: key } : { groupId: key.groupId, userId: key.userId };

/** The groups, memberships, email invitations and audit log a node writes (its reads are `GroupReads`'). */
export class GroupRepository extends GroupReads {
  /**
   * Record a group hosted on another node: its handle (`name@host`) first, then the group. False when the
   * handle is taken by another group (the caller picks another). The `_id` is chosen by the caller.
   */
  async insertRemote(group: GroupDoc): Promise<boolean> {
    try {
      await this.handles.insertOne({ _id: group.handle, groupId: group._id });
    } catch (err) {
      if ((err as { code?: unknown }).code !== 11000) throw err;
      const owner = await this.handles.findOne({ _id: group.handle });
      if (!owner?.groupId.equals(group._id)) return false;
    }
    try {
      await this.groups.insertOne(group);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 11000) throw err;
    }
    return true;
  }

  /** Record a group of this node and its owner's membership; false when its handle is taken. */
  async insertLocal(group: GroupDoc, owner: MembershipDoc): Promise<boolean> {
    try {
      // The handle is reserved first: one atomic insert decides who gets it.
      await this.handles.insertOne({ _id: group.handle, groupId: group._id });
      await this.groups.insertOne(group).catch(async (err: unknown) => {
        await this.handles.deleteOne({ _id: group.handle, groupId: group._id });
        this.forgetHandle(group.handle);
        throw err;
      });
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
    try {
      await this.memberships.insertOne(owner);
    } catch (err) {
      // No transactions: undo the group so nothing is left half-written.
      await this.groups.deleteOne({ _id: group._id });
      await this.handles.deleteOne({ _id: group.handle });
      this.forgetHandle(group.handle);
      throw err;
    }
    return true;
  }

  /** Set some of a group's fields, under its lock; `onlyLive`: not if the group is deleted. */
  async setGroup(id: ObjectId, fields: Partial<GroupDoc>, onlyLive = false): Promise<void> {
    await this.locks.update(
      this.groups,
      id,
      { $set: fields },
      onlyLive ? { filter: { deletedAt: null } } : {},
    );
  }

  /** What a remote group's node says of it now. */
  async refreshRemote(
    id: ObjectId,
    set: Pick<
      GroupDoc,
      'visibility' | 'name' | 'description' | 'joinPolicy' | 'memberCount' | 'origin' | 'searchTokens'
    >,
  ): Promise<void> {
    await this.locks.update(this.groups, id, { $set: { ...set, updatedAt: new Date() } });
    // Without a domain event unless its visibility changed: the kept record goes here.
    this.records?.changed([recordKeys.group(id.toHexString())]);
  }

  /**
   * Keep a group's member count as memberships become or stop being active: kept, not recounted, so
   * a change costs one write whatever the group's size. Under the group's lock (ADR 0010).
   */
  async adjustMemberCount(id: ObjectId, delta: number): Promise<void> {
    if (!delta) return;
    await this.locks.update(this.groups, id, { $inc: { memberCount: delta } });
    this.records?.changed([recordKeys.group(id.toHexString())]);
  }

  /**
   * Record a membership (role member); false when the person already has one in the group (a member, an
   * invitation, a request or a ban). `remote`: a person of another node (MembershipDoc.remote).
   */
  async addMembership(entry: {
    groupId: ObjectId;
    userId: ObjectId;
    state: MembershipState;
    invitedBy: ObjectId | null;
    remote: boolean;
  }): Promise<boolean> {
    const { groupId, userId, state, invitedBy, remote } = entry;
    const now = new Date();
    try {
      await this.memberships.insertOne({
        _id: membershipId(groupId, userId),
        groupId,
        userId,
        role: 'member',
        state,
        invitedBy,
        createdAt: now,
        updatedAt: now,
        ...(remote ? { remote: true as const } : {}),
      });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /** Move a membership from one state to another; how many moved (0 or 1). */
  async moveMembership(key: MembershipKey, from: MembershipState, to: MembershipState): Promise<number> {
    const filter = { ...byKey(key), state: from };
    return (await this.memberships.updateOne(filter, { $set: { state: to, updatedAt: new Date() } }))
      .modifiedCount;
  }

  /** End a membership (only in this state, when given); how many ended (0 or 1). */
  async deleteMembership(key: MembershipKey, state?: MembershipState): Promise<number> {
    return (await this.memberships.deleteOne(state ? { ...byKey(key), state } : byKey(key))).deletedCount;
  }

  /** End a membership unless it is the owner's: the membership ended, if any. */
  removeNonOwner(id: string): Promise<MembershipDoc | null> {
    return this.memberships.findOneAndDelete({ _id: id, role: { $ne: 'owner' } });
  }

  /** A membership becomes a ban (a plain member's). */
  async markBanned(id: string): Promise<void> {
    await this.memberships.updateOne(
      { _id: id },
      { $set: { state: 'banned', role: 'member', updatedAt: new Date() } },
    );
  }

  /** Ban a person who does not own the group (a ban is recorded if they had no membership); as it was before. */
  banPerson(groupId: ObjectId, userId: ObjectId, remote: boolean): Promise<MembershipDoc | null> {
    const now = new Date();
    return this.memberships.findOneAndUpdate(
      { groupId, userId, role: { $ne: 'owner' } },
      {
        $set: { state: 'banned', role: 'member', updatedAt: now },
        $setOnInsert: {
          _id: membershipId(groupId, userId),
          invitedBy: null,
          createdAt: now,
          ...(remote ? { remote: true as const } : {}),
        },
      },
      { upsert: true, returnDocument: 'before' },
    );
  }

  /** Give an active member, not the owner, another role; how many changed (0 or 1). */
  async setMemberRole(id: string, role: Exclude<Role, 'owner'>): Promise<number> {
    const { modifiedCount } = await this.memberships.updateOne(
      { _id: id, state: 'active', role: { $ne: 'owner' } },
      { $set: { role, updatedAt: new Date() } },
    );
    return modifiedCount;
  }

  /** Make an active member the group's owner; false when the person is not one. */
  async makeOwner(groupId: ObjectId, userId: ObjectId): Promise<boolean> {
    const { matchedCount } = await this.memberships.updateOne(
      { groupId, userId, state: 'active' },
      { $set: { role: 'owner', updatedAt: new Date() } },
    );
    return matchedCount > 0;
  }

  /** An owner's membership becomes an admin's (once another person owns the group). */
  async stepDownOwner(id: string): Promise<void> {
    await this.memberships.updateOne(
      { _id: id, role: 'owner' },
      { $set: { role: 'admin', updatedAt: new Date() } },
    );
  }

  /** Set fields of a membership (by its `_id`). */
  async setMembership(id: string, fields: Partial<MembershipDoc>): Promise<void> {
    await this.memberships.updateOne({ _id: id }, { $set: fields });
  }

  /** A membership as it is, recorded under its own key (a merge moves one to the surviving person). */
  async insertMembership(membership: MembershipDoc): Promise<void> {
    await this.memberships.insertOne(membership);
  }

  /** An email invitation honoured (its person signed in and was invited by their account). */
  async removeEmailInvitation(id: ObjectId): Promise<void> {
    await this.invitations.deleteOne({ _id: id });
  }

  /** Groups deleted before `before`, 100 at a time (their purge). */
  expiredGroups(before: Date): Promise<GroupDoc[]> {
    return this.groups
      .find({ deletedAt: { $ne: null, $lt: before } })
      .limit(100)
      .toArray();
  }

  /** A group's memberships, email invitations and audit log (its purge, before the group itself). */
  async removeGroupRecords(groupId: ObjectId): Promise<void> {
    await this.memberships.deleteMany({ groupId });
    await this.invitations.deleteMany({ groupId });
    await this.audit.deleteMany({ groupId });
  }

  /** A purged group's handle, then the group: the last of it. */
  async removeGroup(group: Pick<GroupDoc, '_id' | 'handle'>): Promise<void> {
    await this.handles.deleteOne({ _id: group.handle });
    this.forgetHandle(group.handle);
    await this.groups.deleteOne({ _id: group._id });
  }

  /** Invite an email address that has not signed in yet to a group (once: a second invitation keeps the first). */
  async inviteEmail(groupId: ObjectId, email: string, invitedBy: ObjectId): Promise<void> {
    await this.invitations.updateOne(
      { groupId, email },
      { $setOnInsert: { _id: new ObjectId(), invitedBy, createdAt: new Date() } },
      { upsert: true },
    );
  }

  async record(entry: Omit<AuditDoc, '_id' | 'at'>): Promise<void> {
    await this.audit.insertOne({ _id: new ObjectId(), at: new Date(), ...entry });
  }
}
