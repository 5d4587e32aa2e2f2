import type { Db } from 'mongodb';
import type { Logger } from '../core/logger.js';

/**
 * Every collection Ensemble owns and its indexes, declared in one place and created at boot.
 *
 * The index type admits only what both MongoDB 6+ and FerretDB 1.24 support: plain ascending /
 * descending keys and `unique`. Partial, sparse, TTL, text indexes and collations cannot be expressed
 * here on purpose (docs/architecture.md).
 *
 * An index named `ordered_...` serves sorted pages by its last key (within an equality on the keys before
 * it): on MongoDB it is an ordinary index; the FerretDB Ensemble builds makes its last key in BSON's order, so
 * a page is read by walking it and stopping at the page's end (docs/adr/0013-index-served-filters.md,
 * "Ordered walks").
 */
export interface IndexSpec {
  name: string;
  key: Record<string, 1 | -1>;
  unique?: boolean;
  /**
   * The schema version that brought the index (a unique one the data before it may not fit): on a database
   * older than that, the version's migration makes the data fit and creates it (`createIndexesOf`).
   */
  since?: number;
}

export interface CollectionSpec {
  name: string;
  indexes: IndexSpec[];
}

export const collections = {
  meta: 'meta',
  organizations: 'organizations',
  users: 'users',
  identities: 'identities',
  sessions: 'sessions',
  groups: 'groups',
  memberships: 'memberships',
  groupInvitations: 'group_invitations',
  groupAudit: 'group_audit',
  groupHandles: 'group_handles',
  threads: 'threads',
  replies: 'replies',
  likes: 'likes',
  reports: 'reports',
  threadTimeline: 'thread_timeline',
  /** Before schema 10: a reply's position, now the reply's own `pos` (ADR 0044); read by its migration only. */
  legacyReplySlots: 'reply_slots',
  threadPins: 'thread_pins',
  sequenceHints: 'sequence_hints',
  files: 'files',
  fileVersions: 'file_versions',
  folders: 'folders',
  groupStorage: 'group_storage',
  jobs: 'jobs',
  notifications: 'notifications',
  notificationState: 'notification_state',
  notificationMail: 'notification_mail',
  subscriptions: 'subscriptions',
  digestClaims: 'digest_claims',
  notificationKeys: 'notification_keys',
  followerSlots: 'follower_slots',
  followerMarks: 'follower_marks',
  jobClaims: 'job_claims',
  documentLocks: 'document_locks',
  apObjects: 'ap_objects',
  apStreams: 'ap_streams',
  apContexts: 'ap_contexts',
  federationKeys: 'federation_keys',
  fedRemoteKeys: 'fed_remote_keys',
  fedActivities: 'fed_activities',
  fedDeliveries: 'fed_deliveries',
  fedHosts: 'fed_hosts',
  fedIris: 'fed_iris',
  fedRefs: 'fed_refs',
  nodeSettings: 'node_settings',
  imageFiles: 'images.files',
  imageChunks: 'images.chunks',
  blobFiles: 'blobs.files',
  blobChunks: 'blobs.chunks',
  thumbnailFiles: 'thumbnails.files',
  thumbnailChunks: 'thumbnails.chunks',
} as const;

/**
 * A GridFS bucket's two collections with the indexes the driver makes on its first upload (same names and
 * keys, so the driver finds them and makes none). Made at boot instead: on FerretDB's SQLite backend making
 * a collection is several statements that are not one transaction, and one refused as busy under load left
 * a table that no document of the collection could be written to again (`table ... already exists`, a 500
 * on every upload; docs/operations.md, "Faults").
 */
const gridfsBucket = (files: string, chunks: string): CollectionSpec[] => [
  { name: files, indexes: [{ name: 'filename_1_uploadDate_1', key: { filename: 1, uploadDate: 1 } }] },
  { name: chunks, indexes: [{ name: 'files_id_1_n_1', key: { files_id: 1, n: 1 }, unique: true }] },
];

