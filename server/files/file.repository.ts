import { GridFSBucket, ObjectId, type Collection, type Db, type Filter } from 'mongodb';
import { DocumentLocks } from '../db/document.lock.js';
import { InsufficientStorageError } from '../core/errors.js';
import { collections } from '../db/collections.js';
import type { Audience } from '../groups/group.policy.js';

/** Where a file belongs: a group's library, or a post it is attached to. */
export type FileKind = 'library' | 'attachment';

export interface Thumbnail {
  blobId: ObjectId;
  contentType: string;
  width: number;
  height: number;
}

/** One stored content of a file; `_id` = `<file>:<n>`, n from 1. Never changed once written. */
export interface VersionDoc {
  _id: string;
  fileId: ObjectId;
  groupId: ObjectId;
  n: number;
  /** The GridFS file holding the bytes (bucket `blobs`). */
  blobId: ObjectId;
  name: string;
  size: number;
  sha256: string;
  /** Sniffed from the bytes, never taken from the client. */
  contentType: string;
  uploadedBy: ObjectId;
  uploadedAt: Date;
  /** Set by the thumbnail job for images; `null` while pending or when the image could not be read. */
  thumbnail: Thumbnail | null;
}

export interface FileDoc {
  _id: ObjectId;
  groupId: ObjectId;
  folderId: ObjectId | null;
  kind: FileKind;
  /** The post an attachment belongs to, once attached. */
  attachedTo: { kind: 'threads' | 'replies'; id: ObjectId } | null;
  name: string;
  /** The current version (the highest). */
  version: number;
  size: number;
  contentType: string;
  sha256: string;
  createdBy: ObjectId;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  deletedBy: ObjectId | null;
  audience: Audience;
  searchTokens: string[];
  /**
   * An attachment of a post written on another node: this node's copy of it, with the URL its origin
   * serves it at (docs/adr/0029-attachments-across-nodes.md).
   */
  origin?: { url: string };
  /** Why a copy could not be kept (refused type, too large, refused by its origin): no version then. */
  unavailable?: string;
}

export interface FolderDoc {
  _id: ObjectId;
  groupId: ObjectId;
  parentId: ObjectId | null;
  name: string;
  createdBy: ObjectId;
  createdAt: Date;
}

/** Bytes a group keeps (every version, deleted files until purged); `_id` = the group. */
export interface StorageDoc {
  _id: ObjectId;
  bytes: number;
}

export const versionId = (fileId: ObjectId, n: number) => `${fileId.toHexString()}:${n}`;

export class FileRepository {
  readonly files: Collection<FileDoc>;
  readonly versions: Collection<VersionDoc>;
  private readonly folders: Collection<FolderDoc>;
  private readonly storage: Collection<StorageDoc>;
  /** File bytes, one GridFS file per version. */
  readonly blobs: GridFSBucket;
  readonly thumbnails: GridFSBucket;

  /** Files and a group's storage use are written by several parties: only under their lock (ADR 0010). */
  private readonly locks: DocumentLocks;

  constructor(readonly db: Db) {
    this.locks = new DocumentLocks(db);
    this.files = db.collection<FileDoc>(collections.files);
    this.versions = db.collection<VersionDoc>(collections.fileVersions);
    this.folders = db.collection<FolderDoc>(collections.folders);
    this.storage = db.collection<StorageDoc>(collections.groupStorage);
    this.blobs = new GridFSBucket(db, { bucketName: 'blobs' });
    this.thumbnails = new GridFSBucket(db, { bucketName: 'thumbnails' });
  }
  /**
   * The newest files matching an exact filter (equalities and bounds), newest first: served by the index the
   * filter names, or (many matches) by walking `ordered_created` (ADR 0013, "Ordered walks").
   */
  newestFiles(filter: Filter<FileDoc>, limit: number): Promise<FileDoc[]> {
    return this.files.find(filter).sort({ createdAt: -1 }).limit(limit).toArray();
  }

  async usedBytes(groupId: ObjectId): Promise<number> {
    return (await this.storage.findOne({ _id: groupId }))?.bytes ?? 0;
  }

