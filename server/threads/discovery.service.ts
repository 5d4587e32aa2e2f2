import { ObjectId, type Filter } from 'mongodb';
import { requirePerson, type Caller } from '../core/caller.js';
import { queryTokens } from '../core/search-tokens.js';
import type { GroupRepository } from '../groups/group.repository.js';
import type { ReplyDoc, ThreadDoc, ThreadRepository } from './thread.repository.js';
import type { ReplyView, ThreadView } from './thread.schemas.js';
import { decodeIdCursor, type ThreadService } from './thread.service.js';
import { newestFirst } from '../core/pages.js';

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

  private async views(caller: Caller, threads: ThreadDoc[], replies: ReplyDoc[], order: { _id: ObjectId }[]) {
    const groupIds = [...new Set([...threads, ...replies].map((d) => d.groupId.toHexString()))].map(
      (h) => new ObjectId(h),
    );
    // Everything a page shows is read at once, in one query per kind whatever the number of items.
    const threadIdsOfReplies = [...new Set(replies.map((r) => r.threadId.toHexString()))].map(
      (h) => new ObjectId(h),
    );
    const [groups, parentList, threadViews, replyViews] = await Promise.all([
      this.groupRepo.byIds(groupIds),
      this.repo.threadsByIds(threadIdsOfReplies),
      this.threads.threadViews(caller, threads, ''),
      this.threads.replyViews(caller, replies),
    ]);
    const handles = new Map(groups.map((g) => [g._id.toHexString(), g.handle]));
    const parents = new Map(parentList.map((t) => [t._id.toHexString(), t]));
    const tv = new Map<string, ThreadView>(
      threadViews.map((view, i) => [
        view.id,
        { ...view, group: handles.get(threads[i]!.groupId.toHexString()) ?? '' },
      ]),
    );
    const rv = new Map(replyViews.map((r) => [r.id, r]));
    return order.flatMap(({ _id }): FeedItem[] => {
      const key = _id.toHexString();
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
    if (!groupIds.length) return { items: [], nextCursor: null };
    return this.page(caller, [{ groupId: { $in: groupIds } }], page);
  }

  /** Threads and replies matching every word of the query, among what the searcher may read. */
  async search(caller: Caller, query: { q: string; cursor?: string | undefined; limit: number }) {
    const tokens = queryTokens(query.q);
    if (!tokens.length) return { items: [], nextCursor: null };
    const parts = (await this.groupRepo.readableParts(caller)) as Filter<ThreadDoc & ReplyDoc>[];
    return this.page(
      caller,
      parts.map((part) => ({ ...part, searchTokens: { $all: tokens } })),
      query,
    );
  }

  /**
   * Newest first (by `_id`, which grows with time), after the cursor: each part of the filter is one query per
   * collection that an index serves with its sort and limit (ADR 0013), merged here.
   */
  private async page(
    caller: Caller,
    parts: Filter<ThreadDoc & ReplyDoc>[],
    page: { cursor?: string | undefined; limit: number },
  ) {
    const before = decodeIdCursor(page.cursor);
    const filters = parts.map((part) => ({
      ...part,
      deleted: null,
      audience: part.audience ?? { $in: ['public', 'node', 'members'] },
      ...(before ? { _id: { $lt: before } } : {}),
    }));
    const [threadLists, replyLists] = await Promise.all([
      Promise.all(filters.map((f) => this.repo.newestThreads(f as Filter<ThreadDoc>, page.limit + 1))),
      Promise.all(filters.map((f) => this.repo.newestReplies(f as Filter<ReplyDoc>, page.limit + 1))),
    ]);
    const threads = threadLists.flat();
    const replies = replyLists.flat();
    const merged = newestFirst<ThreadDoc | ReplyDoc>([...threadLists, ...replyLists], page.limit + 1);
    const pageRows = merged.slice(0, page.limit);
    const keep = new Set(pageRows.map((r) => r._id.toHexString()));
    const items = await this.views(
      caller,
      threads.filter((t) => keep.has(t._id.toHexString())),
      replies.filter((r) => keep.has(r._id.toHexString())),
      pageRows,
    );
    const last = pageRows[pageRows.length - 1];
    return {
      items,
      nextCursor: merged.length > page.limit && last ? last._id.toHexString() : null,
    };
  }
}
