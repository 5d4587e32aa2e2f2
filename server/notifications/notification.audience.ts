import type { ObjectId } from 'mongodb';
import type { Caller } from '../core/caller.js';
import type { GroupDoc, GroupRepository } from '../groups/group.repository.js';
import type { GroupService } from '../groups/group.service.js';
import type { UserDoc } from '../people/person.repository.js';
import type { NotificationDoc, NotificationKind } from './notification.repository.js';

/** A person as the group rules see them (notifications are checked for the person they are for). */
export const actorOfUser = (user: UserDoc): Caller => ({
  kind: 'person',
  personId: user._id.toHexString(),
  handle: user.handle,
  isAdmin: user.isAdmin,
});

/**
 * Who may hear about a group's activity, asked of the group rules (group.policy) when a notification is
 * written, listed and mailed: a person removed, banned, or shut out by a change of visibility stops seeing
 * the notifications they had, so a group's name and activity never reach someone who may not read it.
 */
export class NotificationAudience {
  constructor(
    private readonly groups: GroupService,
    private readonly groupRepo: GroupRepository,
  ) {}

  /** Read the group (or take it read already), then ask the rules. */
  async mayHear(caller: Caller, group: GroupDoc | null, kind: NotificationKind): Promise<boolean> {
    if (!group) return false;
    const ctx = await this.groups.standing(caller, group);
    // An invitation is about the invitation itself, which the person holds until they answer it.
    if (kind === 'invitation') return this.groups.can(ctx, 'respondToInvitation');
    // A join request is for those who decide it: a moderator who stepped down no longer sees it.
    if (kind === 'join.request') return this.groups.can(ctx, 'moderate');
    return this.groups.can(ctx, 'read') && ctx.membership?.state !== 'banned';
  }

  /** The notifications the person may still see, in their order; each group is read and checked once. */
  async visible(caller: Caller, docs: NotificationDoc[]): Promise<NotificationDoc[]> {
    const verdicts = new Map<string, Promise<boolean>>();
    const check = (groupId: ObjectId, kind: NotificationKind) => {
      const rule = kind === 'invitation' || kind === 'join.request' ? kind : 'read';
      const key = `${groupId.toHexString()}:${rule}`;
      let verdict = verdicts.get(key);
      if (!verdict) {
        verdict = this.groupRepo.byId(groupId).then((group) => this.mayHear(caller, group, kind));
        verdicts.set(key, verdict);
      }
      return verdict;
    };
    const keep = await Promise.all(docs.map((d) => check(d.groupId, d.kind)));
    return docs.filter((_, i) => keep[i]);
  }
}
