import type { Collection, Db, Filter, ObjectId, UpdateResult } from 'mongodb';
import { recordKeys, type RecordCache } from '../cache/record.cache.js';
import { BatchInserter } from '../db/batch.insert.js';
import { collections } from '../db/collections.js';
import { DocumentLocks } from '../db/document.lock.js';
import { isDuplicateKey } from '../db/errors.js';
import { Repairs } from '../db/repairs.js';
import { Lru } from '../core/lru.js';
import { DenseSequence } from '../db/sequence.js';
import { SequenceAppender } from '../db/sequence.appender.js';
import type { Audience } from '../groups/group.policy.js';
import type { Rendered } from '../groups/group.repository.js';
import type { AttachmentSummary } from '../files/file.service.js';
import { ThreadTimeline, type TimelineSlot } from './thread.timeline.js';
import { LikeCounts } from './like.counts.js';
import { ThreadWriters, type ReplyPositionSeen } from './thread.writers.js';

/** What a removed post keeps in place of its content: when, by whom, and why. */
export interface Tombstone {
  at: Date;
  byUserId: ObjectId;
  byModerator: boolean;
  reason: string | null;
}

/** Where a post written on another node lives (docs/adr/0016-remote-records.md). */
export interface PostOrigin {
  /** The post's object IRI (Page or Note). */
  iri: string;
  /** Its page on its node. */
  url: string | null;
}

interface ContentBase {
  _id: ObjectId;
  groupId: ObjectId;
  authorId: ObjectId;
  body: Rendered;
  mentions: ObjectId[];
  likeCount: number;
  /**
   * Who may find it through search and feeds, copied from its group so those queries need no join: the
   * group's visibility, or `hidden` while the group is deleted. Kept in step by ThreadService.
   */
  audience: Audience;
  createdAt: Date;
  editedAt: Date | null;
  deleted: Tombstone | null;
  searchTokens: string[];
  /** Files attached when the post was written (absent on posts written before attachments). */
  attachments?: AttachmentSummary[];
  /** Only on posts written on another node. */
  origin?: PostOrigin;
  /**
   * A post written here into a group hosted on another node, until that group announces it (its
   * confirmation); shown at once, marked pending.
   */
  pending?: boolean;
}

export interface ThreadDoc extends ContentBase {
  title: string;
  pinned: boolean;
  locked: boolean;
  /** Reply positions taken so far (tombstones included): the highest reply position. */
  replyCount: number;
  /**
   * Positions whose reply was never written (its writer stopped between taking the position and writing
   * the reply), as readers found them: the thread has `replyCount` minus these replies.
   */
  lostReplies?: number[];
  lastActivityAt: Date;
  /** The thread's position in its group's timeline (ThreadTimeline). */
  timelineSlot: number;
}

export interface ReplyDoc extends ContentBase {
  threadId: ObjectId;
  parentId: ObjectId | null;
  depth: number;
  /** Position in the thread, from 1: replies are read in this order by `pos`. */
  seq: number;
  /**
   * The position's key, `"<thread>:<seq>"`, unique: a reply is written and takes its position in one insert
   * (docs/adr/0044-a-reply-is-its-position.md).
   */
  pos: string;
}

/** The number of replies a thread has: positions taken, less those whose reply was never written. */
export const replyCountOf = (thread: Pick<ThreadDoc, 'replyCount' | 'lostReplies'>): number =>
  thread.replyCount - (thread.lostReplies?.length ?? 0);

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

/** A group's pinned threads among these, latest activity first (at most 20). */
export const pinnedOf = (groupId: ObjectId, threads: ThreadDoc[]): ThreadDoc[] =>
  threads
    .filter((t) => t.pinned && t.groupId.equals(groupId))
    .sort((x, y) => y.lastActivityAt.getTime() - x.lastActivityAt.getTime())
    .slice(0, 20);

export const likeId = (targetId: ObjectId, userId: ObjectId) =>
  `${targetId.toHexString()}:${userId.toHexString()}`;

/** How many just-written posts, and for how long, `ThreadRepository.written` answers. */
const WRITTEN_KEPT = 256;
const WRITTEN_FOR_MS = 5000;

