import type { Collection, Db, Filter, ObjectId } from 'mongodb';
import { recordKeys, type RecordCache } from '../cache/record.cache.js';
import { BatchInserter } from '../db/batch.insert.js';
import { collections } from '../db/collections.js';
import { DocumentLocks } from '../db/document.lock.js';
import { Repairs } from '../db/repairs.js';
import { Lru } from '../core/lru.js';
import { DenseSequence, type SlotDoc } from '../db/sequence.js';
import { SequenceAppender } from '../db/sequence.appender.js';
import type { Audience } from '../groups/group.policy.js';
import type { Rendered } from '../groups/group.repository.js';
import type { AttachmentSummary } from '../files/file.service.js';
import { ThreadTimeline, type TimelineSlot } from './thread.timeline.js';
import { LikeCounts } from './like.counts.js';

/**
 * Who may find an item through search and feeds, copied from its group so those queries need no join:
 * the group's visibility, or `hidden` while the group is deleted. Kept in step by ThreadService.
 */
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
  /** Position in the thread, from 1: replies are read in this order by `_id` (`reply_slots`). */
  seq: number;
}

/** `reply_slots`: `_id = "<thread>:<seq>"` points at the reply at that position. */
export interface ReplySlot extends SlotDoc {
  groupId: ObjectId;
  threadId: ObjectId;
  replyId: ObjectId;
  /** When the position was taken (absent on positions taken before it was recorded). */
  at?: Date;
}

/**
 * A writer writes its reply right after taking its position; a position still without its reply this long
 * after it was taken belongs to a writer that stopped in between (a crash), and its reply never comes.
 */
export const LOST_REPLY_AFTER_MS = 120_000;

/** What a reader of a thread's replies saw at one position. */
export interface ReplyPositionSeen {
  slot: ReplySlot;
  /** Whether the position's reply is there. */
  written: boolean;
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

/** A group's pinned threads among these, latest activity first (at most 20). */
export const pinnedOf = (groupId: ObjectId, threads: ThreadDoc[]): ThreadDoc[] =>
  threads
    .filter((t) => t.pinned && t.groupId.equals(groupId))
    .sort((x, y) => y.lastActivityAt.getTime() - x.lastActivityAt.getTime())
    .slice(0, 20);

export const likeId = (targetId: ObjectId, userId: ObjectId) =>
  `${targetId.toHexString()}:${userId.toHexString()}`;

/** What the replies of one thread waiting for its record ask for together (`recordBump`). */
interface PendingRecord {
  thread: Pick<ThreadDoc, '_id' | 'groupId'>;
  slot: number;
  at: Date;
  replyCount: number;
  /** The thread's earlier positions: retired once the new one is recorded. */
  superseded: Set<number>;
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
}

/** How many just-written posts, and for how long, `ThreadRepository.written` answers. */
const WRITTEN_KEPT = 256;
const WRITTEN_FOR_MS = 5000;

export class ThreadRepository {
  readonly threads: Collection<ThreadDoc>;
  readonly replies: Collection<ReplyDoc>;
  readonly likes: Collection<LikeDoc>;
  /** Like counts written from the like records, one write per post at a time (ADR 0035). */
  readonly likeCounts: LikeCounts;
  readonly reports: Collection<ReportDoc>;
  readonly timeline: ThreadTimeline;
  readonly replySlots: DenseSequence<ReplySlot>;
  /** Reply positions taken by this process's writers of a thread together (ADR 0033). */
  readonly replyPositions: SequenceAppender<ReplySlot>;
  readonly pins: Collection<PinsDoc>;
  /** Threads, replies and pins are written by several parties: only under their lock (ADR 0010). */
  readonly locks: DocumentLocks;
  private readonly threadInserts: BatchInserter<ThreadDoc>;
  /** What readers found to settle, written after they answer. */
  readonly repairs: Repairs;
  /** Replies being written in this process, per thread (`writingReply`). */
  private readonly replyWriters = new Map<string, number>();
  /** Thread records waiting to be written, per thread (`recordBump`). */
  private readonly records = new Map<string, PendingRecord>();
  private readonly recording = new Map<string, Promise<void>>();
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
    this.reports = db.collection<ReportDoc>(collections.reports);
    this.timeline = new ThreadTimeline(db, this.repairs);
    this.replySlots = new DenseSequence(db.collection<ReplySlot>(collections.replySlots));
    this.replyPositions = new SequenceAppender(this.replySlots, () => 0);
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

