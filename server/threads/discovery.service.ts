import { ObjectId, type Filter } from 'mongodb';
import { requirePerson, type Caller } from '../core/caller.js';
import { queryTokens } from '../core/search-tokens.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { ReplyDoc, ThreadDoc, ThreadRepository } from './thread.repository.js';
import type { ReplyView, ThreadView } from './thread.schemas.js';
import { decodeCursor, encodeCursor, type ThreadService } from './thread.service.js';

export type FeedItem =
  { kind: 'thread'; thread: ThreadView } | { kind: 'reply'; reply: ReplyView; threadTitle: string };

/**
 * Reading across groups: the home feed (groups the person belongs to) and search (everything the
 * searcher may read). Both filter on the audience each item carries, so nothing from a group the
 * caller may not read is ever fetched.
 */
export class DiscoveryService {
  constructor(
    private readonly repo: ThreadRepository,
    private readonly groupRepo: GroupRepository,
    private readonly threads: ThreadService,
  ) {}

  private async views(caller: Caller, threads: ThreadDoc[], replies: ReplyDoc[], order: { id: ObjectId }[]) {
    const groupIds = [...new Set([...threads, ...replies].map((d) => d.groupId.toHexString()))].map(
      (h) => new ObjectId(h),
    );
    const handles = new Map(
      (await this.groupRepo.groups.find({ _id: { $in: groupIds } }).toArray()).map((g) => [
        g._id.toHexString(),
        g.handle,
      ]),
    );
    const parentIds = replies.map((r) => r.threadId);
    const parents = new Map(
      (await this.repo.threads.find({ _id: { $in: parentIds } }).toArray()).map((t) => [
        t._id.toHexString(),
        t,
      ]),
    );
    const tv = new Map<string, ThreadView>();
    for (const t of threads)
      tv.set(
        t._id.toHexString(),
        (await this.threads.threadViews(caller, [t], handles.get(t.groupId.toHexString()) ?? ''))[0]!,
      );
    const rv = new Map((await this.threads.replyViews(caller, replies)).map((r) => [r.id, r]));
    return order.flatMap(({ id }): FeedItem[] => {
      const key = id.toHexString();
      const thread = tv.get(key);
      if (thread) return [{ kind: 'thread', thread }];
      const reply = rv.get(key);
      if (!reply) return [];
      return [{ kind: 'reply', reply, threadTitle: parents.get(reply.threadId)?.title ?? '' }];
    });
  }

  /** Recent threads and replies in the groups the person belongs to, newest first. */
  async feed(caller: Caller, page: { cursor?: string | undefined; limit: number }) {
    const user = requirePerson(caller);
    const groupIds = await this.groupRepo.groupIdsOf(new ObjectId(user.personId));
    const after = decodeCursor(page.cursor);
    const filter: Filter<ThreadDoc & ReplyDoc> = {
      groupId: { $in: groupIds },
      deleted: null,
      audience: { $ne: 'hidden' },
    };
    if (after)
      filter.$or = [{ createdAt: { $lt: after.at } }, { createdAt: after.at, _id: { $lt: after.id } }];
    return this.page(caller, filter, page.limit);
  }

  /** Threads and replies matching every word of the query, among what the searcher may read. */
  async search(caller: Caller, query: { q: string; cursor?: string | undefined; limit: number }) {
    const tokens = queryTokens(query.q);
    if (!tokens.length) return { items: [], nextCursor: null };
    const readable = (await this.groupRepo.readableBy(caller)) as Filter<ThreadDoc & ReplyDoc>[];
    const after = decodeCursor(query.cursor);
    const filter: Filter<ThreadDoc & ReplyDoc> = {
      searchTokens: { $all: tokens },
      deleted: null,
      $or: readable,
    };
    if (after)
      filter.$and = [
        { $or: [{ createdAt: { $lt: after.at } }, { createdAt: after.at, _id: { $lt: after.id } }] },
      ];
    return this.page(caller, filter, query.limit);
  }

  private async page(caller: Caller, filter: Filter<ThreadDoc & ReplyDoc>, limit: number) {
    const sort = { createdAt: -1 as const, _id: -1 as const };
    const [threads, replies] = await Promise.all([
      this.repo.threads
        .find(filter as Filter<ThreadDoc>)
        .sort(sort)
        .limit(limit + 1)
        .toArray(),
      this.repo.replies
        .find(filter as Filter<ReplyDoc>)
        .sort(sort)
        .limit(limit + 1)
        .toArray(),
    ]);
    const merged = [...threads, ...replies]
      .map((d) => ({ id: d._id, at: d.createdAt }))
      .sort(
        (a, b) => b.at.getTime() - a.at.getTime() || b.id.toHexString().localeCompare(a.id.toHexString()),
      );
    const pageRows = merged.slice(0, limit);
    const keep = new Set(pageRows.map((r) => r.id.toHexString()));
    const items = await this.views(
      caller,
      threads.filter((t) => keep.has(t._id.toHexString())),
      replies.filter((r) => keep.has(r._id.toHexString())),
      pageRows,
    );
    const last = pageRows[pageRows.length - 1];
    return { items, nextCursor: merged.length > limit && last ? encodeCursor(last.at, last.id) : null };
  }
}
