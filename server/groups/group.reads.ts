import { ObjectId, type Collection, type Db, type Filter } from 'mongodb';
import { Lru } from '../core/lru.js';
import type { Caller } from '../core/caller.js';
import { BatchReader } from '../db/batch.read.js';
import { recordKeys, roughBytes, throughCache, type RecordCache } from '../cache/record.cache.js';
import { DocumentLocks } from '../db/document.lock.js';
import { collections } from '../db/collections.js';
import type { StoredImage } from '../files/image.store.js';
import type { GroupVisibility, JoinPolicy, MembershipState, Role } from './group.policy.js';

export interface Rendered {
  markdown: string;
  html: string;
}

/**
 * Where a group hosted on another node lives (docs/adr/0016-remote-records.md): its actor and the
 * addresses this node talks to. A group with an origin is a local record of that group, refreshed from its
 * actor; its own node decides who belongs and what is posted.
 */
export interface GroupOrigin {
  /** The group's actor IRI. */
  iri: string;
  /** Host (and port) of its node: the part after `@` in its handle. */
  host: string;
  inbox: string;
  sharedInbox: string | null;
  outbox: string | null;
  followers: string | null;
  /** FEP-1b12 moderators collection (`attributedTo`), and who was in it when last read. */
  moderatorsCollection: string | null;
  moderators: string[];
  featured: string | null;
  /** The group's page on its node. */
  url: string | null;
  icon: string | null;
  fetchedAt: Date;
}

export interface GroupDoc {
  _id: ObjectId;
  handle: string;
  /** The group's name; `names` may give it in English and French (the viewer's language is shown). */
  name: string;
  names?: { en?: string; fr?: string };
  description: { en?: Rendered; fr?: Rendered };
  visibility: GroupVisibility;
  joinPolicy: JoinPolicy;
  welcomeMessage: Rendered | null;
  avatar?: StoredImage | null;
  banner?: StoredImage | null;
  memberCount: number;
  createdBy: ObjectId;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  deletedBy: ObjectId | null;
  searchTokens: string[];
  /** Only on groups hosted on another node. */
  origin?: GroupOrigin;
}

export interface HandleDoc {
  _id: string;
  groupId: ObjectId;
}

/** A membership's `_id`: `<group>:<person>`, so "what is my standing here?" is one `_id` lookup. */
export const membershipId = (groupId: ObjectId, userId: ObjectId) =>
  `${groupId.toHexString()}:${userId.toHexString()}`;

/** A membership named by its `_id`, or by its group and person. */
export type MembershipKey = string | { groupId: ObjectId; userId: ObjectId };

/** At most this many memberships of other nodes' people are read for one group's audience. */
const REMOTE_MEMBERS_READ = 100_000;

export interface MembershipDoc {
  _id: string;
  groupId: ObjectId;
  userId: ObjectId;
  role: Role;
  state: MembershipState;
  invitedBy: ObjectId | null;
  createdAt: Date;
  updatedAt: Date;
  /**
   * Set when the person lives on another node: the group's outbound federation reads these memberships
   * alone (index `group_remote`, docs/adr/0013-index-served-filters.md), never every member's record.
   */
  remote?: true;
}

export interface EmailInvitationDoc {
  _id: ObjectId;
  groupId: ObjectId;
  email: string;
  invitedBy: ObjectId;
  createdAt: Date;
}

export interface AuditDoc {
  _id: ObjectId;
  groupId: ObjectId;
  at: Date;
  actorId: ObjectId | null;
  action: string;
  targetUserId: ObjectId | null;
  detail: Record<string, unknown>;
}

/** How long a handle's group is remembered. */
const HANDLE_MS = 60_000;

/**
 * What is read of groups, handles, memberships, email invitations and the audit log; `GroupRepository` adds
 * the writes (docs/architecture.md, "Reads apart from writes").
 */
export class GroupReads {
  readonly groups: Collection<GroupDoc>;
  readonly memberships: Collection<MembershipDoc>;
  readonly invitations: Collection<EmailInvitationDoc>;
  readonly audit: Collection<AuditDoc>;
  /** `group_handles`: `_id` = handle, so a group is found by handle with `_id` lookups only. */
  readonly handles: Collection<HandleDoc>;

  /** Groups are written by their admins and by membership bookkeeping: only under their lock (ADR 0010). */
  protected readonly locks: DocumentLocks;

  private readonly groupReads: BatchReader<GroupDoc>;
  private readonly membershipReads: BatchReader<MembershipDoc>;

  constructor(
    db: Db,
    /** Groups and memberships kept for pages (docs/adr/0034-record-cache.md); none when absent. */
    protected readonly records?: RecordCache,
  ) {
    this.locks = new DocumentLocks(db);
    this.groups = db.collection<GroupDoc>(collections.groups);
    this.memberships = db.collection<MembershipDoc>(collections.memberships);
    this.invitations = db.collection<EmailInvitationDoc>(collections.groupInvitations);
    this.audit = db.collection<AuditDoc>(collections.groupAudit);
    this.handles = db.collection<HandleDoc>(collections.groupHandles);
    this.groupReads = new BatchReader(this.groups);
    this.membershipReads = new BatchReader(this.memberships);
  }