export class ThreadRepository {
  readonly threads: Collection<ThreadDoc>;
  readonly replies: Collection<ReplyDoc>;
  readonly likes: Collection<LikeDoc>;
  /** Like counts written from the like records, one write per post at a time (ADR 0035). */
  readonly likeCounts: LikeCounts;
  readonly timeline: ThreadTimeline;
  /** A thread's replies in order, each at its position (`pos`, ADR 0044). */
  readonly replySequence: DenseSequence<ReplyDoc>;
  /** Replies written with their positions by this process's writers of a thread together (ADR 0033). */
  readonly replyPositions: SequenceAppender<ReplyDoc>;
  readonly pins: Collection<PinsDoc>;
  /** Threads, replies and pins are written by several parties: only under their lock (ADR 0010). */
  readonly locks: DocumentLocks;
  private readonly threadInserts: BatchInserter<ThreadDoc>;
  /** What readers found to settle, written after they answer. */
  readonly repairs: Repairs;
  /**
   * What this process's writers of a thread record on it: its position, last activity and reply count
   * (`recordBump`, a group commit), and the reply count readers settle (`settleReplyCount`).
   */
  readonly writers: ThreadWriters;
  /** Posts this process wrote in the last few seconds, as written (`written`). */
  private readonly justWritten = new Lru<string, { doc: ThreadDoc | ReplyDoc; at: number }>(WRITTEN_KEPT);
  constructor(
    db: Db,
    /** Threads, first pages and pins kept for pages (docs/adr/0034-record-cache.md; thread.records.ts). */
    readonly kept?: RecordCache,
  ) {
    this.locks = new DocumentLocks(db);
    this.repairs = new Repairs();
    this.threads = db.collection<ThreadDoc>(collections.threads);
    this.threadInserts = new BatchInserter(this.threads);
    this.replies = db.collection<ReplyDoc>(collections.replies);
    this.likes = db.collection<LikeDoc>(collections.likes);
    this.likeCounts = new LikeCounts((targetId) => this.likesCount(targetId), this.locks);
    this.timeline = new ThreadTimeline(db, this.repairs, kept);
    this.writers = new ThreadWriters(db, this.locks, this.timeline, this.repairs, kept);
    this.replySequence = new DenseSequence(this.replies, 'pos');
    this.replyPositions = new SequenceAppender(this.replySequence, () => 0);
    this.pins = db.collection<PinsDoc>(collections.threadPins);
  }

  /**
   * Insert a new thread (false: its id was there already). Threads written at once go in one insert (a
   * group commit: a busy inbox records many, ADR 0031).
   */
  async insertThread(thread: ThreadDoc): Promise<boolean> {
    const inserted = await this.threadInserts.insert(thread);
    if (inserted) this.wrote(thread);
    return inserted;
  }

  /**
   * Write a new reply at the thread's next position (one insert: the reply and its position, ADR 0044); its
   * `seq` and `pos` are set to the position taken. Replies to one thread in this process are written
   * together (a group commit, ADR 0033). `hint`: a position known taken. A `TakenIdError` if its `_id` was.
   */
  async insertReply(reply: ReplyDoc, hint: number): Promise<void> {
    const prefix = reply.threadId.toHexString();
    reply.seq = await this.replyPositions.take(prefix, (seq, pos) => ({ ...reply, seq, pos }), { hint });
    reply.pos = this.replySequence.key(prefix, reply.seq);
    this.wrote(reply);
  }

  private wrote(doc: ThreadDoc | ReplyDoc): void {
    this.justWritten.set(doc._id.toHexString(), { doc, at: Date.now() });
  }

  /**
   * A post as this process inserted it a moment ago (null when it did not, or longer ago than a few
   * seconds): what the bridges that act on its creation render it from, with no read of what the write
   * held (docs/performance.md, "Federation: a new thread to 50 member nodes"). Later changes are not in it.
   */
  written(kind: 'threads', id: string): ThreadDoc | null;
  written(kind: 'replies', id: string): ReplyDoc | null;
  written(kind: 'threads' | 'replies', id: string): ThreadDoc | ReplyDoc | null {
    const kept = this.justWritten.get(id);
    if (!kept || Date.now() - kept.at > WRITTEN_FOR_MS) return null;
    const isThread = 'title' in kept.doc;
    return isThread === (kind === 'threads') ? kept.doc : null;
  }

