import { ObjectId } from 'mongodb';
import { groupScope, PEOPLE } from '../cache/cache.bridge.js';
import { requireParticipant, requirePerson, type Caller } from '../core/caller.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { postTokens } from '../core/search-tokens.js';
import { Lru } from '../core/lru.js';
import { settle } from '../core/settle.js';
import type { GroupService } from '../groups/group.service.js';
import { insertOnce, isDuplicateKey } from '../db/errors.js';
import type { PersonRepository } from '../people/person.repository.js';
import { THUMBNAIL_SOURCES, type AttachmentSummary, type FileService } from '../files/file.service.js';
import { renderWithMentions } from './mentions.js';
import type { Rendered } from '../groups/group.repository.js';
import {
  likeId,
  replyCountOf,
  type ReplyPositionSeen,
  type Audience,
  type PostOrigin,
  type ReplyDoc,
  type ThreadDoc,
  type ThreadRepository,
  type Tombstone,
} from './thread.repository.js';
import type { ReplyView, ThreadView } from './thread.schemas.js';

/**
 * How long a like's answer waits for the post's count to be written (ADR 0035): usually it is, and the answer
 * follows its event as before; past it, the answer gives the number of like records and the write lands after.
 */
const LIKE_COUNT_WAIT_MS = 2000;

/** The value of `work` if it succeeds within `ms`, otherwise undefined (its failure is handled elsewhere). */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.catch(() => undefined),
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Deeper replies still nest under their parent, but are shown at this depth. */
export const MAX_REPLY_DEPTH = 8;

type Kind = 'threads' | 'replies';

/**
 * A post's text: Markdown written here (rendered, mentions linked), or a post from another node, already
 * sanitised HTML with a plain-text `markdown` for search (server/federation/post.content.ts).
 */
export type PostBody = string | Rendered;

/** How a post written on another node is recorded: a fixed id (a retry writes nothing twice), its origin. */
export interface Received {
  id: ObjectId;
  origin: PostOrigin;
  createdAt?: Date | undefined;
  /** The copies of the files it carries, already kept (docs/adr/0029-attachments-across-nodes.md). */
  attachments?: AttachmentSummary[] | undefined;
}

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

/** Threads and replies: writing, reading, editing, tombstones, likes, pinning and locking. */
export class ThreadService {
  constructor(
    private readonly repo: ThreadRepository,
    private readonly groups: GroupService,
    private readonly people: PersonRepository,
    private readonly events: EventBus,
    private readonly files: Pick<FileService, 'attach' | 'detach'>,
    private readonly logger?: Logger,
  ) {}

  private async rendered(body: PostBody): Promise<{ body: Rendered; mentions: ObjectId[] }> {
    if (typeof body !== 'string') return { body, mentions: [] };
    return renderWithMentions(body, this.people);
  }

  /** Which group each recently used thread is in (a fact that never changes). */
  private readonly groupOfThread = new Lru<string, ObjectId>(10_000);

  /** Keep every item's audience equal to its group's visibility (or hidden while the group is deleted). */
  async syncAudience(groupId: ObjectId, audience: Audience): Promise<void> {
    await this.repo.locks.updateEach(this.repo.threads, { groupId }, { $set: { audience } });
    await this.repo.locks.updateEach(this.repo.replies, { groupId }, { $set: { audience } });
  }

  /** The distinct authors of a page, in one query (`_id` `$in`, index-served: ADR 0013). */
  private async authors(ids: ObjectId[]) {
    const distinct = [...new Set(ids.map((i) => i.toHexString()))];
    const users = await this.people.byIds(distinct.map((hex) => new ObjectId(hex)));
    return new Map(
      users.map((u) => [
        u._id.toHexString(),
        { handle: u.handle, displayName: u.profile.displayName ?? u.claimsName ?? u.handle },
      ]),
    );
  }

