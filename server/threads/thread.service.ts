import { ObjectId } from 'mongodb';
import { requireUser, type Actor } from '../core/actor.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import { searchTokens } from '../core/search-tokens.js';
import type { GroupContext, GroupService } from '../groups/group.service.js';
import type { PersonRepository } from '../people/person.repository.js';
import { renderWithMentions } from './mentions.js';
import type { Audience, ReplyDoc, ThreadDoc, ThreadRepository, Tombstone } from './thread.repository.js';
import type { ReplyView, ThreadView } from './thread.schemas.js';

const DUPLICATE_KEY = 11000;
/** Deeper replies still nest under their parent, but are shown at this depth. */
export const MAX_REPLY_DEPTH = 8;

type Kind = 'threads' | 'replies';

/** Keyset cursors: `<ISO time>_<id>`, stable when new items arrive between pages. */
export const encodeCursor = (at: Date, id: ObjectId) => `${at.toISOString()}_${id.toHexString()}`;
export function decodeCursor(cursor: string | undefined): { at: Date; id: ObjectId } | undefined {
  if (!cursor) return undefined;
  const [iso, hex] = cursor.split('_');
  const at = new Date(iso ?? '');
  if (Number.isNaN(at.getTime()) || !hex || !ObjectId.isValid(hex)) {
    throw new ValidationError('The cursor is not valid.', [
      { field: 'query.cursor', message: 'invalid cursor' },
    ]);
  }
  return { at, id: new ObjectId(hex) };
}

/** Threads and replies: writing, reading, editing, tombstones, likes, pinning and locking. */
export class ThreadService {
  constructor(
    private readonly repo: ThreadRepository,
    private readonly groups: GroupService,
    private readonly people: PersonRepository,
    private readonly events: EventBus,
  ) {}

  /** Keep every item's audience equal to its group's visibility (or hidden while the group is deleted). */
  async syncAudience(groupId: ObjectId, audience: Audience): Promise<void> {
    await this.repo.threads.updateMany({ groupId }, { $set: { audience } });
    await this.repo.replies.updateMany({ groupId }, { $set: { audience } });
  }

  private async authors(ids: ObjectId[]) {
    const users = await this.people.users
      .find({ _id: { $in: [...new Set(ids.map((i) => i.toHexString()))].map((h) => new ObjectId(h)) } })
      .toArray();
    return new Map(
      users.map((u) => [
        u._id.toHexString(),
        { handle: u.handle, displayName: u.profile.displayName ?? u.claimsName ?? u.handle },
      ]),
    );
  }

  private async likedBy(actor: Actor, ids: ObjectId[]): Promise<Set<string>> {
    if (actor.kind !== 'user' || !ids.length) return new Set();
    const likes = await this.repo.likes
      .find({ userId: new ObjectId(actor.userId), targetId: { $in: ids } })
      .toArray();
    return new Set(likes.map((l) => l.targetId.toHexString()));
  }

  private tombstone(t: Tombstone | null) {
    return t ? { at: t.at.toISOString(), byModerator: t.byModerator, reason: t.reason } : null;
  }

  private body(actor: Actor, doc: ThreadDoc | ReplyDoc) {
    if (doc.deleted) return null;
    const own = actor.kind === 'user' && actor.userId === doc.authorId.toHexString();
    return own ? { html: doc.body.html, markdown: doc.body.markdown } : { html: doc.body.html };
  }

  /** What threads and replies show alike: body, author (hidden on a tombstone), likes, times. */
  private async commonViews<D extends ThreadDoc | ReplyDoc>(actor: Actor, docs: D[]) {
    const [authors, liked] = await Promise.all([
      this.authors(docs.map((d) => d.authorId)),
      this.likedBy(
        actor,
        docs.map((d) => d._id),
      ),
    ]);
    return docs.map((d) => ({
      doc: d,
      common: {
        id: d._id.toHexString(),
        body: this.body(actor, d),
        author: d.deleted ? null : (authors.get(d.authorId.toHexString()) ?? null),
        likeCount: d.likeCount,
        likedByMe: liked.has(d._id.toHexString()),
        createdAt: d.createdAt.toISOString(),
        editedAt: d.editedAt?.toISOString() ?? null,
        deleted: this.tombstone(d.deleted),
      },
    }));
  }

