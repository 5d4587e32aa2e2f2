import { ObjectId } from 'mongodb';
import { groupScope, PEOPLE } from '../cache/cache.bridge.js';
import { personIdOf, requirePerson, type Caller } from '../core/caller.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { renderMarkdown } from '../core/html.js';
import type { ImageStore } from '../files/image.store.js';
import { queryTokens, searchTokens } from '../core/search-tokens.js';
import { allowed, groupActions, roleRank, type GroupAction, type Standing } from './group.policy.js';
import {
  membershipId,
  type GroupDoc,
  type GroupRepository,
  type MembershipDoc,
  type Rendered,
} from './group.repository.js';
import type { GroupInput, GroupPatch, GroupView } from './group.schemas.js';
import { isDuplicateKey } from '../db/errors.js';

const render = (markdown: string): Rendered => ({ markdown, html: renderMarkdown(markdown) });

export type AudienceHook = (groupId: ObjectId, audience: GroupDoc['visibility'] | 'hidden') => Promise<void>;

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

/** Groups: creation, settings, listing, soft delete and restore. Every check goes through group.policy. */
export class GroupService {
  private readonly audienceHooks: AudienceHook[] = [];

  constructor(
    private readonly repo: GroupRepository,
    private readonly events: EventBus,
    private readonly retentionMs: number,
    private readonly images: ImageStore,
  ) {}

  async standing(caller: Caller, group: GroupDoc): Promise<GroupContext> {
    return this.contextOf(caller, group, await this.membershipOf(caller, group._id));
  }

  private membershipOf(caller: Caller, groupId: ObjectId): Promise<MembershipDoc | null> {
    const personId = personIdOf(caller);
    return personId ? this.repo.membership(groupId, new ObjectId(personId)) : Promise.resolve(null);
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
    const groupId = await this.repo.idOfHandle(handle);
    if (!groupId) throw new NotFoundError(`No group ${handle}.`);
    return this.loadById(caller, groupId, action, `No group ${handle}.`, from);
  }

  /** The group a handle names now (kept a minute), before any check: for reads started beside `load`. */
  idOfHandle(handle: string): Promise<ObjectId | null> {
    return this.repo.idOfHandle(handle);
  }

