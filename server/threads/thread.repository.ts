import type { Collection, Db, ObjectId } from 'mongodb';
import { collections } from '../db/collections.js';
import { DenseSequence, type SlotDoc } from '../db/sequence.js';
import type { GroupVisibility } from '../groups/group.policy.js';
import type { Rendered } from '../groups/group.repository.js';
import { ThreadTimeline } from './thread.timeline.js';

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
  /** Replies so far (tombstones included): the highest reply position. */
  replyCount: number;
  lastActivityAt: Date;
  /** The thread's position in its group's timeline (ThreadTimeline). */
  timelineSlot: number;
}

export interface ReplyDoc extends ContentBase {
  threadId: ObjectId;
  parentId: ObjectId | null;
  depth: number;
  /** Position in the thread, from 1: replies are read in this order by `_id` (`reply_slots`). */
  seq: number;
}

/** `reply_slots`: `_id = "<thread>:<seq>"` points at the reply at that position. */
export interface ReplySlot extends SlotDoc {
  groupId: ObjectId;
  threadId: ObjectId;
  replyId: ObjectId;
}

/** `thread_pins`: the pinned threads of a group, `_id` = the group. */
export interface PinsDoc {
  _id: ObjectId;
  threadIds: ObjectId[];
}

/** `_id` = `<target>:<person>` (likeId), so "did I like these?" is a handful of `_id` lookups. */
export interface LikeDoc {
  _id: string;
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

export const likeId = (targetId: ObjectId, userId: ObjectId) =>
  `${targetId.toHexString()}:${userId.toHexString()}`;

export class ThreadRepository {
  readonly threads: Collection<ThreadDoc>;
  readonly replies: Collection<ReplyDoc>;
  readonly likes: Collection<LikeDoc>;
  readonly reports: Collection<ReportDoc>;
  readonly timeline: ThreadTimeline;
  readonly replySlots: DenseSequence<ReplySlot>;
  readonly pins: Collection<PinsDoc>;
  constructor(db: Db) {
    this.threads = db.collection<ThreadDoc>(collections.threads);
    this.replies = db.collection<ReplyDoc>(collections.replies);
    this.likes = db.collection<LikeDoc>(collections.likes);
    this.reports = db.collection<ReportDoc>(collections.reports);
    this.timeline = new ThreadTimeline(db);
    this.replySlots = new DenseSequence(db.collection<ReplySlot>(collections.replySlots));
    this.pins = db.collection<PinsDoc>(collections.threadPins);
  }

  /** Put a thread at the head of its group's timeline and record the position on it. */
  async bump(thread: Pick<ThreadDoc, '_id' | 'groupId' | 'timelineSlot'>, at: Date, replyCount = 0) {
    const slot = await this.timeline.bump(thread.groupId, thread._id, thread.timelineSlot || null);
    await this.threads.updateOne(
      { _id: thread._id },
      { $max: { timelineSlot: slot, lastActivityAt: at, replyCount } },
    );
    return slot;
  }

  /** Everything of a group's threads that is not a thread or reply document (for the purge). */
  async removeGroupIndexes(groupId: ObjectId): Promise<void> {
    await this.timeline.removeGroup(groupId);
    await this.replySlots.collection.deleteMany({ groupId });
    await this.pins.deleteOne({ _id: groupId });
  }
}
