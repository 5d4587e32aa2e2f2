import { ObjectId, type Collection, type Db } from 'mongodb';
import { collections } from '../db/collections.js';
import { BatchInserter } from '../db/batch.insert.js';
import { upsertOne } from '../db/errors.js';

export type RecordKind = 'person' | 'group' | 'thread' | 'reply' | 'file';

/** `fed_iris`: another node's person, group, post or attachment (its IRI or URL) → its local record. */
export interface IriDoc {
  _id: string;
  kind: RecordKind;
  localId: ObjectId;
  at: Date;
}

/**
 * `fed_refs`: the activity something was done with, by what it is about: `follow:<group>:<person>` (the
 * Follow an Accept, Reject or Undo names), `invite:<group>:<person>`, `like:<post>:<person>`,
 * `lock:<thread>`, `pin:<thread>`.
 */
export interface RefDoc {
  _id: string;
  activity: string;
  at: Date;
}

/**
 * Where federation keeps what ties its activities to domain records (docs/adr/0016-remote-records.md).
 * Every read is by `_id`. A record's local id is chosen when its IRI is first claimed, so two
 * deliveries of the same post (an Announce of its Create, then of the post itself) make one record.
 */
export class FederationRecords {
  private readonly iris: Collection<IriDoc>;
  private readonly refs: Collection<RefDoc>;
  /** Claims made at once go in one insert (a busy inbox claims many posts: ADR 0031). */
  private readonly inserts: BatchInserter<IriDoc>;

  constructor(db: Db) {
    this.iris = db.collection<IriDoc>(collections.fedIris);
    this.inserts = new BatchInserter(this.iris);
    this.refs = db.collection<RefDoc>(collections.fedRefs);
  }

  byIri(iri: string): Promise<IriDoc | null> {
    return this.iris.findOne({ _id: iri });
  }

  /** The record for this IRI: the one claimed before, or a new id claimed now (`fresh`). */
  async claim(iri: string, kind: RecordKind): Promise<IriDoc & { fresh: boolean }> {
    const doc: IriDoc = { _id: iri, kind, localId: new ObjectId(), at: new Date() };
    if (await this.inserts.insert(doc)) return { ...doc, fresh: true };
    const existing = await this.iris.findOne({ _id: iri });
    if (!existing) throw new Error(`the record of ${iri} vanished while it was claimed`);
    return { ...existing, fresh: false };
  }

  /** Forget an IRI's record (only if it still names `localId`, when given: a claim given up). */
  async forget(iri: string, localId?: ObjectId): Promise<void> {
    await this.iris.deleteOne(localId ? { _id: iri, localId } : { _id: iri });
  }

  async ref(key: string): Promise<string | null> {
    return (await this.refs.findOne({ _id: key }))?.activity ?? null;
  }

  async setRef(key: string, activity: string): Promise<void> {
    await upsertOne(this.refs, { _id: key }, { $set: { activity, at: new Date() } });
  }

  async dropRef(key: string): Promise<void> {
    await this.refs.deleteOne({ _id: key });
  }
}

export const refKeys = {
  follow: (groupId: ObjectId | string, personId: ObjectId | string) =>
    `follow:${String(groupId)}:${String(personId)}`,
  invite: (groupId: ObjectId | string, personId: ObjectId | string) =>
    `invite:${String(groupId)}:${String(personId)}`,
  like: (postId: ObjectId | string, personId: ObjectId | string) =>
    `like:${String(postId)}:${String(personId)}`,
  lock: (threadId: ObjectId | string) => `lock:${String(threadId)}`,
  pin: (threadId: ObjectId | string) => `pin:${String(threadId)}`,
};