  /** Insert a new reply (its id is new). */
  async insertReply(reply: ReplyDoc): Promise<void> {
    await this.replies.insertOne(reply);
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
    await this.recordBump(thread, slot, at, replyCount);
    await this.timeline.settleLater(thread.groupId, slot, [thread.timelineSlot]);
    return slot;
  }

  /**
   * After `timeline.place`: record the new position (and the reply count, the last activity) on the thread,
   * under its lock (ADR 0010). The replies of one thread that arrive while its record is being written are
   * recorded together in the next write (a group commit, docs/adr/0033-posting-under-load.md): one lock and
   * one update for all of them. Retiring the thread's previous positions and the group's head hint follow
   * after the answer (`timeline.settleLater`; readers settle what a crash leaves, ADR 0019).
   */
  recordBump(
    thread: Pick<ThreadDoc, '_id' | 'groupId' | 'timelineSlot'>,
    slot: number,
    at: Date,
    replyCount = 0,
  ): Promise<void> {
    const key = thread._id.toHexString();
    return new Promise<void>((resolve, reject) => {
      const pending = this.records.get(key) ?? {
        thread,
        slot: 0,
        at,
        replyCount: 0,
        superseded: new Set<number>(),
        waiters: [],
      };
      if (thread.timelineSlot) pending.superseded.add(thread.timelineSlot);
      if (pending.slot) pending.superseded.add(Math.min(pending.slot, slot));
      pending.slot = Math.max(pending.slot, slot);
      if (at > pending.at) pending.at = at;
      pending.replyCount = Math.max(pending.replyCount, replyCount);
      pending.waiters.push({ resolve, reject });
      this.records.set(key, pending);
      if (!this.recording.has(key)) {
        const run = this.writeRecords(key).finally(() => this.recording.delete(key));
        this.recording.set(key, run);
      }
    });
  }

  /**
   * A reply of this process is being written to the thread, from taking its position to recording it on the
   * thread; the returned function says it is done (`settleReplyCount` leaves the count to it meanwhile).
   */
  writingReply(threadId: ObjectId): () => void {
    const key = threadId.toHexString();
    this.replyWriters.set(key, (this.replyWriters.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.replyWriters.get(key) ?? 1) - 1;
      if (left > 0) this.replyWriters.set(key, left);
      else this.replyWriters.delete(key);
    };
  }

  /** The thread records waiting for `key`, written one batch at a time. */
  private async writeRecords(key: string): Promise<void> {
    for (let next = this.records.get(key); next; next = this.records.get(key)) {
      this.records.delete(key);
      const { thread, slot, at, replyCount, superseded, waiters } = next;
      try {
        await this.locks.update(this.threads, thread._id, {
          $max: { timelineSlot: slot, lastActivityAt: at, replyCount },
        });
        // Written after the reply was announced (and its records dropped): dropped again, everywhere.
        this.kept?.changed([recordKeys.thread(key), recordKeys.head(thread.groupId.toHexString())]);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
        continue;
      }
      this.timeline.settleLater(thread.groupId, slot, superseded).catch(() => undefined);
    }
  }

