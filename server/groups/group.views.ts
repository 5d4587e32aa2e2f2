import { ObjectId } from 'mongodb';
import { groupScope, PEOPLE } from '../cache/cache.bridge.js';
import { personIdOf, requirePerson, type Caller } from '../core/caller.js';
import { ForbiddenError, NotFoundError } from '../core/errors.js';
import { queryTokens } from '../core/search-tokens.js';
import type { ImageStore } from '../files/image.store.js';
import { allowed, groupActions, roleRank, type GroupAction, type Standing } from './group.policy.js';
import {
  membershipId,
  type GroupDoc,
  type GroupRepository,
  type MembershipDoc,
  type Rendered,
} from './group.repository.js';
import type { GroupView } from './group.schemas.js';
import { msg, type Message } from '../core/messages.js';

/**
 * Where a read takes a group and the caller's membership: the database, or the records kept for pages
 * (docs/adr/0034-record-cache.md; the checks run the same on both).
 */
export type RecordSource = 'database' | 'kept';

export interface GroupContext {
  group: GroupDoc;
  membership: MembershipDoc | null;
  standing: Standing;
}

/** The membership a group hosted on another node vouched for, for a remote caller in that group. */
function vouchedMembership(caller: Caller, group: GroupDoc): MembershipDoc | null {
  if (caller.kind !== 'remote' || !caller.vouched || !group.origin) return null;
  if (caller.vouched.groupId !== group._id.toHexString()) return null;
  const personId = new ObjectId(caller.personId);
  return {
    _id: membershipId(group._id, personId),
    groupId: group._id,
    userId: personId,
    role: caller.vouched.role,
    state: 'active',
    invitedBy: null,
    createdAt: group.createdAt,
    updatedAt: group.createdAt,
  };
}

/** What the rule set needs to know of a group. */
const factsOf = (group: GroupDoc) => ({
  visibility: group.visibility,
  joinPolicy: group.joinPolicy,
  deleted: group.deletedAt !== null,
});

export interface GroupViewDeps {
  repo: GroupRepository;
  images: ImageStore;
}

/**
 * What people read of groups: a group loaded with the caller's standing in it (every check goes through
 * group.policy), a group's page, the list of groups, the audit log, the images. Writes are GroupService's.
 */

/** What a person who sees a group is told when their standing does not allow an action in it. */
const REFUSED: Record<GroupAction, Message> = {
  see: msg`You may not see this group.`,
  read: msg`You may not read this group.`,
  join: msg`You may not join this group.`,
  request: msg`You may not ask to join this group.`,
  respondToInvitation: msg`You have no invitation to this group.`,
  leave: msg`You may not leave this group.`,
  post: msg`You may not post in this group.`,
  moderate: msg`You may not moderate this group.`,
  manageMembers: msg`You may not manage the members of this group.`,
  configure: msg`You may not change the settings of this group.`,
  manageAdmins: msg`You may not manage the administrators of this group.`,
  viewAudit: msg`You may not read the audit log of this group.`,
  delete: msg`You may not delete this group.`,
  restore: msg`You may not restore this group.`,
};
export class GroupViews {
  constructor(private readonly deps: GroupViewDeps) {}

  async standing(caller: Caller, group: GroupDoc): Promise<GroupContext> {
    return this.contextOf(caller, group, await this.membershipOf(caller, group._id));
  }

  private membershipOf(caller: Caller, groupId: ObjectId): Promise<MembershipDoc | null> {
    const personId = personIdOf(caller);
    return personId ? this.deps.repo.membership(groupId, new ObjectId(personId)) : Promise.resolve(null);
  }

  private contextOf(caller: Caller, group: GroupDoc, membership: MembershipDoc | null): GroupContext {
    const granted = vouchedMembership(caller, group);
    // A group hosted elsewhere vouched for this person (its Announce): that standing counts here, in that
    // group only, unless a membership recorded here says more (docs/adr/0016-remote-records.md).
    if (granted && (membership?.state !== 'active' || roleRank[membership.role] < roleRank[granted.role]))
      membership = granted;
    return {
      group,
      membership,
      standing: {
        signedIn: caller.kind === 'person',
        remote: caller.kind === 'remote',
        instanceAdmin: caller.kind === 'system' || (caller.kind === 'person' && caller.isAdmin),
        membership: membership ? { role: membership.role, state: membership.state } : null,
      },
    };
  }

  /**
   * Load a group the caller may act on. A group the caller may not even see answers 404, exactly like a
   * group that does not exist, so its existence does not leak; one they see but may not act on is 403.
   */
  async load(
    caller: Caller,
    handle: string,
    action: GroupAction,
    from: RecordSource = 'database',
  ): Promise<GroupContext> {
    // The handle names the group's id; the group and the caller's membership are then read together.
    const groupId = await this.deps.repo.idOfHandle(handle);
    if (!groupId) throw new NotFoundError(msg`No group ${handle}.`);
    return this.loadById(caller, groupId, action, msg`No group ${handle}.`, from);
  }

  /** The group a handle names now (kept a minute), before any check: for reads started beside `load`. */
  idOfHandle(handle: string): Promise<ObjectId | null> {
    return this.deps.repo.idOfHandle(handle);
  }

  /** The same checks, for content that knows its group by id (threads, replies). */
  async loadById(
    caller: Caller,
    groupId: ObjectId,
    action: GroupAction,
    notFound: string | Message,
    from: RecordSource = 'database',
  ): Promise<GroupContext> {
    // The group and the caller's membership are both addressed by the group's id: read them together.
    const personId = personIdOf(caller);
    const [group, membership] = await Promise.all([
      from === 'kept' ? this.deps.repo.keptById(groupId) : this.deps.repo.byId(groupId),
      from === 'kept' && personId
        ? this.deps.repo.keptMembership(groupId, new ObjectId(personId))
        : this.membershipOf(caller, groupId),
    ]);
    return this.check(caller, group, action, notFound, membership);
  }