  /** Put a thread at the head of its group's timeline and record the position on it. */
  async bump(thread: Pick<ThreadDoc, '_id' | 'groupId' | 'timelineSlot'>, at: Date, replyCount = 0) {
    const slot = await this.timeline.place(thread.groupId, thread._id);
    await this.writers.recordBump(thread, slot, at, replyCount);
    await this.timeline.settleLater(thread.groupId, slot, [thread.timelineSlot]);
    return slot;
  }

  /**
   * Up to `want` threads of a group from timeline position `from` down (the head when null), newest
   * activity first, pinned ones left out, each once, with the position to resume after.
   *
   * A thread's record of its position (`timelineSlot`) and the timeline agree once its writer is done.
   * When they do not, the reader decides as the writer would have (a position below a live newer one is
   * not the thread's place; a live position above the record, from a writer still at work, stopped early,
   * or two replies whose record updates crossed, is) and leaves the settling writes to `repairs`: reads
   * never wait for a thread's lock (until a repair lands, a later page may show such a thread again).
   */
  async activityPage(
    groupId: ObjectId,
    from: number | null,
    want: number,
    /** How the threads are read (a first page reads the kept ones: thread.records.ts). */
    threadsByIds = (ids: ObjectId[]) => this.threadsByIds(ids),
  ) {
    const found: { thread: ThreadDoc; position: number }[] = [];
    const seen = new Set<string>();
    for await (const slots of this.timeline.scan(groupId, from, want)) {
      // Threads are read for as many live positions as the page still needs (and a few more for those
      // left out), not for every position the scan read.
      for (let i = 0; i < slots.length && found.length < want;) {
        const chunk = slots.slice(i, i + want - found.length + 4);
        i += chunk.length;
        const byId = new Map(
          (await threadsByIds(chunk.map((s) => s.threadId))).map((t) => [t._id.toHexString(), t]),
        );
        // The positions threads record above the ones read (a writer moved them on), in one read.
        const above = chunk.flatMap((slot) => {
          const recorded = byId.get(slot.threadId.toHexString())?.timelineSlot ?? 0;
          return recorded > slot.n ? [recorded] : [];
        });
        const newer = new Map(
          (await this.timeline.slots.getMany(groupId.toHexString(), [...new Set(above)])).flatMap((s) =>
            s ? [[s.n, s] as const] : [],
          ),
        );
        for (const slot of chunk) {
          const thread = byId.get(slot.threadId.toHexString());
          if (!thread || !thread.groupId.equals(groupId) || !this.isPlace(thread, slot.n, newer)) continue;
          if (thread.pinned || seen.has(thread._id.toHexString())) continue;
          seen.add(thread._id.toHexString());
          found.push({ thread, position: slot.n });
        }
      }
      if (found.length >= want) break;
    }
    return found;
  }

  /**
   * Whether `position` is the thread's live place in the timeline (`read`: the positions threads record above
   * the ones read); a disagreement is settled later.
   */
  private isPlace(thread: ThreadDoc, position: number, read: Map<number, TimelineSlot>): boolean {
    const recorded = thread.timelineSlot;
    if (recorded === position) return true;
    const { groupId } = thread;
    if (recorded > position) {
      const newer = read.get(recorded);
      if (!newer || newer.dead) return true; // the record points nowhere live: this is the place
      // Left to this process's writers when they are about to retire it (ADR 0035).
      if (this.timeline.retiring(groupId, position)) return false;
      this.repairs.schedule(`retire:${groupId.toHexString()}:${position}`, () =>
        this.timeline.retire(groupId, position),
      );
      return false;
    }
    // A writer of the thread at work in this process records the position itself: a repair would only take
    // the thread's lock in its way (ADR 0035).
    const key = thread._id.toHexString();
    if (this.writers.atWork(key)) return true;
    this.repairs.schedule(`record:${key}`, async () => {
      if (recorded) await this.timeline.retire(groupId, recorded);
      await this.locks.update(this.threads, thread._id, { $max: { timelineSlot: position } });
      this.kept?.changed([recordKeys.thread(key), recordKeys.head(groupId.toHexString())]);
    });
    return true;
  }

