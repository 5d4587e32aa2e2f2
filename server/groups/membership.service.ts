import { ObjectId } from 'mongodb';
import { requireParticipant, requirePerson, type Caller, type RemoteCaller } from '../core/caller.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { OrganizationRepository } from '../organizations/organization.repository.js';
import type { PersonRepository, UserDoc } from '../people/person.repository.js';
import { roleRank, type MembershipState, type Role } from './group.policy.js';
import { membershipId, type GroupDoc, type GroupRepository, type MembershipDoc } from './group.repository.js';
import type { GroupContext, GroupService } from './group.service.js';
import { MembershipViews, type RemotePersonLookup } from './membership.views.js';
import { msg, type Message } from '../core/messages.js';

export type { MemberView, RemotePersonLookup } from './membership.views.js';

export interface MembershipServiceDeps {
  repo: GroupRepository;
  groups: GroupService;
  people: PersonRepository;
  events: EventBus;
  organizations?: Pick<OrganizationRepository, 'byIds'>;
}

/**
 * Membership workflows: joining, requests, invitations, roles, removal and bans; what people read of
 * memberships is `views` (membership.views.ts), what follows from people's own changes (first sign-in,
 * deactivation, merge) is membership.lifecycle.ts. Every permission comes from group.policy through
 * GroupService.load.
 */

/** What a moderator is told when the person they act on holds their role or a higher one. */
const OUTRANKS: Record<Role, Message> = {
  member: msg`You cannot act on a member of this group.`,
  moderator: msg`You cannot act on a moderator of this group.`,
  admin: msg`You cannot act on an administrator of this group.`,
  owner: msg`You cannot act on the owner of this group.`,
};
export class MembershipService {
  readonly views: MembershipViews;
  private readonly repo: GroupRepository;
  private readonly groups: GroupService;
  private readonly people: PersonRepository;
  private readonly events: EventBus;

  constructor(deps: MembershipServiceDeps) {
    ({ repo: this.repo, groups: this.groups, people: this.people, events: this.events } = deps);
    this.views = new MembershipViews(deps);
  }

  /** Let `name@host` name a person of another node (wired by federation). */
  useRemotePeople(lookup: RemotePersonLookup): void {
    this.views.useRemotePeople(lookup);
  }

  private person(handle: string): Promise<UserDoc> {
    return this.views.person(handle);
  }

  /**
   * A local group's kept member count follows each membership that became (+1) or stopped being (-1)
   * active; a group hosted elsewhere keeps the count its own node gives.
   */
  private async counted(group: GroupDoc, delta: number): Promise<void> {
    if (!group.origin) await this.repo.adjustMemberCount(group._id, delta);
  }

  private async insert(
    groupId: ObjectId,
    userId: ObjectId,
    state: MembershipState,
    invitedBy: ObjectId | null,
  ) {
    // A person of another node is marked so, for the group's outbound federation (MembershipDoc.remote).
    const remote = (await this.people.byId(userId))?.status === 'remote';
    if (!(await this.repo.addMembership({ groupId, userId, state, invitedBy, remote })))
      throw new ConflictError('Already a member, invited or waiting for approval.');
  }

  /**
   * Join an open group. Returns the welcome message, if any. A group hosted on another node is asked
   * (`member.requested`; its node answers): the person is a member once it accepts (`pending`).
   */
  async join(caller: Caller, handle: string): Promise<{ welcomeMessage: string | null; pending: boolean }> {
    const user = requireParticipant(caller);
    const ctx = await this.groups.load(caller, handle, 'join');
    if (ctx.group.origin) {
      await this.askRemote(caller, ctx);
      return { welcomeMessage: null, pending: true };
    }
    await this.insert(ctx.group._id, new ObjectId(user.personId), 'active', null);
    await this.counted(ctx.group, 1);
    this.events.emit('member.joined', {
      groupId: ctx.group._id.toHexString(),
      userId: user.personId,
      role: 'member',
    });
    return { welcomeMessage: ctx.group.welcomeMessage?.html ?? null, pending: false };
  }

  async request(caller: Caller, handle: string): Promise<void> {
    const user = requireParticipant(caller);
    const ctx = await this.groups.load(caller, handle, 'request');
    if (ctx.group.origin) return this.askRemote(caller, ctx);
    await this.insert(ctx.group._id, new ObjectId(user.personId), 'requested', null);
    this.events.emit('member.requested', { groupId: ctx.group._id.toHexString(), userId: user.personId });
  }

