import { ObjectId } from 'mongodb';
import { requirePerson, type Caller } from '../core/caller.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { GroupContext, GroupService } from '../groups/group.service.js';
import type { FileRepository, FolderDoc } from './file.repository.js';
import { safeFileName } from './file.storage.js';
import { msg } from '../core/messages.js';

export interface FolderView {
  id: string;
  parentId: string | null;
  name: string;
  createdAt: string;
}

/** Deepest nesting of folders in a library. */
const MAX_DEPTH = 20;

const view = (f: FolderDoc): FolderView => ({
  id: f._id.toHexString(),
  parentId: f.parentId?.toHexString() ?? null,
  name: f.name,
  createdAt: f.createdAt.toISOString(),
});

/** Folders of a group's library: members who may post create them; their creator or a moderator changes them. */
export class FolderService {
  constructor(
    private readonly repo: FileRepository,
    private readonly groups: GroupService,
    private readonly events: EventBus,
  ) {}

  private async inGroup(ctx: GroupContext, id: string | null | undefined, field: string) {
    if (!id) return null;
    const folder = await this.repo.folderById(id);
    if (!folder?.groupId.equals(ctx.group._id))
      throw new ValidationError('No such folder in this group.', [{ field, message: 'not in this group' }]);
    return folder;
  }

  /** The folders from `folder` up to the root (the folder first). */
  private async ancestry(folder: FolderDoc | null): Promise<FolderDoc[]> {
    const chain: FolderDoc[] = [];
    for (let f = folder; f && chain.length <= MAX_DEPTH;) {
      chain.push(f);
      f = f.parentId ? await this.repo.folderById(f.parentId) : null;
    }
    return chain;
  }

  async list(caller: Caller, handle: string, parent: string | undefined): Promise<FolderView[]> {
    const ctx = await this.groups.load(caller, handle, 'read');
    const folder = await this.inGroup(ctx, parent, 'query.folder');
    const rows = await this.repo.foldersIn(ctx.group._id, folder?._id ?? null);
    return rows.map(view);
  }

  async create(caller: Caller, handle: string, input: { name: string; parentId?: string | undefined }) {
    const user = requirePerson(caller);
    const ctx = await this.groups.load(caller, handle, 'post');
    if (ctx.group.origin)
      throw new ForbiddenError(
        'This group is hosted on another node; folders cannot be added to it from here yet.',
      );
    const parent = await this.inGroup(ctx, input.parentId, 'body.parentId');
    if ((await this.ancestry(parent)).length >= MAX_DEPTH)
      throw new ValidationError(msg`Folders nest ${MAX_DEPTH} deep at most.`, [
        { field: 'body.parentId', message: 'too deep' },
      ]);
    const folder: FolderDoc = {
      _id: new ObjectId(),
      groupId: ctx.group._id,
      parentId: parent?._id ?? null,
      name: safeFileName(input.name),
      createdBy: new ObjectId(user.personId),
      createdAt: new Date(),
    };
    await this.repo.insertFolder(folder);
    this.events.emit('folder.changed', {
      folderId: folder._id.toHexString(),
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
      change: 'created',
    });
    return view(folder);
  }

  private async manage(caller: Caller, id: string) {
    const user = requirePerson(caller);
    const folder = await this.repo.folderById(id);
    if (!folder) throw new NotFoundError(msg`No folder ${id}.`);
    const ctx = await this.groups.loadById(caller, folder.groupId, 'read', msg`No folder ${id}.`);
    const moderator = this.groups.can(ctx, 'moderate');
    const own = folder.createdBy.toHexString() === user.personId && ctx.membership?.state === 'active';
    if (!own && !moderator)
      throw new ForbiddenError('Only the folder’s creator or a moderator can change it.');
    return { folder, ctx, user };
  }

  async update(
    caller: Caller,
    id: string,
    patch: { name?: string | undefined; parentId?: string | null | undefined },
  ) {
    const { folder, ctx, user } = await this.manage(caller, id);
    const set: Partial<FolderDoc> = {};
    if (patch.name !== undefined) set.name = safeFileName(patch.name);
    if (patch.parentId !== undefined) {
      const parent = await this.inGroup(ctx, patch.parentId, 'body.parentId');
      const chain = await this.ancestry(parent);
      if (chain.some((f) => f._id.equals(folder._id)))
        throw new ValidationError('A folder cannot move into itself or one of its subfolders.', [
          { field: 'body.parentId', message: 'would make a cycle' },
        ]);
      if (chain.length >= MAX_DEPTH)
        throw new ValidationError(msg`Folders nest ${MAX_DEPTH} deep at most.`, [
          { field: 'body.parentId', message: 'too deep' },
        ]);
      set.parentId = parent?._id ?? null;
    }
    await this.repo.setFolder(folder._id, set);
    this.events.emit('folder.changed', {
      folderId: id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
      change: 'updated',
    });
    return view({ ...folder, ...set });
  }

  /** Only an empty folder is removed (files are restored into the folder they left). */
  async remove(caller: Caller, id: string): Promise<void> {
    const { folder, ctx, user } = await this.manage(caller, id);
    if (!(await this.repo.folderIsEmpty(folder)))
      throw new ConflictError('Empty the folder first (deleted files count until they are purged).');
    await this.repo.deleteFolder(folder._id);
    this.events.emit('folder.changed', {
      folderId: id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
      change: 'deleted',
    });
  }
}