  /**
   * A thread's replies by position, those after `after` (at most `limit`), read at their positions (ADR 0044);
   * with each position read up to the thread's head and whether its reply was there (`seen`, for
   * `ThreadWriters.settleReplyCount`).
   */
  async repliesInOrder(
    thread: Pick<ThreadDoc, '_id' | 'replyCount'>,
    after: number,
    limit: number,
  ): Promise<{ replies: ReplyDoc[]; head: number; seen: ReplyPositionSeen[] }> {
    const prefix = thread._id.toHexString();
    const head = await this.replySequence.head(prefix, thread.replyCount);
    const found: ReplyDoc[] = [];
    const seen: ReplyPositionSeen[] = [];
    let next = after + 1;
    while (next <= head && found.length < limit) {
      const count = Math.min(head - next + 1, limit - found.length);
      const positions = Array.from({ length: count }, (_, i) => next + i);
      const replies = await this.replySequence.getMany(prefix, positions);
      // A position without its reply was lost (ThreadWriters.settleReplyCount); there is nothing to show.
      replies.forEach((reply, i) => {
        if (reply) found.push(reply);
        seen.push({ n: positions[i]!, written: reply !== null });
      });
      next += count;
    }
    return { replies: found, head, seen };
  }

  /** Two accounts merged: the threads and replies of the one that goes are the survivor's (ADR 0010 locks). */
  async moveAuthorship(from: ObjectId, into: ObjectId): Promise<void> {
    for (const col of [this.threads, this.replies] as const) {
      await this.locks.updateEach(
        col as typeof this.replies,
        { authorId: from },
        { $set: { authorId: into } },
      );
    }
  }

  repliesByIds(ids: ObjectId[]): Promise<ReplyDoc[]> {
    return ids.length ? this.replies.find({ _id: { $in: ids } }).toArray() : Promise.resolve([]);
  }

  /** A thread or a reply by its id. */
  postById(kind: 'threads', id: ObjectId): Promise<ThreadDoc | null>;
  postById(kind: 'replies', id: ObjectId): Promise<ReplyDoc | null>;
  postById(kind: 'threads' | 'replies', id: ObjectId): Promise<ThreadDoc | ReplyDoc | null>;
  postById(kind: 'threads' | 'replies', id: ObjectId): Promise<ThreadDoc | ReplyDoc | null> {
    return this.posts(kind).findOne({ _id: id });
  }

  /** Set fields of a thread or a reply under its lock (ADR 0010), if it still matches `filter`. */
  setPost(
    kind: 'threads' | 'replies',
    id: ObjectId,
    set: Partial<ReplyDoc> & Partial<ThreadDoc>,
    filter?: Filter<ReplyDoc>,
  ): Promise<UpdateResult<ReplyDoc>> {
    return this.locks.update(this.posts(kind), id, { $set: set }, filter ? { filter } : {});
  }

  /** The post's like count written from its like records (like.counts.ts, ADR 0035). */
  settleLikeCount(kind: 'threads' | 'replies', id: ObjectId): Promise<number> {
    return this.likeCounts.settle(this.posts(kind), id);
  }

  /** A person's like of a post recorded: false when it was there already. */
  async addLike(targetId: ObjectId, userId: ObjectId): Promise<boolean> {
    try {
      await this.likes.insertOne({ _id: likeId(targetId, userId), targetId, userId, createdAt: new Date() });
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return false;
    }
  }

  /** A person's like of a post taken back: false when there was none. */
  async removeLike(targetId: ObjectId, userId: ObjectId): Promise<boolean> {
    return (await this.likes.deleteOne({ _id: likeId(targetId, userId) })).deletedCount > 0;
  }

  /** Every thread and reply of a group takes the group's audience (a change of visibility). */
  async setAudienceOfGroup(groupId: ObjectId, audience: Audience): Promise<void> {
    await this.locks.updateEach(this.threads, { groupId }, { $set: { audience } });
    await this.locks.updateEach(this.replies, { groupId }, { $set: { audience } });
  }