export const collectionSpecs: CollectionSpec[] = [
  // One document per node: schema version, when it was first installed.
  { name: collections.meta, indexes: [] },
  {
    name: collections.organizations,
    indexes: [
      { name: 'slug_unique', key: { slug: 1 }, unique: true },
      { name: 'emailDomains', key: { emailDomains: 1 } },
    ],
  },
  {
    name: collections.users,
    indexes: [
      { name: 'handle_unique', key: { handle: 1 }, unique: true },
      { name: 'organization', key: { organizationId: 1, status: 1, handle: 1 } },
      { name: 'searchTokens', key: { searchTokens: 1 } },
      { name: 'status_handle', key: { status: 1, handle: 1 } },
      { name: 'ordered_handle', key: { handle: -1 } },
      { name: 'ordered_organization', key: { organizationId: 1, status: 1, handle: -1 } },
    ],
  },
  {
    // A person is (issuer, sub); never matched by email alone. Several identities can lead to one
    // person (changed department or issuer): merging moves identities, no array is edited in place.
    name: collections.identities,
    indexes: [
      { name: 'identity_unique', key: { issuer: 1, sub: 1 }, unique: true },
      { name: 'user', key: { userId: 1 } },
    ],
  },
  {
    // express-session documents (connect-mongo, unstringified so a person's sessions can be ended).
    // Expired sessions are removed by an interval sweep (server/auth/session.ts), not a TTL index.
    name: collections.sessions,
    indexes: [
      { name: 'expires', key: { expires: 1 } },
      { name: 'user', key: { 'session.passport.user': 1 } },
    ],
  },
  {
    name: collections.groups,
    indexes: [
      { name: 'handle_unique', key: { handle: 1 }, unique: true },
      { name: 'listing', key: { deletedAt: 1, visibility: 1, handle: 1 } },
      { name: 'searchTokens', key: { searchTokens: 1 } },
      { name: 'ordered_handle', key: { handle: -1 } },
    ],
  },
  {
    // One document per (group, person): role and state live here, never in an array on the group.
    name: collections.memberships,
    indexes: [
      { name: 'group_user_unique', key: { groupId: 1, userId: 1 }, unique: true },
      { name: 'user_state', key: { userId: 1, state: 1 } },
      { name: 'group_state_role', key: { groupId: 1, state: 1, role: 1, createdAt: 1 } },
      // The members of other nodes (MembershipDoc.remote), read for each post a group hosted here sends out.
      { name: 'group_remote', key: { groupId: 1, remote: 1, state: 1 } },
    ],
  },
  {
    // Invitations by email for people who have not signed in yet; honoured at their first sign-in.
    name: collections.groupInvitations,
    indexes: [
      { name: 'group_email_unique', key: { groupId: 1, email: 1 }, unique: true },
      { name: 'email', key: { email: 1 } },
    ],
  },
  { name: collections.groupAudit, indexes: [{ name: 'group_time', key: { groupId: 1, at: -1 } }] },
  {
    name: collections.threads,
    indexes: [
      { name: 'feed', key: { groupId: 1, createdAt: -1, _id: -1 } },
      { name: 'searchTokens', key: { searchTokens: 1, audience: 1 } },
      { name: 'ordered_group', key: { groupId: 1, _id: -1 } },
    ],
  },
  {
    name: collections.replies,
    indexes: [
      { name: 'feed', key: { groupId: 1, createdAt: -1, _id: -1 } },
      { name: 'searchTokens', key: { searchTokens: 1, audience: 1 } },
      { name: 'ordered_group', key: { groupId: 1, _id: -1 } },
      // A reply is its own position in its thread (`"<thread>:<seq>"`, docs/adr/0044-a-reply-is-its-position.md).
      { name: 'position', key: { pos: 1 }, unique: true, since: 10 },
    ],
  },
  {
    name: collections.likes,
    indexes: [{ name: 'target_user_unique', key: { targetId: 1, userId: 1 }, unique: true }],
  },
  {
    name: collections.reports,
    indexes: [{ name: 'group_state', key: { groupId: 1, state: 1, createdAt: -1 } }],
  },
  // Pages read by `_id` only, so that FerretDB serves them from its primary key too (ADR 0006): a
  // group's activity timeline (`<group>:<n>`), the pinned threads of a group (`_id` = group) and the head
  // hints of those sequences. The index below serves only the purge of a whole group. Groups are found by
  // handle through `group_handles` (`_id` = handle).
  { name: collections.threadTimeline, indexes: [{ name: 'group', key: { groupId: 1 } }] },
  { name: collections.threadPins, indexes: [] },
  { name: collections.groupHandles, indexes: [] },
  { name: collections.sequenceHints, indexes: [] },
  {
    // Group libraries and attachments; bytes live in GridFS (bucket `blobs`, one GridFS file per version).
    name: collections.files,
    indexes: [
      { name: 'folder', key: { groupId: 1, folderId: 1, deletedAt: 1, name: 1 } },
      { name: 'deleted', key: { deletedAt: 1 } },
      { name: 'searchTokens', key: { searchTokens: 1, audience: 1 } },
      { name: 'ordered_created', key: { createdAt: -1 } },
    ],
  },
  { name: collections.fileVersions, indexes: [{ name: 'group', key: { groupId: 1 } }] },
  { name: collections.folders, indexes: [{ name: 'parent', key: { groupId: 1, parentId: 1, name: 1 } }] },
  { name: collections.groupStorage, indexes: [] },
  // Notifications: `<person>:<n>` per person (read by `_id`), mail state per person, follows and mutes.
  { name: collections.notifications, indexes: [] },
  { name: collections.notificationState, indexes: [{ name: 'email', key: { email: 1 } }] },
  { name: collections.notificationMail, indexes: [] },
  { name: collections.subscriptions, indexes: [{ name: 'target', key: { kind: 1, targetId: 1, level: 1 } }] },
  // Who follows a group or thread with level `all`: `<kind>:<target>:<n>` (read by `_id`), and one mark
  // `<kind>:<target>:<person>` per person listed.
  { name: collections.followerSlots, indexes: [] },
  { name: collections.followerMarks, indexes: [] },
  { name: collections.digestClaims, indexes: [] },
  { name: collections.notificationKeys, indexes: [] },
  // The job system (server/jobs): due jobs by queue, and one claim document per claim of a job. The poll
  // walks `ordered_due` within its queue in `runAt` order and stops at its page (ADR 0041): a queue with a
  // backlog is not read whole by every poll.
  {
    name: collections.jobs,
    indexes: [
      { name: 'due', key: { queue: 1, state: 1, runAt: 1 } },
      { name: 'ordered_due', key: { queue: 1, runAt: 1 } },
    ],
  },
  { name: collections.jobClaims, indexes: [{ name: 'job', key: { jobId: 1 } }] },
  // One writer at a time per document written by several parties (server/db/document.lock.ts).
  { name: collections.documentLocks, indexes: [] },
  // activitypub-express's documents (apex.store.ts): `_id` = IRI; streams ordered by `_ts`.
  { name: collections.apObjects, indexes: [] },
  {
    name: collections.apStreams,
    indexes: [
      { name: 'in-collection', key: { _collections: 1, _ts: -1 } },
      { name: 'carrying', key: { _objects: 1 } },
    ],
  },
  { name: collections.apContexts, indexes: [] },
  // Federation: actor keys (`_id` = actor IRI), remote keys (`_id` = keyId).
  { name: collections.federationKeys, indexes: [] },
  { name: collections.fedRemoteKeys, indexes: [] },
  // The delivery queue (delivery.queue.ts).
  { name: collections.fedActivities, indexes: [{ name: 'created', key: { createdAt: 1 } }] },
  { name: collections.fedDeliveries, indexes: [{ name: 'due', key: { state: 1, runAt: 1 } }] },
  { name: collections.fedHosts, indexes: [] },
  // Records of other nodes' people, groups and posts, by IRI (`_id` = IRI → local id), and the activities
  // a membership, like or moderation step was made with (`_id` = what it is about), both read by `_id`
  // (docs/adr/0016-remote-records.md).
  { name: collections.fedIris, indexes: [] },
  { name: collections.fedRefs, indexes: [] },
  // The node settings, one document per change (server/settings): read by `_id` only.
  { name: collections.nodeSettings, indexes: [] },
  // GridFS buckets: avatars and banners (`images`), file versions (`blobs`), their thumbnails.
  ...gridfsBucket(collections.imageFiles, collections.imageChunks),
  ...gridfsBucket(collections.blobFiles, collections.blobChunks),
  ...gridfsBucket(collections.thumbnailFiles, collections.thumbnailChunks),
];