  /**
   * Count `bytes` against the group's storage use; with a `quota`, refuse (413 quota-exceeded, nothing
   * counted) bytes that would take the use past it. Under the group's storage lock, so parallel uploads cannot pass the quota
   * together and no addition is lost.
   */
  async addUsage(groupId: ObjectId, bytes: number, quota = 0): Promise<void> {
    if (!bytes) return;
    await this.locks.run(this.locks.keyOf(this.storage, groupId), async () => {
      const used = await this.usedBytes(groupId);
      if (quota && bytes > 0 && used + bytes > quota)
        throw new InsufficientStorageError("The group's storage quota is used up.");
      await this.storage.updateOne(
        { _id: groupId },
        { $set: { bytes: Math.max(0, used + bytes) } },
        { upsert: true },
      );
    });
  }

  /**
   * Count every group's storage use again from the versions it keeps (schema 4: uses kept before the
   * locks could have lost additions). Run while the node starts.
   */
  async recountUsage(): Promise<void> {
    const totals = new Map<string, { groupId: ObjectId; bytes: number }>();
    for await (const v of this.versions.find({}, { projection: { groupId: 1, size: 1 } })) {
      const key = v.groupId.toHexString();
      const entry = totals.get(key) ?? { groupId: v.groupId, bytes: 0 };
      entry.bytes += v.size;
      totals.set(key, entry);
    }
    for (const stored of await this.storage.find({}).toArray())
      if (!totals.has(stored._id.toHexString()))
        totals.set(stored._id.toHexString(), { groupId: stored._id, bytes: 0 });
    for (const { groupId, bytes } of totals.values())
      await this.locks.run(this.locks.keyOf(this.storage, groupId), () =>
        this.storage.updateOne({ _id: groupId }, { $set: { bytes } }, { upsert: true }),
      );
  }

  /** A file by its id (null for an id that is not one). */
  byId(id: string | ObjectId): Promise<FileDoc | null> {
    if (typeof id === 'string' && !ObjectId.isValid(id)) return Promise.resolve(null);
    return this.files.findOne({ _id: new ObjectId(id) });
  }

