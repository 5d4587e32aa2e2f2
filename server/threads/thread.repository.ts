import type { Collection, Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';
import type { GroupVisibility } from '../groups/group.policy.js';
import type { Rendered } from '../groups/group.repository.js';

/**
 * Who may find an item through search and feeds, copied from its group so those queries need no join:
 * the group's visibility, or `hidden` while the group is deleted. Kept in step by ThreadService.
 */
export type Audience = GroupVisibility | 'hidden';

export interface Tombstone {
  at: Date;
  byUserId: ObjectId;
  byModerator: boolean;
  reason: string | null;
}

interface ContentBase {
  _id: ObjectId;
  groupId: ObjectId;
  authorId: ObjectId;
  body: Rendered;
  mentions: ObjectId[];
  likeCount: number;
  audience: Audience;
  createdAt: Date;
  editedAt: Date | null;
  deleted: Tombstone | null;
  searchTokens: string[];
}

export interface ThreadDoc extends ContentBase {
  title: string;
  pinned: boolean;
  locked: boolean;
  replyCount: number;
  lastActivityAt: Date;
}

export interface ReplyDoc extends ContentBase {
  threadId: ObjectId;
  parentId: ObjectId | null;
  depth: number;
}

export interface LikeDoc {
  _id: ObjectId;
  targetId: ObjectId;
  userId: ObjectId;
  createdAt: Date;
}

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

export class ThreadRepository {
  readonly threads: Collection<ThreadDoc>;
  readonly replies: Collection<ReplyDoc>;
  readonly likes: Collection<LikeDoc>;
  readonly reports: Collection<ReportDoc>;
  constructor(db: Db) {
    this.threads = db.collection<ThreadDoc>(collections.threads);
    this.replies = db.collection<ReplyDoc>(collections.replies);
    this.likes = db.collection<LikeDoc>(collections.likes);
    this.reports = db.collection<ReportDoc>(collections.reports);
  }
}