  /** A thread pinned in its group, or no longer. */
  async pin(thread: Pick<ThreadDoc, '_id' | 'groupId'>, pinned: boolean): Promise<void> {
    await this.locks.update(
      this.pins,
      thread.groupId,
      pinned ? { $addToSet: { threadIds: thread._id } } : { $pull: { threadIds: thread._id } },
      { upsert: true },
    );
  }

  /** Both kinds of post share the fields these writes touch. */
  private posts(kind: 'threads' | 'replies'): Collection<ReplyDoc> {
    return (kind === 'threads' ? this.threads : this.replies) as unknown as Collection<ReplyDoc>;
  }

  /** Threads and replies of public groups that stand (NodeInfo's usage; each counts a whole collection). */
  async countPublic(): Promise<{ threads: number; replies: number }> {
    const [threads, replies] = await Promise.all([
      this.threads.countDocuments({ deleted: null, audience: 'public' }),
      this.replies.countDocuments({ deleted: null, audience: 'public' }),
    ]);
    return { threads, replies };
  }

  /** How many people like a post, from its like records (`targetId` leads `target_user_unique`: ADR 0013). */
  likesCount(targetId: ObjectId): Promise<number> {
    return this.likes.countDocuments({ targetId });
  }

  /** Which of these posts the person likes, in one query. */
  likesOf(personId: ObjectId, postIds: ObjectId[]): Promise<LikeDoc[]> {
    return postIds.length
      ? this.likes.find({ _id: { $in: postIds.map((id) => likeId(id, personId)) } }).toArray()
      : Promise.resolve([]);
  }

  /** Threads by id (none asked, no query sent). */
  threadsByIds(ids: ObjectId[]): Promise<ThreadDoc[]> {
    return ids.length ? this.threads.find({ _id: { $in: ids } }).toArray() : Promise.resolve([]);
  }

  /** The newest threads matching an exact filter (equalities and bounds), served with its sort by an index. */
  newestThreads(filter: Filter<ThreadDoc>, limit: number): Promise<ThreadDoc[]> {
    return this.threads.find(filter).sort({ _id: -1 }).limit(limit).toArray();
  }

  newestReplies(filter: Filter<ReplyDoc>, limit: number): Promise<ReplyDoc[]> {
    return this.replies.find(filter).sort({ _id: -1 }).limit(limit).toArray();
  }

  /** The pinned threads of a group, latest activity first. */
  async pinnedThreads(groupId: ObjectId): Promise<ThreadDoc[]> {
    return pinnedOf(groupId, await this.threadsByIds(await this.pinnedIds(groupId)));
  }

  /** The ids of a group's pinned threads (50 at most). */
  async pinnedIds(groupId: ObjectId): Promise<ObjectId[]> {
    return ((await this.pins.findOne({ _id: groupId }))?.threadIds ?? []).slice(0, 50);
  }

  /** The ids of every thread and reply in a group (its purge). */
  async postIdsOfGroup(groupId: ObjectId): Promise<ObjectId[]> {
    const [threads, replies] = await Promise.all([
      this.threads.find({ groupId }, { projection: { _id: 1 } }).toArray(),
      this.replies.find({ groupId }, { projection: { _id: 1 } }).toArray(),
    ]);
    return [...threads, ...replies].map((d) => d._id);
  }

  /** Everything of a group's threads that is not a thread or reply document: likes, places, pins (its purge). */
  async removeGroupRecords(groupId: ObjectId, postIds: ObjectId[]): Promise<void> {
    if (postIds.length) await this.likes.deleteMany({ targetId: { $in: postIds } });
    await this.timeline.removeGroup(groupId);
    await this.pins.deleteOne({ _id: groupId });
  }

  /** Every reply, then every thread, of a group (its purge, once nothing else refers to them). */
  async removeGroupPosts(groupId: ObjectId): Promise<void> {
    await this.replies.deleteMany({ groupId });
    await this.threads.deleteMany({ groupId });
  }
}
