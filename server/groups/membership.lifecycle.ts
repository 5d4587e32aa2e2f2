import { ObjectId } from 'mongodb';
import type { EventBus } from '../core/events.js';
import type { PersonRepository } from '../people/person.repository.js';
import { roleRank } from './group.policy.js';
import { membershipId, type GroupRepository } from './group.repository.js';

export interface MembershipLifecycleDeps {
  repo: GroupRepository;
  people: PersonRepository;
  events: EventBus;
}

/**
 * What happens to memberships when people change: a person signing in for the first time with a verified
 * address takes up the invitations sent to it; a deactivated owner's groups pass to their next most senior
 * member; a merged account's memberships move to the account kept.
 */
export class MembershipLifecycle {
  private stops: (() => void)[] = [];

  constructor(private readonly deps: MembershipLifecycleDeps) {}

  start(): void {
    const { events } = this.deps;
    this.stops.push(
      events.on('person.created', async ({ personId, verifiedEmail }) => {
        if (verifiedEmail) await this.honourEmailInvitations(new ObjectId(personId), verifiedEmail);
      }),
      events.on('person.deactivated', async ({ personId }) => {
        await this.replaceDeactivatedOwner(new ObjectId(personId));
      }),
    );
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** At a person's first sign-in, invitations sent to their email become ordinary invitations. */
  async honourEmailInvitations(userId: ObjectId, email: string): Promise<number> {
    const { repo, people } = this.deps;
    const pending = await repo.emailInvitations(email.toLowerCase());
    const remote = (await people.byId(userId))?.status === 'remote';
    for (const inv of pending) {
      // One they already have (a membership, a request, a ban) stays as it is.
      await repo.addMembership({
        groupId: inv.groupId,
        userId,
        state: 'invited',
        invitedBy: inv.invitedBy,
        remote,
      });
      await repo.removeEmailInvitation(inv._id);
    }
    return pending.length;
  }

  /**
   * When an owner's account is deactivated, the longest-standing admin (else moderator, else member) of
   * each of their groups becomes owner, so no group is left without an active owner.
   */
  async replaceDeactivatedOwner(userId: ObjectId): Promise<number> {
    const { repo, people } = this.deps;
    let replaced = 0;
    for (const owned of await repo.membershipsOf(userId, { role: 'owner', state: 'active' })) {
      const candidates = await repo.seniorMembers(owned.groupId, userId);
      const activeIds = new Set(
        (await people.byIds(candidates.map((c) => c.userId)))
          .filter((u) => u.status === 'active')
          .map((u) => u._id.toHexString()),
      );
      const successor = candidates
        .filter((c) => activeIds.has(c.userId.toHexString()))
        .sort((a, b) => roleRank[b.role] - roleRank[a.role])[0];
      if (!successor) continue;
      await repo.makeOwner(owned.groupId, successor.userId);
      await repo.setMembership(owned._id, { role: 'admin', updatedAt: new Date() });
      await repo.record({
        groupId: owned.groupId,
        actorId: null,
        action: 'group.owner_replaced',
        targetUserId: successor.userId,
        detail: { previousOwner: userId.toHexString() },
      });
      replaced++;
    }
    return replaced;
  }

  /** Move a merged account's memberships to the surviving account, keeping the higher role. */
  async mergeMemberships(from: ObjectId, into: ObjectId): Promise<void> {
    const { repo } = this.deps;
    for (const m of await repo.membershipsOf(from)) {
      const existing = await repo.membership(m.groupId, into);
      if (!existing) {
        // The key names the person, so the membership moves to a new document.
        await repo.insertMembership({ ...m, _id: membershipId(m.groupId, into), userId: into });
        await repo.deleteMembership(m._id);
        continue;
      }
      if (
        m.state === 'active' &&
        (existing.state !== 'active' || roleRank[m.role] > roleRank[existing.role])
      ) {
        await repo.setMembership(existing._id, { role: m.role, state: 'active', updatedAt: new Date() });
      }
      await repo.deleteMembership(m._id);
    }
  }
}