  /** Whether the caller's standing in a loaded group allows `action` (the one rule set, group.policy). */
  can(ctx: GroupContext, action: GroupAction): boolean {
    return allowed(ctx.standing, factsOf(ctx.group), action);
  }

  private async check(
    caller: Caller,
    group: GroupDoc | null,
    action: GroupAction,
    notFound: string | Message,
    membership?: MembershipDoc | null,
  ) {
    if (!group) throw new NotFoundError(notFound);
    const ctx =
      membership === undefined
        ? await this.standing(caller, group)
        : this.contextOf(caller, group, membership);
    const facts = factsOf(group);
    if (allowed(ctx.standing, facts, action)) return ctx;
    // A deleted group, or one the caller may not see, does not exist for them.
    if (facts.deleted || !allowed(ctx.standing, facts, 'see')) throw new NotFoundError(notFound);
    throw new ForbiddenError(REFUSED[action]);
  }

  view(ctx: GroupContext): GroupView {
    const { group, membership, standing } = ctx;
    const facts = factsOf(group);
    const can = groupActions.filter((a) => allowed(standing, facts, a));
    const member = membership?.state === 'active';
    const canConfigure = can.includes('configure');
    const strip = (r: Rendered | undefined) => (r ? (canConfigure ? r : { html: r.html }) : undefined);
    const view: GroupView = {
      id: group._id.toHexString(),
      handle: group.handle,
      name: group.name,
      names: { ...group.names },
      description: {
        ...(group.description.en ? { en: strip(group.description.en)! } : {}),
        ...(group.description.fr ? { fr: strip(group.description.fr)! } : {}),
      },
      visibility: group.visibility,
      joinPolicy: group.joinPolicy,
      memberCount: group.memberCount,
      avatarUrl: group.origin
        ? group.origin.icon
        : group.avatar
          ? `/api/v1/groups/${group.handle}/avatar`
          : null,
      bannerUrl: group.banner ? `/api/v1/groups/${group.handle}/banner` : null,
      createdAt: group.createdAt.toISOString(),
      deletedAt: group.deletedAt?.toISOString() ?? null,
      viewer: { role: member ? membership!.role : null, state: membership?.state ?? null, can },
      node: group.origin ? { host: group.origin.host, url: group.origin.url ?? group.origin.iri } : null,
    };
    if (member) view.welcomeMessage = group.welcomeMessage ? strip(group.welcomeMessage)! : null;
    return view;
  }

  /** What a group's pages show, for their ETags and the page cache (none for an unknown handle). */
  async pageScopes(handle: string): Promise<string[]> {
    const id = await this.deps.repo.idOfHandle(handle);
    return id ? [groupScope(id.toHexString()), PEOPLE] : [];
  }

  async get(caller: Caller, handle: string): Promise<GroupView> {
    return this.view(await this.load(caller, handle, 'see'));
  }

  async list(
    caller: Caller,
    query: {
      scope: 'all' | 'mine' | 'invited' | 'deleted';
      q?: string | undefined;
      cursor?: string | undefined;
      limit: number;
    },
  ): Promise<{ items: GroupView[]; nextCursor: string | null }> {
    const { repo } = this.deps;
    const tokens = query.q ? queryTokens(query.q) : [];
    let where: { visibilities?: GroupDoc['visibility'][]; ids?: ObjectId[]; deleted?: boolean };
    if (query.scope === 'mine' || query.scope === 'invited') {
      const user = requirePerson(caller);
      where = {
        ids: await repo.groupIdsOf(new ObjectId(user.personId), [
          query.scope === 'mine' ? 'active' : 'invited',
        ]),
      };
    } else if (query.scope === 'deleted') {
      // Those the caller may restore: their own, or any for an instance administrator.
      const user = requirePerson(caller);
      where = user.isAdmin
        ? { visibilities: [], deleted: true }
        : { ids: await repo.ownedBy(new ObjectId(user.personId)), deleted: true };
    } else if (caller.kind === 'person' && caller.isAdmin) {
      where = { visibilities: [] };
    } else {
      // Visible groups, and the members-only ones the person belongs to or is invited to.
      where = {
        visibilities: caller.kind === 'person' ? ['public', 'node'] : ['public'],
        ids:
          caller.kind === 'person'
            ? await repo.groupIdsOf(new ObjectId(caller.personId), ['active', 'invited'])
            : [],
      };
    }
    const rows = await repo.list({ ...where, tokens }, query.cursor, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const items = await Promise.all(page.map(async (g) => this.view(await this.standing(caller, g))));
    return { items, nextCursor: rows.length > query.limit ? page[page.length - 1]!.handle : null };
  }

  /** The moderation and administration log, newest first (group admins). */
  async auditLog(caller: Caller, handle: string, limit: number) {
    const { group } = await this.load(caller, handle, 'viewAudit');
    const rows = await this.deps.repo.auditEntries(group._id, limit);
    return rows.map((r) => ({
      at: r.at.toISOString(),
      action: r.action,
      actorId: r.actorId?.toHexString() ?? null,
      targetUserId: r.targetUserId?.toHexString() ?? null,
      detail: r.detail,
    }));
  }

  /** The avatar or banner, to whoever may see the group. */
  async image(caller: Caller, handle: string, kind: 'avatar' | 'banner') {
    const { group } = await this.load(caller, handle, 'see');
    const image = group[kind];
    if (!image)
      throw new NotFoundError(kind === 'avatar' ? 'This group has no avatar.' : 'This group has no banner.');
    return this.deps.images.download(image);
  }
}
