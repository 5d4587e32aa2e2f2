import type { Collection, Db, ObjectId } from 'mongodb';
import { recordKeys, type RecordCache } from '../cache/record.cache.js';
import { collections } from '../db/collections.js';
import type { DocumentLocks } from '../db/document.lock.js';
import type { Repairs } from '../db/repairs.js';
import type { ThreadTimeline } from './thread.timeline.js';

/** The fields of a thread (ThreadDoc, thread.repository.ts) its writers record on it. */
interface RecordedThread {
  _id: ObjectId;
  groupId: ObjectId;
  timelineSlot: number;
  lastActivityAt: Date;
  replyCount: number;
  lostReplies?: number[];
}

/** What a reader of a thread's replies saw at one position up to the thread's head. */
export interface ReplyPositionSeen {
  n: number;
  /**
   * Whether the position's reply is there. A reply and its position are one insert (ADR 0044), so a position
   * below the head without its reply is lost for good: one a writer of an earlier release took and never
   * wrote, or one of a batch refused alone (ADR 0033).
   */
  written: boolean;
}

/** What the replies of one thread waiting for its record ask for together (`recordBump`). */
interface PendingRecord {
  thread: Pick<RecordedThread, '_id' | 'groupId'>;
  slot: number;
  at: Date;
  replyCount: number;
  /** The thread's earlier positions: retired once the new one is recorded. */
  superseded: Set<number>;
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
}

/**
 * What this process's writers of a thread record on the thread itself (its timeline position, last activity
 * and reply count), and the reply count a reader settles when a writer stopped part-way.
 */
export class ThreadWriters {
  /** Replies being written in this process, per thread (`writingReply`). */
  private readonly replyWriters = new Map<string, number>();
  /** Thread records waiting to be written, per thread (`recordBump`). */
  private readonly records = new Map<string, PendingRecord>();
  private readonly recording = new Map<string, Promise<void>>();
  /** The threads, as far as their writers' fields go. */
  private readonly threads: Collection<RecordedThread>;

  constructor(
    db: Db,
    private readonly locks: DocumentLocks,
    private readonly timeline: ThreadTimeline,
    private readonly repairs: Repairs,
    /** Threads and first pages kept for pages (ThreadRepository.kept). */
    private readonly kept: RecordCache | undefined,
  ) {
    this.threads = db.collection<RecordedThread>(collections.threads);
  }

  /**
   * Whether a writer of the thread is at work in this process: writing a reply, or recording the thread's
   * new position (`ThreadRepository.activityPage` leaves the position to it).
   */
  atWork(threadKey: string): boolean {
    return this.replyWriters.has(threadKey) || this.recording.has(threadKey);
  }

  /**
   * After `timeline.place`: record the new position (and the reply count, the last activity) on the thread,
   * under its lock (ADR 0010). The replies of one thread that arrive while its record is being written are
   * recorded together in the next write (a group commit, docs/adr/0033-posting-under-load.md): one lock and
   * one update for all of them. Retiring the thread's previous positions and the group's head hint follow
   * after the answer (`timeline.settleLater`; readers settle what a crash leaves, ADR 0019).
   */
  recordBump(
    thread: Pick<RecordedThread, '_id' | 'groupId' | 'timelineSlot'>,
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
   * not stopped part-way (docs/operations.md, "Faults"): replies written past the recorded count are counted;
   * a position below the head without its reply is lost (not counted); a position thought lost whose reply
   * is there after all counts again. The reader decides in memory and the write is a repair,
   * made after it has answered (ADR 0019); nothing is scheduled when the count is right.
   */
  settleReplyCount(
    thread: Pick<RecordedThread, '_id' | 'groupId' | 'replyCount' | 'lostReplies'>,
    head: number,
    seen: ReplyPositionSeen[],
  ): void {
    const lostBefore = new Set(thread.lostReplies ?? []);
    // Positions past the count while this process has writers of the thread at work are theirs to record
    // (a repair would only queue for the thread's lock behind them, ADR 0033).
    const behind = head > thread.replyCount && !this.replyWriters.has(thread._id.toHexString());
    const changed = behind || seen.some((p) => (lostBefore.has(p.n) ? p.written : !p.written));
    if (!changed) return;
    // One repair per page of positions (the pages of one read each settle their own, one at a time).
    this.repairs.schedule(`replies:${thread._id.toHexString()}:${seen[0]?.n ?? head}`, () =>
      this.locks.run(this.locks.keyOf(this.threads, thread._id), async () => {
        const current = await this.threads.findOne(
          { _id: thread._id },
          { projection: { replyCount: 1, lostReplies: 1 } },
        );
        if (!current) return;
        const lost = new Set(current.lostReplies ?? []);
        for (const p of seen) {
          if (p.written) lost.delete(p.n);
          else lost.add(p.n);
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
}
