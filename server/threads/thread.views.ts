import { ObjectId } from 'mongodb';
import { groupScope, PEOPLE } from '../cache/cache.bridge.js';
import { requirePerson, type Caller } from '../core/caller.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { Lru } from '../core/lru.js';
import { settle } from '../core/settle.js';
import { THUMBNAIL_SOURCES, type AttachmentSummary } from '../files/file.service.js';
import type { GroupService, RecordSource } from '../groups/group.service.js';
import type { PersonRepository } from '../people/person.repository.js';
import { renderWithMentions } from './mentions.js';
import { ThreadRecords } from './thread.records.js';
import {
  replyCountOf,
  type ReplyDoc,
  type ThreadDoc,
  type ThreadRepository,
  type Tombstone,
} from './thread.repository.js';
import type { ReplyView, ThreadView } from './thread.schemas.js';
import { msg, type Message } from '../core/messages.js';

export type Kind = 'threads' | 'replies';

const attachmentView = (a: AttachmentSummary) => {
  const id = a.fileId.toHexString();
  return {
    id,
    name: a.name,
    size: a.size,
    contentType: a.contentType,
    url: `/api/v1/files/${id}/content`,
    thumbnailUrl:
      !a.unavailable && THUMBNAIL_SOURCES.includes(a.contentType) ? `/api/v1/files/${id}/thumbnail` : null,
    unavailable: a.unavailable ?? null,
  };
};

/** A position in a timeline or a thread's replies, as a page cursor: the last item shown. */
export const encodePosition = (n: number) => String(n);
export function decodePosition(cursor: string | undefined): number | undefined {
  if (!cursor) return undefined;
  if (!/^[1-9]\d{0,14}$/.test(cursor)) {
    throw new ValidationError('The cursor is not valid.', [
      { field: 'query.cursor', message: 'invalid cursor' },
    ]);
  }
  return Number(cursor);
}

/**
 * Cursors of pages newest first by `_id`: the last item's id (a cursor of the older `<ISO time>_<id>` form is
 * read by its id). Stable when new items arrive between pages.
 */
export function decodeIdCursor(cursor: string | undefined): ObjectId | undefined {
  if (!cursor) return undefined;
  const hex = cursor.includes('_') ? cursor.slice(cursor.lastIndexOf('_') + 1) : cursor;
  if (!ObjectId.isValid(hex) || hex.length !== 24) {
    throw new ValidationError('The cursor is not valid.', [
      { field: 'query.cursor', message: 'invalid cursor' },
    ]);
  }
  return new ObjectId(hex);
}

/**
 * Threads and replies as people read them: a group's pages, a thread's replies, one post, and the views every
 * answer shows. The writes are ThreadService's (thread.service.ts), which builds on these.
 */
export class ThreadViews {
  /** The records pages are built from, kept in this process (docs/adr/0034-record-cache.md). */
  protected readonly kept: ThreadRecords;

  constructor(
    protected readonly repo: ThreadRepository,
    protected readonly groups: GroupService,
    protected readonly people: PersonRepository,
  ) {
    this.kept = new ThreadRecords(repo);
  }

  /** Which group each recently used thread is in (a fact that never changes). */
  protected readonly groupOfThread = new Lru<string, ObjectId>(10_000);

  /** The distinct authors of a page, in one query (`_id` `$in`, index-served: ADR 0013). */
  private async authors(ids: ObjectId[]) {
    const distinct = [...new Set(ids.map((i) => i.toHexString()))];
    const users = await this.people.keptByIds(distinct.map((hex) => new ObjectId(hex)));
    return new Map(
      users.map((u) => [
        u._id.toHexString(),
        { handle: u.handle, displayName: u.profile.displayName ?? u.claimsName ?? u.handle },
      ]),
    );
  }

  private async likedBy(caller: Caller, ids: ObjectId[]): Promise<Set<string>> {
    if (caller.kind !== 'person' || !ids.length) return new Set();
    return this.kept.likedBy(new ObjectId(caller.personId), ids);
  }

  private tombstone(t: Tombstone | null) {
    return t ? { at: t.at.toISOString(), byModerator: t.byModerator, reason: t.reason } : null;
  }