  /** A person of this node asks a group hosted on another node to take them in: waiting for its answer. */
  private async askRemote(caller: Caller, ctx: GroupContext, invited = false): Promise<void> {
    const user = requirePerson(caller);
    const userId = new ObjectId(user.personId);
    if (invited) await this.repo.moveMembership(membershipId(ctx.group._id, userId), 'invited', 'requested');
    else await this.insert(ctx.group._id, userId, 'requested', null);
    this.events.emit('member.requested', { groupId: ctx.group._id.toHexString(), userId: user.personId });
  }

  /**
   * The node hosting a group answered a person of this node (Accept or Reject of their request): the
   * request becomes a membership, or is dropped. Only for groups hosted elsewhere; false when there was
   * nothing to answer.
   */
  async answered(caller: Caller, groupId: ObjectId, personId: ObjectId, accepted: boolean): Promise<boolean> {
    if (caller.kind !== 'system') throw new ForbiddenError('Only the node itself records such answers.');
    const group = await this.repo.byId(groupId);
    if (!group?.origin) return false;
    const key = membershipId(groupId, personId);
    const done = accepted
      ? await this.repo.moveMembership(key, 'requested', 'active')
      : await this.repo.deleteMembership(key, 'requested');
    if (!done) return false;
    const ids = { groupId: groupId.toHexString(), userId: personId.toHexString() };
    if (accepted) this.events.emit('member.joined', { ...ids, role: 'member' });
    else this.events.emit('member.request_denied', ids);
    return true;
  }

  /**
   * The node hosting a group removed or banned a person of this node (its Remove or Block, checked by
   * federation): their membership here ends (a ban is kept, so the group shows them as banned).
   */
  async endedByGroup(
    caller: Caller,
    groupId: ObjectId,
    personId: ObjectId,
    reason: 'removed' | 'banned',
  ): Promise<boolean> {
    if (caller.kind !== 'system') throw new ForbiddenError('Only the node itself records such answers.');
    const group = await this.repo.byId(groupId);
    if (!group?.origin) return false;
    const _id = membershipId(groupId, personId);
    const existing = await this.repo.membership(groupId, personId);
    if (!existing || existing.state === 'banned') return false;
    if (reason === 'banned') await this.repo.markBanned(_id);
    else await this.repo.deleteMembership(_id);
    if (existing.state === 'active')
      this.events.emit('member.left', {
        groupId: groupId.toHexString(),
        userId: personId.toHexString(),
        reason,
      });
    return true;
  }

  /**
   * An admin of a group hosted on another node invited a person of this node (its Invite): the
   * invitation waits here for their answer, as one made here would.
   */
  async invitedFromRemote(caller: RemoteCaller, groupHandle: string, personId: ObjectId): Promise<void> {
    const group = await this.repo.byHandle(groupHandle);
    if (!group?.origin || group.deletedAt) throw new NotFoundError(msg`No group ${groupHandle}.`);
    if (new URL(caller.actorIri).origin !== new URL(group.origin.iri).origin)
      throw new ForbiddenError('Only people of the group’s own node invite to it.');
    const person = await this.people.byId(personId);
    if (person?.status !== 'active') throw new NotFoundError('No such person here.');
    const existing = await this.repo.membership(group._id, personId);
    if (existing) return;
    await this.insert(group._id, personId, 'invited', new ObjectId(caller.personId));
    this.events.emit('member.invited', {
      groupId: group._id.toHexString(),
      userId: personId.toHexString(),
      email: null,
      byUserId: caller.personId,
    });
  }

  /** Moderators and up approve or deny a join request. */
  async decide(caller: Caller, handle: string, personHandle: string, approve: boolean): Promise<void> {
    const ctx = await this.groups.load(caller, handle, 'moderate');
    const person = await this.person(personHandle);
    const key = { groupId: ctx.group._id, userId: person._id };
    const done = approve
      ? await this.repo.moveMembership(key, 'requested', 'active')
      : await this.repo.deleteMembership(key, 'requested');
    if (!done) throw new NotFoundError(msg`${personHandle} has no pending request.`);
    await this.groups.audit(ctx, caller, approve ? 'request.approved' : 'request.denied', person._id);
    const ids = { groupId: ctx.group._id.toHexString(), userId: person._id.toHexString() };
    if (approve) {
      await this.counted(ctx.group, 1);
      this.events.emit('member.joined', { ...ids, role: 'member' });
    } else this.events.emit('member.request_denied', ids);
  }