const NAMESPACE_EXISTS = 48;

const sameKey = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  JSON.stringify(Object.entries(a)) === JSON.stringify(Object.entries(b));

/**
 * Create the missing indexes one at a time. FerretDB 1.24.2 on SQLite drops the connection (a panic,
 * "slice bounds out of range") when one createIndexes command repeats several existing indexes, so we
 * never send existing ones. An index name reused with another key is a deployment error, not ignored.
 */
async function ensureIndexes(db: Db, spec: CollectionSpec, indexes = spec.indexes): Promise<void> {
  const collection = db.collection(spec.name);
  const existing = await collection.indexes();
  for (const index of indexes) {
    const found = existing.find((i) => i.name === index.name);
    if (found) {
      if (!sameKey(found.key, index.key) || Boolean(found.unique) !== Boolean(index.unique)) {
        throw new Error(
          `Index ${spec.name}.${index.name} exists with another definition ` +
            `(${JSON.stringify(found.key)}${found.unique ? ' unique' : ''}); drop it to let Ensemble recreate it.`,
        );
      }
      continue;
    }
    await collection.createIndex(index.key, { name: index.name, ...(index.unique ? { unique: true } : {}) });
  }
}

/** Create collections and indexes; safe to run on every boot and from several processes at once. */
export async function ensureCollections(db: Db, logger?: Logger, specs = collectionSpecs): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  // A new database has every index at once; an older one gets those of later versions from their migration.
  const version = (
    await db.collection<{ _id: string; schemaVersion?: number }>(collections.meta).findOne({ _id: 'node' })
  )?.schemaVersion;
  for (const spec of specs) {
    if (!existing.has(spec.name)) {
      try {
        await db.createCollection(spec.name);
      } catch (err) {
        if ((err as { code?: number }).code !== NAMESPACE_EXISTS) throw err;
      }
    }
    await ensureIndexes(
      db,
      spec,
      spec.indexes.filter((i) => version === undefined || (i.since ?? 0) <= version),
    );
  }
  await db
    .collection<{ _id: string; installedAt: Date; schemaVersion: number }>(collections.meta)
    .updateOne(
      { _id: 'node' },
      { $setOnInsert: { installedAt: new Date() }, $max: { schemaVersion: 1 } },
      { upsert: true },
    );
  logger?.debug({ collections: specs.length }, 'collections and indexes ensured');
}

/** Create the indexes schema version `version` brings (its migration, once the data fits them). */
export async function createIndexesOf(db: Db, version: number, specs = collectionSpecs): Promise<void> {
  for (const spec of specs) {
    const indexes = spec.indexes.filter((i) => i.since === version);
    if (indexes.length) await ensureIndexes(db, spec, indexes);
  }
}
