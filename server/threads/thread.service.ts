import { ObjectId } from 'mongodb';
import { requireParticipant, type Caller } from '../core/caller.js';
import { ConflictError, ForbiddenError, ValidationError } from '../core/errors.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { postTokens } from '../core/search-tokens.js';
import type { GroupService } from '../groups/group.service.js';
import { TakenIdError } from '../db/sequence.appender.js';
import type { PersonRepository } from '../people/person.repository.js';
import type { AttachmentSummary, FileService } from '../files/file.service.js';
import { renderWithMentions } from './mentions.js';
import { audienceOf, type Audience } from '../groups/group.policy.js';
import type { Rendered } from '../groups/group.repository.js';
import {
  type PostOrigin,
  type ReplyDoc,
  type ThreadDoc,
  type ThreadRepository,
  type Tombstone,
} from './thread.repository.js';
import type { ReplyView, ThreadView } from './thread.schemas.js';
import { ThreadViews, type Kind } from './thread.views.js';

export { decodeIdCursor, decodePosition, encodePosition } from './thread.views.js';

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
  /** The id was claimed just now (nothing can have been written with it yet). */
  fresh?: boolean | undefined;
}

/** What a person writes to start a thread (`notify: false` posts it without notifying followers). */
export interface NewThread {
  title: string;
  body: PostBody;
  attachments?: string[] | undefined;
  notify?: boolean | undefined;
}

/**
 * Threads and replies: writing, editing, tombstones, likes, pinning and locking; what is read is
 * ThreadViews' (thread.views.ts).
 */
export class ThreadService extends ThreadViews {
  constructor(
    repo: ThreadRepository,
    groups: GroupService,
    people: PersonRepository,
    private readonly events: EventBus,
    private readonly files: Pick<FileService, 'attach' | 'detach'>,
    private readonly logger?: Logger,
  ) {
    super(repo, groups, people);
  }

  private async rendered(body: PostBody): Promise<{ body: Rendered; mentions: ObjectId[] }> {
    if (typeof body !== 'string') return { body, mentions: [] };
    return renderWithMentions(body, this.people);
  }

  /** Keep every item's audience equal to its group's visibility (or hidden while the group is deleted). */
  async syncAudience(groupId: ObjectId, audience: Audience): Promise<void> {
    await this.repo.setAudienceOfGroup(groupId, audience);
  }

  async create(
    caller: Caller,
    groupHandle: string,
    input: NewThread,
    received?: Received,
  ): Promise<ThreadView> {
    const { thread, handle } = (await this.write(caller, groupHandle, input, received))!;
    return (await this.threadViews(caller, [thread], handle))[0]!;
  }

  /**
   * A thread written on another node, recorded here for its author (the inbox): the same checks and
   * writes as `create`, without reading back the view nobody asked for.
   */
  async record(
    caller: Caller,
    groupHandle: string,
    input: { title: string; body: PostBody },
    /**
     * How it is recorded; may still be being decided (its id claimed) while the group is checked: null then
     * says it is recorded already, and nothing is written.
     */
    received: Received | Promise<Received | null>,
  ): Promise<void> {
    await this.write(caller, groupHandle, input, received);
  }

  private async write(
    caller: Caller,
    groupHandle: string,
    input: NewThread,
    pending?: Received | Promise<Received | null>,
  ): Promise<{ thread: ThreadDoc; handle: string } | null> {
    const user = requireParticipant(caller);
    // A post a group hosted elsewhere announced is checked on the kept group and membership (ADR 0039): the
    // group's own node vouched for its author, and the group here is its record of that node's (ADR 0030).
    const from = pending && caller.kind === 'remote' && caller.vouched ? 'kept' : 'database';
    const [ctx, received] = await Promise.all([this.groups.load(caller, groupHandle, 'post', from), pending]);
    if (received === null) return null;
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
    // Its place at the head of the group's timeline first (taken with the group's other writers, ADR 0033),
    // so the thread is written once, with its place (no second write of the position under the thread's
    // lock); a place taken for a thread that was there already is retired at once (ADR 0031). Readers skip a
    // place whose thread is not written yet.
    const slot = await this.repo.timeline.place(ctx.group._id, _id);
    const thread: ThreadDoc = {
      _id,
      attachments,
      groupId: ctx.group._id,
      authorId: new ObjectId(user.personId),
      title: input.title,
      body,
      mentions,
      likeCount: 0,
      audience: audienceOf(ctx.group),
      createdAt: now,
      editedAt: null,
      deleted: null,
      searchTokens: postTokens(input.title, body.markdown),
      pinned: false,
      locked: false,
      replyCount: 0,
      lastActivityAt: now,
      timelineSlot: slot,
      ...this.provenance(caller, ctx.group.origin !== undefined, received),
    };
    if (!(await this.repo.insertThread(thread))) {
      const existing = await this.thread(caller, _id.toHexString(), 'read');
      // Two writers of one thread (the same post received twice at once) that took their places in one batch
      // share one (SequenceAppender): the place is retired only if it is not the written thread's.
      if (existing.thread.timelineSlot !== slot) await this.repo.timeline.retire(ctx.group._id, slot);
      return { thread: existing.thread, handle: existing.ctx.group.handle };
    }
    this.events.emit('thread.created', {
      threadId: thread._id.toHexString(),
      groupId: ctx.group._id.toHexString(),
      position: thread.timelineSlot,
      silent,
      authorId: user.personId,
      mentions: mentions.map(String),
      ...(received ? { received: true } : {}),
    });
    // Bookkeeping a reader does without, after the answer: the group's head hint (a thread has no earlier
    // place to retire; ADR 0033).
    this.repo.timeline
      .settleLater(ctx.group._id, slot, [])
      .catch((err: unknown) => this.logger?.warn({ err, group: groupHandle }, 'timeline bookkeeping failed'));
    return { thread, handle: ctx.group.handle };
  }

