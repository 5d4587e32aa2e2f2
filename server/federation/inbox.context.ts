import type { ObjectId } from 'mongodb';
import type { RemoteCaller } from '../core/caller.js';
import { ConflictError, ValidationError } from '../core/errors.js';
import type { AttachmentSummary } from '../files/file.service.js';
import type { GroupDoc } from '../groups/group.repository.js';
import type { UserDoc } from '../people/person.repository.js';
import { parseActorName } from './actor.directory.js';
import { idOf, isNode, originOf } from './as.values.js';
import type { InboxHandlerDeps } from './inbox.contract.js';
import { stripUntrusted } from './inbox.sanitize.js';
import type { PostDoc, PostKind } from './object.renderer.js';
import type { IncomingPost } from './post.content.js';

export type Json = Record<string, unknown>;
export const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
export const typeOf = (v: unknown): string | null => {
  const t = isNode(v) ? first(v.type) : null;
  return typeof t === 'string' ? t : null;
};

/**
 * What the inbox handlers share (inbox.handlers.ts, inbox.announced.ts): this node's groups and the posts an
 * IRI names, what an activity names (read without believing copies), and recording a post of another node
 * through the thread service, for its author.
 */
export function inboxContext(deps: InboxHandlerDeps) {
  const { directory, renderer, records, threads } = deps;

  /** The group hosted here (public or members-only) that an IRI names, if any. */
  const localGroup = async (iri: string | null): Promise<GroupDoc | null> => {
    const ref = iri ? parseActorName(directory.nameOf(iri) ?? '') : null;
    if (!ref || ref.kind !== 'group' || `${directory.iri(ref.name)}` !== iri) return null;
    const loaded = await directory.load(ref.name, { membersOnly: true });
    return loaded && 'group' in loaded ? loaded.group : null;
  };

  /**
   * The post an IRI names: one written here, or one recorded from another node (once it is written, when
   * this process is writing it now; `waiting: false` for the write itself).
   */
  const postOf = async (
    iri: string | null,
    waiting = true,
  ): Promise<{ kind: PostKind; doc: PostDoc } | null> => {
    if (!iri) return null;
    const local = renderer.localPost(iri);
    if (!local && waiting) await deps.writing.settled(iri);
    const known = local ? null : await records.byIri(iri);
    const kind =
      local?.kind ?? (known?.kind === 'thread' ? 'threads' : known?.kind === 'reply' ? 'replies' : null);
    const id = local?.id ?? known?.localId;
    if (!kind || !id) return null;
    const doc = await deps.threadRepo.postById(kind, id);
    return doc ? { kind, doc } : null;
  };

  const callerOf = (person: UserDoc, vouched?: RemoteCaller['vouched']): RemoteCaller => ({
    kind: 'remote',
    personId: person._id.toHexString(),
    handle: person.handle,
    actorIri: person.origin!.iri,
    ...(vouched ? { vouched } : {}),
  });

  const groupOfDoc = (doc: PostDoc) => deps.groupRepo.byId(doc.groupId);

  /**
   * An object an activity names: embedded (then already cut to what its carrier's origin vouches for),
   * one of this node's own activities, or read from its own origin (never believed from a copy).
   */
  const resolve = async (value: unknown): Promise<Json | null> => {
    const embedded = first(value);
    if (isNode(embedded) && typeof embedded.type === 'string') return embedded;
    const iri = idOf(embedded);
    if (!iri) return null;
    if (directory.isLocal(iri)) {
      const own = await deps.ownActivity(iri);
      return own ? ((await deps.apex.toJSONLD(own)) as Json) : null;
    }
    const doc = await deps.fetcher.getObject(iri);
    stripUntrusted(doc, originOf(iri), (i) => directory.isLocal(i));
    return doc;
  };

  /**
   * Record a post of another node in a group (hosted here, or mirrored from elsewhere). `recorded`: whether
   * the activity that carries it was recorded by this delivery, while it is being recorded (ADR 0039): a new
   * thread without files is claimed meanwhile and written only if it says true; any other post waits for it.
   */
  const receivePost = (
    group: GroupDoc,
    post: IncomingPost,
    author: UserDoc,
    vouched: RemoteCaller['vouched'],
    recorded: Promise<boolean> = Promise.resolve(true),
  ): Promise<void> =>
    // What arrives about the post while it is being written waits for it (`postOf`).
    deps.writing.track(post.iri, writePost(group, post, author, vouched, recorded));

  const writePost = async (
    group: GroupDoc,
    post: IncomingPost,
    author: UserDoc,
    vouched: RemoteCaller['vouched'],
    recorded: Promise<boolean>,
  ): Promise<void> => {
    const caller = callerOf(author, vouched);
    const createdAt = post.published && post.published.getTime() < Date.now() ? post.published : undefined;
    const origin = { iri: post.iri, url: post.url };
    // Copies of its files, kept before the post is written (docs/adr/0029-attachments-across-nodes.md), are
    // forgotten again if the post is refused (and was not written before), and so is the claim on its IRI
    // made for it, so a later Create of the same IRI is taken afresh.
    const forgetRefused = async (
      kind: 'threads' | 'replies',
      { localId: id, fresh }: { localId: ObjectId; fresh: boolean },
      kept: AttachmentSummary[],
    ) => {
      const posts = kind === 'threads' ? deps.threadRepo.threads : deps.threadRepo.replies;
      if (await posts.findOne({ _id: id })) return; // written before: not refused
      if (kept.length) await deps.attachments.discard(kept).catch(() => undefined);
      if (fresh) await records.forget(post.iri, id).catch(() => undefined);
    };
    const withCopies = async (
      kind: 'threads' | 'replies',
      { localId: id, fresh }: { localId: ObjectId; fresh: boolean },
      write: (attachments: AttachmentSummary[]) => Promise<unknown>,
    ) => {
      const kept = post.attachments.length
        ? await deps.attachments.receive(group, post.iri, post.attachments, author._id, { kind, id })
        : [];
      try {
        await write(kept);
      } catch (err) {
        await forgetRefused(kind, { localId: id, fresh }, kept);
        throw err;
      }
    };
    const claimThread = async () => {
      const claim = await records.claim(post.iri, 'thread');
      // Claimed before: recorded already (a second Announce of it), or its writing was cut short.
      if (!claim.fresh && (await postOf(post.iri, false))) return null;
      if (claim.kind !== 'thread') throw new ConflictError(`${post.iri} is known here as a reply.`);
      return claim;
    };
    if (!post.inReplyTo && !post.attachments.length) {
      // The claim on its IRI is taken while the thread service checks the group and the author's standing:
      // one round trip fewer before the thread is written, and each group commit of a busy inbox carries more
      // posts (ADR 0036). A refused post forgets a fresh claim, as below; one recorded already is not refused.
      const claimed = claimThread();
      try {
        await threads.record(
          caller,
          group.handle,
          { title: post.title, body: post.body },
          Promise.all([claimed, recorded]).then(
            ([claim, fresh]) =>
              (fresh && claim && { id: claim.localId, origin, createdAt, attachments: [] }) || null,
          ),
        );
      } catch (err) {
        const claim = await claimed.catch(() => undefined);
        if (claim === null) return;
        if (claim) await forgetRefused('threads', claim, []);
        throw err;
      }
      return;
    }
    if (!(await recorded)) return;
    if (!post.inReplyTo) {
      const claim = await claimThread();
      if (!claim) return;
      await withCopies('threads', claim, (attachments) =>
        threads.record(
          caller,
          group.handle,
          { title: post.title, body: post.body },
          { id: claim.localId, origin, createdAt, attachments },
        ),
      );
      return;
    }
    // Refused at once: it would wait for its own write.
    if (post.inReplyTo === post.iri)
      throw new ValidationError('A post cannot answer itself.', [
        { field: 'body.object.inReplyTo', message: 'the post itself' },
      ]);
    const parent = await postOf(post.inReplyTo);
    if (!parent || !parent.doc.groupId.equals(group._id))
      throw new ValidationError('The post answers nothing in this group.', [
        { field: 'body.object.inReplyTo', message: 'not a post of the group' },
      ]);
    const claim = await records.claim(post.iri, 'reply');
    if (!claim.fresh && (await postOf(post.iri, false))) return;
    if (claim.kind !== 'reply') throw new ConflictError(`${post.iri} is known here as a thread.`);
    const threadId =
      parent.kind === 'threads' ? parent.doc._id : (parent.doc as { threadId: ObjectId }).threadId;
    await withCopies('replies', claim, (attachments) =>
      threads.recordReply(
        caller,
        threadId.toHexString(),
        { body: post.body, ...(parent.kind === 'replies' ? { parentId: parent.doc._id.toHexString() } : {}) },
        { id: claim.localId, origin, createdAt, attachments, fresh: claim.fresh },
      ),
    );
  };

  return { localGroup, postOf, callerOf, groupOfDoc, resolve, receivePost };
}

export type InboxContext = ReturnType<typeof inboxContext>;