  /** Admins invite a person, or an email address that has not signed in yet. */
  async invite(
    caller: Caller,
    handle: string,
    target: { person?: string | undefined; email?: string | undefined },
  ): Promise<void> {
    const user = requirePerson(caller);
    const ctx = await this.groups.load(caller, handle, 'manageMembers');
    const by = new ObjectId(user.personId);
    if (ctx.group.origin) throw new ForbiddenError('Invitations to this group are sent by its own node.');
    if (target.person) {
      const person = await this.person(target.person);
      const existing = await this.repo.membership(ctx.group._id, person._id);
      if (existing?.state === 'banned')
        throw new ConflictError(msg`${target.person} is banned from this group; lift the ban first.`);
      if (existing?.state === 'requested') {
        await this.decide(caller, handle, target.person, true);
        return;
      }
      await this.insert(ctx.group._id, person._id, 'invited', by);
      await this.groups.audit(ctx, caller, 'member.invited', person._id);
      this.events.emit('member.invited', {
        groupId: ctx.group._id.toHexString(),
        userId: person._id.toHexString(),
        email: null,
        byUserId: user.personId,
      });
      return;
    }
    const email = target.email!.toLowerCase();
    // Only an address the person's identity provider verified identifies them.
    const known = await this.people.activeByVerifiedEmail(email);
    if (known) return this.invite(caller, handle, { person: known.handle });
    await this.repo.inviteEmail(ctx.group._id, email, by);
    await this.groups.audit(ctx, caller, 'email.invited', null, { email });
    this.events.emit('member.invited', {
      groupId: ctx.group._id.toHexString(),
      userId: null,
      email,
      byUserId: user.personId,
    });
  }

  async respond(caller: Caller, handle: string, accept: boolean): Promise<void> {
    const user = requireParticipant(caller);
    const ctx = await this.groups.load(caller, handle, 'respondToInvitation');
    const id = ctx.membership!._id;
    // An invitation to a group hosted elsewhere is accepted by asking its node, which knows of it.
    if (accept && ctx.group.origin) return this.askRemote(caller, ctx, true);
    if (accept) {
      await this.counted(ctx.group, await this.repo.moveMembership(id, 'invited', 'active'));
      this.events.emit('member.joined', {
        groupId: ctx.group._id.toHexString(),
        userId: user.personId,
        role: 'member',
      });
    } else if (await this.repo.deleteMembership(id, 'invited')) {
      this.events.emit('member.declined', { groupId: ctx.group._id.toHexString(), userId: user.personId });
    }
  }

  /** Take back one's own request to join, before it is decided. */
  async withdraw(caller: Caller, handle: string): Promise<void> {
    const user = requireParticipant(caller);
    const ctx = await this.groups.load(caller, handle, 'see');
    const id = membershipId(ctx.group._id, new ObjectId(user.personId));
    if (!(await this.repo.deleteMembership(id, 'requested')))
      throw new NotFoundError('You have no pending request here.');
  }

  async leave(caller: Caller, handle: string): Promise<void> {
    const user = requireParticipant(caller);
    const ctx = await this.groups.load(caller, handle, 'leave');
    // The owner cannot leave (policy); the filter keeps a concurrent transfer from making that possible.
    const left = await this.repo.removeNonOwner(ctx.membership!._id);
    await this.counted(ctx.group, left?.state === 'active' ? -1 : 0);
    this.events.emit('member.left', {
      groupId: ctx.group._id.toHexString(),
      userId: user.personId,
      reason: 'left',
    });
  }

  /** The target's membership, checked against the caller's rank: nobody acts on an equal or higher role. */
  private async target(
    ctx: GroupContext,
    personHandle: string,
  ): Promise<{ person: UserDoc; membership: MembershipDoc | null }> {
    const person = await this.person(personHandle);
    const membership = await this.repo.membership(ctx.group._id, person._id);
    const mine = ctx.membership?.state === 'active' ? roleRank[ctx.membership.role] : -1;
    if (
      membership?.state === 'active' &&
      roleRank[membership.role] >= mine &&
      ctx.membership?.role !== 'owner'
    ) {
      throw new ForbiddenError(OUTRANKS[membership.role]);
    }
    if (membership?.role === 'owner')
      throw new ForbiddenError('The owner cannot be removed or banned; transfer ownership first.');
    return { person, membership };
  }

