import type { ObjectId } from 'mongodb';
import { recordKeys, roughBytes, throughCache } from '../cache/record.cache.js';
import { pinnedOf, type ThreadDoc, type ThreadRepository } from './thread.repository.js';

/** Which threads a group's first page shows, and where (kept as ids: the threads are records of their own). */
interface KeptHead {
  want: number;
  items: { threadId: ObjectId; position: number }[];
}

/**
 * The thread records pages are built from, kept in this process (docs/adr/0034-record-cache.md): threads by
 * id, a group's pins, which threads its first page shows, and who likes what. Reads that show a page take them from here;
 * writes read the repository. What is kept is dropped by the domain events that change it
 * (server/cache/record.bridge.ts) and by the repository's own later writes (`RecordCache.changed`).
 */
export class ThreadRecords {
  constructor(private readonly repo: ThreadRepository) {}

  private get records() {
    return this.repo.kept;
  }

  /** Threads by id: those kept, and the rest in one query (then kept). In no particular order. */
  threadsByIds(ids: ObjectId[]): Promise<ThreadDoc[]> {
    return throughCache(
      this.records,
      ids.map((id) => recordKeys.thread(id.toHexString())),
      (missing) => this.repo.threadsByIds(missing.map((i) => ids[i]!)),
      (t) => recordKeys.thread(t._id.toHexString()),
      roughBytes,
    );
  }

  /**
   * A thread as a reply is checked against: kept under `recordKeys.replyTarget`, which the bookkeeping of each
   * reply (its count, its timeline place) does not drop, so that replies to one thread in a row read it once.
   * What a reply reads of it (group, author, deleted, locked) changes only with a thread's edit, lock, pin,
   * deletion or confirmation, or an account merge, which drop it (record.bridge.ts). Its counts may be behind:
   * a hint at most.
   */
  async forReply(id: ObjectId): Promise<ThreadDoc | undefined> {
    const [thread] = await throughCache(
      this.records,
      [recordKeys.replyTarget(id.toHexString())],
      () => this.repo.threadsByIds([id]),
      (t) => recordKeys.replyTarget(t._id.toHexString()),
      roughBytes,
    );
    return thread;
  }

  /** Which of these posts the person likes: kept either way, the rest read in one query. */
  async likedBy(personId: ObjectId, postIds: ObjectId[]): Promise<Set<string>> {
    const person = personId.toHexString();
    const key = (post: string) => recordKeys.like(post, person);
    const liked = new Set<string>();
    const missing: ObjectId[] = [];
    for (const id of postIds) {
      const kept = this.records?.get<boolean>(key(id.toHexString()));
      if (kept === undefined) missing.push(id);
      else if (kept) liked.add(id.toHexString());
    }
    if (!missing.length) return liked;
    const ticket = this.records?.ticket() ?? 0;
    const found = new Set((await this.repo.likesOf(personId, missing)).map((l) => l.targetId.toHexString()));
    for (const id of missing) {
      const post = id.toHexString();
      if (found.has(post)) liked.add(post);
      this.records?.set(key(post), found.has(post), 96, ticket);
    }
    return liked;
  }

  /**
   * A like written or taken back: its event comes once the post's count is written (ADR 0035), maybe after the
   * answer; the person's next read shows their like at once.
   */
  likeChanged(postId: ObjectId, personId: ObjectId): void {
    this.records?.changed([recordKeys.like(postId.toHexString(), personId.toHexString())]);
  }

  /** The pinned threads of a group, latest activity first (`ThreadRepository.pinnedThreads`). */
  async pinnedThreads(groupId: ObjectId): Promise<ThreadDoc[]> {
    const key = recordKeys.pins(groupId.toHexString());
    let ids = this.records?.get<ObjectId[]>(key);
    if (!ids) {
      const ticket = this.records?.ticket() ?? 0;
      ids = await this.repo.pinnedIds(groupId);
      this.records?.set(key, ids, 64 + 32 * ids.length, ticket);
    }
    return pinnedOf(groupId, await this.threadsByIds(ids));
  }

  /**
   * A group's first page from the head of its timeline (`ThreadRepository.activityPage` from null): which
   * threads it shows is kept until a thread of the group is created, bumped, pinned, deleted or confirmed.
   */
  async firstPage(groupId: ObjectId, want: number): Promise<{ thread: ThreadDoc; position: number }[]> {
    const key = recordKeys.head(groupId.toHexString());
    const kept = this.records?.get<KeptHead>(key);
    if (kept?.want === want) {
      const byId = new Map(
        (await this.threadsByIds(kept.items.map((i) => i.threadId))).map((t) => [t._id.toHexString(), t]),
      );
      return kept.items.flatMap(({ threadId, position }) => {
        const thread = byId.get(threadId.toHexString());
        return thread ? [{ thread, position }] : [];
      });
    }
    const ticket = this.records?.ticket() ?? 0;
    // After a write only what it changed is read again: the timeline's head, and the threads not kept.
    const found = await this.repo.activityPage(groupId, null, want, (ids) => this.threadsByIds(ids));
    const items = found.map(({ thread, position }) => ({ threadId: thread._id, position }));
    this.records?.set(key, { want, items } satisfies KeptHead, 64 + 64 * items.length, ticket);
    return found;
  }
}
