import { ObjectId } from 'mongodb';
import { requirePerson, type Caller } from '../core/caller.js';
import {
  ConflictError,
  ForbiddenError,
  InsufficientStorageError,
  NotFoundError,
  ValidationError,
} from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { searchTokens } from '../core/search-tokens.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { GroupService } from '../groups/group.service.js';
import type { JobQueue } from '../jobs/job.queue.js';
import type { PersonRepository } from '../people/person.repository.js';
import { audienceOf, type Audience } from '../groups/group.policy.js';
import {
  versionId,
  type FileDoc,
  type FileKind,
  type FileRepository,
  type VersionDoc,
} from './file.repository.js';
import { safeFileName, type IncomingFiles, type StoredBlob, type UploadLimits } from './file.storage.js';
import { FileViews, type FileView } from './file.views.js';
import { isDuplicateKey } from '../db/errors.js';
import { msg } from '../core/messages.js';

export interface FileLimits extends Omit<UploadLimits, 'remainingQuota'> {
  groupQuotaBytes: number;
  retentionMs: number;
}

/** Images the thumbnail job reads. */
/** Largest image a thumbnail is made from. */
export const THUMBNAIL_MAX_INPUT_BYTES = 50 * 1024 * 1024;
export const THUMBNAIL_SOURCES = [
  'image/png',
  'image/jpeg',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
];

export type { FileView } from './file.views.js';

/** What a post shows of an attached file (kept on the post; the file's own rules govern its download). */
export interface AttachmentSummary {
  fileId: ObjectId;
  name: string;
  size: number;
  contentType: string;
  /** A copy of another node's attachment: the URL its origin serves it at (rendered to peers as is). */
  origin?: string;
  /** Why this node has no copy of it (then it cannot be downloaded here). */
  unavailable?: string;
}

export interface FileServiceDeps {
  repo: FileRepository;
  groups: GroupService;
  groupRepo: GroupRepository;
  people: PersonRepository;
  events: EventBus;
  jobs: JobQueue;
  limits: FileLimits;
}

/**
 * Group libraries and attachments: upload, versions, rename and move, soft delete and restore; what people
 * read of them is `views` (file.views.ts).
 */
export class FileService {
  readonly views: FileViews;
  private readonly repo: FileRepository;
  private readonly groups: GroupService;
  private readonly groupRepo: GroupRepository;
  private readonly events: EventBus;
  private readonly jobs: JobQueue;
  private readonly limits: FileLimits;

  constructor(deps: FileServiceDeps) {
    ({
      repo: this.repo,
      groups: this.groups,
      groupRepo: this.groupRepo,
      events: this.events,
      jobs: this.jobs,
      limits: this.limits,
    } = deps);
    this.views = new FileViews(deps);
  }

  /** The uploader (while still allowed to post) or a moderator. */
  private async manage(caller: Caller, id: string, options: { deleted?: boolean } = {}) {
    const user = requirePerson(caller);
    const { file, ctx } = await this.views.load(caller, id, 'read', options);
    const own = file.createdBy.toHexString() === user.personId && ctx.membership?.state === 'active';
    if (!own && !this.groups.can(ctx, 'moderate'))
      throw new ForbiddenError('Only the uploader or a moderator can change this file.');
    return { file, ctx, user };
  }

  private async remaining(groupId: ObjectId): Promise<number> {
    if (!this.limits.groupQuotaBytes) return Infinity;
    const left = this.limits.groupQuotaBytes - (await this.repo.usedBytes(groupId));
    if (left <= 0) throw new InsufficientStorageError("The group's storage quota is used up.");
    return left;
  }

  private receive(body: IncomingFiles, field: string, groupId: ObjectId, maxFiles: number) {
    return this.remaining(groupId).then((remainingQuota) =>
      body(field, {
        ...this.limits,
        maxFiles: Math.min(maxFiles, this.limits.maxFiles),
        remainingQuota,
      }),
    );
  }

  private view(file: FileDoc, ctx: { group: { handle: string } }): Promise<FileView> {
    return this.views.views([file], ctx.group.handle).then((v) => v[0]!);
  }

  private thumbnailLater(version: VersionDoc): Promise<unknown> {
    // sharp reads its whole input before decoding: larger images get no thumbnail (memory stays bounded).
    if (!THUMBNAIL_SOURCES.includes(version.contentType) || version.size > THUMBNAIL_MAX_INPUT_BYTES)
      return Promise.resolve();
    return this.jobs.enqueue('thumbnail', { versionId: version._id });
  }