  async byHandle(handle: string): Promise<GroupDoc | null> {
    const alias = await this.handles.findOne({ _id: handle.toLowerCase() });
    return alias ? this.groups.findOne({ _id: alias.groupId }) : null;
  }

  /**
   * Handles read lately: a handle names one group from its creation until the group is purged, so a page's
   * scopes and its group are found with one read of it, not one each. Kept a minute (a handle freed by a
   * purge in another process and taken by a new group is found again within it).
   */
  private readonly handleIds = new Lru<string, { id: ObjectId; at: number }>(20_000);

  /** The group a handle names now, without reading the group. */
  async idOfHandle(handle: string): Promise<ObjectId | null> {
    const key = handle.toLowerCase();
    const kept = this.handleIds.get(key);
    if (kept && Date.now() - kept.at < HANDLE_MS) return kept.id;
    const id = (await this.handles.findOne({ _id: key }))?.groupId ?? null;
    if (id) this.handleIds.set(key, { id, at: Date.now() });
    else this.handleIds.delete(key);
    return id;
  }

  /** A handle freed (its group purged, or its creation undone): not remembered any more here. */
  forgetHandle(handle: string): void {
    this.handleIds.delete(handle.toLowerCase());
  }

  /** Groups hosted on other nodes that have active members here (read once, at start: a scan). */
  async remoteGroupsWithMembers(): Promise<GroupDoc[]> {
    const groups = await this.groups.find({ origin: { $exists: true }, deletedAt: null }).toArray();
    const found: GroupDoc[] = [];
    for (const group of groups)
      if (await this.memberships.findOne({ groupId: group._id, state: 'active' }, { projection: { _id: 1 } }))
        found.push(group);
    return found;
  }

  /**
   * The members of other nodes, in these states: only their memberships are read, through the index
   * `group_remote` (the limit lets FerretDB hand SQLite the whole filter, ADR 0013), however many people of
   * this node the group has. Asked on every post, reply and like of a group hosted here.
   */
  async remoteMemberIds(groupId: ObjectId, states: MembershipState[]): Promise<ObjectId[]> {
    const rows = await this.memberships
      .find({ groupId, remote: true, state: { $in: states } }, { projection: { userId: 1 } })
      .limit(REMOTE_MEMBERS_READ)
      .toArray();
    return rows.map((r) => r.userId);
  }

  membership(groupId: ObjectId, userId: ObjectId): Promise<MembershipDoc | null> {
    return this.membershipReads.byId(membershipId(groupId, userId));
  }

  /** A group by id; reads asked at once go together (a busy inbox posts into a few groups, ADR 0031). */
  byId(groupId: ObjectId): Promise<GroupDoc | null> {
    return this.groupReads.byId(groupId);
  }

  /**
   * A group by id from the records kept for pages (docs/adr/0034-record-cache.md), else read and kept: for
   * reads that show a page; every check still runs on it. Writes read `byId`.
   */
  async keptById(groupId: ObjectId): Promise<GroupDoc | null> {
    const [group] = await throughCache(
      this.records,
      [recordKeys.group(groupId.toHexString())],
      async () => {
        const found = await this.byId(groupId);
        return found ? [found] : [];
      },
      (g) => recordKeys.group(g._id.toHexString()),
      roughBytes,
    );
    return group ?? null;
  }

  /**
   * `remoteMemberIds(groupId, ['active'])` kept as `keptById`, for a public group's Announces (ADR 0042):
   * dropped with the group's record, which every membership change of the group drops (record.bridge.ts).
   */
  async keptRemoteMemberIds(groupId: ObjectId): Promise<ObjectId[]> {
    const id = groupId.toHexString();
    const key = recordKeys.remoteMembers(id);
    const kept = this.records?.get<ObjectId[]>(key);
    if (kept !== undefined) return kept;
    const ticket = this.records?.ticket() ?? 0;
    const found = await this.remoteMemberIds(groupId, ['active']);
    this.records?.set(key, found, 64 + 56 * found.length, ticket, [recordKeys.group(id)]);
    return found;
  }

  /** A person's membership of a group, kept as `keptById` (none is kept too: a reader who is not a member). */
  async keptMembership(groupId: ObjectId, userId: ObjectId): Promise<MembershipDoc | null> {
    const key = recordKeys.membership(groupId.toHexString(), userId.toHexString());
    const kept = this.records?.get<MembershipDoc | null>(key);
    if (kept !== undefined) return kept;
    const ticket = this.records?.ticket() ?? 0;
    const found = await this.membership(groupId, userId);
    this.records?.set(key, found, found ? roughBytes(found) : 96, ticket);
    return found;
  }

  /** A person's memberships, optionally in one state and role. */
  membershipsOf(
    userId: ObjectId,
    where: { state?: MembershipState; role?: Role } = {},
  ): Promise<MembershipDoc[]> {
    return this.memberships.find({ userId, ...where }).toArray();
  }