  private async likedBy(caller: Caller, ids: ObjectId[]): Promise<Set<string>> {
    if (caller.kind !== 'person' || !ids.length) return new Set();
    const likes = await this.repo.likesOf(new ObjectId(caller.personId), ids);
    return new Set(likes.map((l) => l.targetId.toHexString()));
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

  /** A thread and its group, if the caller may do `action` there; otherwise 404/403 as for the group. */
  private async thread(
    caller: Caller,
    id: string,
    action: 'read' | 'post' | 'moderate',
    notFound = `No thread ${id}.`,
  ) {
    // A thread never changes group: once its group is known, the thread, the group and the caller's
    // membership are read together (every check still runs on what is read now).
    const known = this.groupOfThread.get(id);
    const early = known && settle(this.groups.loadById(caller, known, action, notFound));
    const thread = await this.repo.threads.findOne({ _id: new ObjectId(id) });
    if (!thread) throw new NotFoundError(notFound);
    this.groupOfThread.set(id, thread.groupId);
    const ctx = early
      ? (await early)()
      : await this.groups.loadById(caller, thread.groupId, action, notFound);
    return { thread, ctx };
  }

  private async content(caller: Caller, kind: Kind, id: string, action: 'read' | 'post' | 'moderate') {
    if (kind === 'threads') {
      const { thread, ctx } = await this.thread(caller, id, action);
      return { doc: thread as ThreadDoc | ReplyDoc, thread, ctx };
    }
    const reply = await this.repo.replies.findOne({ _id: new ObjectId(id) });
    const notFound = `No reply ${id}.`;
    if (!reply) throw new NotFoundError(notFound);
    // A reply the caller may not see answers as a reply that does not exist: never naming its thread.
    const { thread, ctx } = await this.thread(caller, reply.threadId.toHexString(), action, notFound);
    return { doc: reply as ThreadDoc | ReplyDoc, thread, ctx };
  }

  private collection(kind: Kind) {
    return (kind === 'threads'
      ? this.repo.threads
      : this.repo.replies) as unknown as typeof this.repo.replies;
  }

  async create(
    caller: Caller,
    groupHandle: string,
    input: {
      title: string;
      body: PostBody;
      attachments?: string[] | undefined;
      notify?: boolean | undefined;
    },
    received?: Received,
  ): Promise<ThreadView> {
    const user = requireParticipant(caller);
    const ctx = await this.groups.load(caller, groupHandle, 'post');
    const silent = input.notify === false;
    if (silent && !['owner', 'admin'].includes(ctx.membership?.role ?? ''))
      throw new ForbiddenError("Only the group's owner and admins can post without notifying.");
    const { body, mentions } = await this.rendered(input.body);
    const now = received?.createdAt ?? new Date();
    const _id = received?.id ?? new ObjectId();
    const attachments = received
      ? (received.attachments ?? [])
      : input.attachments?.length
        ? await this.files.attach(caller, ctx.group._id, input.attachments, { kind: 'threads', id: _id })
        : [];
    const thread: ThreadDoc = {
      _id,
      attachments,
      groupId: ctx.group._id,
      authorId: new ObjectId(user.personId),
      title: input.title,
      body,
      mentions,
      likeCount: 0,
      audience: ctx.group.visibility,
      createdAt: now,
      editedAt: null,
      deleted: null,
      searchTokens: postTokens(input.title, body.markdown),
      pinned: false,
      locked: false,
      replyCount: 0,
      lastActivityAt: now,
      timelineSlot: 0,
      ...this.provenance(caller, ctx.group.origin !== undefined, received),
    };
    if (!(await insertOnce(this.repo.threads, thread))) return this.get(caller, _id.toHexString());
    thread.timelineSlot = await this.repo.bump(thread, now);
    this.events.emit('thread.created', {
      threadId: thread._id.toHexString(),
      groupId: ctx.group._id.toHexString(),
      position: thread.timelineSlot,
      silent,
      authorId: user.personId,
      mentions: mentions.map(String),
    });
    return (await this.threadViews(caller, [thread], ctx.group.handle))[0]!;
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

  /** A received post keeps its origin; a post written here into a group hosted elsewhere is pending. */
  private provenance(caller: Caller, groupElsewhere: boolean, received: Received | undefined) {
    if (received) return { origin: received.origin };
    return groupElsewhere && caller.kind === 'person' ? { pending: true } : {};
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
    const read = (groupId: ObjectId) =>
      Promise.all([
        this.repo.activityPage(groupId, after === undefined ? null : after - 1, page.limit + 1),
        after === undefined ? this.repo.pinnedThreads(groupId) : Promise.resolve([]),
      ]);
    // The handle names the group's id without a read: the page is read beside the group and the caller's
    // membership, and shown only once they allow it.
    const known = await this.groups.idOfHandle(groupHandle);
    const early = known ? settle(read(known)) : undefined;
    const ctx = await this.groups.load(caller, groupHandle, 'read');
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
    const prefix = thread._id.toHexString();
    const head = await this.repo.replySlots.head(prefix, thread.replyCount);
    const found: ReplyDoc[] = [];
    const seen: ReplyPositionSeen[] = [];
    let next = (decodePosition(page.cursor) ?? 0) + 1;
    while (next <= head && found.length <= page.limit) {
      const count = Math.min(head - next + 1, page.limit + 1 - found.length);
      const positions = Array.from({ length: count }, (_, i) => next + i);
      const slots = await this.repo.replySlots.getMany(prefix, positions);
      const byId = new Map(
        (await this.repo.repliesByIds(slots.flatMap((s) => (s ? [s.replyId] : [])))).map((r) => [
          r._id.toHexString(),
          r,
        ]),
      );
      // A position whose reply is missing was taken by a write that failed; there is nothing to show.
      for (const slot of slots) {
        const reply = slot && byId.get(slot.replyId.toHexString());
        if (reply) found.push(reply);
        if (slot) seen.push({ slot, written: Boolean(reply) });
      }
      next += count;
    }
    // The thread's reply count, settled after this answer if a writer stopped part-way (the list is right).
    this.repo.settleReplyCount(thread, head, seen);
    const items = found.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items: await this.replyViews(caller, items),
      nextCursor: found.length > page.limit && last ? encodePosition(last.seq) : null,
    };
  }

  async reply(
    caller: Caller,
    threadId: string,
    input: { body: PostBody; parentId?: string | undefined; attachments?: string[] | undefined },
    received?: Received,
  ): Promise<ReplyView> {
    const user = requireParticipant(caller);
    const { thread, ctx } = await this.thread(caller, threadId, 'post');
    if (thread.deleted) throw new ConflictError('This thread was deleted.');
    if (thread.locked && !this.groups.can(ctx, 'moderate'))
      throw new ForbiddenError('This thread is locked.');
    let parent: ReplyDoc | null = null;
    if (input.parentId) {
      parent = await this.repo.replies.findOne({ _id: new ObjectId(input.parentId) });
      if (!parent?.threadId.equals(thread._id))
        throw new ValidationError('No such reply in this thread.', [
          { field: 'body.parentId', message: 'not in this thread' },
        ]);
    }
    if (received && (await this.repo.replies.findOne({ _id: received.id })))
      return this.getReply(caller, received.id.toHexString());
    const { body, mentions } = await this.rendered(input.body);
    const now = received?.createdAt ?? new Date();
    const replyId = received?.id ?? new ObjectId();
    const attachments = received
      ? (received.attachments ?? [])
      : input.attachments?.length
        ? await this.files.attach(caller, thread.groupId, input.attachments, { kind: 'replies', id: replyId })
        : [];
    const reply: ReplyDoc = {
      _id: replyId,
      attachments,
      groupId: thread.groupId,
      threadId: thread._id,
      parentId: parent?._id ?? null,
      depth: parent ? Math.min(parent.depth + 1, MAX_REPLY_DEPTH) : 1,
      authorId: new ObjectId(user.personId),
      body,
      mentions,
      likeCount: 0,
      audience: thread.audience,
      createdAt: now,
      editedAt: null,
      deleted: null,
      searchTokens: postTokens(null, body.markdown),
      seq: 0,
      ...this.provenance(caller, ctx.group.origin !== undefined, received),
    };
    const writing = this.repo.writingReply(thread._id);
    try {
      // Replies to one thread in this process take their positions together (ADR 0033).
      reply.seq = await this.repo.replyPositions.take(
        thread._id.toHexString(),
        (n, _id) => ({
          _id,
          n,
          groupId: thread.groupId,
          threadId: thread._id,
          replyId: reply._id,
          at: new Date(),
        }),
        { hint: thread.replyCount },
      );
      // The reply, and the thread's new place at the head of its group's timeline, written together: from
      // here on a reader finds both, so the reply is announced now.
      const [, slot] = await Promise.all([
        this.repo.replies.insertOne(reply),
        this.repo.timeline.place(thread.groupId, thread._id),
      ]);
      this.events.emit('reply.created', {
        replyId: reply._id.toHexString(),
        threadId: thread._id.toHexString(),
        groupId: thread.groupId.toHexString(),
        seq: reply.seq,
        authorId: user.personId,
        parentAuthorId: (parent?.authorId ?? thread.authorId).toHexString(),
        mentions: mentions.map(String),
      });
      // Bookkeeping a reader settles by itself if it is cut short: once announced, the reply stands.
      await this.repo
        .recordBump(thread, slot, now, reply.seq)
        .catch((err: unknown) => this.logger?.warn({ err, thread: threadId }, 'timeline bookkeeping failed'));
    } finally {
      writing();
    }
    return (await this.replyViews(caller, [reply], true))[0]!;
  }

  /** Authors edit their own posts while they may still post in the group. */
  async edit(
    caller: Caller,
    kind: Kind,
    id: string,
    patch: { title?: string | undefined; body?: PostBody | undefined },
  ) {
    const user = requireParticipant(caller);
    const { doc, ctx, thread } = await this.content(caller, kind, id, 'post');
    if (doc.authorId.toHexString() !== user.personId)
      throw new ForbiddenError('Only the author can edit this.');
    if (doc.deleted) throw new ConflictError('This was deleted.');
    const set: Record<string, unknown> = { editedAt: new Date() };
    let text = doc.body.markdown;
    if (patch.body !== undefined) {
      const { body, mentions } = await this.rendered(patch.body);
      set.body = body;
      set.mentions = mentions;
      text = body.markdown;
    }
    if (patch.title !== undefined && kind === 'threads') set.title = patch.title;
    const title = (set.title as string | undefined) ?? (doc as ThreadDoc).title;
    set.searchTokens = kind === 'threads' ? postTokens(title, text) : postTokens(null, text);
    // A removal by a moderator meanwhile wins: the removed text is not written back.
    const { matchedCount } = await this.repo.locks.update(
      this.collection(kind),
      doc._id,
      { $set: set },
      {
        filter: { deleted: null },
      },
    );
    if (!matchedCount) throw new ConflictError('This was deleted.');
    this.events.emit('post.edited', {
      kind,
      id,
      threadId: thread._id.toHexString(),
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
    });
  }

  /** Authors delete their own posts; moderators remove anyone's with a reason. Both leave a tombstone. */
  async remove(caller: Caller, kind: Kind, id: string, reason: string | undefined): Promise<void> {
    const user = requireParticipant(caller);
    const { doc, ctx, thread } = await this.content(caller, kind, id, 'read');
    const own = doc.authorId.toHexString() === user.personId && ctx.membership?.state === 'active';
    const moderator = this.groups.can(ctx, 'moderate');
    if (!own && !moderator) throw new ForbiddenError('Only the author or a moderator can remove this.');
    if (!own && !reason)
      throw new ValidationError('Moderators give a reason when they remove a post.', [
        { field: 'body.reason', message: 'required' },
      ]);
    if (doc.deleted) return;
    const tombstone: Tombstone = {
      at: new Date(),
      byUserId: new ObjectId(user.personId),
      byModerator: !own,
      reason: own ? null : reason!,
    };
    await this.repo.locks.update(this.collection(kind), doc._id, {
      $set: { deleted: tombstone, body: { markdown: '', html: '' }, searchTokens: [], mentions: [] },
    });
    if (doc.attachments?.length) await this.files.detach(doc.attachments, new ObjectId(user.personId));
    if (!own) {
      await this.groups.audit(ctx, caller, 'post.removed', doc.authorId, { kind, id, reason });
    }
    this.events.emit('post.deleted', {
      kind,
      id,
      threadId: thread._id.toHexString(),
      groupId: ctx.group._id.toHexString(),
      byUserId: user.personId,
      byModerator: !own,
    });
  }

  async like(caller: Caller, kind: Kind, id: string, liked: boolean): Promise<{ likeCount: number }> {
    const user = requireParticipant(caller);
    const { doc, ctx, thread } = await this.content(caller, kind, id, 'post');
    if (doc.deleted) throw new ConflictError('This was deleted.');
    const userId = new ObjectId(user.personId);
    let delta = 0;
    if (liked) {
      try {
        await this.repo.likes.insertOne({
          _id: likeId(doc._id, userId),
          targetId: doc._id,
          userId,
          createdAt: new Date(),
        });
        delta = 1;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    } else {
      delta = -(await this.repo.likes.deleteOne({ _id: likeId(doc._id, userId) })).deletedCount;
    }
    if (!delta) return { likeCount: await this.repo.likesCount(doc._id) };
    // The record is the like; the post's count is written from the records after it, shared with everyone
    // who liked it meanwhile, and announced once the post shows it (pages are cached by event, ADR 0027) or
    // was given up on. The answer waits a moment for that write, never fails with it, and otherwise counts
    // the records itself (ADR 0035).
    const counted = this.repo.likeCounts.settle(this.collection(kind), doc._id);
    const about = { kind, id, threadId: thread._id.toHexString(), groupId: ctx.group._id.toHexString() };
    const announce = () => {
      if (delta > 0)
        this.events.emit('post.liked', {
          ...about,
          byUserId: user.personId,
          authorId: doc.authorId.toHexString(),
        });
      else this.events.emit('post.unliked', { ...about, byUserId: user.personId });
    };
    void counted.then(announce, (err: unknown) => {
      this.logger?.warn({ err, post: id }, 'like count not written; the next like of the post writes it');
      announce();
    });
    const written = await within(counted, LIKE_COUNT_WAIT_MS);
    return { likeCount: written ?? (await this.repo.likesCount(doc._id)) };
  }

  async setFlag(caller: Caller, id: string, flag: 'pinned' | 'locked', value: boolean): Promise<void> {
    const user = requireParticipant(caller);
    const { thread, ctx } = await this.thread(caller, id, 'moderate');
    await this.repo.locks.update(this.repo.threads, thread._id, { $set: { [flag]: value } });
    if (flag === 'pinned') {
      await this.repo.locks.update(
        this.repo.pins,
        thread.groupId,
        value ? { $addToSet: { threadIds: thread._id } } : { $pull: { threadIds: thread._id } },
        { upsert: true },
      );
    }
    await this.groups.audit(
      ctx,
      caller,
      `thread.${flag === 'pinned' ? (value ? 'pinned' : 'unpinned') : value ? 'locked' : 'unlocked'}`,
      null,
      { id },
    );
    this.events.emit('thread.updated', {
      threadId: id,
      groupId: ctx.group._id.toHexString(),
      change: flag,
      value,
      byUserId: user.personId,
    });
  }

  /**
   * The group hosting a post written here announced it: it is no longer pending (the system, on the
   * group's word; docs/adr/0016-remote-records.md). Nothing happens to a post that is not pending.
   */
  async confirm(kind: Kind, id: ObjectId): Promise<boolean> {
    const doc = await this.collection(kind).findOne({ _id: id });
    if (!doc?.pending) return false;
    const { modifiedCount } = await this.repo.locks.update(
      this.collection(kind),
      id,
      { $set: { pending: false } },
      { filter: { pending: true } },
    );
    if (!modifiedCount) return false;
    const threadId = kind === 'threads' ? id : (doc as ReplyDoc).threadId;
    this.events.emit('post.confirmed', {
      kind,
      id: id.toHexString(),
      threadId: threadId.toHexString(),
      groupId: doc.groupId.toHexString(),
    });
    return true;
  }
}