  /**
   * Settle a thread's reply count from what a reader of its replies saw, as its writers would have had they
   * not stopped part-way (docs/operations.md, "Faults"): positions taken past the recorded count are counted;
   * a position left without its reply for LOST_REPLY_AFTER_MS is lost (not counted); a position thought
   * lost whose reply is there after all counts again. The reader decides in memory and the write is a repair,
   * made after it has answered (ADR 0019); nothing is scheduled when the count is right.
   */
  settleReplyCount(
    thread: Pick<ThreadDoc, '_id' | 'groupId' | 'replyCount' | 'lostReplies'>,
    head: number,
    seen: ReplyPositionSeen[],
    now = Date.now(),
  ): void {
    const lostBefore = new Set(thread.lostReplies ?? []);
    const isLost = (p: ReplyPositionSeen) =>
      !p.written && now - (p.slot.at?.getTime() ?? 0) > LOST_REPLY_AFTER_MS;
    // Positions past the count while this process has writers of the thread at work are theirs to record
    // (a repair would only queue for the thread's lock behind them, ADR 0033).
    const behind = head > thread.replyCount && !this.replyWriters.has(thread._id.toHexString());
    const changed = behind || seen.some((p) => (lostBefore.has(p.slot.n) ? p.written : isLost(p)));
    if (!changed) return;
    // One repair per page of positions (the pages of one read each settle their own, one at a time).
    this.repairs.schedule(`replies:${thread._id.toHexString()}:${seen[0]?.slot.n ?? head}`, () =>
      this.locks.run(this.locks.keyOf(this.threads, thread._id), async () => {
        const current = await this.threads.findOne(
          { _id: thread._id },
          { projection: { replyCount: 1, lostReplies: 1 } },
        );
        if (!current) return;
        const lost = new Set(current.lostReplies ?? []);
        for (const p of seen) {
          if (p.written) lost.delete(p.slot.n);
          else if (isLost(p)) lost.add(p.slot.n);
        }
        await this.threads.updateOne(
          { _id: thread._id },
          {
            $set: {
              replyCount: Math.max(current.replyCount, head),
              lostReplies: [...lost].sort((x, y) => x - y),
            },
          },
        );
        // The thread and the pages that show it (its group's: cache.bridge.ts, followRecords).
        this.kept?.changed([
          recordKeys.thread(thread._id.toHexString()),
          recordKeys.head(thread.groupId.toHexString()),
        ]);
      }),
    );
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
    if (this.replyWriters.has(key) || this.recording.has(key)) return true;
    this.repairs.schedule(`record:${key}`, async () => {
      if (recorded) await this.timeline.retire(groupId, recorded);
      await this.locks.update(this.threads, thread._id, { $max: { timelineSlot: position } });
      this.kept?.changed([recordKeys.thread(key), recordKeys.head(groupId.toHexString())]);
    });
    return true;
  }

  /** Replies by id (none asked, no query sent). */
  /** A thread's replies by position, those after `after` (at most `limit`), read by `_id` (ADR 0006). */
  async repliesInOrder(
    thread: Pick<ThreadDoc, '_id' | 'replyCount'>,
    after: number,
    limit: number,
  ): Promise<ReplyDoc[]> {
    const prefix = thread._id.toHexString();
    const head = await this.replySlots.head(prefix, thread.replyCount);
    const found: ReplyDoc[] = [];
    let next = after + 1;
    while (next <= head && found.length < limit) {
      const count = Math.min(head - next + 1, limit - found.length);
      const slots = await this.replySlots.getMany(
        prefix,
        Array.from({ length: count }, (_, i) => next + i),
      );
      const byId = new Map(
        (await this.repliesByIds(slots.flatMap((s) => (s ? [s.replyId] : [])))).map((r) => [
          r._id.toHexString(),
          r,
        ]),
      );
      for (const slot of slots) {
        const reply = slot && byId.get(slot.replyId.toHexString());
        if (reply) found.push(reply);
      }
      next += count;
    }
    return found;
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
    const pins = await this.pins.findOne({ _id: groupId });
    return pinnedOf(groupId, await this.threadsByIds((pins?.threadIds ?? []).slice(0, 50)));
  }

  /** Everything of a group's threads that is not a thread or reply document (for the purge). */
  async removeGroupIndexes(groupId: ObjectId): Promise<void> {
    await this.timeline.removeGroup(groupId);
    await this.replySlots.collection.deleteMany({ groupId });
    await this.pins.deleteOne({ _id: groupId });
  }
}
