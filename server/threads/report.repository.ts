import type { Collection, Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';

/** A report of a post to its group's moderators. */
export interface ReportDoc {
  _id: ObjectId;
  groupId: ObjectId;
  targetId: ObjectId;
  targetKind: 'thread' | 'reply';
  reporterId: ObjectId;
  reason: string;
  state: 'open' | 'dismissed' | 'removed';
  createdAt: Date;
  resolvedAt: Date | null;
  resolvedBy: ObjectId | null;
  note: string | null;
}

/** Reports, read by their group's moderators through the `group_state` index. */
export class ReportRepository {
  private readonly reports: Collection<ReportDoc>;

  constructor(db: Db) {
    this.reports = db.collection<ReportDoc>(collections.reports);
  }

  async insert(report: ReportDoc): Promise<void> {
    await this.reports.insertOne(report);
  }

  /** A group's reports in one state, newest first (the moderators' queue; 200 at most). */
  queue(groupId: ObjectId, state: ReportDoc['state']): Promise<ReportDoc[]> {
    return this.reports.find({ groupId, state }).sort({ createdAt: -1 }).limit(200).toArray();
  }

  /** A report of this group (null for another group's: moderators see only their own). */
  inGroup(groupId: ObjectId, id: ObjectId): Promise<ReportDoc | null> {
    return this.reports.findOne({ _id: id, groupId });
  }

  /** An open report resolved (one resolved meanwhile stays as it was). */
  async resolve(
    id: ObjectId,
    resolution: Pick<ReportDoc, 'state' | 'resolvedAt' | 'resolvedBy' | 'note'>,
  ): Promise<void> {
    await this.reports.updateOne({ _id: id, state: 'open' }, { $set: resolution });
  }

  /** Every report of a group (its purge). */
  async removeGroup(groupId: ObjectId): Promise<void> {
    await this.reports.deleteMany({ groupId });
  }
}