  /** A page of a group's memberships in one state, by `_id` after `after`. */
  membershipPage(
    groupId: ObjectId,
    state: MembershipState,
    after: string | undefined,
    limit: number,
  ): Promise<MembershipDoc[]> {
    return this.memberships
      .find({ groupId, state, ...(after ? { _id: { $gt: after } } : {}) })
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
  }

  /** A group's active members but one, longest-standing first. */
  seniorMembers(groupId: ObjectId, except: ObjectId): Promise<MembershipDoc[]> {
    return this.memberships
      .find({ groupId, state: 'active', userId: { $ne: except } })
      .sort({ createdAt: 1 })
      .toArray();
  }

  /** The active owners, admins and moderators of a group (`limit`: at most that many). */
  moderatorsOf(groupId: ObjectId, limit?: number): Promise<MembershipDoc[]> {
    const found = this.memberships.find({
      groupId,
      state: 'active',
      role: { $in: ['owner', 'admin', 'moderator'] },
    });
    return (limit ? found.limit(limit) : found).toArray();
  }

  /** Invitations sent to an email address (lower case) that has not signed in yet. */
  emailInvitations(email: string): Promise<EmailInvitationDoc[]> {
    return this.invitations.find({ email }).toArray();
  }

  /** Groups the person belongs to (active), or is invited to. */
  async groupIdsOf(userId: ObjectId, states: MembershipState[] = ['active']): Promise<ObjectId[]> {
    const rows = await this.memberships
      .find({ userId, state: { $in: states } }, { projection: { groupId: 1 } })
      .toArray();
    return rows.map((r) => r.groupId);
  }

  /**
   * What the caller may read of threads, replies and files, as filters on the `audience` they carry (and, for
   * members-only groups, which groups): public (and node-wide for a signed-in person), and the members-only
   * groups the person belongs to. Each part is queried on its own and the results merged, so that an index
   * serves each one with its sort and limit (ADR 0013); an `$or` of them would be read whole.
   */
  async readableParts(caller: Caller): Promise<Filter<{ audience: string; groupId: ObjectId }>[]> {
    if (caller.kind !== 'person') return [{ audience: 'public' }];
    const parts: Filter<{ audience: string; groupId: ObjectId }>[] = [
      { audience: { $in: ['public', 'node'] } },
    ];
    const mine = await this.groupIdsOf(new ObjectId(caller.personId));
    if (mine.length) parts.push({ audience: 'members', groupId: { $in: mine } });
    return parts;
  }

  /** The groups a person owns (deleted ones included). */
  async ownedBy(userId: ObjectId): Promise<ObjectId[]> {
    const rows = await this.memberships
      .find({ userId, state: 'active', role: 'owner' }, { projection: { groupId: 1 } })
      .toArray();
    return rows.map((r) => r.groupId);
  }

  /** Groups by id (none asked, no query sent). */
  byIds(ids: ObjectId[]): Promise<GroupDoc[]> {
    return ids.length ? this.groups.find({ _id: { $in: ids } }).toArray() : Promise.resolve([]);
  }

  /** These groups, those not deleted, by handle. */
  liveByIds(ids: ObjectId[]): Promise<GroupDoc[]> {
    return ids.length
      ? this.groups
          .find({ _id: { $in: ids }, deletedAt: null })
          .sort({ handle: 1 })
          .toArray()
      : Promise.resolve([]);
  }

  /**
   * Groups by handle after `after`, at most `limit`: those of these visibilities (any, for an empty list), and
   * (beside them) these groups whatever their visibility. Each part is one equality-and-bounds query that an index serves with its
   * sort and limit (ADR 0013); an `$or` of them would be read whole.
   */
  async list(
    where: {
      visibilities?: GroupDoc['visibility'][];
      ids?: ObjectId[];
      tokens?: string[];
      deleted?: boolean;
    },
    after: string | undefined,
    limit: number,
  ): Promise<GroupDoc[]> {
    // Deleted groups only when asked (and then only those).
    const base: Filter<GroupDoc> = { deletedAt: where.deleted ? { $ne: null } : null };
    if (where.tokens?.length) base.searchTokens = { $all: where.tokens };
    if (after) base.handle = { $gt: after };
    const page = (filter: Filter<GroupDoc>) =>
      this.groups
        .find({ ...base, ...filter })
        .sort({ handle: 1 })
        .limit(limit)
        .toArray();
    const parts = await Promise.all([
      where.visibilities
        ? page(where.visibilities.length ? { visibility: { $in: where.visibilities } } : {})
        : [],
      where.ids?.length ? page({ _id: { $in: where.ids } }) : [],
    ]);
    const byId = new Map(parts.flat().map((g) => [g._id.toHexString(), g]));
    return [...byId.values()].sort((a, b) => (a.handle < b.handle ? -1 : 1)).slice(0, limit);
  }

  /** A group's audit log, newest first. */
  auditEntries(groupId: ObjectId, limit: number): Promise<AuditDoc[]> {
    return this.audit.find({ groupId }).sort({ at: -1 }).limit(limit).toArray();
  }
}