  /** Files by id, in the order asked (null where none). */
  async byIds(ids: string[]): Promise<(FileDoc | null)[]> {
    const valid = ids.filter((id) => ObjectId.isValid(id)).map((id) => new ObjectId(id));
    const found = valid.length ? await this.files.find({ _id: { $in: valid } }).toArray() : [];
    const byId = new Map(found.map((f) => [f._id.toHexString(), f]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** A folder by its id (null for an id that is not one). */
  folderById(id: string | ObjectId): Promise<FolderDoc | null> {
    if (typeof id === 'string' && !ObjectId.isValid(id)) return Promise.resolve(null);
    return this.folders.findOne({ _id: new ObjectId(id) });
  }

  /**
   * Whether a folder holds no folder and no file, deleted ones included (each read through its group's index:
   * `parent` and `folder`).
   */
  async folderIsEmpty(folder: FolderDoc): Promise<boolean> {
    const [child, file] = await Promise.all([
      this.folders.findOne({ groupId: folder.groupId, parentId: folder._id }, { projection: { _id: 1 } }),
      this.files.findOne({ groupId: folder.groupId, folderId: folder._id }, { projection: { _id: 1 } }),
    ]);
    return !child && !file;
  }

  /** The folders directly in `parentId` (null: the library's root) of a group, by name then id, at most 1000. */
  foldersIn(groupId: ObjectId, parentId: ObjectId | null): Promise<FolderDoc[]> {
    return this.folders.find({ groupId, parentId }).sort({ name: 1, _id: 1 }).limit(1000).toArray();
  }

  /** Store a new folder. */
  async insertFolder(folder: FolderDoc): Promise<void> {
    await this.folders.insertOne(folder);
  }

  /** Set some of a folder's fields (its name, its parent). */
  async setFolder(id: ObjectId, fields: Partial<FolderDoc>): Promise<void> {
    await this.folders.updateOne({ _id: id }, { $set: fields });
  }

  /** Remove one folder. */
  async deleteFolder(id: ObjectId): Promise<void> {
    await this.folders.deleteOne({ _id: id });
  }

  /** What a purged group leaves besides its files: its folders, then its storage use. */
  async forgetGroup(groupId: ObjectId): Promise<void> {
    await this.folders.deleteMany({ groupId });
    await this.storage.deleteOne({ _id: groupId });
  }

  /** Store a new file (unlocked: nobody else writes it before it exists). */
  async insertFile(file: FileDoc): Promise<void> {
    await this.files.insertOne(file);
  }

  /** Set some of a file's fields, under the file's lock. */
  async setFile(id: ObjectId, fields: Partial<FileDoc>): Promise<void> {
    await this.locks.update(this.files, id, { $set: fields });
  }

  /** Give every kept (not deleted) file of a group the audience, one file at a time under its lock. */
  async setGroupAudience(groupId: ObjectId, audience: Audience): Promise<void> {
    await this.locks.updateEach(this.files, { groupId, deletedAt: null }, { $set: { audience } });
  }

  /**
   * Change a file from what it holds now, under its lock: `change` is given the current file (null when there
   * is none) and returns the fields to set (none: nothing is written) and what to return.
   */
  rewriteFile<T>(
    id: ObjectId,
    change: (current: FileDoc | null) => { set?: Partial<FileDoc>; result: T },
  ): Promise<T> {
    return this.locks.rewrite(this.files, id, change);
  }

  /** Remove a file's document (its versions are removed separately). */
  async deleteFile(id: ObjectId): Promise<void> {
    await this.files.deleteOne({ _id: id });
  }

  /** Store a new version; its `_id` is unique, so a version number already taken fails (duplicate key). */
  async insertVersion(version: VersionDoc): Promise<void> {
    await this.versions.insertOne(version);
  }

  /** Remove a version's document only (its bytes stay: see `removeVersion`). */
  async deleteVersionDoc(id: string): Promise<void> {
    await this.versions.deleteOne({ _id: id });
  }

  /** Up to `limit` files matching `filter`, by name then id (a folder's page: the `folder` index). */
  byName(filter: Filter<FileDoc>, limit: number): Promise<FileDoc[]> {
    return this.files.find(filter).sort({ name: 1, _id: 1 }).limit(limit).toArray();
  }

  /** Version `n` of a file. */
  version(fileId: ObjectId, n: number): Promise<VersionDoc | null> {
    return this.versions.findOne({ _id: versionId(fileId, n) });
  }

  /** A version by its id (`<file>:<n>`). */
  versionById(id: string): Promise<VersionDoc | null> {
    return this.versions.findOne({ _id: id });
  }

  /** Record the thumbnail made of a version's image (the one field of a version written after it). */
  async setThumbnail(id: string, thumbnail: Thumbnail): Promise<void> {
    await this.versions.updateOne({ _id: id }, { $set: { thumbnail } });
  }

  /** Files a purge removes next (at most 500 at a time). */
  toPurge(filter: Filter<FileDoc>): Promise<FileDoc[]> {
    return this.files.find(filter).limit(500).toArray();
  }

  /** The current version of each file, by version id (one read). */
  async currentVersions(files: FileDoc[]): Promise<Map<string, VersionDoc>> {
    if (!files.length) return new Map();
    const rows = await this.versions
      .find({ _id: { $in: files.map((f) => versionId(f._id, f.version)) } })
      .toArray();
    return new Map(rows.map((v) => [v._id, v]));
  }

  /** A file's versions, newest first (one `_id` lookup each). */
  async versionsOf(file: FileDoc): Promise<VersionDoc[]> {
    const found = await Promise.all(
      Array.from({ length: file.version }, (_, i) =>
        this.versions.findOne({ _id: versionId(file._id, file.version - i) }),
      ),
    );
    return found.filter((v) => v !== null);
  }

  /** A thumbnail's stored size in bytes; undefined while it is not (yet) whole in GridFS. */
  async thumbnailSize(blobId: ObjectId): Promise<number | undefined> {
    const [file] = await this.thumbnails.find({ _id: blobId }).limit(1).toArray();
    return file?.length;
  }

  /**
   * Remove a GridFS file whatever state its upload reached: chunks first, then the files document
   * (an aborted upload has chunks and no files document, which `bucket.delete` would not find).
   */
  async removeBlob(bucket: 'blobs' | 'thumbnails', id: ObjectId): Promise<void> {
    await this.db.collection(`${bucket}.chunks`).deleteMany({ files_id: id });
    await this.db.collection(`${bucket}.files`).deleteOne({ _id: id });
  }

  /** A version's bytes and thumbnail. */
  async removeVersion(version: VersionDoc): Promise<void> {
    await this.removeBlob('blobs', version.blobId);
    if (version.thumbnail) await this.removeBlob('thumbnails', version.thumbnail.blobId);
    await this.versions.deleteOne({ _id: version._id });
  }
}