  /** Store the streamed files in the group's library (or as attachments awaiting a post). */
  async upload(
    caller: Caller,
    handle: string,
    kind: FileKind,
    folderId: string | undefined,
    body: IncomingFiles,
  ) {
    const user = requirePerson(caller);
    const ctx = await this.groups.load(caller, handle, 'post');
    // A post's attachments travel with it; a group's library stays on the node hosting the group
    // (docs/adr/0029-attachments-across-nodes.md).
    if (ctx.group.origin && kind === 'library')
      throw new ForbiddenError(
        msg`This group's file library is kept on ${new URL(ctx.group.origin.iri).host}; add files there, or attach them to a post here.`,
      );
    const folder = kind === 'library' ? await this.views.folder(ctx, folderId) : null;
    const { blobs } = await this.receive(body, 'files', ctx.group._id, this.limits.maxFiles);
    // A large upload takes time: the group's visibility is read again now, not taken from before the body.
    const group = await this.groupRepo.byId(ctx.group._id);
    const audience: Audience = group ? audienceOf(group) : 'hidden';
    if (!blobs.length)
      throw new ValidationError('Send one or more files in the multipart field named files.', [
        { field: 'body.files', message: 'required' },
      ]);
    const now = new Date();
    const docs: FileDoc[] = [];
    const versions: VersionDoc[] = [];
    // Counted against the quota first, in one step with every other upload to the group.
    const total = blobs.reduce((sum, b) => sum + b.size, 0);
    await this.repo
      .addUsage(ctx.group._id, total, this.limits.groupQuotaBytes)
      .catch(async (err: unknown) => {
        await Promise.allSettled(blobs.map((b) => this.repo.removeBlob('blobs', b.blobId)));
        throw err;
      });
    try {
      for (const blob of blobs) {
        const file: FileDoc = {
          _id: new ObjectId(),
          groupId: ctx.group._id,
          folderId: folder,
          kind,
          attachedTo: null,
          name: blob.name,
          version: 1,
          size: blob.size,
          contentType: blob.contentType,
          sha256: blob.sha256,
          createdBy: new ObjectId(user.personId),
          createdAt: now,
          updatedAt: now,
          deletedAt: null,
          deletedBy: null,
          audience,
          searchTokens: kind === 'library' ? searchTokens(blob.name) : [],
        };
        const version = this.versionDoc(file, 1, blob, user.personId, now);
        await this.repo.insertVersion(version);
        versions.push(version);
        await this.repo.insertFile(file);
        docs.push(file);
      }
    } catch (err) {
      // Nothing half-written: the documents made so far, every stored blob and the bytes counted go.
      await Promise.allSettled([
        ...docs.map((d) => this.repo.deleteFile(d._id)),
        ...versions.map((v) => this.repo.deleteVersionDoc(v._id)),
        ...blobs.map((b) => this.repo.removeBlob('blobs', b.blobId)),
        this.repo.addUsage(ctx.group._id, -total),
      ]);
      throw err;
    }
    for (const [i, file] of docs.entries()) {
      await this.thumbnailLater(versions[i]!);
      this.events.emit('file.uploaded', {
        fileId: file._id.toHexString(),
        groupId: ctx.group._id.toHexString(),
        byUserId: user.personId,
        kind,
      });
    }
    return this.views.views(docs, ctx.group.handle);
  }

  private versionDoc(file: FileDoc, n: number, blob: StoredBlob, userId: string, at: Date): VersionDoc {
    return {
      _id: versionId(file._id, n),
      fileId: file._id,
      groupId: file.groupId,
      n,
      blobId: blob.blobId,
      name: blob.name,
      size: blob.size,
      sha256: blob.sha256,
      contentType: blob.contentType,
      uploadedBy: new ObjectId(userId),
      uploadedAt: at,
      thumbnail: null,
    };
  }

  /** New content for a file; earlier versions stay downloadable. */
  async replace(caller: Caller, id: string, body: IncomingFiles): Promise<FileView> {
    const { file, ctx, user } = await this.manage(caller, id);
    await this.groups.loadById(caller, file.groupId, 'post', msg`No file ${id}.`);
    const { blobs } = await this.receive(body, 'file', ctx.group._id, 1);
    const blob = blobs[0];
    if (!blob)
      throw new ValidationError('Send the new content in the multipart field named file.', [
        { field: 'body.file', message: 'required' },
      ]);
    const now = new Date();
    await this.repo
      .addUsage(ctx.group._id, blob.size, this.limits.groupQuotaBytes)
      .catch(async (err: unknown) => {
        await this.repo.removeBlob('blobs', blob.blobId).catch(() => undefined);
        throw err;
      });
    // Until the file shows the new version, a failure takes back the bytes, the blob and the version.
    const undo = async (version: number | null) => {
      await Promise.allSettled([
        this.repo.removeBlob('blobs', blob.blobId),
        this.repo.addUsage(ctx.group._id, -blob.size),
        ...(version ? [this.repo.deleteVersionDoc(versionId(file._id, version))] : []),
      ]);
    };
    let n = file.version + 1;
    // The version's `_id` is unique: of two replacements at once, the second takes the next number.
    for (;;) {
      try {
        await this.repo.insertVersion(this.versionDoc(file, n, blob, user.personId, now));
        break;
      } catch (err) {
        if (!isDuplicateKey(err) || n > file.version + 50) {
          await undo(null);
          throw err;
        }
        n++;
      }
    }
    const current = {
      version: n,
      size: blob.size,
      contentType: blob.contentType,
      sha256: blob.sha256,
      updatedAt: now,
    };
    // The file shows its newest version: of two replacements at once, the higher number stays.
    const fresh = await this.repo
      .rewriteFile(file._id, (doc) => {
        if (!doc) throw new NotFoundError(msg`No file ${id}.`);
        if (doc.version >= n) return { result: doc };
        return { set: current, result: { ...doc, ...current } };
      })
      .catch(async (err: unknown) => {
        await undo(n);
        throw err;
      });
    await this.thumbnailLater((await this.repo.version(file._id, n))!);
    this.events.emit('file.replaced', {
      fileId: id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
      version: n,
    });
    return this.view({ ...fresh, ...current }, ctx);
  }

