import { ObjectId, type Filter } from 'mongodb';
import type { Caller } from '../core/caller.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { latestFirst } from '../core/pages.js';
import { queryTokens } from '../core/search-tokens.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { GroupContext, GroupService } from '../groups/group.service.js';
import type { PersonRepository } from '../people/person.repository.js';
import {
  versionId,
  type FileDoc,
  type FileKind,
  type FileRepository,
  type VersionDoc,
} from './file.repository.js';
import { msg } from '../core/messages.js';

export interface FileView {
  id: string;
  group: string;
  folderId: string | null;
  kind: FileKind;
  name: string;
  size: number;
  contentType: string;
  sha256: string;
  version: number;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  url: string;
  thumbnailUrl: string | null;
}

export interface FileViewDeps {
  repo: FileRepository;
  groups: GroupService;
  groupRepo: GroupRepository;
  people: PersonRepository;
}

/**
 * What people read of group libraries and attachments: a file with its versions, a folder's page, search,
 * a download's version. Every view of several files costs the same few reads whatever their number.
 */
export class FileViews {
  constructor(private readonly deps: FileViewDeps) {}

  /** A file and its group if the caller may do `action` there; 404 as for the group otherwise. */
  async load(
    caller: Caller,
    id: string,
    action: 'read' | 'post' | 'moderate',
    options: { deleted?: boolean } = {},
  ) {
    const notFound = msg`No file ${id}.`;
    const file = await this.deps.repo.byId(id);
    if (!file) throw new NotFoundError(notFound);
    const ctx = await this.deps.groups.loadById(caller, file.groupId, action, notFound);
    if (file.deletedAt && !options.deleted) throw new NotFoundError(notFound);
    return { file, ctx };
  }

  /** The folder a request names, which must be in the group (null for the library's root). */
  async folder(ctx: GroupContext, folderId: string | undefined): Promise<ObjectId | null> {
    if (!folderId) return null;
    const folder = await this.deps.repo.folderById(folderId);
    if (!folder?.groupId.equals(ctx.group._id))
      throw new ValidationError('No such folder in this group.', [
        { field: 'query.folder', message: 'not in this group' },
      ]);
    return folder._id;
  }

  /** Views of files (of one group, or each of the group `handle` names): two reads, whatever their number. */
  async views(docs: FileDoc[], handle: string | ((doc: FileDoc) => string)): Promise<FileView[]> {
    const [versions, authors] = await Promise.all([
      this.deps.repo.currentVersions(docs),
      this.deps.people.byIds(
        [...new Set(docs.map((d) => d.createdBy.toHexString()))].map((h) => new ObjectId(h)),
      ),
    ]);
    const handles = new Map(authors.map((u) => [u._id.toHexString(), u.handle]));
    const groupOf = typeof handle === 'string' ? () => handle : handle;
    return docs.map((d) => ({
      id: d._id.toHexString(),
      group: groupOf(d),
      folderId: d.folderId?.toHexString() ?? null,
      kind: d.kind,
      name: d.name,
      size: d.size,
      contentType: d.contentType,
      sha256: d.sha256,
      version: d.version,
      createdBy: handles.get(d.createdBy.toHexString()) ?? null,
      createdAt: d.createdAt.toISOString(),
      updatedAt: d.updatedAt.toISOString(),
      deletedAt: d.deletedAt?.toISOString() ?? null,
      url: `/api/v1/files/${d._id.toHexString()}/content`,
      thumbnailUrl: versions.get(versionId(d._id, d.version))?.thumbnail
        ? `/api/v1/files/${d._id.toHexString()}/thumbnail`
        : null,
    }));
  }

  async view(file: FileDoc, ctx: GroupContext): Promise<FileView> {
    return (await this.views([file], ctx.group.handle))[0]!;
  }

  async get(caller: Caller, id: string) {
    const { file, ctx } = await this.load(caller, id, 'read');
    const versions = await this.deps.repo.versionsOf(file);
    return {
      ...(await this.view(file, ctx)),
      versions: versions.map((v) => ({
        n: v.n,
        name: v.name,
        size: v.size,
        contentType: v.contentType,
        sha256: v.sha256,
        uploadedAt: v.uploadedAt.toISOString(),
        url: `/api/v1/files/${id}/content?version=${v.n}`,
      })),
    };
  }

  /**
   * A page of a folder's files (library only) by name, keyset on (name, id): `cursor` is the last file of the
   * previous page. Moderators may list the deleted ones instead.
   */
  async list(
    caller: Caller,
    handle: string,
    query: { folder?: string | undefined; deleted: boolean; cursor?: string | undefined; limit: number },
  ) {
    const ctx = await this.deps.groups.load(caller, handle, query.deleted ? 'moderate' : 'read');
    const folderId = await this.folder(ctx, query.folder);
    const filter: Filter<FileDoc> = query.deleted
      ? { groupId: ctx.group._id, kind: 'library', deletedAt: { $ne: null } }
      : { groupId: ctx.group._id, kind: 'library', folderId, deletedAt: null };
    const after = query.cursor ? await this.deps.repo.byId(query.cursor) : null;
    if (query.cursor && !after?.groupId.equals(ctx.group._id))
      throw new ValidationError('The cursor is not valid.', [
        { field: 'query.cursor', message: 'invalid cursor' },
      ]);
    if (after) filter.$or = [{ name: { $gt: after.name } }, { name: after.name, _id: { $gt: after._id } }];
    const docs = await this.deps.repo.byName(filter, query.limit + 1);
    const page = docs.slice(0, query.limit);
    return {
      files: await this.views(page, ctx.group.handle),
      nextCursor: docs.length > query.limit ? page[page.length - 1]!._id.toHexString() : null,
    };
  }

  /** The version a download serves (the current one by default), once the caller may read the file. */
  async content(
    caller: Caller,
    id: string,
    n: number | undefined,
  ): Promise<{ version: VersionDoc; name: string }> {
    const { file } = await this.load(caller, id, 'read');
    if (file.unavailable)
      throw new NotFoundError(msg`This attachment is not available on this node: ${file.unavailable}.`);
    const version = await this.deps.repo.version(file._id, n ?? file.version);
    if (!version) throw new NotFoundError(msg`File ${id} has no version ${n}.`);
    // The current version downloads under the file's current name (renames apply); older ones under theirs.
    return { version, name: version.n === file.version ? file.name : version.name };
  }

  /** Library files whose name has every word of the query, among those the searcher may read. */
  async search(caller: Caller, query: { q: string; limit: number }): Promise<FileView[]> {
    const tokens = queryTokens(query.q);
    if (!tokens.length) return [];
    const parts = (await this.deps.groupRepo.readableParts(caller)) as Filter<FileDoc>[];
    const lists = await Promise.all(
      parts.map((part) =>
        this.deps.repo.newestFiles(
          { ...part, searchTokens: { $all: tokens }, deletedAt: null, kind: 'library' },
          query.limit,
        ),
      ),
    );
    const docs = latestFirst(lists, query.limit);
    const groups = await this.deps.groupRepo.byIds(
      [...new Set(docs.map((d) => d.groupId.toHexString()))].map((h) => new ObjectId(h)),
    );
    const handles = new Map(groups.filter((g) => !g.deletedAt).map((g) => [g._id.toHexString(), g.handle]));
    const shown = docs.filter((d) => handles.has(d.groupId.toHexString()));
    return this.views(shown, (d) => handles.get(d.groupId.toHexString())!);
  }
}
