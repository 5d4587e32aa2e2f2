import { ObjectId } from 'mongodb';
import { personIdOf, requirePerson, type Caller } from '../core/caller.js';
import { ConflictError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { renderMarkdown } from '../core/html.js';
import type { ImageStore } from '../files/image.store.js';
import { searchTokens } from '../core/search-tokens.js';
import {
  membershipId,
  type GroupDoc,
  type GroupRepository,
  type MembershipDoc,
  type Rendered,
} from './group.repository.js';
import type { GroupInput, GroupPatch, GroupView } from './group.schemas.js';
import { GroupViews, type GroupContext } from './group.views.js';
import { msg } from '../core/messages.js';

const render = (markdown: string): Rendered => ({ markdown, html: renderMarkdown(markdown) });

export type AudienceHook = (groupId: ObjectId, audience: GroupDoc['visibility'] | 'hidden') => Promise<void>;

export type { GroupContext, RecordSource } from './group.views.js';

export interface GroupServiceDeps {
  repo: GroupRepository;
  events: EventBus;
  /** How long a deleted group can be restored. */
  retentionMs: number;
  images: ImageStore;
}

/**
 * Groups: creation, settings, soft delete and restore; what people read of them is `views`
 * (group.views.ts), whose checks (group.policy) every domain loads a group through.
 */
export class GroupService {
  readonly views: GroupViews;
  private readonly audienceHooks: AudienceHook[] = [];
  private readonly repo: GroupRepository;
  private readonly events: EventBus;
  private readonly retentionMs: number;
  private readonly images: ImageStore;

  constructor(deps: GroupServiceDeps) {
    ({ repo: this.repo, events: this.events, retentionMs: this.retentionMs, images: this.images } = deps);
    this.views = new GroupViews(deps);
  }

  // The checks every domain runs before it reads or writes in a group (group.views.ts).
  standing(...args: Parameters<GroupViews['standing']>) {
    return this.views.standing(...args);
  }

  load(...args: Parameters<GroupViews['load']>) {
    return this.views.load(...args);
  }

  idOfHandle(...args: Parameters<GroupViews['idOfHandle']>) {
    return this.views.idOfHandle(...args);
  }

  loadById(...args: Parameters<GroupViews['loadById']>) {
    return this.views.loadById(...args);
  }

  can(...args: Parameters<GroupViews['can']>) {
    return this.views.can(...args);
  }

  view(...args: Parameters<GroupViews['view']>) {
    return this.views.view(...args);
  }

  pageScopes(...args: Parameters<GroupViews['pageScopes']>) {
    return this.views.pageScopes(...args);
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
    const owner: MembershipDoc = {
      _id: membershipId(group._id, group.createdBy),
      groupId: group._id,
      userId: group.createdBy,
      role: 'owner',
      state: 'active',
      invitedBy: null,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.repo.insertLocal(group, owner)))
      throw new ConflictError(msg`The handle ${input.handle} is taken.`, [
        { field: 'body.handle', message: 'already used' },
      ]);
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
    return this.views.view(await this.views.standing(caller, group));
  }

  async update(caller: Caller, handle: string, patch: GroupPatch): Promise<GroupView> {
    const ctx = await this.views.load(caller, handle, 'configure');
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
    await this.repo.setGroup(group._id, set);
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
    return this.views.view(await this.views.standing(caller, (await this.repo.byId(group._id))!));
  }

  /** Soft delete: the group disappears for everyone and can be restored for the retention period. */
  async remove(caller: Caller, handle: string): Promise<void> {
    const { group } = await this.views.load(caller, handle, 'delete');
    const by = caller.kind === 'person' ? new ObjectId(caller.personId) : null;
    await this.audienceChanged(group._id, 'hidden');
    await this.repo.setGroup(group._id, { deletedAt: new Date(), deletedBy: by }, true);
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
    const ctx = await this.views.load(caller, handle, 'restore');
    const { group } = ctx;
    if (Date.now() - group.deletedAt!.getTime() > this.retentionMs) {
      throw new ConflictError('This group was deleted too long ago to be restored.');
    }
    await this.repo.setGroup(group._id, { deletedAt: null, deletedBy: null, updatedAt: new Date() });
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
    return this.views.view(await this.views.standing(caller, (await this.repo.byId(group._id))!));
  }

  /** Set (bytes) or clear (null) the group's avatar or banner (admins). */
  async setImage(
    caller: Caller,
    handle: string,
    kind: 'avatar' | 'banner',
    image: { bytes: Buffer; type: string } | null,
  ) {
    const { group } = await this.views.load(caller, handle, 'configure');
    const stored = image ? await this.images.save(image.bytes, image.type, `${group.handle}-${kind}`) : null;
    await this.repo.setGroup(group._id, { [kind]: stored, updatedAt: new Date() });
    await this.images.remove(group[kind]);
    return this.views.view(await this.views.standing(caller, (await this.repo.byId(group._id))!));
  }
}
