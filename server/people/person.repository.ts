import type { ObjectId } from 'mongodb';
import { type Collection, type Db, type Filter } from 'mongodb';
import { DocumentLocks } from '../db/document.lock.js';
import { collections } from '../db/collections.js';
import { recordKeys, roughBytes, throughCache, type RecordCache } from '../cache/record.cache.js';
import { defaultVisibility, type HideableField, type Visibility } from './profile.schemas.js';

/** `remote`: a person of another node, known here through federation (never signs in here). */
export type UserStatus = 'active' | 'deactivated' | 'merged' | 'remote';

/** Where a person of another node lives (docs/adr/0016-remote-records.md), refreshed from their actor. */
export interface PersonOrigin {
  iri: string;
  host: string;
  inbox: string;
  sharedInbox: string | null;
  url: string | null;
  icon: string | null;
  /** The organization their node names for them (shown with join requests). */
  organization: string | null;
  fetchedAt: Date;
}

export interface StoredProfile {
  displayName?: string;
  jobTitle?: { en?: string; fr?: string };
  location?: string;
  about?: { markdown: string; html: string };
  skills?: string[];
  languages?: { first?: 'en' | 'fr'; reading?: string; writing?: string; oral?: string };
  contact?: { email?: string; phone?: string; website?: string };
}

export interface UserDoc {
  _id: ObjectId;
  handle: string;
  status: UserStatus;
  mergedInto?: ObjectId;
  email: string | null;
  emailVerified: boolean;
  locale: 'en' | 'fr';
  /** The person chose the interface language (PUT /me/locale): sign-in no longer takes it from the claims. */
  localeChosen?: boolean;
  /** Name from the identity provider; the profile's displayName overrides it when set. */
  claimsName: string | null;
  organizationId: ObjectId | null;
  isAdmin: boolean;
  profile: StoredProfile;
  visibility: Record<HideableField, Visibility>;
  avatar: { fileId: ObjectId; contentType: string; updatedAt: Date } | null;
  searchTokens: string[];
  createdAt: Date;
  updatedAt: Date;
  lastSignInAt: Date | null;
  /** Only on people of other nodes (status `remote`). */
  origin?: PersonOrigin;
}

/**
 * The record of a person of another node as this node first keeps it (`PersonRepository.insertRemote`): their
 * handle (`name@host`), the name their actor gives, where they live; no address, no profile beyond the name.
 */
export function remotePersonRecord(p: {
  _id: ObjectId;
  handle: string;
  name: string;
  origin: PersonOrigin;
  at: Date;
}): UserDoc {
  return {
    _id: p._id,
    handle: p.handle,
    status: 'remote',
    email: null,
    emailVerified: false,
    locale: 'en',
    claimsName: p.name,
    organizationId: null,
    isAdmin: false,
    profile: { displayName: p.name },
    visibility: { ...defaultVisibility },
    avatar: null,
    searchTokens: [],
    createdAt: p.at,
    updatedAt: p.at,
    lastSignInAt: null,
    origin: p.origin,
  };
}

export interface IdentityDoc {
  _id: ObjectId;
  issuer: string;
  sub: string;
  userId: ObjectId;
  createdAt: Date;
  lastSignInAt: Date;
}

export class PersonRepository {
  private readonly users: Collection<UserDoc>;
  private readonly identities: Collection<IdentityDoc>;
  /** People are written by sign-in, by themselves and by administrators: only under their lock (ADR 0010). */
  private readonly locks: DocumentLocks;

  constructor(
    db: Db,
    /** People kept for pages (docs/adr/0034-record-cache.md); none when absent. */
    private readonly records?: RecordCache,
  ) {
    this.locks = new DocumentLocks(db);
    this.users = db.collection<UserDoc>(collections.users);
    this.identities = db.collection<IdentityDoc>(collections.identities);
  }

  byId(id: ObjectId): Promise<UserDoc | null> {
    return this.users.findOne({ _id: id });
  }

  /** People by id, in no particular order (none asked, no query sent). */
  byIds(ids: ObjectId[]): Promise<UserDoc[]> {
    return ids.length ? this.users.find({ _id: { $in: ids } }).toArray() : Promise.resolve([]);
  }

  /** People by id, from the records kept for pages where kept (docs/adr/0034-record-cache.md). */
  keptByIds(ids: ObjectId[]): Promise<UserDoc[]> {
    return throughCache(
      this.records,
      ids.map((id) => recordKeys.person(id.toHexString())),
      (missing) => this.byIds(missing.map((i) => ids[i]!)),
      (u) => recordKeys.person(u._id.toHexString()),
      roughBytes,
    );
  }

  /** A person's record was written without a domain event (a sign-in's claims): not kept any more. */
  changed(id: ObjectId): void {
    this.records?.changed([recordKeys.person(id.toHexString())]);
  }

