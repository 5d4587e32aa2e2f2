import type { Collection, Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';
import { insertOnce } from '../db/errors.js';
import type { NodeSettingsOverrides } from './settings.schemas.js';

/**
 * One document per change, never updated: `_id` is the revision number, zero-padded so ids sort as numbers.
 * Taking revision n+1 is an insert (the one atomic write on FerretDB too), so of two administrators saving at
 * once exactly one gets it; the other reads again and applies its change on top. The documents are the
 * audit log as well: who, when, what changed, and every value set through the API at that revision.
 */
export interface SettingsRevisionDoc {
  _id: string;
  revision: number;
  at: Date;
  by: { personId: ObjectId; handle: string } | null;
  changes: { field: string; from: unknown; to: unknown }[];
  overrides: NodeSettingsOverrides;
}

const keyOf = (revision: number) => `r${String(revision).padStart(12, '0')}`;

export class SettingsRepository {
  private readonly revisions: Collection<SettingsRevisionDoc>;

  constructor(db: Db) {
    this.revisions = db.collection<SettingsRevisionDoc>(collections.nodeSettings);
  }

  /** The newest revision (at boot; afterwards each process asks only for the next one, by `_id`). */
  latest(): Promise<SettingsRevisionDoc | null> {
    return this.revisions.find().sort({ _id: -1 }).limit(1).next();
  }

  revision(n: number): Promise<SettingsRevisionDoc | null> {
    return this.revisions.findOne({ _id: keyOf(n) });
  }

  /** False when another writer took this revision first. */
  insert(doc: Omit<SettingsRevisionDoc, '_id'>): Promise<boolean> {
    return insertOnce(this.revisions, { _id: keyOf(doc.revision), ...doc });
  }

  /** Newest first, older than `before` when given. */
  history(limit: number, before?: number): Promise<SettingsRevisionDoc[]> {
    return this.revisions
      .find(before ? { _id: { $lt: keyOf(before) } } : {})
      .sort({ _id: -1 })
      .limit(limit)
      .toArray();
  }
}
