import type { Collection, ObjectId } from 'mongodb';
import type { DocumentLocks } from '../db/document.lock.js';

/** A post that shows a like count (a thread or a reply). */
interface Liked {
  _id: ObjectId;
  likeCount: number;
}

interface Waiter {
  resolve: (count: number) => void;
  reject: (err: unknown) => void;
}

interface Pending {
  collection: Collection<Liked>;
  id: ObjectId;
  waiters: Waiter[];
}

/** How often a count that could not be written (the post's lock busy, the database away) is tried again. */
const ATTEMPTS = 5;
const RETRY_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A post's like count (docs/adr/0035-likes-under-load.md). The like records (`likes`, one per person and post)
 * are the truth; the count a post shows (`likeCount`) is written from them, never added to: under the post's
 * lock (ADR 0010: FerretDB writes a post back whole), the records are counted and the count set. Writers of one
 * post in this process share these writes: while one is on its way, everyone who liked or took a like back
 * meanwhile waits for the next, which counts their records too. However many people like a post at once, a
 * process has at most one write of its count running and one waiting, instead of a queue of whole-post
 * rewrites (one per like) in which the last waited past the lock's deadline.
 */
export class LikeCounts {
  private readonly pending = new Map<string, Pending>();
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    /** How many like records a post has (ThreadRepository.likesCount). */
    readonly count: (targetId: ObjectId) => Promise<number>,
    private readonly locks: DocumentLocks,
  ) {}

  /**
   * Set the post's count from its records, in a write that starts after this call (so it counts every record
   * written before it). Resolves with the count written; rejects only once the write failed `ATTEMPTS` times.
   */
  settle<T extends Liked>(collection: Collection<T>, id: ObjectId): Promise<number> {
    const key = `${collection.collectionName}:${id.toHexString()}`;
    return new Promise<number>((resolve, reject) => {
      const entry = this.pending.get(key) ?? {
        collection: collection as unknown as Collection<Liked>,
        id,
        waiters: [],
      };
      entry.waiters.push({ resolve, reject });
      this.pending.set(key, entry);
      if (!this.running.has(key)) {
        const run = this.write(key).finally(() => this.running.delete(key));
        this.running.set(key, run);
      }
    });
  }

  private async write(key: string): Promise<void> {
    let failures = 0;
    for (let next = this.pending.get(key); next; next = this.pending.get(key)) {
      this.pending.delete(key);
      const { collection, id, waiters } = next;
      try {
        const count = await this.locks.run(this.locks.keyOf(collection, id), async () => {
          const n = await this.count(id);
          await collection.updateOne({ _id: id, likeCount: { $ne: n } }, { $set: { likeCount: n } });
          return n;
        });
        failures = 0;
        for (const w of waiters) w.resolve(count);
      } catch (err) {
        if (++failures >= ATTEMPTS) {
          for (const w of waiters) w.reject(err);
          failures = 0;
          continue;
        }
        // Tried again with whoever arrived meanwhile: a write that starts later counts their records too.
        const later = this.pending.get(key);
        this.pending.set(key, { ...next, waiters: [...waiters, ...(later?.waiters ?? [])] });
        await sleep(RETRY_MS * 2 ** (failures - 1));
      }
    }
  }
}