  async update(
    caller: Caller,
    id: string,
    patch: { name?: string | undefined; folderId?: string | null | undefined },
  ) {
    const { file, ctx, user } = await this.manage(caller, id);
    if (file.kind !== 'library') throw new ConflictError('Attachments are not kept in folders.');
    const set: Partial<FileDoc> = { updatedAt: new Date() };
    if (patch.name !== undefined) {
      set.name = safeFileName(patch.name);
      set.searchTokens = searchTokens(set.name);
    }
    if (patch.folderId !== undefined)
      set.folderId = await this.views.folder(ctx, patch.folderId ?? undefined);
    await this.repo.setFile(file._id, set);
    this.events.emit('file.updated', {
      fileId: id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
    });
    return this.view({ ...file, ...set }, ctx);
  }

  async remove(caller: Caller, id: string): Promise<void> {
    const { file, ctx, user } = await this.manage(caller, id);
    await this.repo.setFile(file._id, {
      deletedAt: new Date(),
      deletedBy: new ObjectId(user.personId),
      audience: 'hidden',
    });
    this.events.emit('file.deleted', {
      fileId: id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
    });
  }

  async restore(caller: Caller, id: string): Promise<FileView> {
    const { file, ctx, user } = await this.manage(caller, id, { deleted: true });
    if (!file.deletedAt) return this.view(file, ctx);
    // What a moderator removed (or removed with its post) only a moderator brings back.
    const removedByOther = !file.deletedBy?.equals(file.createdBy) || file.attachedTo !== null;
    if (removedByOther && !this.groups.can(ctx, 'moderate'))
      throw new ForbiddenError('Only a moderator can restore what a moderator removed.');
    if (Date.now() - file.deletedAt.getTime() > this.limits.retentionMs)
      throw new ConflictError('This file was deleted too long ago to be restored.');
    const audience = audienceOf(ctx.group);
    await this.repo.setFile(file._id, { deletedAt: null, deletedBy: null, audience });
    this.events.emit('file.restored', {
      fileId: id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
    });
    return this.view({ ...file, deletedAt: null, deletedBy: null, audience }, ctx);
  }

  /**
   * Attach the caller's own unattached uploads in this group to a post; returns what the post shows.
   * Called by the thread service before it writes the post.
   */
  async attach(
    caller: Caller,
    groupId: ObjectId,
    ids: string[],
    target: { kind: 'threads' | 'replies'; id: ObjectId },
  ): Promise<AttachmentSummary[]> {
    const user = requirePerson(caller);
    const files = await this.repo.byIds(ids);
    for (const [i, file] of files.entries()) {
      if (
        !file ||
        file.kind !== 'attachment' ||
        file.deletedAt ||
        !file.groupId.equals(groupId) ||
        file.createdBy.toHexString() !== user.personId ||
        file.attachedTo
      )
        throw new ValidationError('Attach only files you uploaded to this group as attachments, once.', [
          { field: `body.attachments.${i}`, message: 'not an attachable upload' },
        ]);
    }
    await Promise.all(files.map((f) => this.repo.setFile(f!._id, { attachedTo: target })));
    return files.map((f) => ({ fileId: f!._id, name: f!.name, size: f!.size, contentType: f!.contentType }));
  }

  /** A post was removed: its attachments go with it (soft, like the post). */
  async detach(attachments: AttachmentSummary[], by: ObjectId): Promise<void> {
    for (const a of attachments) {
      await this.repo.setFile(a.fileId, { deletedAt: new Date(), deletedBy: by, audience: 'hidden' });
    }
  }

  /** Keep every file's audience equal to its group's (search and listings filter on it). */
  async syncAudience(groupId: ObjectId, audience: Audience): Promise<void> {
    await this.repo.setGroupAudience(groupId, audience);
  }

  /** Remove files deleted longer ago than the retention period, or every file of a purged group. */
  async purge(filter: { groupId: ObjectId } | { deletedBefore: Date }): Promise<number> {
    const query =
      'groupId' in filter
        ? { groupId: filter.groupId }
        : { deletedAt: { $ne: null, $lt: filter.deletedBefore } };
    const docs = await this.repo.toPurge(query);
    for (const file of docs) {
      let bytes = 0;
      for (const version of await this.repo.versionsOf(file)) {
        bytes += version.size;
        await this.repo.removeVersion(version);
      }
      await this.repo.deleteFile(file._id);
      if (!('groupId' in filter)) await this.repo.addUsage(file.groupId, -bytes);
    }
    if ('groupId' in filter) await this.repo.forgetGroup(filter.groupId);
    return docs.length;
  }
}
