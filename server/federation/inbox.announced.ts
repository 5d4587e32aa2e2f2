import { ForbiddenError, ValidationError } from '../core/errors.js';
import type { RemoteCaller } from '../core/caller.js';
import type { GroupDoc } from '../groups/group.repository.js';
import { idOf, originOf } from './as.values.js';
import { first, typeOf, type InboxContext, type Json } from './inbox.context.js';
import type { InboxHandlerDeps } from './inbox.contract.js';
import type { moderationHandlers } from './inbox.moderation.js';
import { POST_TYPES, readPost } from './post.content.js';

/** How deep a reply's unknown parents are read from their nodes before it is placed. */
const MAX_PARENT_DEPTH = 4;

/**
 * What a group hosted on another node announced, applied here (docs/federation.md, "What member nodes
 * accept from a group"): with the standing the group vouches for its actor (ADR 0016), after checking that
 * the activity is on its actor's origin and about the announcing group.
 */
export function announcedApplier(
  deps: InboxHandlerDeps,
  ctx: InboxContext,
  moderation: Pick<ReturnType<typeof moderationHandlers>, 'endMembership'>,
) {
  const { directory, remote, threads } = deps;
  const { postOf, callerOf, resolve, receivePost } = ctx;

  /** The standing a group hosted elsewhere gives an actor in what it announces. */
  const vouchedFor = (group: GroupDoc, actorIri: string): RemoteCaller['vouched'] => ({
    groupId: group._id.toHexString(),
    role: group.origin!.moderators.includes(actorIri) ? 'moderator' : 'member',
  });

  /**
   * Record a post a group hosted elsewhere announced (and the parents it answers, read from their nodes).
   * `recorded`: whether the Announce was recorded by this delivery, while it is being recorded (ADR 0039).
   */
  const mirrorPost = async (
    group: GroupDoc,
    object: Json,
    depth = 0,
    recorded?: Promise<boolean>,
  ): Promise<void> => {
    const post = readPost(object);
    // A post recorded already is found by its claim (receivePost): no read of its record first (ADR 0031).
    if (!post.attributedTo || originOf(post.attributedTo) !== originOf(post.iri))
      throw new ForbiddenError('A post is attributed to an actor of its own origin.');
    if (!post.inReplyTo && !post.addressed.includes(group.origin!.iri))
      throw new ForbiddenError('The announced thread is not addressed to the group.');
    // Only a new thread without files is written under its claim alone; anything else waits for the record.
    if (recorded && (post.inReplyTo || post.attachments.length) && !(await recorded)) return;
    if (post.inReplyTo && !(await postOf(post.inReplyTo))) {
      if (depth >= MAX_PARENT_DEPTH || directory.isLocal(post.inReplyTo))
        throw new ValidationError('The post answers a post this node cannot find.');
      const parent = await resolve(post.inReplyTo);
      if (!parent) throw new ValidationError('The post answers a post this node cannot find.');
      await mirrorPost(group, parent, depth + 1);
    }
    const author = await remote.person(post.attributedTo);
    await receivePost(group, post, author, vouchedFor(group, author.origin!.iri), recorded);
  };

  /**
   * One activity a group hosted elsewhere announced, applied with the standing it vouches for. `recorded`
   * (the inbox's record of the Announce, still being made): a post waits for it before it is written, any
   * other activity before it is applied (ADR 0039).
   */
  const applyAnnounced = async (
    group: GroupDoc,
    inner: Json,
    recorded: Promise<boolean> = Promise.resolve(true),
  ): Promise<void> => {
    const type = typeOf(inner);
    if (type && POST_TYPES.has(type)) return mirrorPost(group, inner, 0, recorded);
    const innerId = typeof inner.id === 'string' ? inner.id : null;
    const actorIri = idOf(first(inner.actor));
    if (!innerId || !actorIri)
      throw new ValidationError('The group announced neither a post nor an activity.', [
        { field: 'body.object', message: 'expected a post or an activity' },
      ]);
    if (originOf(actorIri) !== originOf(innerId))
      throw new ForbiddenError('The announced activity is not on its actor’s origin.');
    if (type !== 'Create' && !(await recorded)) return;
    if (directory.isLocal(innerId)) {
      // Our own activity, back from the group: a post written here is confirmed by it.
      if (type !== 'Create' || !(await recorded)) return;
      const mine = await postOf(idOf(first(inner.object)));
      if (mine?.doc.groupId.equals(group._id)) await threads.confirm(mine.kind, mine.doc._id);
      return;
    }
    const actor = () => remote.person(actorIri);
    const vouched = vouchedFor(group, actorIri);
    const target = async () => {
      const found = await postOf(idOf(first(inner.object)));
      return found?.doc.groupId.equals(group._id) ? found : null;
    };
    switch (type) {
      case 'Create': {
        const object = await resolve(inner.object);
        if (!object || idOf(first(object.attributedTo)) !== actorIri)
          throw new ForbiddenError('A post is announced as created by its author only.');
        return mirrorPost(group, object, 0, recorded);
      }
      case 'Update': {
        const object = await resolve(inner.object);
        if (!object) return;
        const post = readPost(object);
        const found = await postOf(post.iri);
        if (!found?.doc.groupId.equals(group._id)) return;
        if (post.attributedTo !== actorIri) throw new ForbiddenError('Only its author edits a post.');
        return threads.edit(callerOf(await actor(), vouched), found.kind, found.doc._id.toHexString(), {
          ...(found.kind === 'threads' ? { title: post.title } : {}),
          body: post.body,
        });
      }
      case 'Delete': {
        const found = await target();
        if (!found || found.doc.deleted) return;
        const reason =
          typeof inner.summary === 'string' && inner.summary.trim() ? inner.summary.trim() : undefined;
        return threads.remove(
          callerOf(await actor(), vouched),
          found.kind,
          found.doc._id.toHexString(),
          reason ?? 'Removed by a moderator of the group',
        );
      }
      case 'Like': {
        const found = await target();
        if (found)
          await threads.like(callerOf(await actor(), vouched), found.kind, found.doc._id.toHexString(), true);
        return;
      }
      case 'Block':
        // A ban of a person (Lemmy announces its moderators' Blocks to the community's followers).
        return moderation.endMembership(group, actorIri, idOf(first(inner.object)), true);
      case 'Lock':
      case 'Add':
      case 'Remove': {
        if (type === 'Remove' && idOf(first(inner.target)) === group.origin!.iri)
          return moderation.endMembership(group, actorIri, idOf(first(inner.object)), false);
        const found = await target();
        if (!found || found.kind !== 'threads') return;
        if (type !== 'Lock' && idOf(inner.target) !== group.origin!.featured) return;
        const flag = type === 'Lock' ? 'locked' : 'pinned';
        return threads.setFlag(
          callerOf(await actor(), vouched),
          found.doc._id.toHexString(),
          flag,
          type !== 'Remove',
        );
      }
      case 'Undo': {
        const undone = await resolve(inner.object);
        if (!undone || idOf(first(undone.actor)) !== actorIri) return;
        const found = await postOf(idOf(first(undone.object)));
        if (!found?.doc.groupId.equals(group._id)) return;
        const caller = callerOf(await actor(), vouched);
        if (typeOf(undone) === 'Like')
          await threads.like(caller, found.kind, found.doc._id.toHexString(), false);
        else if (typeOf(undone) === 'Lock' && found.kind === 'threads')
          await threads.setFlag(caller, found.doc._id.toHexString(), 'locked', false);
        return;
      }
    }
  };

  return applyAnnounced;
}