  async removeMember(caller: Caller, handle: string, personHandle: string): Promise<void> {
    const ctx = await this.groups.load(caller, handle, 'manageMembers');
    const { person, membership } = await this.target(ctx, personHandle);
    if (!membership || membership.state === 'banned')
      throw new NotFoundError(msg`${personHandle} is not in this group.`);
    const removed = await this.repo.removeNonOwner(membership._id);
    await this.counted(ctx.group, removed?.state === 'active' ? -1 : 0);
    await this.groups.audit(ctx, caller, 'member.removed', person._id);
    this.events.emit('member.left', {
      groupId: ctx.group._id.toHexString(),
      userId: person._id.toHexString(),
      reason: 'removed',
    });
  }

  async ban(caller: Caller, handle: string, personHandle: string, reason: string): Promise<void> {
    const ctx = await this.groups.load(caller, handle, 'manageMembers');
    const { person } = await this.target(ctx, personHandle);
    const before = await this.repo.banPerson(ctx.group._id, person._id, person.status === 'remote');
    await this.counted(ctx.group, before?.state === 'active' ? -1 : 0);
    await this.groups.audit(ctx, caller, 'member.banned', person._id, { reason });
    this.events.emit('member.left', {
      groupId: ctx.group._id.toHexString(),
      userId: person._id.toHexString(),
      reason: 'banned',
    });
  }

  async unban(caller: Caller, handle: string, personHandle: string): Promise<void> {
    const ctx = await this.groups.load(caller, handle, 'manageMembers');
    const person = await this.person(personHandle);
    const key = { groupId: ctx.group._id, userId: person._id };
    if (!(await this.repo.deleteMembership(key, 'banned')))
      throw new NotFoundError(msg`${personHandle} is not banned.`);
    await this.groups.audit(ctx, caller, 'member.unbanned', person._id);
    this.events.emit('member.unbanned', {
      groupId: ctx.group._id.toHexString(),
      userId: person._id.toHexString(),
    });
  }

  /** Set a member's role below owner. Moderator/member: admins; admin: the owner only. */
  async setRole(
    caller: Caller,
    handle: string,
    personHandle: string,
    role: Exclude<Role, 'owner'>,
  ): Promise<void> {
    const user = requirePerson(caller);
    const ctx = await this.groups.load(caller, handle, role === 'admin' ? 'manageAdmins' : 'configure');
    const { person, membership } = await this.target(ctx, personHandle);
    if (membership?.state !== 'active')
      throw new NotFoundError(msg`${personHandle} is not a member of this group.`);
    const modifiedCount = await this.repo.setMemberRole(membership._id, role);
    if (!modifiedCount && membership.role !== role)
      throw new ConflictError('The membership changed meanwhile; try again.');
    await this.groups.audit(ctx, caller, 'member.role', person._id, { role });
    this.events.emit('member.role_changed', {
      groupId: ctx.group._id.toHexString(),
      userId: person._id.toHexString(),
      role,
      byUserId: user.personId,
    });
  }

  /**
   * Hand the group to another active member. The new owner is promoted before the old one steps down,
   * each with a single conditional write, so at every instant the group has at least one owner.
   */
  async transferOwnership(caller: Caller, handle: string, personHandle: string): Promise<void> {
    const user = requirePerson(caller);
    const ctx = await this.groups.load(caller, handle, 'manageAdmins');
    const person = await this.person(personHandle);
    if (person._id.toHexString() === user.personId)
      throw new ValidationError('You already own this group.', [
        { field: 'body.to', message: 'same person' },
      ]);
    if (!(await this.repo.makeOwner(ctx.group._id, person._id)))
      throw new NotFoundError(msg`${personHandle} is not a member of this group.`);
    await this.repo.stepDownOwner(ctx.membership!._id);
    await this.groups.audit(ctx, caller, 'group.ownership_transferred', person._id);
    this.events.emit('member.role_changed', {
      groupId: ctx.group._id.toHexString(),
      userId: person._id.toHexString(),
      role: 'owner',
      byUserId: user.personId,
    });
  }
}