  /** A received post keeps its origin; a post written here into a group hosted elsewhere is pending. */
  private provenance(caller: Caller, groupElsewhere: boolean, received: Received | undefined) {
    if (received) return { origin: received.origin };
    return groupElsewhere && caller.kind === 'person' ? { pending: true } : {};
  }

  async reply(
    caller: Caller,
    threadId: string,
    input: { body: PostBody; parentId?: string | undefined; attachments?: string[] | undefined },
    received?: Received,
  ): Promise<ReplyView> {
    const written = await this.writeReply(caller, threadId, input, received);
    if ('existing' in written) return this.getReply(caller, written.existing);
    return (await this.replyViews(caller, [written.reply], true))[0]!;
  }

  /**
   * A reply written on another node, recorded here for its author (the inbox): the same checks and writes
   * as `reply`, without reading back the view nobody asked for.
   */
  async recordReply(
    caller: Caller,
    threadId: string,
    input: { body: PostBody; parentId?: string | undefined },
    received: Received,
  ): Promise<void> {
    await this.writeReply(caller, threadId, input, received);
  }

  private async writeReply(
    caller: Caller,
    threadId: string,
    input: { body: PostBody; parentId?: string | undefined; attachments?: string[] | undefined },
    received?: Received,
  ): Promise<{ reply: ReplyDoc } | { existing: string }> {
    const user = requireParticipant(caller);
    // The thread, its group and the caller's membership from the records kept in this process, each dropped
    // the moment it changes here or in another process (docs/adr/0038-kept-sessions.md): no round trip before
    // the reply's position in the usual case. Every check below runs on them.
    const { thread, ctx } = await this.thread(caller, threadId, 'post', undefined, 'kept');
    if (thread.deleted) throw new ConflictError('This thread was deleted.');
    if (thread.locked && !this.groups.can(ctx, 'moderate'))
      throw new ForbiddenError('This thread is locked.');
    let parent: ReplyDoc | null = null;
    if (input.parentId) {
      parent = await this.repo.postById('replies', new ObjectId(input.parentId));
      if (!parent?.threadId.equals(thread._id))
        throw new ValidationError('No such reply in this thread.', [
          { field: 'body.parentId', message: 'not in this thread' },
        ]);
    }
    // A received reply's id claimed just now cannot be taken: no read to find out.
    if (received && !received.fresh && (await this.repo.postById('replies', received.id)))
      return { existing: received.id.toHexString() };
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
      // The group's as checked just now, as a new thread's (a kept thread's audience may predate a change of
      // visibility, which rewrites every thread's without an event for each).
      audience: audienceOf(ctx.group),
      createdAt: now,
      editedAt: null,
      deleted: null,
      searchTokens: postTokens(null, body.markdown),
      // Set with the position the reply takes as it is written.
      seq: 0,
      pos: '',
      ...this.provenance(caller, ctx.group.origin !== undefined, received),
    };
    const writing = this.repo.writers.writingReply(thread._id);
    try {
      // The reply with its position (one insert, ADR 0044; replies to one thread in this process together,
      // ADR 0033), and the thread's new place at the head of its group's timeline (none when it holds the
      // head already, ADR 0045), written together: from here on a reader finds both, so the reply is
      // announced now.
      let slot: number;
      try {
        [, slot] = await Promise.all([
          this.repo.insertReply(reply, thread.replyCount),
          this.repo.timeline.place(thread.groupId, thread._id),
        ]);
      } catch (err) {
        // A received reply recorded meanwhile by another delivery of it.
        if (received && err instanceof TakenIdError) return { existing: received.id.toHexString() };
        throw err;
      }
      this.events.emit('reply.created', {
        replyId: reply._id.toHexString(),
        threadId: thread._id.toHexString(),
        groupId: thread.groupId.toHexString(),
        seq: reply.seq,
        authorId: user.personId,
        parentAuthorId: (parent?.authorId ?? thread.authorId).toHexString(),
        mentions: mentions.map(String),
        ...(received ? { received: true } : {}),
      });
      // Bookkeeping a reader settles by itself if it is cut short: once announced, the reply stands.
      await this.repo.writers
        .recordBump(thread, slot, now, reply.seq)
        .catch((err: unknown) => this.logger?.warn({ err, thread: threadId }, 'timeline bookkeeping failed'));
    } finally {
      writing();
    }
    return { reply };
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
    const { matchedCount } = await this.repo.setPost(kind, doc._id, set, { deleted: null });
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
    await this.repo.setPost(kind, doc._id, {
      deleted: tombstone,
      body: { markdown: '', html: '' },
      searchTokens: [],
      mentions: [],
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
    const changed = liked
      ? await this.repo.addLike(doc._id, userId)
      : await this.repo.removeLike(doc._id, userId);
    const delta = changed ? (liked ? 1 : -1) : 0;
    if (!delta) return { likeCount: await this.repo.likesCount(doc._id) };
    this.kept.likeChanged(doc._id, userId);
    // The record is the like; the post's count is written from the records after it, shared with everyone
    // who liked it meanwhile, and announced once the post shows it (pages are cached by event, ADR 0027) or
    // was given up on. The answer waits a moment for that write, never fails with it, and otherwise counts
    // the records itself (ADR 0035).
    const counted = this.repo.settleLikeCount(kind, doc._id);
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
    await this.repo.setPost('threads', thread._id, { [flag]: value });
    if (flag === 'pinned') await this.repo.pin(thread, value);
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
    const doc = await this.repo.postById(kind, id);
    if (!doc?.pending) return false;
    const { modifiedCount } = await this.repo.setPost(kind, id, { pending: false }, { pending: true });
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