  /** The same checks, for content that knows its group by id (threads, replies). */
  async loadById(
    caller: Caller,
    groupId: ObjectId,
    action: GroupAction,
    notFound: string,
    from: RecordSource = 'database',
  ): Promise<GroupContext> {
    // The group and the caller's membership are both addressed by the group's id: read them together.
    const personId = personIdOf(caller);
    const [group, membership] = await Promise.all([
      from === 'kept' ? this.repo.keptById(groupId) : this.repo.byId(groupId),
      from === 'kept' && personId
        ? this.repo.keptMembership(groupId, new ObjectId(personId))
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
    notFound: string,
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
    throw new ForbiddenError(`You may not ${action} in this group.`);
  }

  /** Record a moderation or administration action in the group's audit log. */
  async audit(
    ctx: GroupContext,
    caller: Caller,
    action: string,
    target: ObjectId | null,
    detail: Record<string, unknown> = {},
  ) {
    const personId = personIdOf(caller);
    await this.repo.record({
      groupId: ctx.group._id,
      actorId: personId ? new ObjectId(personId) : null,
      action,
      targetUserId: target,
      detail,
    });
  }

  /** Content keeps a copy of who may find it; these run, awaited, whenever that changes. */
  onAudienceChange(hook: AudienceHook): void {
    this.audienceHooks.push(hook);
  }

  /** A group of another node changed its visibility there: as for one of ours, content first, then its record. */
  async remoteVisibilityChanged(
    group: GroupDoc,
    visibility: GroupDoc['visibility'],
    write: () => Promise<void>,
  ): Promise<void> {
    await this.audienceChanged(group._id, visibility);
    await write();
    this.events.emit('group.updated', {
      groupId: group._id.toHexString(),
      handle: group.handle,
      byUserId: group.createdBy.toHexString(),
      audienceChanged: true,
    });
  }

  private async audienceChanged(
    groupId: ObjectId,
    audience: GroupDoc['visibility'] | 'hidden',
  ): Promise<void> {
    for (const hook of this.audienceHooks) await hook(groupId, audience);
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

  private tokens(
    name: string,
    names: GroupDoc['names'],
    handle: string,
    description: GroupDoc['description'],
  ): string[] {
    return searchTokens(
      name,
      names?.en,
      names?.fr,
      handle,
      description.en?.markdown,
      description.fr?.markdown,
    );
  }

  /** Names given in a write: an empty one removes that language. */
  private static names(current: GroupDoc['names'], patch: { en?: string; fr?: string }): GroupDoc['names'] {
    const names = { ...current };
    for (const lang of ['en', 'fr'] as const) {
      const value = patch[lang];
      if (value === undefined) continue;
      if (value) names[lang] = value;
      else delete names[lang];
    }
    return names;
  }

  async create(caller: Caller, input: GroupInput): Promise<GroupView> {
    const user = requirePerson(caller);
    const now = new Date();
    const description = {
      ...(input.description.en ? { en: render(input.description.en) } : {}),
      ...(input.description.fr ? { fr: render(input.description.fr) } : {}),
    };
    const names = GroupService.names({}, input.names);
    const group: GroupDoc = {
      _id: new ObjectId(),
      handle: input.handle,
      name: input.name,
      names,
      description,
      visibility: input.visibility,
      joinPolicy: input.joinPolicy,
      welcomeMessage: input.welcomeMessage ? render(input.welcomeMessage) : null,
      memberCount: 1,
      createdBy: new ObjectId(user.personId),
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      deletedBy: null,
      searchTokens: this.tokens(input.name, names, input.handle, description),
    };
    try {
      // The handle is reserved first: one atomic insert decides who gets it.
      await this.repo.handles.insertOne({ _id: group.handle, groupId: group._id });
      await this.repo.groups.insertOne(group).catch(async (err: unknown) => {
        await this.repo.handles.deleteOne({ _id: group.handle, groupId: group._id });
        this.repo.forgetHandle(group.handle);
        throw err;
      });
    } catch (err) {
      if (isDuplicateKey(err)) {
        throw new ConflictError(`The handle ${input.handle} is taken.`, [
          { field: 'body.handle', message: 'already used' },
        ]);
      }
      throw err;
    }
    const membership: MembershipDoc = {
      _id: membershipId(group._id, group.createdBy),
      groupId: group._id,
      userId: group.createdBy,
      role: 'owner',
      state: 'active',
      invitedBy: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.repo.memberships.insertOne(membership);
    } catch (err) {
      // No transactions: undo the group so nothing is left half-written.
      await this.repo.groups.deleteOne({ _id: group._id });
      await this.repo.handles.deleteOne({ _id: group.handle });
      this.repo.forgetHandle(group.handle);
      throw err;
    }
    this.events.emit('group.created', {
      groupId: group._id.toHexString(),
      handle: group.handle,
      byUserId: user.personId,
    });
    this.events.emit('member.joined', {
      groupId: group._id.toHexString(),
      userId: user.personId,
      role: 'owner',
    });
    return this.view(await this.standing(caller, group));
  }

  /** What a group's pages show, for their ETags and the page cache (none for an unknown handle). */
  async pageScopes(handle: string): Promise<string[]> {
    const id = await this.repo.idOfHandle(handle);
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
    const tokens = query.q ? queryTokens(query.q) : [];
    let where: { visibilities?: GroupDoc['visibility'][]; ids?: ObjectId[]; deleted?: boolean };
    if (query.scope === 'mine' || query.scope === 'invited') {
      const user = requirePerson(caller);
      where = {
        ids: await this.repo.groupIdsOf(new ObjectId(user.personId), [
          query.scope === 'mine' ? 'active' : 'invited',
        ]),
      };
    } else if (query.scope === 'deleted') {
      // Those the caller may restore: their own, or any for an instance administrator.
      const user = requirePerson(caller);
      where = user.isAdmin
        ? { visibilities: [], deleted: true }
        : { ids: await this.repo.ownedBy(new ObjectId(user.personId)), deleted: true };
    } else if (caller.kind === 'person' && caller.isAdmin) {
      where = { visibilities: [] };
    } else {
      // Visible groups, and the members-only ones the person belongs to or is invited to.
      where = {
        visibilities: caller.kind === 'person' ? ['public', 'node'] : ['public'],
        ids:
          caller.kind === 'person'
            ? await this.repo.groupIdsOf(new ObjectId(caller.personId), ['active', 'invited'])
            : [],
      };
    }
    const rows = await this.repo.list({ ...where, tokens }, query.cursor, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const items = await Promise.all(page.map(async (g) => this.view(await this.standing(caller, g))));
    return { items, nextCursor: rows.length > query.limit ? page[page.length - 1]!.handle : null };
  }

  async update(caller: Caller, handle: string, patch: GroupPatch): Promise<GroupView> {
    const ctx = await this.load(caller, handle, 'configure');
    const { group } = ctx;
    const set: Partial<GroupDoc> = { updatedAt: new Date() };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.names !== undefined) set.names = GroupService.names(group.names, patch.names);
    if (patch.visibility !== undefined) set.visibility = patch.visibility;
    if (patch.joinPolicy !== undefined) set.joinPolicy = patch.joinPolicy;
    if (patch.welcomeMessage !== undefined)
      set.welcomeMessage = patch.welcomeMessage ? render(patch.welcomeMessage) : null;
    if (patch.description !== undefined) {
      set.description = { ...group.description };
      for (const lang of ['en', 'fr'] as const) {
        const text = patch.description[lang];
        if (text !== undefined) set.description[lang] = render(text);
      }
    }
    set.searchTokens = this.tokens(
      set.name ?? group.name,
      set.names ?? group.names,
      group.handle,
      set.description ?? group.description,
    );
    const audienceChanged = Boolean(set.visibility && set.visibility !== group.visibility);
    if (audienceChanged) await this.audienceChanged(group._id, set.visibility!);
    await this.repo.locks.update(this.repo.groups, group._id, { $set: set });
    const user = requirePerson(caller);
    await this.repo.record({
      groupId: group._id,
      actorId: new ObjectId(user.personId),
      action: 'group.updated',
      targetUserId: null,
      detail: { fields: Object.keys(patch) },
    });
    this.events.emit('group.updated', {
      groupId: group._id.toHexString(),
      handle: group.handle,
      byUserId: user.personId,
      audienceChanged,
    });
    return this.view(await this.standing(caller, (await this.repo.groups.findOne({ _id: group._id }))!));
  }

  /** Soft delete: the group disappears for everyone and can be restored for the retention period. */
  async remove(caller: Caller, handle: string): Promise<void> {
    const { group } = await this.load(caller, handle, 'delete');
    const by = caller.kind === 'person' ? new ObjectId(caller.personId) : null;
    await this.audienceChanged(group._id, 'hidden');
    await this.repo.locks.update(
      this.repo.groups,
      group._id,
      { $set: { deletedAt: new Date(), deletedBy: by } },
      { filter: { deletedAt: null } },
    );
    await this.repo.record({
      groupId: group._id,
      actorId: by,
      action: 'group.deleted',
      targetUserId: null,
      detail: {},
    });
    this.events.emit('group.deleted', {
      groupId: group._id.toHexString(),
      handle: group.handle,
      byUserId: by?.toHexString() ?? 'system',
    });
  }

  async restore(caller: Caller, handle: string): Promise<GroupView> {
    const ctx = await this.load(caller, handle, 'restore');
    const { group } = ctx;
    if (Date.now() - group.deletedAt!.getTime() > this.retentionMs) {
      throw new ConflictError('This group was deleted too long ago to be restored.');
    }
    await this.repo.locks.update(this.repo.groups, group._id, {
      $set: { deletedAt: null, deletedBy: null, updatedAt: new Date() },
    });
    await this.audienceChanged(group._id, group.visibility);
    const by = caller.kind === 'person' ? new ObjectId(caller.personId) : null;
    await this.repo.record({
      groupId: group._id,
      actorId: by,
      action: 'group.restored',
      targetUserId: null,
      detail: {},
    });
    this.events.emit('group.restored', {
      groupId: group._id.toHexString(),
      handle: group.handle,
      byUserId: by?.toHexString() ?? 'system',
    });
    return this.view(await this.standing(caller, (await this.repo.groups.findOne({ _id: group._id }))!));
  }

  /** The moderation and administration log, newest first (group admins). */
  async auditLog(caller: Caller, handle: string, limit: number) {
    const { group } = await this.load(caller, handle, 'viewAudit');
    const rows = await this.repo.audit.find({ groupId: group._id }).sort({ at: -1 }).limit(limit).toArray();
    return rows.map((r) => ({
      at: r.at.toISOString(),
      action: r.action,
      actorId: r.actorId?.toHexString() ?? null,
      targetUserId: r.targetUserId?.toHexString() ?? null,
      detail: r.detail,
    }));
  }

  /** Set (bytes) or clear (null) the group's avatar or banner (admins). */
  async setImage(
    caller: Caller,
    handle: string,
    kind: 'avatar' | 'banner',
    image: { bytes: Buffer; type: string } | null,
  ) {
    const { group } = await this.load(caller, handle, 'configure');
    const stored = image ? await this.images.save(image.bytes, image.type, `${group.handle}-${kind}`) : null;
    await this.repo.locks.update(this.repo.groups, group._id, {
      $set: { [kind]: stored, updatedAt: new Date() },
    });
    await this.images.remove(group[kind]);
    return this.view(await this.standing(caller, (await this.repo.groups.findOne({ _id: group._id }))!));
  }

  /** The avatar or banner, to whoever may see the group. */
  async image(caller: Caller, handle: string, kind: 'avatar' | 'banner') {
    const { group } = await this.load(caller, handle, 'see');
    const image = group[kind];
    if (!image) throw new NotFoundError(`This group has no ${kind}.`);
    return this.images.download(image);
  }
}