  /** The active people of these handles (lower case): their ids, for mentions. */
  activeByHandles(handles: string[]): Promise<Pick<UserDoc, '_id' | 'handle'>[]> {
    if (!handles.length) return Promise.resolve([]);
    return this.users
      .find({ handle: { $in: handles }, status: 'active' }, { projection: { handle: 1 } })
      .toArray();
  }

  /** How many people are active here, and of them, how many signed in since `since` (NodeInfo's usage). */
  countActive(since?: Date): Promise<number> {
    return this.users.countDocuments({
      status: 'active',
      ...(since ? { lastSignInAt: { $gte: since } } : {}),
    });
  }

  byHandle(handle: string): Promise<UserDoc | null> {
    return this.users.findOne({ handle: handle.toLowerCase() });
  }

  /** The active person whose identity provider verified this address (lower case), if any. */
  activeByVerifiedEmail(email: string): Promise<UserDoc | null> {
    return this.users.findOne({ email, emailVerified: true, status: 'active' });
  }

  /** Every person's id, for a pass over all of them (migrations). */
  async allIds(): Promise<ObjectId[]> {
    return (await this.users.find({}, { projection: { _id: 1 } }).toArray()).map((u) => u._id);
  }

  /**
   * Record a person of another node (status `remote`): true if inserted, false when the handle is taken
   * (the caller picks another). The `_id` is chosen by the caller, so a retry writes nothing twice.
   */
  async insertRemote(doc: UserDoc): Promise<boolean> {
    try {
      await this.users.insertOne(doc);
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 11000) throw err;
      if (await this.users.findOne({ _id: doc._id }, { projection: { _id: 1 } })) return true;
      return false;
    }
  }

  /** What a remote person's node says of them now (their name, addresses, organization). */
  async refreshRemote(id: ObjectId, name: string, origin: PersonOrigin): Promise<void> {
    await this.locks.update(this.users, id, {
      $set: { claimsName: name, 'profile.displayName': name, origin, updatedAt: new Date() },
    });
    this.changed(id);
  }

  /** A person signing in for the first time; throws the duplicate key error when the handle is taken. */
  async insert(doc: UserDoc): Promise<void> {
    await this.users.insertOne(doc);
  }

  /** A person made for a first sign-in that another sign-in of the same identity won. */
  async remove(id: ObjectId): Promise<void> {
    await this.users.deleteOne({ _id: id });
  }

  /** Set these fields of a person, under their lock. */
  async set(id: ObjectId, fields: Partial<UserDoc>): Promise<void> {
    await this.locks.update(this.users, id, { $set: fields });
  }

  /** Set these fields of a person under their lock, and read them back as written. */
  setAndRead(id: ObjectId, fields: Partial<UserDoc>): Promise<UserDoc | null> {
    return this.locks.run(this.locks.keyOf(this.users, id), () =>
      this.users.findOneAndUpdate({ _id: id }, { $set: fields }, { returnDocument: 'after' }),
    );
  }

  /**
   * Change a person from what they are under their lock: `change` reads the current record and says what to
   * set (so two changes at once both stay), and what to return.
   */
  async rewrite<T>(
    id: ObjectId,
    change: (current: UserDoc) => { set: Partial<UserDoc>; result: T },
  ): Promise<T | undefined> {
    return this.locks.rewrite(this.users, id, (current) =>
      current ? change(current) : { result: undefined },
    );
  }

  /** An identity's first sign-in; throws the duplicate key error when another sign-in recorded it first. */
  async insertIdentity(doc: IdentityDoc): Promise<void> {
    await this.identities.insertOne(doc);
  }

  async identitySignedIn(id: ObjectId, at: Date): Promise<void> {
    await this.identities.updateOne({ _id: id }, { $set: { lastSignInAt: at } });
  }

  /** Every identity of one person moved to another (a merge). */
  async moveIdentities(from: ObjectId, into: ObjectId): Promise<void> {
    await this.identities.updateMany({ userId: from }, { $set: { userId: into } });
  }

  identity(issuer: string, sub: string): Promise<IdentityDoc | null> {
    return this.identities.findOne({ issuer, sub });
  }

  identitiesOf(userId: ObjectId): Promise<IdentityDoc[]> {
    return this.identities.find({ userId }).sort({ createdAt: 1 }).toArray();
  }

  /** People (active unless told) matching every token, by handle, after the cursor. */
  search(filter: {
    tokens: string[];
    organizationId?: ObjectId;
    status?: 'active' | 'deactivated';
    after?: string;
    limit: number;
  }) {
    const query: Filter<UserDoc> = { status: filter.status ?? 'active' };
    if (filter.tokens.length) query.searchTokens = { $all: filter.tokens };
    if (filter.organizationId) query.organizationId = filter.organizationId;
    if (filter.after) query.handle = { $gt: filter.after };
    return this.users
      .find(query)
      .sort({ handle: 1 })
      .limit(filter.limit + 1)
      .toArray();
  }
}