  private body(caller: Caller, doc: ThreadDoc | ReplyDoc) {
    if (doc.deleted) return null;
    const own = caller.kind === 'person' && caller.personId === doc.authorId.toHexString();
    return own ? { html: doc.body.html, markdown: doc.body.markdown } : { html: doc.body.html };
  }

  /**
   * What threads and replies show alike: body, author (hidden on a tombstone), likes, times. `fresh`: posts
   * just written, which nobody has liked yet (no read of likes).
   */
  private async commonViews<D extends ThreadDoc | ReplyDoc>(caller: Caller, docs: D[], fresh = false) {
    const [authors, liked] = await Promise.all([
      this.authors(docs.map((d) => d.authorId)),
      fresh
        ? new Set<string>()
        : this.likedBy(
            caller,
            docs.map((d) => d._id),
          ),
    ]);
    return docs.map((d) => ({
      doc: d,
      common: {
        id: d._id.toHexString(),
        body: this.body(caller, d),
        author: d.deleted ? null : (authors.get(d.authorId.toHexString()) ?? null),
        likeCount: d.likeCount,
        likedByMe: liked.has(d._id.toHexString()),
        createdAt: d.createdAt.toISOString(),
        editedAt: d.editedAt?.toISOString() ?? null,
        deleted: this.tombstone(d.deleted),
        attachments: d.deleted ? [] : (d.attachments ?? []).map(attachmentView),
        pending: d.pending === true,
        url: d.origin?.url ?? d.origin?.iri ?? null,
      },
    }));
  }

  async threadViews(caller: Caller, docs: ThreadDoc[], groupHandle: string): Promise<ThreadView[]> {
    return (await this.commonViews(caller, docs)).map(({ doc: d, common }) => ({
      ...common,
      group: groupHandle,
      title: d.deleted ? '' : d.title,
      pinned: d.pinned,
      locked: d.locked,
      replyCount: replyCountOf(d),
      lastActivityAt: d.lastActivityAt.toISOString(),
    }));
  }

  async replyViews(caller: Caller, docs: ReplyDoc[], fresh = false): Promise<ReplyView[]> {
    return (await this.commonViews(caller, docs, fresh)).map(({ doc: d, common }) => ({
      ...common,
      threadId: d.threadId.toHexString(),
      parentId: d.parentId?.toHexString() ?? null,
      depth: d.depth,
      seq: d.seq,
    }));
  }

  /**
   * A thread and its group, if the caller may do `action` there; otherwise 404/403 as for the group. `from`:
   * the database, or the records kept in this process for a reply (the thread as a reply is checked against,
   * its group and the caller's membership: docs/adr/0034-record-cache.md, 0038), each dropped the moment it
   * changes; the checks run the same on both.
   */
  protected async thread(
    caller: Caller,
    id: string,
    action: 'read' | 'post' | 'moderate',
    notFound: string | Message = msg`No thread ${id}.`,
    from: RecordSource = 'database',
  ) {
    // A thread never changes group: once its group is known, the thread, the group and the caller's
    // membership are read together (every check still runs on what is read now).
    const known = this.groupOfThread.get(id);
    const early = known && settle(this.groups.loadById(caller, known, action, notFound, from));
    const thread =
      from === 'kept'
        ? await this.kept.forReply(new ObjectId(id))
        : await this.repo.postById('threads', new ObjectId(id));
    if (!thread) throw new NotFoundError(notFound);
    this.groupOfThread.set(id, thread.groupId);
    const ctx = early
      ? (await early)()
      : await this.groups.loadById(caller, thread.groupId, action, notFound, from);
    return { thread, ctx };
  }

  protected async content(caller: Caller, kind: Kind, id: string, action: 'read' | 'post' | 'moderate') {
    if (kind === 'threads') {
      const { thread, ctx } = await this.thread(caller, id, action);
      return { doc: thread as ThreadDoc | ReplyDoc, thread, ctx };
    }
    const reply = await this.repo.postById('replies', new ObjectId(id));
    const notFound = msg`No reply ${id}.`;
    if (!reply) throw new NotFoundError(notFound);
    // A reply the caller may not see answers as a reply that does not exist: never naming its thread.
    const { thread, ctx } = await this.thread(caller, reply.threadId.toHexString(), action, notFound);
    return { doc: reply as ThreadDoc | ReplyDoc, thread, ctx };
  }
  /** What a group's thread pages show, for their ETags and the page cache (none for an unknown handle). */
  groupPageScopes(handle: string): Promise<string[]> {
    return this.groups.pageScopes(handle);
  }