  async threadViews(actor: Actor, docs: ThreadDoc[], groupHandle: string): Promise<ThreadView[]> {
    return (await this.commonViews(actor, docs)).map(({ doc: d, common }) => ({
      ...common,
      group: groupHandle,
      title: d.deleted ? '' : d.title,
      pinned: d.pinned,
      locked: d.locked,
      replyCount: d.replyCount,
      lastActivityAt: d.lastActivityAt.toISOString(),
    }));
  }

  async replyViews(actor: Actor, docs: ReplyDoc[]): Promise<ReplyView[]> {
    return (await this.commonViews(actor, docs)).map(({ doc: d, common }) => ({
      ...common,
      threadId: d.threadId.toHexString(),
      parentId: d.parentId?.toHexString() ?? null,
      depth: d.depth,
    }));
  }

  /** A thread and its group, if the actor may do `action` there; otherwise 404/403 as for the group. */
  private async thread(actor: Actor, id: string, action: 'read' | 'post' | 'moderate') {
    const thread = await this.repo.threads.findOne({ _id: new ObjectId(id) });
    const notFound = `No thread ${id}.`;
    if (!thread) throw new NotFoundError(notFound);
    return { thread, ctx: await this.groups.loadById(actor, thread.groupId, action, notFound) };
  }

  private async content(actor: Actor, kind: Kind, id: string, action: 'read' | 'post' | 'moderate') {
    if (kind === 'threads') {
      const { thread, ctx } = await this.thread(actor, id, action);
      return { doc: thread as ThreadDoc | ReplyDoc, thread, ctx };
    }
    const reply = await this.repo.replies.findOne({ _id: new ObjectId(id) });
    if (!reply) throw new NotFoundError(`No reply ${id}.`);
    const { thread, ctx } = await this.thread(actor, reply.threadId.toHexString(), action);
    return { doc: reply as ThreadDoc | ReplyDoc, thread, ctx };
  }

  private collection(kind: Kind) {
    return (kind === 'threads'
      ? this.repo.threads
      : this.repo.replies) as unknown as typeof this.repo.replies;
  }

  async create(
    actor: Actor,
    groupHandle: string,
    input: { title: string; body: string },
  ): Promise<ThreadView> {
    const user = requireUser(actor);
    const ctx = await this.groups.load(actor, groupHandle, 'post');
    const { body, mentions } = await renderWithMentions(input.body, this.people);
    const now = new Date();
    const thread: ThreadDoc = {
      _id: new ObjectId(),
      groupId: ctx.group._id,
      authorId: new ObjectId(user.userId),
      title: input.title,
      body,
      mentions,
      likeCount: 0,
      audience: ctx.group.visibility,
      createdAt: now,
      editedAt: null,
      deleted: null,
      searchTokens: searchTokens(input.title, input.body),
      pinned: false,
      locked: false,
      replyCount: 0,
      lastActivityAt: now,
    };
    await this.repo.threads.insertOne(thread);
    this.events.emit('thread.created', {
      threadId: thread._id.toHexString(),
      groupId: ctx.group._id.toHexString(),
      authorId: user.userId,
      mentions: mentions.map(String),
    });
    return (await this.threadViews(actor, [thread], ctx.group.handle))[0]!;
  }

  async get(actor: Actor, id: string): Promise<ThreadView> {
    const { thread, ctx } = await this.thread(actor, id, 'read');
    return (await this.threadViews(actor, [thread], ctx.group.handle))[0]!;
  }

