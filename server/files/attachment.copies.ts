import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectId } from 'mongodb';
import { DomainError } from '../core/errors.js';
import { isDuplicateKey } from '../db/errors.js';
import type { Logger } from '../core/logger.js';
import type { JobQueue } from '../jobs/job.queue.js';
import type { Audience } from '../groups/group.policy.js';
import { versionId, type FileDoc, type FileRepository, type VersionDoc } from './file.repository.js';
import { THUMBNAIL_MAX_INPUT_BYTES, THUMBNAIL_SOURCES, type AttachmentSummary } from './file.service.js';
import { Inspect, safeFileName, type TypePolicy } from './file.storage.js';

/** An attachment another node announced with a post, as the files domain takes it. */
export interface AttachmentOffer {
  /** The local id chosen for it (the same on every delivery of the post). */
  id: ObjectId;
  groupId: ObjectId;
  audience: Audience;
  /** The person (recorded from another node) who wrote the post. */
  authorId: ObjectId;
  attachedTo: { kind: 'threads' | 'replies'; id: ObjectId };
  /** Where its origin serves it: what identifies it between nodes. */
  url: string;
  name: string | null;
  /** What the origin declared (shown while no copy is kept; never trusted for the type of the bytes). */
  declaredType: string | null;
  declaredSize: number | null;
}

/** The bytes of an offered attachment: a stream from its origin, or why there is none. */
export type AttachmentSource = () => Promise<Readable>;

/**
 * Copies of attachments written on other nodes (docs/adr/0029-attachments-across-nodes.md): the bytes are
 * fetched once, checked as an upload here is (this node's size limit and allowed types, the type sniffed
 * from the bytes), kept in GridFS as version 1 of an attachment file, and served to this node's people under
 * the group's rules here. What cannot be kept is still recorded, as an attachment that is "not available",
 * so the post shows what it carried and why it cannot be downloaded here.
 */
export class AttachmentCopies {
  constructor(
    private readonly deps: {
      repo: FileRepository;
      jobs: JobQueue;
      limits: { maxFileBytes: number; groupQuotaBytes: number; policy: TypePolicy };
      logger: Logger;
    },
  ) {}

  /** The largest attachment this node copies (its own upload limit). */
  get maxBytes(): number {
    return this.deps.limits.maxFileBytes;
  }

  /** The summary a post keeps of a copy (or of the record that says it is not available). */
  static summary(file: FileDoc): AttachmentSummary {
    return {
      fileId: file._id,
      name: file.name,
      size: file.size,
      contentType: file.contentType,
      ...(file.origin ? { origin: file.origin.url } : {}),
      ...(file.unavailable ? { unavailable: file.unavailable } : {}),
    };
  }

  /** The copy recorded for this id, if any (a retried delivery copies nothing twice). */
  async known(id: ObjectId): Promise<AttachmentSummary | null> {
    const file = await this.deps.repo.byId(id);
    return file ? AttachmentCopies.summary(file) : null;
  }

  /**
   * An attachment's bytes as other nodes are served them: one written here (by its id), or this node's copy
   * of one written elsewhere (by its id, checked against the URL asked for). Only files attached to a post
   * that stands; a group's library is not served to other nodes.
   */
  async served(id: string, originUrl?: string): Promise<{ file: FileDoc; version: VersionDoc } | null> {
    if (!ObjectId.isValid(id) || new ObjectId(id).toHexString() !== id) return null;
    const file = await this.deps.repo.byId(id);
    if (!file || file.kind !== 'attachment' || !file.attachedTo || file.deletedAt || file.unavailable)
      return null;
    if (originUrl === undefined ? file.origin : file.origin?.url !== originUrl) return null;
    const version = await this.deps.repo.version(file._id, file.version);
    return version ? { file, version } : null;
  }

  /**
   * Forget copies kept for a post that was then refused (its author may not post there, its thread is
   * locked...): nothing of a refused post stays, bytes included.
   */
  async discard(ids: ObjectId[]): Promise<void> {
    const { repo } = this.deps;
    for (const id of ids) {
      const file = await repo.byId(id);
      if (!file) continue;
      let bytes = 0;
      for (const version of await repo.versionsOf(file)) {
        bytes += version.size;
        await repo.removeVersion(version);
      }
      await repo.deleteFile(id);
      await repo.addUsage(file.groupId, -bytes);
    }
  }