  /** What a thread's pages show (none for an unknown thread). */
  async threadPageScopes(id: string): Promise<string[]> {
    let groupId = this.groupOfThread.get(id);
    if (!groupId) {
      groupId = (await this.repo.threadsByIds([new ObjectId(id)]))[0]?.groupId;
      if (!groupId) return [];
      this.groupOfThread.set(id, groupId);
    }
    return [groupScope(groupId.toHexString()), PEOPLE];
  }

  /** A body as it would be written (mentions linked, sanitised), without writing it: the editor's preview. */
  async preview(caller: Caller, markdown: string): Promise<{ html: string }> {
    requirePerson(caller);
    return { html: (await renderWithMentions(markdown, this.people)).body.html };
  }

  async get(caller: Caller, id: string): Promise<ThreadView> {
    const { thread, ctx } = await this.thread(caller, id, 'read');
    return (await this.threadViews(caller, [thread], ctx.group.handle))[0]!;
  }

  /** One reply, as its thread's replies list it (clients refresh one after `post.edited` and the like). */
  async getReply(caller: Caller, id: string): Promise<ReplyView> {
    const { doc } = await this.content(caller, 'replies', id, 'read');
    return (await this.replyViews(caller, [doc as ReplyDoc]))[0]!;
  }

  /** Pinned threads (first page only), then newest activity first: read from the group's timeline. */
  async list(caller: Caller, groupHandle: string, page: { cursor?: string | undefined; limit: number }) {
    const after = decodePosition(page.cursor);
    // The pinned threads and the page are read at once, and shown with one read of their authors and likes.
    // The first page is built from kept records (docs/adr/0034-record-cache.md), the group and the caller's
    // membership too: every check below runs on them as on records just read.
    const read = (groupId: ObjectId) =>
      Promise.all([
        after === undefined
          ? this.kept.firstPage(groupId, page.limit + 1)
          : this.repo.activityPage(groupId, after - 1, page.limit + 1),
        after === undefined ? this.kept.pinnedThreads(groupId) : Promise.resolve([]),
      ]);
    // The handle names the group's id without a read: the page is read beside the group and the caller's
    // membership, and shown only once they allow it.
    const known = await this.groups.idOfHandle(groupHandle);
    const early = known ? settle(read(known)) : undefined;
    const ctx = await this.groups.load(caller, groupHandle, 'read', 'kept');
    const groupId = ctx.group._id;
    const [found, pinnedDocs] = early && known?.equals(groupId) ? (await early)() : await read(groupId);
    const items = found.slice(0, page.limit);
    const last = items[items.length - 1];
    const views = await this.threadViews(
      caller,
      [...pinnedDocs, ...items.map((i) => i.thread)],
      ctx.group.handle,
    );
    return {
      pinned: views.slice(0, pinnedDocs.length),
      items: views.slice(pinnedDocs.length),
      nextCursor: found.length > page.limit && last ? encodePosition(last.position) : null,
    };
  }

  /** Replies oldest first, by position; each carries its parent and depth so clients draw the tree. */
  async replies(caller: Caller, threadId: string, page: { cursor?: string | undefined; limit: number }) {
    const { thread } = await this.thread(caller, threadId, 'read');
    // One more than asked: whether there is a next page.
    const {
      replies: found,
      head,
      seen,
    } = await this.repo.repliesInOrder(thread, decodePosition(page.cursor) ?? 0, page.limit + 1);
    // The thread's reply count, settled after this answer if a writer stopped part-way (the list is right).
    this.repo.writers.settleReplyCount(thread, head, seen);
    const items = found.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items: await this.replyViews(caller, items),
      nextCursor: found.length > page.limit && last ? encodePosition(last.seq) : null,
    };
  }
}