  /** Pinned threads (first page only), then newest activity first. */
  async list(actor: Actor, groupHandle: string, page: { cursor?: string | undefined; limit: number }) {
    const ctx = await this.groups.load(actor, groupHandle, 'read');
    const after = decodeCursor(page.cursor);
    const filter: Record<string, unknown> = { groupId: ctx.group._id, pinned: false };
    if (after)
      filter.$or = [
        { lastActivityAt: { $lt: after.at } },
        { lastActivityAt: after.at, _id: { $lt: after.id } },
      ];
    const rows = await this.repo.threads
      .find(filter)
      .sort({ lastActivityAt: -1, _id: -1 })
      .limit(page.limit + 1)
      .toArray();
    const items = rows.slice(0, page.limit);
    const pinned = after
      ? []
      : await this.repo.threads
          .find({ groupId: ctx.group._id, pinned: true })
          .sort({ lastActivityAt: -1 })
          .limit(20)
          .toArray();
    const last = items[items.length - 1];
    return {
      pinned: await this.threadViews(actor, pinned, ctx.group.handle),
      items: await this.threadViews(actor, items, ctx.group.handle),
      nextCursor: rows.length > page.limit && last ? encodeCursor(last.lastActivityAt, last._id) : null,
    };
  }

  /** Replies oldest first; each carries its parent and depth so clients draw the tree. */
  async replies(actor: Actor, threadId: string, page: { cursor?: string | undefined; limit: number }) {
    const { thread } = await this.thread(actor, threadId, 'read');
    const after = decodeCursor(page.cursor);
    const filter: Record<string, unknown> = { threadId: thread._id };
    if (after)
      filter.$or = [{ createdAt: { $gt: after.at } }, { createdAt: after.at, _id: { $gt: after.id } }];
    const rows = await this.repo.replies
      .find(filter)
      .sort({ createdAt: 1, _id: 1 })
      .limit(page.limit + 1)
      .toArray();
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items: await this.replyViews(actor, items),
      nextCursor: rows.length > page.limit && last ? encodeCursor(last.createdAt, last._id) : null,
    };
  }

  async reply(
    actor: Actor,
    threadId: string,
    input: { body: string; parentId?: string | undefined },
  ): Promise<ReplyView> {
    const user = requireUser(actor);
    const { thread, ctx } = await this.thread(actor, threadId, 'post');
    if (thread.deleted) throw new ConflictError('This thread was deleted.');
    if (thread.locked && !this.isModerator(ctx)) throw new ForbiddenError('This thread is locked.');
    let parent: ReplyDoc | null = null;
    if (input.parentId) {
      parent = await this.repo.replies.findOne({ _id: new ObjectId(input.parentId), threadId: thread._id });
      if (!parent)
        throw new ValidationError('No such reply in this thread.', [
          { field: 'body.parentId', message: 'not in this thread' },
        ]);
    }
    const { body, mentions } = await renderWithMentions(input.body, this.people);
    const now = new Date();
    const reply: ReplyDoc = {
      _id: new ObjectId(),
      groupId: thread.groupId,
      threadId: thread._id,
      parentId: parent?._id ?? null,
      depth: parent ? Math.min(parent.depth + 1, MAX_REPLY_DEPTH) : 1,
      authorId: new ObjectId(user.userId),
      body,
      mentions,
      likeCount: 0,
      audience: thread.audience,
      createdAt: now,
      editedAt: null,
      deleted: null,
      searchTokens: searchTokens(input.body),
    };
    await this.repo.replies.insertOne(reply);
    await this.repo.threads.updateOne(
      { _id: thread._id },
      { $inc: { replyCount: 1 }, $max: { lastActivityAt: now } },
    );
    this.events.emit('reply.created', {
      replyId: reply._id.toHexString(),
      threadId: thread._id.toHexString(),
      groupId: thread.groupId.toHexString(),
      authorId: user.userId,
      parentAuthorId: (parent?.authorId ?? thread.authorId).toHexString(),
      mentions: mentions.map(String),
    });
    return (await this.replyViews(actor, [reply]))[0]!;
  }

  private isModerator(ctx: GroupContext): boolean {
    const m = ctx.membership;
    return m?.state === 'active' && m.role !== 'member';
  }

  /** Authors edit their own posts while they may still post in the group. */
  async edit(
    actor: Actor,
    kind: Kind,
    id: string,
    patch: { title?: string | undefined; body?: string | undefined },
  ) {
    const user = requireUser(actor);
    const { doc, ctx } = await this.content(actor, kind, id, 'post');
    if (doc.authorId.toHexString() !== user.userId)
      throw new ForbiddenError('Only the author can edit this.');
    if (doc.deleted) throw new ConflictError('This was deleted.');
    const set: Record<string, unknown> = { editedAt: new Date() };
    if (patch.body !== undefined) {
      const { body, mentions } = await renderWithMentions(patch.body, this.people);
      set.body = body;
      set.mentions = mentions;
    }
    if (patch.title !== undefined && kind === 'threads') set.title = patch.title;
    const title = (set.title as string | undefined) ?? (doc as ThreadDoc).title;
    set.searchTokens =
      kind === 'threads'
        ? searchTokens(title, patch.body ?? doc.body.markdown)
        : searchTokens(patch.body ?? doc.body.markdown);
    await this.collection(kind).updateOne({ _id: doc._id }, { $set: set });
    this.events.emit('post.edited', {
      kind,
      id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.userId,
    });
  }

  /** Authors delete their own posts; moderators remove anyone's with a reason. Both leave a tombstone. */
  async remove(actor: Actor, kind: Kind, id: string, reason: string | undefined): Promise<void> {
    const user = requireUser(actor);
    const { doc, ctx } = await this.content(actor, kind, id, 'read');
    const own = doc.authorId.toHexString() === user.userId && ctx.membership?.state === 'active';
    const moderator = this.isModerator(ctx);
    if (!own && !moderator) throw new ForbiddenError('Only the author or a moderator can remove this.');
    if (!own && !reason)
      throw new ValidationError('Moderators give a reason when they remove a post.', [
        { field: 'body.reason', message: 'required' },
      ]);
    if (doc.deleted) return;
    const tombstone: Tombstone = {
      at: new Date(),
      byUserId: new ObjectId(user.userId),
      byModerator: !own,
      reason: own ? null : reason!,
    };
    await this.collection(kind).updateOne(
      { _id: doc._id, deleted: null },
      { $set: { deleted: tombstone, body: { markdown: '', html: '' }, searchTokens: [], mentions: [] } },
    );
    if (!own) {
      await this.groups.audit(ctx, actor, 'post.removed', doc.authorId, { kind, id, reason });
    }
    this.events.emit('post.deleted', {
      kind,
      id,
      groupId: ctx.group._id.toHexString(),
      byUserId: user.userId,
      byModerator: !own,
    });
  }

  async like(actor: Actor, kind: Kind, id: string, liked: boolean): Promise<{ likeCount: number }> {
    const user = requireUser(actor);
    const { doc, ctx } = await this.content(actor, kind, id, 'post');
    if (doc.deleted) throw new ConflictError('This was deleted.');
    const userId = new ObjectId(user.userId);
    let delta = 0;
    if (liked) {
      try {
        await this.repo.likes.insertOne({
          _id: new ObjectId(),
          targetId: doc._id,
          userId,
          createdAt: new Date(),
        });
        delta = 1;
      } catch (err) {
        if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
      }
    } else {
      delta = -(await this.repo.likes.deleteOne({ targetId: doc._id, userId })).deletedCount;
    }
    if (delta) await this.collection(kind).updateOne({ _id: doc._id }, { $inc: { likeCount: delta } });
    if (delta > 0)
      this.events.emit('post.liked', {
        kind,
        id,
        groupId: ctx.group._id.toHexString(),
        byUserId: user.userId,
        authorId: doc.authorId.toHexString(),
      });
    const fresh = await this.collection(kind).findOne({ _id: doc._id });
    return { likeCount: fresh?.likeCount ?? 0 };
  }

  async setFlag(actor: Actor, id: string, flag: 'pinned' | 'locked', value: boolean): Promise<void> {
    const { thread, ctx } = await this.thread(actor, id, 'moderate');
    await this.repo.threads.updateOne({ _id: thread._id }, { $set: { [flag]: value } });
    await this.groups.audit(
      ctx,
      actor,
      `thread.${flag === 'pinned' ? (value ? 'pinned' : 'unpinned') : value ? 'locked' : 'unlocked'}`,
      null,
      { id },
    );
    this.events.emit('thread.updated', {
      threadId: id,
      groupId: ctx.group._id.toHexString(),
      change: flag,
      value,
    });
  }
}