  /** Record an offered attachment with a copy of its bytes, or as not available (with the reason). */
  async keep(
    offer: AttachmentOffer,
    source: AttachmentSource | { refused: string },
  ): Promise<AttachmentSummary> {
    const existing = await this.known(offer.id);
    if (existing) return existing;
    const name = safeFileName(
      offer.name ?? decodeURIComponent(new URL(offer.url).pathname.split('/').pop() ?? ''),
    );
    const { repo, limits } = this.deps;
    const base = {
      _id: offer.id,
      groupId: offer.groupId,
      folderId: null,
      kind: 'attachment' as const,
      attachedTo: offer.attachedTo,
      name,
      createdBy: offer.authorId,
      deletedAt: null,
      deletedBy: null,
      audience: offer.audience,
      searchTokens: [],
      origin: { url: offer.url },
    };
    const unavailable = async (reason: string): Promise<AttachmentSummary> => {
      const now = new Date();
      const file: FileDoc = {
        ...base,
        version: 0,
        size: offer.declaredSize ?? 0,
        contentType:
          offer.declaredType && /^[\w.+-]+\/[\w.+-]+$/.test(offer.declaredType)
            ? offer.declaredType
            : 'application/octet-stream',
        sha256: '',
        createdAt: now,
        updatedAt: now,
        unavailable: reason,
      };
      await repo.insertFile(file).catch((err: unknown) => {
        if (!isDuplicateKey(err)) throw err;
      });
      return AttachmentCopies.summary((await repo.byId(offer.id)) ?? file);
    };
    if ('refused' in source) return unavailable(source.refused);
    if (offer.declaredSize !== null && offer.declaredSize > limits.maxFileBytes)
      return unavailable(`larger than this node's limit of ${limits.maxFileBytes} bytes`);

    const blobId = new ObjectId();
    const remaining = limits.groupQuotaBytes
      ? Math.max(0, limits.groupQuotaBytes - (await repo.usedBytes(offer.groupId)))
      : Infinity;
    const inspect = new Inspect(limits.policy, { remaining }, limits.maxFileBytes);
    try {
      await pipeline(await source(), inspect, repo.blobs.openUploadStreamWithId(blobId, name));
    } catch (err) {
      await repo.removeBlob('blobs', blobId).catch(() => undefined);
      this.deps.logger.info({ url: offer.url, err: String(err) }, 'attachment of another node not copied');
      return unavailable(reasonOf(err));
    }
    const sha256 = inspect.hash.digest('hex');
    const now = new Date();
    const version: VersionDoc = {
      _id: versionId(offer.id, 1),
      fileId: offer.id,
      groupId: offer.groupId,
      n: 1,
      blobId,
      name,
      size: inspect.size,
      sha256,
      contentType: inspect.contentType,
      uploadedBy: offer.authorId,
      uploadedAt: now,
      thumbnail: null,
    };
    const file: FileDoc = {
      ...base,
      version: 1,
      size: inspect.size,
      contentType: inspect.contentType,
      sha256,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await repo.addUsage(offer.groupId, inspect.size, limits.groupQuotaBytes);
    } catch (err) {
      await repo.removeBlob('blobs', blobId).catch(() => undefined);
      return unavailable(reasonOf(err));
    }
    // Two deliveries of the same post may keep it at once: the version's id is the same for both, so only
    // the one whose version was inserted may remove it (the other's would be the one kept).
    let versionInserted = false;
    try {
      await repo.insertVersion(version);
      versionInserted = true;
      await repo.insertFile(file);
    } catch (err) {
      await Promise.allSettled([
        ...(versionInserted ? [repo.deleteVersionDoc(version._id)] : []),
        repo.removeBlob('blobs', blobId),
        repo.addUsage(offer.groupId, -inspect.size),
      ]);
      // Another delivery of the same post kept it first.
      const kept = await this.known(offer.id);
      if (kept) return kept;
      throw err;
    }
    if (THUMBNAIL_SOURCES.includes(version.contentType) && version.size <= THUMBNAIL_MAX_INPUT_BYTES)
      await this.deps.jobs.enqueue('thumbnail', { versionId: version._id });
    return AttachmentCopies.summary(file);
  }
}

/** What a person is told about a copy that could not be kept. */
function reasonOf(err: unknown): string {
  if (err instanceof DomainError) return err.message;
  // The outbound policy's size limit (server/federation/outbound.ts) is this node's upload limit here.
  if ((err as { reason?: unknown }).reason === 'size') return "it is over this node's size limit";
  const message = err instanceof Error ? err.message : String(err);
  return `its node could not be reached (${message.slice(0, 200)})`;
}
